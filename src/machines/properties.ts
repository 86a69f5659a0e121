// A machine's properties: how anvil reaches the operating system running on it — its
// address (for ping and SSH), the SSH port and login user, and the login user's home, where
// VCL's currentimage.txt lives. Set with `anvil machine set NAME --property k=v` or PATCH
// /api/v1/machines/NAME; lab VMs get them when enrolled.
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { invalid } from '../common/errors.ts';
import { stamp, type Clock } from '../store/store.ts';
import type { Machine } from './machines.ts';

export type MachineProperties = {
  /** Host name or IP address of the machine's OS. */
  readonly address?: string;
  readonly ssh_port?: number;
  readonly ssh_user?: string;
  readonly login_home?: string;
};

export const PROPERTY_DEFAULTS = { ssh_port: 22, ssh_user: 'root', login_home: '/root' } as const;

const HOST = /^[A-Za-z0-9][A-Za-z0-9.:_-]{0,252}$/;
const USER = /^[a-z_][a-z0-9_.-]{0,31}$/i;
const HOME = /^\/[A-Za-z0-9._/-]{0,255}$/;

/** Checks fields as given (strings from the CLI, JSON values from the API); null removes one. */
export function parseProperties(fields: Readonly<Record<string, unknown>>, base: MachineProperties = {}): MachineProperties {
  const out: Record<string, string | number> = { ...base };
  const problems: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === null || value === '') {
      delete out[key];
      continue;
    }
    const text = String(value);
    switch (key) {
      case 'address':
        if (HOST.test(text)) out[key] = text;
        else problems.push(`address '${text}' is not a host name or IP address`);
        break;
      case 'ssh_port': {
        const port = Number(text);
        if (Number.isInteger(port) && port > 0 && port < 65536) out[key] = port;
        else problems.push(`ssh_port '${text}' is not a port (1-65535)`);
        break;
      }
      case 'ssh_user':
        if (USER.test(text)) out[key] = text;
        else problems.push(`ssh_user '${text}' is not a user name`);
        break;
      case 'login_home':
        if (HOME.test(text) && !text.includes('..')) out[key] = text;
        else problems.push(`login_home '${text}' is not an absolute path`);
        break;
      default:
        problems.push(`'${key}' is not a machine property (address, ssh_port, ssh_user, login_home)`);
    }
  }
  if (problems.length > 0) throw invalid('INVALID_PROPERTIES', problems.join('; '));
  return out as MachineProperties;
}

export function propertiesOf(machine: Pick<Machine, 'properties'>): MachineProperties {
  try {
    const value = JSON.parse(machine.properties) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as MachineProperties) : {};
  } catch {
    return {};
  }
}

export class Properties {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;

  constructor(db: Kysely<Database>, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
  }

  /** Merges fields into the machine's properties (null removes one); returns them. */
  async set(machine: Machine, fields: Readonly<Record<string, unknown>>): Promise<MachineProperties> {
    const next = parseProperties(fields, propertiesOf(machine));
    await this.#db
      .updateTable('machines')
      .set({ properties: JSON.stringify(next), updated_at: stamp(this.#clock) })
      .where('id', '=', machine.id)
      .execute();
    return next;
  }
}
