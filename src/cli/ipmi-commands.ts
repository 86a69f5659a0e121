// The commands of `anvil ipmi`, spelt as ipmitool spells them: one entry per verb, with its
// words, its arguments for the help, whether fleet mode may run it on many BMCs, and what it
// does on one. Adding an ipmitool verb is adding an entry to IPMI_VERBS.
import type { Bmc } from '../protocols/ipmi/client/bmc.ts';
import { IpmiCommandError } from '../protocols/ipmi/client/errors.ts';
import { BootDevice, chassisControl } from '../protocols/ipmi/commands/chassis.ts';
import type { BootDeviceName, PowerAction } from '../protocols/ipmi/commands/chassis.ts';
import { SENSOR_TYPES } from '../protocols/ipmi/commands/sensor-names.ts';
import { UsageError } from './command.ts';
import { hexByte } from './ipmi-args.ts';
import { CONFIG_VERBS } from './ipmi-commands-config.ts';
import { MC_VERBS } from './ipmi-commands-mc.ts';
import { SEL_DELETE_VERB, USER_VERBS } from './ipmi-commands-user.ts';
import {
  bootParamLines,
  selInfoLines,
  chassisStatusLines,
  fruLines,
  guidLines,
  mcInfoLines,
  rawLines,
  sdrListLines,
  selLines,
  sensorListLines,
  userListLines,
} from './ipmi-format.ts';
import { sdrCsvLines, sdrElistLines, sensorTypeCode, sensorTypeTableLines } from './ipmi-format-sdr.ts';
import { lanPrint } from './ipmi-lan.ts';
import { SEL_GET_VERB } from './ipmi-sel-get.ts';
import { SENSOR_VERBS } from './ipmi-sensor.ts';
import { solActivate, solDeactivate } from './ipmi-sol.ts';

/** One BMC's result: ipmitool's lines, the --json value, and the exit status when not 0. */
export type Output = { lines: string[]; json: unknown; code?: number };
export type Runner = (bmc: Bmc) => Promise<Output>;

/** ipmitool's options that change what a command prints: -c asks for CSV. */
export interface OutputFlags {
  readonly csv: boolean;
}
const NO_FLAGS: OutputFlags = { csv: false };

export interface IpmiVerb {
  /** The command words that name it, e.g. ['chassis', 'bootdev']. */
  readonly words: readonly string[];
  /** Its arguments in the help, after the words. */
  readonly args?: string;
  /** Shown on the help line of the verb before it, as ipmitool's help groups small verbs ('mc info | mc guid'). */
  readonly sameHelpLine?: boolean;
  /** Said at the end of its help line. */
  readonly note?: string;
  /** Fleet mode may run it on many BMCs at once. */
  readonly fleet: boolean;
  /** A host's line in fleet mode ('ok' without it). */
  readonly shortForm?: (o: Output) => string;
  /**
   * The runner for the words after the verb's. Throws UsageError for a bad argument; returns
   * undefined when the words are no form of this verb, and the group's usage is the error.
   */
  readonly prepare: (args: readonly string[], flags: OutputFlags) => Runner | undefined;
}

/** A command group: what its usage error lists, and which verb the group's word alone means ('sdr' is 'sdr list'). */
interface Group {
  readonly expected: string;
  readonly alone?: string;
}

const GROUPS: ReadonlyMap<string, Group> = new Map([
  ['power', { expected: 'status, on, off, cycle, reset, soft or diag' }],
  ['chassis', { expected: 'status, power, bootdev, bootparam get N, identify or policy list|always-on|previous|always-off' }],
  ['mc', { expected: 'info, guid, reset warm|cold, selftest or watchdog get' }],
  ['user', { expected: 'list [channel], set name <id> <name>, set password <id>, enable <id>, disable <id> or priv <id> <level> [channel]' }],
  ['sdr', { expected: 'list, elist or type [type]', alone: 'list' }],
  ['sensor', { expected: 'list, get <name>... or thresh <name> <threshold> <value>', alone: 'list' }],
  ['sel', { expected: 'list, elist, clear, info, get <id>... or delete <id>...', alone: 'list' }],
  ['fru', { expected: 'print [id] or list', alone: 'print' }],
  ['lan', { expected: 'print [channel] or set <channel> ipaddr|netmask|macaddr|defgw ipaddr|defgw macaddr|ipsrc|access <value>' }],
  ['channel', { expected: 'info [channel]' }],
  ['session', { expected: 'info active' }],
  ['raw', { expected: '<netfn> <cmd> [data...]' }],
  ['sol', { expected: 'info [channel], activate or deactivate' }],
]);

