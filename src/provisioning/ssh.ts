// SSH to the operating system on a machine, as VCL's OS modules do: one key per site, made by
// OpenSSH's ssh-keygen in <data>/ssh/ (the private key never leaves it, is never logged and
// never on a command line — only its path is), the public key handed to the deploy agent and
// written into deployed systems; OpenSSH's client for the handshake and the commands. Host keys
// are remembered per machine, and forgotten when the machine is deployed or captured (its OS
// is new then).
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { link, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AnvilError } from '../common/errors.ts';
import type { Machine } from '../machines/machines.ts';
import { PROPERTY_DEFAULTS, propertiesOf } from '../machines/properties.ts';

const run = promisify(execFile);

/** ssh-keygen with its stdin closed (a question it asks is answered by end of file), its output, or a clear error. */
async function keygen(args: readonly string[], dir: string): Promise<string> {
  const pending = run('ssh-keygen', args);
  pending.child.stdin?.end();
  try {
    return (await pending).stdout;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new AnvilError('SSH_MISSING', 'unavailable', 'ssh-keygen is not installed (apt-get install openssh-client, or scripts/install)');
    throw new AnvilError(
      'SSH_KEYGEN_FAILED',
      'internal',
      `ssh-keygen could not make the site key in ${dir}: ${(error as { stderr?: string }).stderr?.trim() || (error as Error).message}`,
    );
  }
}

/** How long a handshake may take before the machine counts as not answering SSH. */
export const SSH_CONNECT_TIMEOUT_S = 5;
/** How long a command over SSH may run (a pre-capture hook: sync, clean logs). */
export const SSH_COMMAND_TIMEOUT_MS = 120_000;

export interface SshResult {
  /** False when no SSH session was made (refused, timed out, key not accepted). */
  readonly connected: boolean;
  readonly code: number | null;
  readonly stdout: string;
  /** Why it failed, one line. */
  readonly problem: string | undefined;
}

/** Marks the output of the remote command as having run (so a failing command is told from no session). */
const MARK = 'anvil-ssh-session';

export class SiteSsh {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  get keyPath(): string {
    return join(this.dir, 'id_ed25519');
  }

  /**
   * The site's key pair, made on first use (mode 0600 in a 0700 folder). Returns the public key
   * line. Safe when several processes (three `anvil machine deploy` at once) make it together:
   * each makes a pair under a name of its own and the first to link its private key into place
   * wins; the others keep the winner's. ssh-keygen never sees an existing file, so it never stops
   * to ask whether to overwrite one (it waited for an answer on stdin, for ever).
   */
  async ensureKey(): Promise<string> {
    if (!existsSync(this.keyPath)) await this.#makeKey();
    try {
      return readFileSync(`${this.keyPath}.pub`, 'utf8').trim();
    } catch {
      // Another process linked its private key and has not renamed its .pub into place yet.
      return this.#writePublicKey();
    }
  }

  async #makeKey(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const mine = `${this.keyPath}.new-${process.pid}-${randomBytes(6).toString('hex')}`;
    try {
      await keygen(['-q', '-t', 'ed25519', '-N', '', '-C', `anvil@${hostname()}`, '-f', mine], this.dir);
      try {
        await link(mine, this.keyPath);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
        throw error;
      }
      await rename(`${mine}.pub`, `${this.keyPath}.pub`);
    } finally {
      await rm(mine, { force: true });
      await rm(`${mine}.pub`, { force: true });
    }
  }

  /** The public key derived from the private one, written into place (whole, then renamed). */
  async #writePublicKey(): Promise<string> {
    const line = `${(await keygen(['-y', '-f', this.keyPath], this.dir)).trim()} anvil@${hostname()}`;
    const part = `${this.keyPath}.pub.${process.pid}-${randomBytes(6).toString('hex')}`;
    await writeFile(part, `${line}\n`, { mode: 0o644 });
    await rename(part, `${this.keyPath}.pub`);
    return line;
  }

  /** The public key, or undefined when none has been made yet (nothing is made here). */
  publicKey(): string | undefined {
    try {
      return readFileSync(`${this.keyPath}.pub`, 'utf8').trim();
    } catch {
      return undefined;
    }
  }

  #knownHosts(machine: Pick<Machine, 'id'>): string {
    return join(this.dir, `known_hosts.${machine.id}`);
  }

  /** The machine has a new OS: its old host key means nothing now. */
  async forgetHost(machine: Pick<Machine, 'id'>): Promise<void> {
    await rm(this.#knownHosts(machine), { force: true });
  }

  /** Where SSH reaches the machine's OS, or undefined when it has no address. */
  target(machine: Pick<Machine, 'properties'>): { address: string; port: number; user: string; home: string } | undefined {
    const p = propertiesOf(machine);
    if (!p.address) return undefined;
    return {
      address: p.address,
      port: p.ssh_port ?? PROPERTY_DEFAULTS.ssh_port,
      user: p.ssh_user ?? PROPERTY_DEFAULTS.ssh_user,
      home: p.login_home ?? PROPERTY_DEFAULTS.login_home,
    };
  }

  /** Runs `command` (a shell line) on the machine, with `input` on its stdin. */
  async exec(machine: Pick<Machine, 'id' | 'name' | 'properties'>, command: string, options: { input?: string; timeoutMs?: number } = {}): Promise<SshResult> {
    const target = this.target(machine);
    if (!target)
      return {
        connected: false,
        code: null,
        stdout: '',
        problem: `machine '${machine.name}' has no address (anvil machine set ${machine.name} --property address=HOST)`,
      };
    await this.ensureKey();
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const args = [
      '-i',
      this.keyPath,
      '-p',
      String(target.port),
      '-o',
      'BatchMode=yes',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      `ConnectTimeout=${SSH_CONNECT_TIMEOUT_S}`,
      '-o',
      'StrictHostKeyChecking=accept-new',
      '-o',
      `UserKnownHostsFile=${this.#knownHosts(machine)}`,
      '-o',
      'LogLevel=ERROR',
      `${target.user}@${target.address}`,
      `echo ${MARK}; ${command}`,
    ];
    return new Promise((resolve) => {
      const child = spawn('ssh', args, { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? SSH_COMMAND_TIMEOUT_MS);
      child.stdout.on('data', (chunk: Buffer) => {
        if (stdout.length < 1 << 20) stdout += chunk.toString('utf8');
      });
      child.stderr.on('data', (chunk: Buffer) => {
        if (stderr.length < 65536) stderr += chunk.toString('utf8');
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input ?? '');
      child.on('error', (error) => {
        clearTimeout(timer);
        const problem = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'ssh is not installed (apt-get install openssh-client)' : error.message;
        resolve({ connected: false, code: null, stdout: '', problem });
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const connected = stdout.startsWith(`${MARK}\n`);
        const body = connected ? stdout.slice(MARK.length + 1) : stdout;
        const last = stderr.trim().split('\n').pop()?.slice(0, 300);
        const problem = signal
          ? `timed out after ${(options.timeoutMs ?? SSH_COMMAND_TIMEOUT_MS) / 1000} s`
          : code === 0
            ? undefined
            : last || `exit status ${code}`;
        resolve({ connected, code, stdout: body, problem });
      });
    });
  }
}
