// The driver interfaces (Ironic's drivers/base.py, DESIGN.md "Driver interfaces"): power,
// management and an optional console, and the hardware type that composes them. A hardware
// type is data: its driver_info fields, a validate that only parses them, and a factory.
import type { Duplex } from 'node:stream';

/** What anvil records as a machine's power state. 'unknown' when no controller can say. */
export type PowerState = 'on' | 'off' | 'unknown';
/** What an operator can ask of the power interface. */
export type PowerTarget = 'on' | 'off' | 'soft-off';
export const POWER_TARGETS: readonly PowerTarget[] = ['on', 'off', 'soft-off'];

/** Boot devices anvil names (Ironic's boot_devices, the ones desktops and servers share). */
export type BootDevice = 'pxe' | 'disk' | 'cdrom' | 'bios' | 'safe';
export const BOOT_DEVICES: readonly BootDevice[] = ['pxe', 'disk', 'cdrom', 'bios', 'safe'];

export interface PowerOptions {
  /** How long to wait for the machine to reach the new state, in ms. */
  readonly timeoutMs?: number;
}

export interface BootDeviceOptions {
  /** Keep it for every boot, not only the next one. */
  readonly persistent?: boolean;
  /** Boot in UEFI mode (IPMI boot flags bit 5); ignored where the controller has no such choice. */
  readonly uefi?: boolean;
}

export interface BootDeviceInfo {
  /** null when the controller has no override set (the firmware's own order). */
  readonly device: BootDevice | null;
  readonly persistent: boolean;
  readonly uefi?: boolean;
}

export interface PowerInterface {
  getPowerState(): Promise<PowerState>;
  /** Carries out the action and waits until the machine is in the new state, or fails naming the machine. */
  setPowerState(target: PowerTarget, options?: PowerOptions): Promise<PowerState>;
  /** A hard reboot; powers the machine on when it is off. */
  reboot(options?: PowerOptions): Promise<PowerState>;
}

export interface ManagementInterface {
  getSupportedBootDevices(): readonly BootDevice[];
  getBootDevice(): Promise<BootDeviceInfo>;
  setBootDevice(device: BootDevice, options?: BootDeviceOptions): Promise<void>;
}

export interface ConsoleOptions {
  /** End another client's console session on the controller instead of failing (ipmitool's `sol deactivate` first). */
  readonly takeover?: boolean;
}

/** Serial-over-LAN where the controller has it. */
export interface ConsoleInterface {
  /**
   * Opens the console: what the machine writes is read from the stream, what is written to it
   * is typed. The stream ends when the controller ends the session (or another client takes it
   * over); destroying it ends the session on the controller before 'close' is emitted.
   */
  open(options?: ConsoleOptions): Promise<Duplex>;
}

/**
 * Virtual media (Ironic's redfish-virtual-media boot interface): the BMC fetches an image from
 * a URL and attaches it as the machine's CD, so the deploy agent boots without DHCP options or
 * PXE on the machine's network. Present only on machines configured to boot that way.
 */
export interface VirtualMediaInterface {
  /** Attaches the image at the URL (a URL the BMC can reach) as the CD, replacing what was there. */
  insert(url: string): Promise<void>;
  /** Takes the image out; nothing inserted is not an error. */
  eject(): Promise<void>;
  /** host:port the agent booted from the media reaches anvil at, when not the host the BMC fetches from. */
  readonly agentServer?: string;
}

/** One machine's driver: the interfaces its hardware type fills. */
export interface Driver {
  readonly power: PowerInterface;
  readonly management: ManagementInterface;
  readonly console?: ConsoleInterface;
  readonly vmedia?: VirtualMediaInterface;
}

/** What a driver may remember about its machine between operations (stored in driver_internal_info). */
export interface DriverState {
  get(): Promise<Readonly<Record<string, unknown>>>;
  set(values: Record<string, unknown>): Promise<void>;
}

/** What a driver knows of the machine it drives. */
export interface DriverContext {
  /** The machine's name, for messages. */
  readonly machine: string;
  readonly state: DriverState;
}

/** One driver_info field: what it means, and whether it must be given. */
export interface FieldSpec {
  readonly description: string;
  readonly required: boolean;
  /** Encrypted at rest and masked in every answer. */
  readonly secret?: boolean;
}

/** A hardware type: which fields it takes and how it builds a machine's driver from them. */
export interface HardwareType<Info = unknown> {
  readonly name: string;
  readonly description: string;
  readonly fields: Readonly<Record<string, FieldSpec>>;
  /** Parses driver_info (secrets already decrypted); names every missing or invalid field in one error. Never contacts hardware. */
  validate(machine: string, driverInfo: Readonly<Record<string, unknown>>): Info;
  create(info: Info, context: DriverContext): Driver;
  /** Releases shared sockets and connections. */
  close?(): Promise<void>;
}
