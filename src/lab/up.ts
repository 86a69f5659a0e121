// `anvil lab up`: every defined VM's emulated controller (IPMI BMC, AMT, both, or Redfish) in this
// process, each in front of its VM, until stopped. The VMs themselves start when a controller
// powers them on, and keep running when the controllers stop (as a machine does when its BMC
// reboots); `lab down` stops them. Each VM's serial console is shared on a socket of its own.
import { mkdir } from 'node:fs/promises';
import { AnvilError } from '../common/errors.ts';
import { AmtEmulator } from '../protocols/amt/emulator/server.ts';
import { BmcServer } from '../protocols/ipmi/server/server.ts';
import { RedfishEmulator } from '../protocols/redfish/index.ts';
import type { GeneratedCertificate } from '../protocols/redfish/index.ts';
import { shareConsole } from './console-share.ts';
import type { ConsoleShare } from './console-share.ts';
import { LabAmtHandler, LabIpmiHandler } from './controllers.ts';
import { LabRedfishHandler } from './controller-redfish.ts';
import { hasAmt, hasIpmi, hasRedfish } from './definition.ts';
import type { LabVmDefinition } from './definition.ts';
import { cleanupOrphans } from './process.ts';
import { labRedfishTls } from './redfish-tls.ts';
import type { LabStore } from './store.ts';
import { LabVm } from './vm.ts';
import type { LabPowerEvent } from './vm.ts';

export interface LabController {
  readonly name: string;
  readonly kind: 'ipmi' | 'amt' | 'redfish';
  readonly address: string;
  readonly port: number;
}

export interface RunningLab {
  readonly vms: readonly LabVm[];
  readonly controllers: readonly LabController[];
  /** Stops the controllers and stops watching the VMs; the VMs keep running. */
  close(): Promise<void>;
}

export interface StartLabOptions {
  /** Only these VMs (default: every VM that has a BMC). */
  readonly only?: readonly string[];
  readonly onPower?: (event: LabPowerEvent) => void;
  /** The AMT emulator's request log and other notes. */
  readonly log?: (line: string) => void;
}

/** A controller that cannot listen: say which VM, where, and what to change. */
function listenError(name: string, what: string, address: string, port: number, cause: unknown): AnvilError {
  const code = (cause as { code?: string }).code;
  const hint =
    code === 'EADDRINUSE'
      ? 'another VM or program has it: give each VM its own port (anvil lab vm create --bmc-port/--amt-port)'
      : code === 'EACCES'
        ? 'ports below 1024 need root: use a higher port'
        : code === 'EADDRNOTAVAIL'
          ? 'no interface has that address'
          : (cause as Error).message;
  return new AnvilError('LAB_LISTEN', 'unavailable', `lab VM ${name}: the ${what} cannot listen on ${address}:${port} (${code ?? 'error'}); ${hint}`, {
    cause,
  });
}

/**
 * Stops every running VM of the lab (QMP quit, then kill) and every QEMU whose definition is
 * gone. Returns the names stopped and the orphans cleaned up.
 */
export async function stopLab(store: LabStore): Promise<{ stopped: string[]; orphans: string[] }> {
  const stopped: string[] = [];
  for (const def of await store.list()) {
    const vm = await LabVm.open(store, def.name, { watch: false });
    try {
      if ((await vm.getPowerState()) === 'on') {
        await vm.powerOff();
        stopped.push(def.name);
      }
    } finally {
      await vm.close();
    }
  }
  return { stopped, orphans: await cleanupOrphans(store) };
}

/** Starts the controllers; if any fails to start (a port in use), stops those already started and rethrows. */
export async function startLab(store: LabStore, options: StartLabOptions = {}): Promise<RunningLab> {
  await cleanupOrphans(store);
  const defs = (await store.list((file, error) => options.log?.(`skipping ${file}: ${(error as Error).message}`))).filter(
    (d): d is LabVmDefinition & { bmc: NonNullable<LabVmDefinition['bmc']> } => d.bmc !== undefined && (!options.only || options.only.includes(d.name)),
  );
  const ipmi = new BmcServer();
  const amts: AmtEmulator[] = [];
  const redfishes: RedfishEmulator[] = [];
  const shares: ConsoleShare[] = [];
  const vms: LabVm[] = [];
  const controllers: LabController[] = [];
  const close = async (): Promise<void> => {
    await Promise.all([ipmi.close(), ...amts.map((a) => a.close()), ...redfishes.map((r) => r.close()), ...shares.map((s) => s.close())]);
    await Promise.all(vms.map((vm) => vm.close()));
  };
  try {
    const redfishAddresses = defs.filter((d) => hasRedfish(d.bmc.kind)).map((d) => d.bmc.address);
    let tls: GeneratedCertificate | undefined;
    if (redfishAddresses.length > 0) tls = await labRedfishTls(store, redfishAddresses, options.log);
    for (const def of defs) {
      const vm = await LabVm.open(store, def.name);
      vms.push(vm);
      if (options.onPower) vm.on('power', options.onPower);
      // This process holds QEMU's one serial connection: `anvil lab vm console` comes through here.
      await mkdir(store.runDir(def.name), { recursive: true, mode: 0o700 });
      shares.push(await shareConsole(store.consoleSocket(def.name), () => vm.openConsole()));
      const bmc = def.bmc;
      const onError = (error: unknown, action: string): void => options.log?.(`${def.name}: ${action} failed: ${(error as Error).message}`);
      if (hasIpmi(bmc.kind)) {
        const hosted = await ipmi
          .add({ address: bmc.address, port: bmc.ipmiPort, handler: new LabIpmiHandler(vm, { user: bmc.user, password: bmc.password, onError }) })
          .catch((error: unknown) => {
            throw listenError(def.name, 'IPMI BMC', bmc.address, bmc.ipmiPort, error);
          });
        controllers.push({ name: def.name, kind: 'ipmi', address: hosted.address, port: hosted.port });
      }
      if (hasAmt(bmc.kind)) {
        const amt = new AmtEmulator({
          user: bmc.user,
          password: bmc.password,
          address: bmc.address,
          port: bmc.amtPort,
          handler: new LabAmtHandler(vm, { onError }),
          hostname: def.name,
          ...(options.log ? { log: options.log } : {}),
        });
        const bound = await amt.listen().catch((error: unknown) => {
          throw listenError(def.name, 'AMT', bmc.address, bmc.amtPort, error);
        });
        amts.push(amt);
        controllers.push({ name: def.name, kind: 'amt', address: bound.address, port: bound.port });
      }
      if (hasRedfish(bmc.kind) && tls) {
        const redfish = new RedfishEmulator({
          user: bmc.user,
          password: bmc.password,
          address: bmc.address,
          port: bmc.redfishPort,
          tls,
          systemId: def.name,
          macs: [def.mac],
          handler: new LabRedfishHandler(vm, { mediaDir: store.mediaDir }),
          onError,
        });
        const bound = await redfish.listen().catch((error: unknown) => {
          throw listenError(def.name, 'Redfish BMC', bmc.address, bmc.redfishPort, error);
        });
        redfishes.push(redfish);
        controllers.push({ name: def.name, kind: 'redfish', address: bound.address, port: bound.port });
      }
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { vms, controllers, close };
}
