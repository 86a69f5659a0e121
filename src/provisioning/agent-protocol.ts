// The deploy agent's words (protocol v1): text bodies of `key=value` lines, which a busybox
// shell writes with printf and reads with `while IFS='=' read`. Pure: text in, values out,
// bounded so a careless or hostile agent cannot make anvil hold much.

/** The largest body an agent may send. */
export const AGENT_BODY_LIMIT = 64 * 1024;
export const AGENT_PROTOCOL_VERSION = 1;

const KEY = /^[a-z][a-z0-9._-]{0,63}$/;
const MAX_VALUE = 4096;

export class AgentMessageError extends Error {
  override readonly name = 'AgentMessageError';
  readonly code = 'AGENT_MESSAGE_INVALID';
}

/** key → values, in the order sent. */
export type AgentMessage = ReadonlyMap<string, readonly string[]>;

export function parseAgentMessage(text: string): AgentMessage {
  if (text.length > AGENT_BODY_LIMIT) throw new AgentMessageError(`the message is larger than ${AGENT_BODY_LIMIT} bytes`);
  const out = new Map<string, string[]>();
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const eq = line.indexOf('=');
    const key = eq > 0 ? line.slice(0, eq) : '';
    if (!KEY.test(key)) throw new AgentMessageError(`line ${i + 1} is not key=value with a lower-case key`);
    const value = line.slice(eq + 1);
    if (value.length > MAX_VALUE) throw new AgentMessageError(`line ${i + 1}: the value of ${key} is longer than ${MAX_VALUE} characters`);
    const list = out.get(key);
    if (list) list.push(value);
    else out.set(key, [value]);
  }
  return out;
}

export function formatAgentMessage(fields: Readonly<Record<string, string | number | undefined>>): string {
  return `${Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${String(v).replace(/[\r\n]+/g, ' ')}`)
    .join('\n')}\n`;
}

export const first = (message: AgentMessage, key: string): string | undefined => message.get(key)?.[0];

/** A non-negative integer field, or undefined when absent or not one. */
export function integer(message: AgentMessage, key: string): number | undefined {
  const text = first(message, key);
  if (text === undefined || !/^\d{1,16}$/.test(text)) return undefined;
  return Number(text);
}

export interface AgentDisk {
  readonly name: string;
  readonly size: number;
  readonly model?: string | undefined;
  readonly serial?: string | undefined;
  readonly rotational?: boolean | undefined;
  readonly removable?: boolean | undefined;
}

export interface AgentHello {
  readonly macs: string[];
  readonly disks: AgentDisk[];
  readonly kernel: string | undefined;
  readonly version: number | undefined;
}

const DISK_NAME = /^[a-z][a-z0-9]{0,31}$/;

/** What an agent's hello says of its machine; disks it names badly are left out. */
export function parseHello(message: AgentMessage): AgentHello {
  const disks: AgentDisk[] = [];
  for (const name of message.get('disk') ?? []) {
    if (!DISK_NAME.test(name)) continue;
    const size = integer(message, `disk.${name}.size`);
    if (size === undefined) continue;
    const flag = (key: string) => {
      const v = first(message, `disk.${name}.${key}`);
      return v === undefined ? undefined : v === '1';
    };
    disks.push({
      name,
      size,
      model: first(message, `disk.${name}.model`)?.trim() || undefined,
      serial: first(message, `disk.${name}.serial`)?.trim() || undefined,
      rotational: flag('rotational'),
      removable: flag('removable'),
    });
  }
  return {
    macs: [...(message.get('mac') ?? [])].slice(0, 64),
    disks: disks.slice(0, 64),
    kernel: first(message, 'kernel'),
    version: integer(message, 'agent'),
  };
}

/**
 * The disk to write an image of `size` bytes to: the one named by `hint` (a name or /dev/ path),
 * else the smallest non-removable disk it fits on (Ironic's choice). A reason when none fits.
 */
export function chooseDisk(disks: readonly AgentDisk[], size: number, hint?: string): { disk: AgentDisk } | { reason: string } {
  const listed = disks.map((d) => `${d.name} (${d.size} bytes)`).join(', ') || 'none';
  if (hint) {
    const name = hint.replace(/^\/dev\//, '');
    const disk = disks.find((d) => d.name === name);
    if (!disk) return { reason: `the machine has no disk ${hint}; its disks: ${listed}` };
    if (disk.size < size) return { reason: `the image of ${size} bytes does not fit /dev/${disk.name} of ${disk.size} bytes` };
    return { disk };
  }
  const fitting = disks.filter((d) => !d.removable && d.size >= size).sort((a, b) => a.size - b.size);
  if (fitting[0]) return { disk: fitting[0] };
  return { reason: disks.length === 0 ? 'the agent found no disk on the machine' : `the image of ${size} bytes fits none of the machine's disks: ${listed}` };
}
