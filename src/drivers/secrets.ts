// Secrets in driver_info (`*_password`, `*_kg`): encrypted at rest with AES-256-GCM under a
// random key in <data>/secret.key (mode 0600, made on first use), decrypted only when a
// driver is built, and masked as ****** in everything shown to people.
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { chmodSync, openSync, readFileSync, writeSync, closeSync } from 'node:fs';
import { AnvilError } from '../common/errors.ts';

export const MASK = '******';
/** Marks an encrypted value: version, then base64 IV, tag and ciphertext. */
const PREFIX = 'enc:v1:';
const KEY_BYTES = 32;
const IV_BYTES = 12;

/** driver_info keys that hold secrets (Ironic masks *password*; IPMI's Kg is one too). */
export function isSecretField(key: string): boolean {
  return /(^|_)(password|kg|secret|token)$/i.test(key);
}

/** A copy of driver_info with every secret value replaced by ******. */
export function maskDriverInfo(info: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(info).map(([k, v]) => [k, isSecretField(k) && v !== null && v !== undefined && v !== '' ? MASK : v]));
}

export function isEncrypted(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(PREFIX);
}

export class SecretBox {
  readonly #path: string;
  /** A KeyObject: handed a Buffer, each createDecipheriv wraps it again (4× the time of a decrypt). */
  #key: KeyObject | undefined;

  constructor(keyPath: string) {
    this.#path = keyPath;
  }

  /** The key, read from its file or made and written there (0600) the first time. */
  #keyBytes(): KeyObject {
    if (this.#key) return this.#key;
    let key: Buffer;
    try {
      const fd = openSync(this.#path, 'wx', 0o600);
      key = randomBytes(KEY_BYTES);
      try {
        writeSync(fd, key.toString('base64') + '\n');
      } finally {
        closeSync(fd);
      }
      chmodSync(this.#path, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new AnvilError('SECRET_KEY_UNAVAILABLE', 'internal', `cannot create the secret key ${this.#path}: ${(error as Error).message}`, { cause: error });
      key = Buffer.from(readFileSync(this.#path, 'utf8').trim(), 'base64');
      if (key.length !== KEY_BYTES)
        throw new AnvilError(
          'SECRET_KEY_INVALID',
          'internal',
          `the secret key ${this.#path} is not ${KEY_BYTES} bytes of base64; restore it from a backup (without it the stored passwords cannot be read)`,
        );
    }
    this.#key = createSecretKey(key);
    return this.#key;
  }

  /** Reads the key, or makes it now: anvil serve's start, so the file a cluster's other data directories need exists from the first run. */
  ensureKey(): void {
    this.#keyBytes();
  }

  /** Names the key without revealing it (an HMAC of a fixed text): processes sharing a database compare it. */
  fingerprint(): string {
    return createHmac('sha256', this.#keyBytes()).update('anvil secret.key fingerprint v1').digest('hex').slice(0, 32);
  }

  encrypt(plain: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#keyBytes(), iv);
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${PREFIX}${iv.toString('base64')}:${cipher.getAuthTag().toString('base64')}:${data.toString('base64')}`;
  }

  decrypt(stored: string): string {
    if (!isEncrypted(stored)) return stored;
    const [iv, tag, data] = stored.slice(PREFIX.length).split(':');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#keyBytes(), Buffer.from(iv ?? '', 'base64'));
      decipher.setAuthTag(Buffer.from(tag ?? '', 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(data ?? '', 'base64')), decipher.final()]).toString('utf8');
    } catch (error) {
      if (error instanceof AnvilError) throw error;
      throw new AnvilError(
        'SECRET_UNREADABLE',
        'internal',
        `a stored secret cannot be decrypted with ${this.#path} (was the key replaced?); set the password again`,
      );
    }
  }

  /** driver_info as stored: secret fields encrypted (already encrypted ones kept). */
  seal(info: Readonly<Record<string, unknown>>): Record<string, unknown> {
    return Object.fromEntries(
      Object.entries(info).map(([k, v]) => [k, isSecretField(k) && typeof v === 'string' && v !== '' && !isEncrypted(v) ? this.encrypt(v) : v]),
    );
  }

  /** driver_info for a driver: secret fields decrypted. */
  open(info: Readonly<Record<string, unknown>>): Record<string, unknown> {
    return Object.fromEntries(Object.entries(info).map(([k, v]) => [k, isEncrypted(v) ? this.decrypt(v) : v]));
  }
}
