// One image deployed to one lab VM, then to three at once, through anvil end to end as an
// operator does it: `anvil serve` and `anvil lab up` on one data directory, lab VMs (QEMU, TCG,
// empty virtio disks) behind emulated IPMI BMCs made with `anvil lab vm create … --bmc ipmi
// --enroll`, one random raw image uploaded with `anvil image upload`, and `anvil machine deploy`
// (power on through IPMI, PXE boot of anvil's agent, write, read-back verify, power cycle,
// active) timed from the command's start to its end. Prints the single time, the three times,
// the total of three at once, and the ratio (three at once / one).
//
//   source scripts/env.sh && node bench/deploy-fleet.ts [--mib 64] [--memory 384] [--json FILE]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LabStore } from '../src/lab/store.ts';
import { stopLab } from '../src/lab/up.ts';
import { ANVIL, exec, startServer, type ServerProcess } from '../test/helpers/anvil-process.ts';
import { freeUdpPort } from '../test/helpers/ports.ts';
import { Output, stopChild } from '../test/lab/helpers.ts';

const { values } = parseArgs({ options: { mib: { type: 'string', default: '64' }, memory: { type: 'string', default: '384' }, json: { type: 'string' } } });
const MIB = 1024 * 1024;
const size = Number(values.mib) * MIB;
if (!(size > 0)) throw new Error('--mib takes a positive number');
/** A deploy that has not ended after this long fails (TCG on a loaded machine is slow). */
const DEPLOY_TIMEOUT_S = 1200;
const PASSWORD = 'fleet-Bench-7';
const FLEET = 3;

async function ok(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await exec(ANVIL, args, env);
  if (r.code !== 0) throw new Error(`anvil ${args.join(' ')} exited with ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Deploys the image to each named machine at once; the seconds each command took, and all of them. */
async function deploy(data: string, names: readonly string[]): Promise<{ each: number[]; total: number }> {
  const started = performance.now();
  const each = await Promise.all(
    names.map(async (name) => {
      const t0 = performance.now();
      const out = await ok(['machine', 'deploy', name, '--image', 'fleet', '--timeout', String(DEPLOY_TIMEOUT_S), '--data', data]);
      if (!new RegExp(`${name}: active, image fleet`).test(out)) throw new Error(`${name} did not end active: ${out}`);
      return (performance.now() - t0) / 1000;
    }),
  );
  return { each, total: (performance.now() - started) / 1000 };
}

const dir = mkdtempSync(join(tmpdir(), 'anvil-bench-fleet-'));
const data = join(dir, 'data');
mkdirSync(data);
let server: ServerProcess | undefined;
let lab: { child: ReturnType<typeof spawn>; output: Output } | undefined;
try {
  const image = join(dir, 'fleet.raw');
  const fd = openSync(image, 'w', 0o600);
  for (let done = 0; done < size; done += 4 * MIB) writeSync(fd, randomBytes(Math.min(4 * MIB, size - done)));
  closeSync(fd);

  server = await startServer(data, ['--power-sync-interval', '0']);
  const names = ['solo', ...Array.from({ length: FLEET }, (_, i) => `fleet${i + 1}`)];
  const diskMiB = Math.ceil(size / MIB) + 64;
  for (const [i, name] of names.entries()) {
    await ok(
      [
        'lab',
        'vm',
        'create',
        name,
        '--mac',
        `52:54:00:f1:00:${String(i + 1).padStart(2, '0')}`,
        '--disk',
        `${diskMiB}M`,
        '--memory',
        String(values.memory),
        '--bmc',
        'ipmi',
        '--bmc-port',
        String(await freeUdpPort()),
        '--enroll',
        '--data',
        data,
      ],
      { ANVIL_BMC_PASSWORD: PASSWORD },
    );
  }
  const child = spawn(ANVIL, ['lab', 'up', '--data', data], { stdio: ['ignore', 'pipe', 'pipe'] });
  lab = { child, output: new Output(child, child.stdout!, child.stderr!) };
  await lab.output.waitFor('serving;', 120_000);
  await ok(['image', 'upload', image, '--name', 'fleet', '--data', data]);
  writeFileSync(join(dir, 'started'), new Date().toISOString());

  const one = await deploy(data, ['solo']);
  console.log(`1 VM:  ${one.total.toFixed(1)} s  (load average ${loadavg()[0]!.toFixed(1)})`);
  const three = await deploy(data, names.slice(1));
  console.log(
    `${FLEET} VMs at once: ${three.total.toFixed(1)} s in all, each ${three.each.map((s) => s.toFixed(1)).join(', ')} s  (load average ${loadavg()[0]!.toFixed(1)})`,
  );
  const ratio = three.total / one.total;
  console.log(
    `\n${values.mib} MiB raw image, ${availableParallelism()} CPUs: ${FLEET} at once took ${ratio.toFixed(2)}× the time of one (${(ratio / FLEET).toFixed(2)}× per machine)`,
  );
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ bytes: size, one, three, ratio }, null, 2)}\n`);
} finally {
  if (lab) await stopChild(lab.child);
  await stopLab(new LabStore(data)).catch(() => undefined);
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
}
