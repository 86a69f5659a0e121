// SSH to the operating system on a machine, as VCL's OS modules do: one key per site, made by
// OpenSSH's ssh-keygen in <data>/ssh/ (the private key never leaves it, is never logged and
// never on a command line — only its path is), the public key handed to the deploy agent and
// written into deployed systems; OpenSSH's client for the handshake and the commands. Host keys
// are remembered per machine, and forgotten when the machine is deployed or captured (its OS
// is new then).
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AnvilError } from '../common/errors.ts';
import type { Machine } from '../machines/machines.ts';
import { PROPERTY_DEFAULTS, propertiesOf } from '../machines/properties.ts';

const run = promisify(execFile);

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

  /** The site's key pair, made on first use (mode 0600 in a 0700 folder). Returns the public key line. */
  async ensureKey(): Promise<string> {
    if (!existsSync(this.keyPath)) {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      try {
        await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `anvil@${hostname()}`, '-f', this.keyPath]);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT')
          throw new AnvilError('SSH_MISSING', 'unavailable', 'ssh-keygen is not installed (apt-get install openssh-client, or scripts/install)');
        if (!existsSync(this.keyPath))
          throw new AnvilError(
            'SSH_KEYGEN_FAILED',
            'internal',
            `ssh-keygen could not make the site key in ${this.dir}: ${(error as { stderr?: string }).stderr?.trim() || (error as Error).message}`,
          );
      }
    }
    return readFileSync(`${this.keyPath}.pub`, 'utf8').trim();
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
