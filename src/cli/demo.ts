// bin/anvil demo: the server plus a small demo lab — profiles, tests, machines — so the pages
// come alive at once. With QEMU installed the first few machines are real VMs behind emulated
// IPMI BMCs that netboot from this anvil (src/app/demo/qemu-lab.ts); the others, or all of them
// without QEMU (or with --simulated), are simulated machines that boot, run tests and upload.
import { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { startAnvil } from '../app/start.ts';
import { seedDemo, DEMO_MACHINES } from '../app/demo/seed.ts';
import { bootOnce } from '../lab/demo/simulated-machine.ts';
import { DEFAULT_DEMO_VMS, DEMO_VM_MEMORY_MB, qemuLabMissing, startQemuLab } from '../app/demo/qemu-lab.ts';
import type { QemuLab } from '../app/demo/qemu-lab.ts';
import { parseCommand, serveUntilSignalled, serverOptions, toAnvilOptions, type ParsedServerOptions } from './serve.ts';
import { UsageError } from './command.ts';

const DEMO_DATA_DIR = './anvil-demo';

/** How long a simulated machine waits between boots, and between steps of one boot. */
export const DEMO_REBOOT_MS = 8_000;
export const DEMO_STEP_MS = 1_500;

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
      const { token } = await running.services.tokens.create('admin', 'demo');
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
        say(`  simulated machines (HTTP clients in this process): ${simulated.map((m) => m.name).join(', ')}`);
        for (const [i, m] of simulated.entries()) void simulate(running.url, m.mac, i, running.services, signal);
      }
      say('  Ctrl-C stops it (and every QEMU it started).\n');
      return running;
    });
  });
  await parseCommand(cmd, argv);
  return code;
}

function describeLab(lab: QemuLab, data: string, say: (line: string) => void): void {
  say(`  QEMU lab: ${lab.machines.length} real VM(s), ${DEMO_VM_MEMORY_MB} MB each under TCG, netbooting from this anvil over QEMU's`);
  say('  user network, isolated (restrict=on) but for a relay to anvil;');
  say(`  anvil powers them through their emulated IPMI BMCs (driver ipmi, user admin; password in ${data}/lab/vms/NAME.json):`);
  for (const m of lab.machines) say(`    ${m.name}  ${m.mac}  IPMI BMC ${m.bmc}`);
  say(
    lab.profile
      ? `  they boot profile ${lab.profile}, the tiny Linux: each boot runs the machine's next test, then it powers off and is powered on again`
      : '  the tiny Linux is not built (scripts/tiny-linux), so they boot their seeded profiles, whose kernels the demo does not have',
  );
  say(`  consoles: bin/anvil lab vm console NAME --data ${data}`);
}

/** A simulated machine's life: boot, run what is queued, reboot; now and then an operator queues more. */
async function simulate(server: string, mac: string, index: number, services: Parameters<typeof seedDemo>[0], signal: AbortSignal): Promise<void> {
  await sleep(index * 700, undefined, { signal }).catch(() => undefined);
  while (!signal.aborted) {
    try {
      const { runs } = await bootOnce({ server, mac, pauseMs: DEMO_STEP_MS }, signal);
      if (runs === 0) {
        // Idle: play the operator and queue another round, as a lab would.
        const machine = await services.machines.byMac(mac);
        if (machine) await services.testing.queue(machine, ['hello', 'disk', 'memtest'].slice(0, 1 + (Date.now() % 3)));
      }
    } catch (error) {
      if (!signal.aborted) process.stderr.write(`demo machine ${mac}: ${(error as Error).message}\n`);
    }
    await sleep(DEMO_REBOOT_MS, undefined, { signal }).catch(() => undefined);
  }
}
