// The default BmcHandler: a machine that exists only in memory, like pyghmi's fakebmc, but
// with boot flags kept whole, users, sensors, a SEL, FRU data and an echoing serial console.
import type { BmcHandler, BmcUser, LanSettings, PowerAction, PowerState, SelRecordBytes, SensorDefinition, SolStream } from './handler.ts';
import { buildFruImage } from './fru-image.ts';

/** Privilege limit of the default administrator (IPMI v2.0 §6.8). */
const ADMINISTRATOR = 4;
/** User slots the default BMC has (ipmitool `user list` shows them all). */
export const DEFAULT_USER_SLOTS = 10;
/**
 * Sensor number named in the SEL's power events: a power unit with no threshold SDR, so
 * no tool mistakes the events for readings of a listed sensor.
 */
export const POWER_UNIT_SENSOR = 0x50;
/** SEL capacity in 16-byte records. */
export const SEL_CAPACITY = 512;

export interface MemoryHandlerOptions {
  readonly user?: string;
  readonly password?: string | Buffer;
  readonly power?: PowerState;
  /** Serial number in FRU and the console banner; distinguishes BMCs of a fleet. */
  readonly serial?: string;
  /** Time source for SEL timestamps, in ms (tests inject one). */
  readonly now?: () => number;
  /** Told of every chassis power action the BMC carries out (a fleet's log of what it received). */
  readonly onPower?: (action: PowerAction) => void;
  /** A power action's new state shows this long after it was accepted, as a real chassis takes a while (default 0). */
  readonly powerDelayMs?: number;
}

/** The default sensors: CPU temperature, system board 12 V, one fan (raw readings, linear conversions). */
function defaultSensors(): SensorDefinition[] {
  return [
    {
      number: 0x01,
      name: 'CPU Temp',
      sensorType: 0x01,
      unit: 1,
      entityId: 0x03,
      m: 1,
      b: 0,
      bExp: 0,
      rExp: 0,
      thresholds: { lnc: 5, lcr: 0, lnr: 0, unc: 85, ucr: 95, unr: 105 },
    },
    {
      number: 0x02,
      name: '12V',
      sensorType: 0x02,
      unit: 4,
      entityId: 0x07,
      m: 6,
      b: 0,
      bExp: 0,
      rExp: -2,
      thresholds: { lnc: 190, lcr: 180, lnr: 170, unc: 210, ucr: 220, unr: 230 },
    },
    {
      number: 0x03,
      name: 'Fan 1',
      sensorType: 0x04,
      unit: 18,
      entityId: 0x1d,
      m: 64,
      b: 0,
      bExp: 0,
      rExp: 0,
      thresholds: { lnc: 10, lcr: 8, lnr: 5, unc: 200, ucr: 220, unr: 240 },
    },
  ];
}