const POWER_WORDS: Readonly<Record<string, string>> = { on: 'Up/On', off: 'Down/Off', cycle: 'Cycle', reset: 'Reset', soft: 'Soft', diag: 'Diag' };
const POWER_ARGS = 'status|on|off|cycle|reset|soft|diag';
const BOOTDEV_OPTIONS = ['persistent', 'efiboot', 'clear-cmos'];

const powerShortForm = (o: Output): string => (o.json as { power?: string }).power ?? 'ok';

function powerRunner(action: string | undefined): Runner {
  if (action === undefined || action === 'status') {
    return async (bmc) => {
      const state = await bmc.getPowerState();
      return { lines: [`Chassis Power is ${state}`], json: { power: state } };
    };
  }
  if (!(action in POWER_WORDS)) throw new UsageError(`power ${action}: expected status, on, off, cycle, reset, soft or diag`);
  return async (bmc) => {
    // ipmitool sends the control unconditionally; so do we (no state read), and never twice.
    await bmc.send(chassisControl(action as PowerAction));
    return { lines: [`Chassis Power Control: ${POWER_WORDS[action]}`], json: { action, ok: true } };
  };
}

function bootdevRunner([device, ...rest]: readonly string[]): Runner {
  if (!device || !(device in BootDevice)) throw new UsageError(`chassis bootdev: device must be one of ${Object.keys(BootDevice).join(', ')}`);
  const opts = (rest.find((r) => r.startsWith('options=')) ?? 'options=').slice('options='.length).split(',').filter(Boolean);
  for (const opt of opts)
    if (!BOOTDEV_OPTIONS.includes(opt)) throw new UsageError(`chassis bootdev: unknown option '${opt}' (persistent, efiboot, clear-cmos)`);
  return async (b) => {
    await b.setBootDevice(device as BootDeviceName, {
      persistent: opts.includes('persistent'),
      efi: opts.includes('efiboot'),
      clearCmos: opts.includes('clear-cmos'),
    });
    return {
      lines: [`Set Boot Device to ${device}`],
      json: { bootdev: device, persistent: opts.includes('persistent'), efi: opts.includes('efiboot') },
    };
  };
}

function identifyRunner(arg: string): Runner {
  const seconds = arg === 'force' ? 'force' : Number(arg);
  return async (b) => {
    await b.identify(seconds);
    const interval = arg === 'force' ? 'indefinite' : Number(arg) === 0 ? 'off' : `${arg} seconds`;
    return { lines: [`Chassis identify interval: ${interval}`], json: { identify: arg } };
  };
}

type SensorsForm = 'sdr list' | 'sdr elist' | 'sensor list';

function sensorsRunner(form: SensorsForm, flags: OutputFlags, sensorType?: number): Runner {
  return async (b) => {
    let sensors = await b.inventory.sensors();
    if (sensorType !== undefined) sensors = sensors.filter((s) => s.record.sensorType === sensorType);
    const limits = new Map();
    if (form === 'sensor list')
      for (const s of sensors) if (s.record.type === 'full') limits.set(s.record.number, await b.inventory.thresholds(s.record.number));
    let lines: string[];
    if (form === 'sensor list') lines = sensorListLines(sensors, limits, flags.csv);
    else if (flags.csv) lines = sdrCsvLines(sensors);
    else lines = form === 'sdr elist' ? sdrElistLines(sensors) : sdrListLines(sensors);
    return {
      lines,
      json: sensors.map((s) => ({
        name: s.record.name,
        number: s.record.number,
        value: s.value ?? null,
        status: s.status,
        raw: s.reading?.raw ?? null,
      })),
    };
  };
}

function selListRunner(extended: boolean): Runner {
  return async (b) => {
    const records = await b.inventory.selEntries();
    const sdrs = extended ? await b.inventory.sdrRecords() : undefined;
    // ipmitool says so on stderr: a script reading stdout sees an empty list.
    if (records.length === 0) process.stderr.write('SEL has no entries\n');
    return { lines: selLines(records, sdrs), json: records };
  };
}

/** `fru print` and its alias `fru list`. */
function fruRunner(text: string | undefined): Runner {
  const id = text !== undefined ? hexByte(text) : 0;
  return async (b) => {
    const f = await b.inventory.fru(id);
    return { lines: fruLines(id, f), json: f };
  };
}

