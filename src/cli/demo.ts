// bin/anvil demo: the server plus a small demo lab — profiles, tests, machines, and simulated
// machines that boot, run their tests and upload results — so the pages come alive at once.
import { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { startAnvil } from '../main.ts';
import { seedDemo, DEMO_MACHINES } from '../lab/demo/seed.ts';
import { bootOnce } from '../lab/demo/simulated-machine.ts';
import { parseCommand, serveUntilSignalled, serverOptions, toAnvilOptions, type ParsedServerOptions } from './serve.ts';

/** How long a simulated machine waits between boots, and between steps of one boot. */
export const DEMO_REBOOT_MS = 8_000;
export const DEMO_STEP_MS = 1_500;

export async function run(argv: string[]): Promise<number> {
  let code = 0;
  const cmd = serverOptions(new Command('anvil demo').description('Run anvil with a demo lab: seeded profiles and tests, and simulated machines that boot, run tests and upload results'), '0.0.0.0:8080')
    .option('--no-simulate', 'seed the demo data but start no simulated machines');
  cmd.setOptionValueWithSource('data', './anvil-demo', 'default');
  cmd.action(async (o: ParsedServerOptions & { simulate: boolean }) => {
    code = await serveUntilSignalled(async (signal) => {
      const running = await startAnvil({ ...toAnvilOptions(o), logLevel: o.logLevel === 'info' ? 'warn' : o.logLevel }, signal);
      await seedDemo(running.services);
      const { token } = await running.services.tokens.create('admin', 'demo');
      process.stdout.write([
        '',
        `anvil demo is running: ${running.url.replace('127.0.0.1', 'localhost')}/`,
        `  sign in with this admin token: ${token}`,
        `  data directory: ${running.services.paths.data}`,
        `  API: ${running.url}/api/v1/docs   pxemngr: bin/pxemngr --data ${running.services.paths.data} dpysystem -l`,
        '  Ctrl-C stops it.',
        '',
      ].join('\n') + '\n');
      if (o.simulate) {
        for (const [i, m] of DEMO_MACHINES.entries()) void simulate(running.url, m.mac, i, running.services, signal);
      }
      return running;
    });
  });
  await parseCommand(cmd, argv);
  return code;
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