export class MemoryBmcHandler implements BmcHandler {
  power: PowerState;
  bootFlags: Buffer = Buffer.from([0x00, 0x00, 0x00, 0x00, 0x00]);
  /** Every power action in order, for tests and demos. */
  readonly powerLog: PowerAction[] = [];
  readonly #users: BmcUser[] = [];
  readonly #sensors = defaultSensors();
  readonly #readings = new Map<number, number>([
    [0x01, 42],
    [0x02, 200],
    [0x03, 75],
  ]);
  readonly #sel: SelRecordBytes[] = [];
  #nextSelId = 1;
  readonly #fru: Buffer;
  readonly #lan: LanSettings;
  readonly #serial: string;
  readonly #now: () => number;
  readonly #onPower: ((action: PowerAction) => void) | undefined;
  readonly #powerDelayMs: number;
  #console: ((data: Buffer) => void) | undefined;
  #line = '';

  constructor(options: MemoryHandlerOptions = {}) {
    this.power = options.power ?? 'off';
    this.#serial = options.serial ?? 'ANVIL0001';
    this.#now = options.now ?? Date.now;
    this.#onPower = options.onPower;
    this.#powerDelayMs = options.powerDelayMs ?? 0;
    for (let id = 1; id <= DEFAULT_USER_SLOTS; id++) {
      this.#users.push({
        id,
        name: '',
        password: Buffer.alloc(0),
        enabled: false,
        privilege: 0x0f,
        ipmiMessaging: false,
        linkAuth: false,
        callbackOnly: false,
      });
    }
    const admin = this.#users[1] as BmcUser;
    admin.name = options.user ?? 'admin';
    admin.password = Buffer.from(options.password ?? 'password');
    admin.enabled = true;
    admin.privilege = ADMINISTRATOR;
    admin.ipmiMessaging = true;
    admin.linkAuth = true;
    this.#fru = buildFruImage({
      chassisPart: 'ANVIL-CH-1',
      chassisSerial: this.#serial,
      boardManufacturer: 'anvil',
      boardProduct: 'Emulated Board',
      boardSerial: this.#serial,
      boardPart: 'ANVIL-MB-1',
      manufactured: new Date(Date.UTC(2024, 0, 1)),
      productManufacturer: 'anvil',
      productName: 'Emulated Server',
      productPart: 'ANVIL-SRV-1',
      productVersion: '1.0',
      productSerial: this.#serial,
      assetTag: 'lab',
    });
    this.#lan = {
      ip: '10.0.0.10',
      netmask: '255.255.255.0',
      gateway: '10.0.0.1',
      gatewayMac: '52:54:00:00:00:01',
      mac: '52:54:00:12:34:56',
      ipSource: 1,
      vlanId: 0,
    };
  }

  getPower(): PowerState {
    return this.power;
  }

  setPower(action: PowerAction): void {
    this.powerLog.push(action);
    this.#onPower?.(action);
    const apply = () => {
      if (action === 'off' || action === 'soft-off') this.power = 'off';
      else if (action === 'on' || action === 'cycle' || action === 'reset') this.power = 'on';
      if (action !== 'diag') this.#addPowerEvent(this.power === 'on');
    };
    if (this.#powerDelayMs <= 0) return apply();
    setTimeout(apply, this.#powerDelayMs).unref();
  }

  getBootFlags(): Buffer {
    return Buffer.from(this.bootFlags);
  }

  setBootFlags(flags: Buffer): void {
    this.bootFlags = Buffer.from(flags);
  }

  /** An echoing console: each character comes back, and each line is answered, so a client sees a round trip. */
  attachSol(output: (data: Buffer) => void): SolStream {
    this.#console = output;
    this.#line = '';
    return {
      write: (data) => {
        const sink = this.#console;
        if (sink === undefined) return;
        for (const ch of data.toString('latin1')) {
          if (ch === '\r' || ch === '\n') {
            sink(Buffer.from(`\r\nanvil-console[${this.#serial}]: ${this.#line}\r\n`, 'latin1'));
            this.#line = '';
          } else {
            this.#line += ch;
            sink(Buffer.from(ch, 'latin1'));
          }
        }
      },
      sendBreak: () => this.#console?.(Buffer.from('\r\n<break>\r\n')),
      close: () => {
        if (this.#console === output) this.#console = undefined;
      },
    };
  }

  sensors(): readonly SensorDefinition[] {
    return this.#sensors;
  }

  readSensor(number: number): number | undefined {
    return this.#readings.get(number);
  }

  /** Sets a raw sensor reading (tests, demos). */
  setReading(number: number, raw: number): void {
    this.#readings.set(number, raw & 0xff);
  }

  selEntries(): readonly SelRecordBytes[] {
    return this.#sel;
  }

  addSelEntry(record: Buffer): number {
    if (this.#sel.length >= SEL_CAPACITY) this.#sel.shift();
    const id = this.#nextSelId;
    this.#nextSelId = (this.#nextSelId % 0xfffe) + 1;
    const stored = Buffer.alloc(16);
    record.copy(stored, 0, 0, 16);
    stored.writeUInt16LE(id, 0);
    this.#sel.push(stored);
    return id;
  }

  clearSel(): void {
    this.#sel.length = 0;
  }

  users(): readonly BmcUser[] {
    return this.#users;
  }

  fru(): Buffer {
    return this.#fru;
  }

  lan(): LanSettings {
    return this.#lan;
  }

  /**
   * A system event record for a power change: sensor type 0x09 (power unit), sensor-specific
   * offset 00h "power off / power down", asserted for off and deasserted for on (IPMI v2.0 §29.7, table 42-3).
   */
  #addPowerEvent(on: boolean): void {
    const r = Buffer.alloc(16);
    r[2] = 0x02; // system event record
    r.writeUInt32LE(Math.floor(this.#now() / 1000) >>> 0, 3);
    r[7] = 0x20; // generator: the BMC
    r[9] = 0x04; // event message format revision 2.0
    r[10] = 0x09; // sensor type: power unit
    r[11] = POWER_UNIT_SENSOR; // sensor number
    r[12] = on ? 0xef : 0x6f; // bit 7 deassertion; 0x6f sensor-specific
    r[13] = 0x00;
    r[14] = 0xff;
    r[15] = 0xff;
    this.addSelEntry(r);
  }
}