function rawRunner(netFnText: string, cmdText: string, dataText: readonly string[]): Runner {
  const netFn = hexByte(netFnText);
  const cmd = hexByte(cmdText);
  const data = dataText.map(hexByte);
  return async (b) => {
    const res = await b.raw(netFn, cmd, data);
    if (res.completionCode !== 0) {
      const e = new IpmiCommandError(b.host, 'raw command', netFn, cmd, res.completionCode);
      e.message = `Unable to send RAW command (channel=0x0 netfn=0x${netFn.toString(16)} lun=0x0 cmd=0x${cmd.toString(16)} rsp=0x${res.completionCode.toString(16)}): ${e.message.replace(/^.*failed: /, '')}`;
      throw e;
    }
    return { lines: rawLines(res.data), json: { completionCode: 0, data: Buffer.from(res.data).toString('hex') } };
  };
}

/** Every verb, in the order of the help. */
export const IPMI_VERBS: readonly IpmiVerb[] = [
  { words: ['power'], args: POWER_ARGS, fleet: true, shortForm: powerShortForm, prepare: ([action]) => powerRunner(action) },
  {
    words: ['chassis', 'status'],
    fleet: true,
    shortForm: (o) => ((o.json as { powerOn: boolean }).powerOn ? 'on' : 'off'),
    prepare: () => async (b) => {
      const s = await b.chassisStatus();
      return { lines: chassisStatusLines(s), json: s };
    },
  },
  { words: ['chassis', 'power'], args: POWER_ARGS, fleet: true, shortForm: powerShortForm, prepare: ([action]) => powerRunner(action) },
  {
    words: ['chassis', 'bootdev'],
    args: `none|pxe|disk|safe|diag|cdrom|bios|floppy [options=${BOOTDEV_OPTIONS.join(',')}]`,
    fleet: true,
    prepare: bootdevRunner,
  },
  {
    words: ['chassis', 'bootparam', 'get'],
    args: '<param>',
    fleet: false,
    prepare: ([text]) => {
      if (text === undefined) return undefined;
      const param = hexByte(text);
      return async (b) => {
        const r = await b.getBootParam(param);
        return { lines: bootParamLines(param, r), json: { ...r, data: Buffer.from(r.data).toString('hex') } };
      };
    },
  },
  { words: ['chassis', 'identify'], args: '[seconds|force]', fleet: true, prepare: ([arg]) => identifyRunner(arg ?? '15') },
  ...MC_VERBS.chassis,
  {
    words: ['mc', 'info'],
    fleet: true,
    shortForm: (o) => {
      const d = o.json as { firmwareMajor: number; firmwareMinor: number; manufacturerId: number };
      return `firmware ${d.firmwareMajor}.${String(d.firmwareMinor).padStart(2, '0')} manufacturer ${d.manufacturerId}`;
    },
    prepare: () => async (b) => {
      const d = await b.deviceId();
      return { lines: mcInfoLines(d), json: { ...d, auxFirmware: d.auxFirmware ? Buffer.from(d.auxFirmware).toString('hex') : undefined } };
    },
  },
  {
    words: ['mc', 'guid'],
    sameHelpLine: true,
    fleet: false,
    prepare: () => async (b) => {
      const g = await b.guid();
      return { lines: guidLines(g), json: { guid: g } };
    },
  },
  {
    words: ['mc', 'reset'],
    args: 'warm|cold',
    sameHelpLine: true,
    fleet: true,
    prepare: ([kind]) => {
      if (kind !== 'warm' && kind !== 'cold') return undefined;
      return async (b) => {
        await b.bmcReset(kind);
        return { lines: [`Sent ${kind} reset command to MC`], json: { reset: kind } };
      };
    },
  },
  ...MC_VERBS.mc,

  {
    words: ['user', 'list'],
    args: '[channel]',
    fleet: false,
    prepare: ([text]) => {
      const channel = text !== undefined ? hexByte(text) : undefined;
      return async (b) => {
        const users = await b.listUsers(channel);
        return { lines: userListLines(users), json: users };
      };
    },
  },
  ...USER_VERBS,
  ...CONFIG_VERBS.user,

  { words: ['sdr', 'list'], fleet: false, prepare: (_, flags) => sensorsRunner('sdr list', flags) },
  { words: ['sdr', 'elist'], sameHelpLine: true, fleet: false, prepare: (_, flags) => sensorsRunner('sdr elist', flags) },
  {
    words: ['sdr', 'type'],
    args: '[type|0xNN]',
    sameHelpLine: true,
    fleet: false,
    prepare: ([text], flags) => {
      const code = text === undefined || text === 'list' ? undefined : sensorTypeCode(text);
      if (code !== undefined) return sensorsRunner('sdr elist', flags, code);
      // ipmitool lists the types it knows, and says on stderr which word it did not.
      return async () => {
        if (text !== undefined && text !== 'list') process.stderr.write(`Sensor Type "${text}" not found.\n`);
        return { lines: sensorTypeTableLines(), json: SENSOR_TYPES.slice(1).map((name, i) => ({ code: i + 1, name })) };
      };
    },
  },
  { words: ['sensor', 'list'], sameHelpLine: true, fleet: false, prepare: (_, flags) => sensorsRunner('sensor list', flags) },
  ...SENSOR_VERBS,
  { words: ['sel', 'list'], fleet: false, prepare: () => selListRunner(false) },
  { words: ['sel', 'elist'], sameHelpLine: true, fleet: false, prepare: () => selListRunner(true) },
  {
    words: ['sel', 'clear'],
    sameHelpLine: true,
    fleet: true,
    prepare: () => async (b) => {
      await b.inventory.clearSel();
      return { lines: ['Clearing SEL.  Please allow a few seconds to erase.'], json: { cleared: true } };
    },
  },
  SEL_DELETE_VERB,
  SEL_GET_VERB,

  {
    words: ['sel', 'info'],
    sameHelpLine: true,
    fleet: false,
    prepare: () => async (b) => {
      const i = await b.inventory.selInfo();
      return { lines: selInfoLines(i), json: i };
    },
  },
  { words: ['fru', 'print'], args: '[id]', fleet: false, prepare: ([text]) => fruRunner(text) },
  { words: ['fru', 'list'], args: '[id]', sameHelpLine: true, fleet: false, prepare: ([text]) => fruRunner(text) },
  {
    words: ['lan', 'print'],
    args: '[channel]',
    fleet: false,
    prepare: ([text]) => {
      const channel = text !== undefined ? hexByte(text) : undefined;
      return async (b) => {
        const r = await lanPrint(b, channel);
        return { lines: r.lines, json: r.values };
      };
    },
  },
  ...CONFIG_VERBS.lan,
  ...MC_VERBS.channel,

  {
    words: ['raw'],
    args: '<netfn> <cmd> [data bytes...]',
    fleet: true,
    shortForm: (o) => (o.json as { data: string }).data || 'ok',
    prepare: ([netFn, cmd, ...data]) => (netFn === undefined || cmd === undefined ? undefined : rawRunner(netFn, cmd, data)),
  },
  ...CONFIG_VERBS.sol,
  {
    words: ['sol', 'activate'],
    fleet: false,
    note: '(console: ~. leaves, ~B sends a break, ~? helps)',
    prepare: () => async (b) => {
      const code = await solActivate(b);
      return { lines: [], json: null, code };
    },
  },
  {
    words: ['sol', 'deactivate'],
    sameHelpLine: true,
    fleet: false,
    prepare: () => async (b) => {
      await solDeactivate(b);
      return { lines: [], json: { deactivated: true } };
    },
  },
];

