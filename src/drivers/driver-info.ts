// Parsing driver_info: each getter records a problem instead of throwing, so validate can
// name every missing or invalid field in one error. Values may arrive as strings (CLI
// key=value) or as JSON numbers and booleans (API).
import { DriverInfoError } from './errors.ts';
import type { FieldSpec } from './types.ts';

export class InfoReader {
  readonly #machine: string;
  readonly #driver: string;
  readonly #info: Readonly<Record<string, unknown>>;
  readonly #problems: string[] = [];

  constructor(machine: string, driver: string, info: Readonly<Record<string, unknown>>, fields: Readonly<Record<string, FieldSpec>>) {
    this.#machine = machine;
    this.#driver = driver;
    this.#info = info;
    for (const key of Object.keys(info)) {
      if (!(key in fields)) this.#problems.push(`unknown field ${key} (${driver} takes ${Object.keys(fields).join(', ') || 'none'})`);
    }
  }

  #raw(key: string): unknown {
    const value = this.#info[key];
    return value === null || value === '' ? undefined : value;
  }

  string(key: string): string | undefined {
    const value = this.#raw(key);
    if (value === undefined) return undefined;
    if (typeof value !== 'string' && typeof value !== 'number') {
      this.#problems.push(`${key} must be a string`);
      return undefined;
    }
    return String(value);
  }

  required(key: string): string {
    const value = this.string(key);
    if (value === undefined && this.#raw(key) === undefined) this.#problems.push(`${key} is missing`);
    return value ?? '';
  }

  integer(key: string, min: number, max: number): number | undefined {
    const value = this.#raw(key);
    if (value === undefined) return undefined;
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      this.#problems.push(`${key} must be an integer from ${min} to ${max}, not '${String(value)}'`);
      return undefined;
    }
    return n;
  }

  oneOf<T extends string>(key: string, choices: readonly T[]): T | undefined {
    const value = this.string(key);
    if (value === undefined) return undefined;
    const lower = value.toLowerCase();
    const found = choices.find((c) => c.toLowerCase() === lower);
    if (found === undefined) this.#problems.push(`${key} must be one of ${choices.join(', ')}, not '${value}'`);
    return found;
  }

  boolean(key: string): boolean | undefined {
    const value = this.#raw(key);
    if (value === undefined) return undefined;
    if (typeof value === 'boolean') return value;
    const text = String(value).toLowerCase();
    if (['true', 'yes', '1', 'on'].includes(text)) return true;
    if (['false', 'no', '0', 'off'].includes(text)) return false;
    this.#problems.push(`${key} must be true or false, not '${String(value)}'`);
    return undefined;
  }

  /** A check of its own (e.g. a length limit). */
  problem(text: string): void {
    this.#problems.push(text);
  }

  /** Throws one DriverInfoError naming every problem found so far. */
  done(): void {
    if (this.#problems.length > 0) throw new DriverInfoError(this.#machine, this.#driver, this.#problems);
  }
}
