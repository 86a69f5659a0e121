// The emulated controllers' handlers for a lab VM: the IPMI BMC emulator's BmcHandler and the
// AMT emulator's AmtHandler, both over the same PowerTarget, so one VM can stand behind an
// IPMI BMC, an AMT, or both (as a desktop with AMT and a server with a BMC would). Power on
// boots the device the controller last asked for; the VM keeps that state, so `anvil lab vm`
// in another process and the controller see the same boot device.
import type { Duplex } from 'node:stream';
import type { AmtBootDevice, AmtPowerAction, AmtPowerState } from '../protocols/amt/constants.ts';
import type { AmtHandler, PowerChangeResult } from '../protocols/amt/emulator/handler.ts';
import { decodeBootFlags, encodeBootFlags } from '../protocols/ipmi/commands/chassis.ts';
import type { BootDeviceName } from '../protocols/ipmi/commands/chassis.ts';
import type {
  BmcHandler,
  BmcUser,
  LanSettings,
  PowerAction,
  PowerState,
  SelRecordBytes,
  SensorDefinition,
  SolStream,
} from '../protocols/ipmi/server/handler.ts';
import { MemoryBmcHandler } from '../protocols/ipmi/server/memory-handler.ts';
import type { LabBootDevice } from './definition.ts';
import type { PowerTarget } from './power-target.ts';

/** IPMI boot device selectors (§28.13 table 28-14) the lab can boot; the others are refused by being ignored, as pyghmi's BMCs do. */
const IPMI_TO_LAB: Partial<Record<BootDeviceName, LabBootDevice>> = {
  pxe: 'pxe',
  disk: 'disk',
  safe: 'disk',
  diag: 'disk',
  cdrom: 'cdrom',
  'remote-cdrom': 'cdrom',
  'remote-disk': 'disk',
  bios: 'bios',
};
/** IPMI has no HTTP boot selector: a VM set to UEFI HTTP boot (by Redfish) reports network boot. */
const LAB_TO_IPMI: Record<LabBootDevice, BootDeviceName> = { pxe: 'pxe', disk: 'disk', cdrom: 'cdrom', bios: 'bios', http: 'pxe' };

const AMT_TO_LAB: Record<AmtBootDevice, LabBootDevice> = { pxe: 'pxe', hd: 'disk', hdsafe: 'disk', cd: 'cdrom', diag: 'disk', bios: 'bios' };

/** Power actions of a VM behind an AMT: the basic ones, ACPI soft-off, and NMI. */
export const LAB_AMT_POWER_ACTIONS: readonly AmtPowerAction[] = ['on', 'off', 'reset', 'cycle', 'soft-off', 'nmi'];

/** A PowerTarget that can also pulse NMI (a LabVm can). */
export interface LabPowerTarget extends PowerTarget {
  nmi?(): Promise<void>;
}

export interface LabIpmiHandlerOptions {
  readonly user: string;
  readonly password: string;
  /** FRU serial and console banner; the VM's name by default. */
  readonly serial?: string;
  /** Told of a power action that failed (QEMU would not start, ...); the BMC answers "unspecified error" either way. */
  readonly onError?: (error: unknown, action: string) => void;
}

/** Runs a controller's request on the target; a failure is reported, then rethrown to the emulator. */
async function reported<T>(onError: ((error: unknown, action: string) => void) | undefined, action: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    onError?.(error, action);
    throw error;
  }
}

/**
 * The IPMI BMC emulator's handler for a lab VM: power, boot flags and SOL go to the VM; users,
 * sensors, SEL, FRU and LAN settings are the in-memory BMC's.
 */
export class LabIpmiHandler implements BmcHandler {
  readonly target: LabPowerTarget;
  /** Users, sensors, SEL, FRU and LAN settings: an in-memory BMC's. */
  readonly #memory: MemoryBmcHandler;
  readonly #onError: ((error: unknown, action: string) => void) | undefined;
  /** The five bytes as last set: fields the lab does not model (lockouts, verbosity) read back unchanged. */
  #raw: Buffer = Buffer.from(encodeBootFlags('none'));

  constructor(target: LabPowerTarget, options: LabIpmiHandlerOptions) {
    this.#memory = new MemoryBmcHandler({ user: options.user, password: options.password, serial: options.serial ?? target.name });
    this.target = target;
    this.#onError = options.onError;
  }

  getPower(): Promise<PowerState> {
    return this.target.getPowerState();
  }