/** A command line's runner, with what fleet mode needs to know of its verb. */
export interface IpmiCommand {
  readonly run: Runner;
  readonly fleet: boolean;
  readonly shortForm?: (o: Output) => string;
}

/** The command the words name: the verb with the most words matching, given the words after them. */
export function commandFor(words: readonly string[], flags: OutputFlags = NO_FLAGS, verbs: readonly IpmiVerb[] = IPMI_VERBS): IpmiCommand {
  const [group] = words;
  if (group === undefined) throw new UsageError('no command given');
  const usage = GROUPS.get(group);
  if (usage === undefined) throw new UsageError(`unknown command '${group}'`);
  const line = words.length === 1 && usage.alone !== undefined ? [group, usage.alone] : words;
  let verb: IpmiVerb | undefined;
  for (const v of verbs) if (v.words.every((w, i) => line[i] === w) && (verb === undefined || v.words.length > verb.words.length)) verb = v;
  const run = verb?.prepare(line.slice(verb.words.length), flags);
  if (verb === undefined || run === undefined) throw new UsageError(`${group}: expected ${usage.expected}`);
  return { run, fleet: verb.fleet, ...(verb.shortForm ? { shortForm: verb.shortForm } : {}) };
}

/** The help's command lines, two spaces in. */
export function commandHelp(verbs: readonly IpmiVerb[] = IPMI_VERBS): string {
  const lines: { text: string; notes: string[] }[] = [];
  for (const v of verbs) {
    const text = [...v.words, ...(v.args ? [v.args] : [])].join(' ');
    const last = lines.at(-1);
    if (v.sameHelpLine && last) last.text += ` | ${text}`;
    else lines.push({ text, notes: [] });
    if (v.note) lines.at(-1)!.notes.push(v.note);
  }
  return lines.map((l) => `  ${[l.text, ...l.notes].join('      ')}`).join('\n');
}
