// The narrow interface between the BMC emulator's protocol code and whatever it controls:
// an in-memory machine (memory-handler.ts), a QEMU VM, a libvirt domain. The protocol side
// owns sessions, framing and command encoding; the handler owns the machine's state.
// Any method may return a promise (a VM's power state is a QMP round trip away).

export type Awaitable<T> = T | Promise<T>;

export type PowerState = 'on' | 'off';
/** Chassis Control actions (IPMI v2.0 §28.3): power down, up, cycle, hard reset, diagnostic interrupt, ACPI soft off. */
export type PowerAction = 'off' | 'on' | 'cycle' | 'reset' | 'diag' | 'soft-off';

/** One user slot (IPMI v2.0 §22.26–§22.30). Slot 1 is the null user (empty name). */
export interface BmcUser {
  readonly id: number;
  /** At most 16 bytes. */
  name: string;
  /** At most 20 bytes; only 16 usable over IPMI 1.5. */
  password: Buffer;
  enabled: boolean;
  /** Channel privilege limit: 1 callback .. 4 administrator, 0x0F no access. */
  privilege: number;
  ipmiMessaging: boolean;
  linkAuth: boolean;
  callbackOnly: boolean;
}

/** A threshold sensor, described once; the emulator builds its Full Sensor Record (IPMI v2.0 §43.1). */
export interface SensorDefinition {
  readonly number: number;
  /** At most 16 characters. */
  readonly name: string;
  /** Sensor type code (IPMI v2.0 table 42-3): 0x01 temperature, 0x02 voltage, 0x04 fan. */
  readonly sensorType: number;
  /** Base unit code (IPMI v2.0 table 43-15): 1 °C, 4 volts, 18 RPM. */
  readonly unit: number;
  /** Entity ID (IPMI v2.0 table 43-13), e.g. 0x03 processor, 0x07 system board, 0x1d fan. */
  readonly entityId: number;
  /** value = (m × raw + b × 10^bExp) × 10^rExp (IPMI v2.0 §36.3), unsigned raw readings. */
  readonly m: number;
  readonly b: number;
  readonly bExp: number;
  readonly rExp: number;
  /** Raw thresholds: lower non-critical, critical, non-recoverable; upper likewise. */
  thresholds: SensorThresholds;
}

export interface SensorThresholds {
  lnc: number;
  lcr: number;
  lnr: number;
  unc: number;
  ucr: number;
  unr: number;
}

/** One 16-byte SEL record as stored (IPMI v2.0 §32); the record ID is bytes 0–1. */
export type SelRecordBytes = Buffer;

/** LAN configuration the BMC reports and accepts (IPMI v2.0 §23.2). */
export interface LanSettings {
  ip: string;
  netmask: string;
  gateway: string;
  gatewayMac: string;
  mac: string;
  /** 1 static, 2 DHCP (IPMI v2.0 table 23-4, parameter 4). */
  ipSource: number;
  /** 0 = no VLAN. */
  vlanId: number;
}

/** A serial console the emulator bridges to SOL. */
export interface SolStream {
  /** Characters typed by the remote console. */
  write(data: Buffer): void;
  /** The console asked for a serial break (SOL operation bit 4, IPMI v2.0 §15.9). */
  sendBreak(): void;
  /** The SOL payload was deactivated: stop sending output. */
  close(): void;
}

export interface BmcHandler {
  getPower(): Awaitable<PowerState>;
  setPower(action: PowerAction): Awaitable<void>;
  /** Boot option parameter 5, all 5 bytes, exactly as last set (IPMI v2.0 §28.13, table 28-14). */
  getBootFlags(): Awaitable<Buffer>;
  setBootFlags(flags: Buffer): Awaitable<void>;
  /**
   * Attaches to the machine's serial console: `output` receives what the machine prints.
   * Undefined when the machine has no console; Activate Payload then answers 0x81 (disabled).
   */
  attachSol?(output: (data: Buffer) => void): SolStream;
  /** Sensors (threshold-based), and the current raw reading of one; undefined = reading unavailable. */
  sensors(): readonly SensorDefinition[];
  readSensor(number: number): Awaitable<number | undefined>;
  /** SEL storage. */
  selEntries(): readonly SelRecordBytes[];
  addSelEntry(record: Buffer): number;
  clearSel(): void;
  /** User slots 1..N; the protocol side edits the returned objects in place. */
  users(): readonly BmcUser[];
  /** FRU 0 inventory image (IPMI Platform Management FRU Information Storage Definition v1.0). */
  fru(): Buffer;
  lan(): LanSettings;
  /** BMC cold or warm reset (IPMI v2.0 §20.2, §20.3). */
  resetBmc?(kind: 'cold' | 'warm'): Awaitable<void>;
}