  setPower(action: PowerAction): Promise<void> {
    return reported(this.#onError, `power ${action}`, async () => {
      const state = await this.target.getPowerState();
      switch (action) {
        case 'diag':
          if (state === 'on' && this.target.nmi) await this.target.nmi();
          return;
        case 'reset':
        case 'cycle':
          // A BMC told to reset or cycle a machine that is off powers it up (IPMI v2.0 §28.3 allows it; ipmitool users expect it).
          await this.target.setPowerState(state === 'off' ? 'on' : action);
          return;
        default:
          await this.target.setPowerState(action);
      }
    });
  }

  async getBootFlags(): Promise<Buffer> {
    const setting = await this.target.getBootDevice();
    const raw = decodeBootFlags(this.#raw);
    const flags = Buffer.from(this.#raw);
    if (!setting.persistent) {
      // A one-time device is pending (set here, by AMT, or by `anvil lab vm`).
      flags.set(encodeBootFlags(LAB_TO_IPMI[setting.device], { persistent: false, efi: setting.efi }).subarray(0, 2), 0);
    } else if (raw.valid && raw.persistent) {
      flags.set(encodeBootFlags(LAB_TO_IPMI[setting.device], { persistent: true, efi: setting.efi }).subarray(0, 2), 0);
    } else {
      // No override: the valid bit is clear, the machine boots its own order.
      flags[0] = (flags[0] ?? 0) & ~0x80;
    }
    return flags;
  }

  async setBootFlags(flags: Buffer): Promise<void> {
    this.#raw = Buffer.from(flags);
    const parsed = decodeBootFlags(flags);
    if (!parsed.valid || parsed.device === 'none') {
      // Cleared valid bit: no override pending (the emulator clears it after a one-time boot).
      await this.target.setBootDevice('default', { persistent: false });
      return;
    }
    const device = IPMI_TO_LAB[parsed.device];
    if (device === undefined) return;
    await this.target.setBootDevice(device, { persistent: parsed.persistent, efi: parsed.efi });
  }

  /** SOL onto the VM's serial console; it survives the VM's power cycles. */
  attachSol(output: (data: Buffer) => void): SolStream {
    const stream: Duplex = this.target.openConsole();
    stream.on('data', (chunk: Buffer) => output(chunk));
    stream.on('error', () => stream.destroy());
    return {
      write: (data) => {
        if (!stream.destroyed) stream.write(data);
      },
      // A Unix-socket serial line carries no break condition; QEMU offers no other way to send one.
      sendBreak: () => {},
      close: () => stream.destroy(),
    };
  }

  sensors(): readonly SensorDefinition[] {
    return this.#memory.sensors();
  }

  readSensor(number: number): number | undefined {
    return this.#memory.readSensor(number);
  }

  selEntries(): readonly SelRecordBytes[] {
    return this.#memory.selEntries();
  }

  addSelEntry(record: Buffer): number {
    return this.#memory.addSelEntry(record);
  }

  clearSel(): void {
    this.#memory.clearSel();
  }

  users(): readonly BmcUser[] {
    return this.#memory.users();
  }

  fru(): Buffer {
    return this.#memory.fru();
  }

  lan(): LanSettings {
    return this.#memory.lan();
  }
}

/** The AMT emulator's handler for a lab VM. */
export class LabAmtHandler implements AmtHandler {
  readonly target: LabPowerTarget;
  readonly #onError: ((error: unknown, action: string) => void) | undefined;

  constructor(target: LabPowerTarget, options: { onError?: (error: unknown, action: string) => void } = {}) {
    this.target = target;
    this.#onError = options.onError;
  }

  async getPowerState(): Promise<AmtPowerState> {
    return this.target.getPowerState();
  }

  supportedPowerActions(): readonly AmtPowerAction[] {
    return LAB_AMT_POWER_ACTIONS;
  }

  setPowerState(action: AmtPowerAction, bootDevice: AmtBootDevice | undefined): Promise<PowerChangeResult> {
    return reported(this.#onError, `power ${action}`, () => this.#setPowerState(action, bootDevice));
  }

  async #setPowerState(action: AmtPowerAction, bootDevice: AmtBootDevice | undefined): Promise<PowerChangeResult> {
    if (!LAB_AMT_POWER_ACTIONS.includes(action)) return 'unsupported';
    const on = (await this.target.getPowerState()) === 'on';
    const boots = action === 'on' || action === 'reset' || action === 'cycle';
    // AMT refuses to reset, cycle or interrupt a machine that is off (PT_STATUS "not permitted").
    if (!on && (action === 'reset' || action === 'cycle' || action === 'nmi')) return 'not-permitted';
    if (boots && bootDevice !== undefined && !(action === 'on' && on)) {
      await this.target.setBootDevice(AMT_TO_LAB[bootDevice], { persistent: false });
    }
    switch (action) {
      case 'nmi':
        if (!this.target.nmi) return 'unsupported';
        await this.target.nmi();
        return 'ok';
      case 'on':
      case 'off':
      case 'reset':
      case 'cycle':
      case 'soft-off':
        await this.target.setPowerState(action);
        return 'ok';
      default:
        return 'unsupported';
    }
  }
}
