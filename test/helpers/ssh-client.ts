// OpenSSH's client against a guest's SSH server (dropbear in the agent and the tiny Linux),
// through a port forward on 127.0.0.1: a throwaway key for tests that hand the guest their own,
// and one command run with a key file (-i: the private key is never on the command line).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** A command over SSH under TCG: the handshake, dropbear making its host key, the command. */
const SSH_TIMEOUT_MS = 90_000;

/** Makes an ed25519 key pair in `dir` (ssh-keygen); returns the private key's path and the public key line. */
export async function makeKey(dir: string): Promise<{ path: string; publicKey: string }> {
  const path = join(dir, 'id_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'anvil-test', '-f', path], { timeout: 30_000 });
  return { path, publicKey: readFileSync(`${path}.pub`, 'utf8').trim() };
}

/** Runs `command` as `user` on 127.0.0.1:port with the key at keyPath; rejects with stderr when ssh fails. */
export async function sshRun(port: number, keyPath: string, command: string, user = 'root'): Promise<string> {
  const args = [
    '-i',
    keyPath,
    '-p',
    String(port),
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
    '-o',
    'ConnectTimeout=30',
    `${user}@127.0.0.1`,
    command,
  ];
  const { stdout } = await run('ssh', args, { timeout: SSH_TIMEOUT_MS, killSignal: 'SIGKILL' });
  return stdout;
}
