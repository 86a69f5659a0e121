// `anvil lab up` and `anvil lab down`: the lab as a whole. up serves every VM's controller
// (IPMI BMC, AMT, Redfish BMC) in the foreground until Ctrl-C or SIGTERM, logging power changes; down
// stops every running VM and the QEMUs whose VM was deleted.
import type { LabStore } from '../lab/store.ts';
import { startLab, stopLab } from '../lab/up.ts';
import type { LabPowerEvent } from '../lab/vm.ts';

export async function down(store: LabStore): Promise<number> {
  const { stopped, orphans } = await stopLab(store);
  for (const name of stopped) process.stdout.write(`stopped ${name}\n`);
  for (const name of orphans) process.stdout.write(`cleaned up ${name} (no definition)\n`);
  return 0;
}

export async function up(store: LabStore, only: string | undefined): Promise<number> {
  const say = (line: string): void => void process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const lab = await startLab(store, {
    ...(only
      ? {
          only: only
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        }
      : {}),
    onPower: (e: LabPowerEvent) => say(`${e.name}: power ${e.state} (${e.reason}${e.signal ? `, ${e.signal}` : ''})`),
    log: say,
  });
  if (lab.controllers.length === 0) {
    await lab.close();
    process.stderr.write(`anvil lab up: no lab VM with a controller in ${store.vmsDir}; create one with 'anvil lab vm create NAME --mac MAC --bmc ipmi'\n`);
    return 1;
  }
  const what = { ipmi: 'IPMI BMC', amt: 'AMT', redfish: 'Redfish BMC' } as const;
  for (const c of lab.controllers) {
    const where = c.kind === 'redfish' ? `https://${c.address.includes(':') ? `[${c.address}]` : c.address}:${c.port}` : `${c.address}:${c.port}`;
    say(`${c.name}: ${what[c.kind]} on ${where}`);
  }
  say('serving; Ctrl-C or SIGTERM stops the controllers (the VMs keep running: anvil lab down stops them)');
  await new Promise<void>((resolveStop) => {
    process.once('SIGTERM', resolveStop);
    process.once('SIGINT', resolveStop);
  });
  await lab.close();
  return 0;
}
