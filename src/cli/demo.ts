// bin/anvil demo: the server plus a small demo lab — profiles, tests, machines — so the pages
// come alive at once. With QEMU installed the first few machines are real VMs behind emulated
// IPMI BMCs, deployed with a disk image through anvil's provisioning engine, then booting it and
// reporting their tests (src/app/demo/qemu-lab.ts); the others, or all of them without QEMU (or
// with --simulated), are simulated machines that boot, run tests and upload (simulated-lab.ts).
import { Command } from 'commander';
import { startAnvil } from '../app/start.ts';
import type { Services } from '../app/compose.ts';
import { seedDemo, DEMO_MACHINES } from '../app/demo/seed.ts';
import { DEMO_WHO } from '../app/demo/deployed-lab.ts';
import { startSimulatedMachines } from '../app/demo/simulated-lab.ts';
import { DEFAULT_DEMO_VMS, DEMO_VM_MEMORY_MB, qemuLabMissing, startQemuLab } from '../app/demo/qemu-lab.ts';
import type { QemuLab } from '../app/demo/qemu-lab.ts';
import { parseCommand, serveUntilSignalled, serverOptions, toAnvilOptions, type ParsedServerOptions } from './serve.ts';
import { UsageError } from './command.ts';

const DEMO_DATA_DIR = './anvil-demo';
/** The name of the admin token each demo start makes (and the next start revokes). */
export const DEMO_TOKEN_NAME = DEMO_WHO;

interface DemoOptions extends ParsedServerOptions {
  simulate: boolean;
  simulated?: boolean;
  labVms: string;
}

export async function run(argv: string[]): Promise<number> {
  let code = 0;
  const cmd = serverOptions(
    new Command('anvil demo').description(
      'Run anvil with a demo lab: seeded profiles and tests, and machines that boot, run tests and upload results — QEMU VMs behind emulated IPMI BMCs when QEMU is installed, simulated machines otherwise',
    ),
    '0.0.0.0:8080',
  )
    .option('--no-simulate', 'start no simulated machines (QEMU VMs still start)')
    .option('--simulated', 'simulated machines only, even when QEMU is installed')
    .option('--lab-vms <n>', `how many demo machines are QEMU VMs (${DEMO_VM_MEMORY_MB} MB each, TCG) when QEMU is installed`, String(DEFAULT_DEMO_VMS));
  // The demo has a data directory of its own, so it never seeds machines into a real one.
  cmd.setOptionValueWithSource('data', DEMO_DATA_DIR, 'default');
  const data = cmd.options.find((option) => option.long === '--data');
  if (data) data.description = `the demo's data directory (default ${DEMO_DATA_DIR}, apart from a real one)`;
  cmd.action(async (o: DemoOptions) => {
    const vmCount = Number(o.labVms);
    if (!Number.isInteger(vmCount) || vmCount < 0 || vmCount > DEMO_MACHINES.length)
      throw new UsageError(`--lab-vms '${o.labVms}' must be an integer from 0 to ${DEMO_MACHINES.length}`);
    code = await serveUntilSignalled(async (signal) => {
      // anvil stops after the QEMU lab, whose VMs it powers through its drivers.
      const anvilStop = new AbortController();
      let labStopped: Promise<unknown> = Promise.resolve();
      signal.addEventListener('abort', () => void labStopped.finally(() => anvilStop.abort()), { once: true });
      const running = await startAnvil({ ...toAnvilOptions(o), logLevel: o.logLevel === 'info' ? 'warn' : o.logLevel }, anvilStop.signal);
      await seedDemo(running.services);
      const token = await demoToken(running.services);
      const say = (line: string): void => void process.stdout.write(`${line}\n`);
      say(
        [
          '',
          `anvil demo is running: ${running.url.replace('127.0.0.1', 'localhost')}/`,
          `  sign in with this admin token: ${token}`,
          `  data directory: ${running.services.paths.data}`,
          `  API: ${running.url}/api/v1/docs   pxemngr: bin/pxemngr --data ${running.services.paths.data} dpysystem -l`,
        ].join('\n'),
      );

      let lab: QemuLab | undefined;
      const missing = o.simulated || vmCount === 0 ? undefined : qemuLabMissing();
      if (missing) say(`  no QEMU lab: ${missing}; the demo machines are simulated`);
      if (!o.simulated && vmCount > 0 && !missing) {
        try {
          const starting = startQemuLab(running.services, {
            url: running.url,
            machines: DEMO_MACHINES.slice(0, vmCount),
            signal,
            log: (line) => process.stderr.write(`demo: ${line}\n`),
          });
          labStopped = starting.then(
            (started) => started.stopped,
            () => undefined,
          );
          lab = await starting;
          describeLab(lab, running.services.paths.data, say);
        } catch (error) {
          say(`  the QEMU lab did not start (${(error as Error).message}); the demo machines are simulated`);
        }
      }
      const simulated = DEMO_MACHINES.filter((m) => !lab?.machines.some((v) => v.name === m.name));
      if (o.simulate && simulated.length > 0) {
        say(`  simulated machines (HTTP clients in this process, driver fake): ${simulated.map((m) => m.name).join(', ')}`);
        const lives = await startSimulatedMachines(running.services, {
          url: running.url,
          machines: simulated,
          signal,
          log: (line) => process.stderr.write(`demo: ${line}\n`),
        });
        // anvil stops after them too: a boot in flight finishes on its services.
        const lab = labStopped;
        labStopped = Promise.all([lab, ...lives]);
      }
      say('  Ctrl-C stops it (and every QEMU it started).\n');
      return running;
    });
  });
  await parseCommand(cmd, argv);
  return code;
}

/** A new admin token for this demo; the ones earlier demo starts made are revoked, so only the last one printed works. */
async function demoToken(services: Services): Promise<string> {
  // 'demo': what demos before this one named theirs.
  for (const old of await services.tokens.list())
    if (old.role === 'admin' && (old.name === DEMO_TOKEN_NAME || old.name === 'demo')) await services.tokens.revoke(old.id);
  return (await services.tokens.create('admin', DEMO_TOKEN_NAME)).token;
}

function describeLab(lab: QemuLab, data: string, say: (line: string) => void): void {
  say(`  QEMU lab: ${lab.machines.length} real VM(s), ${DEMO_VM_MEMORY_MB} MB each under TCG, netbooting from this anvil over QEMU's`);
  say('  user network, isolated (restrict=on) but for a relay to anvil;');
  say(`  anvil powers them through their emulated IPMI BMCs (driver ipmi, user admin; password in ${data}/lab/vms/NAME.json):`);
  for (const m of lab.machines) say(`    ${m.name}  ${m.mac}  IPMI BMC ${m.bmc}`);
  if (lab.image) {
    say(`  each is deployed with image ${lab.image} (anvil image list), one after another: it netboots anvil's agent, which writes`);
    say('  the image to its disk; then it boots its disk, runs its next test, uploads it and powers off, and is powered on again');
  } else {
    say(`  no deploys (${lab.why ?? 'no image'}):`);
    say(
      lab.profile
        ? `  they boot profile ${lab.profile}, the tiny Linux: each boot runs the machine's next test, then it powers off and is powered on again`
        : '  the tiny Linux is not built (scripts/tiny-linux), so they boot their seeded profiles, whose kernels the demo does not have',
    );
  }
  say(`  consoles: bin/anvil lab vm console NAME --data ${data}`);
}
