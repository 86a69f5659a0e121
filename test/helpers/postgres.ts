// A PostgreSQL cluster of the tests' own: initdb in a temporary directory, a free port on
// 127.0.0.1, scram-sha-256 for the user anvil with a random password. PostgreSQL refuses to
// run as root, so under root the cluster runs as the unprivileged `postgres` system user
// that Debian's package creates. freshDatabase() gives each test a database of its own, in the
// cluster named by ANVIL_TEST_POSTGRES_URL (scripts/test shares one) or in one started on
// demand for this process and stopped when it exits.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { freeTcpPort } from './ports.ts';
import { requireCondition } from './peers.ts';

/** How long initdb plus the first start may take before the helper gives up. */
export const POSTGRES_START_TIMEOUT_MS = 60_000;
export const POSTGRES_USER = 'anvil';

/** The directory holding initdb and postgres: ANVIL_POSTGRES_BIN, or Debian's newest /usr/lib/postgresql/N/bin. */
export function postgresBinDir(): string | undefined {
  const fromEnv = process.env.ANVIL_POSTGRES_BIN;
  if (fromEnv) return existsSync(join(fromEnv, 'initdb')) ? fromEnv : undefined;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin/initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

/** True when a cluster can be had (shared via ANVIL_TEST_POSTGRES_URL, or started here); otherwise skips or, under CI=true, fails. */
export function havePostgres(t: TestContext): boolean {
  const ok = process.env.ANVIL_TEST_POSTGRES_URL !== undefined || postgresBinDir() !== undefined;
  return requireCondition(t, ok, 'PostgreSQL is missing (no initdb in /usr/lib/postgresql/*/bin)');
}

export interface PostgresCluster {
  /** postgres://anvil:…@127.0.0.1:port/postgres — the maintenance database. */
  readonly url: string;
  readonly port: number;
  readonly password: string;
  /** Smart-free fast shutdown (SIGINT); the data directory stays, so start() can bring it back. */
  stop(): Promise<void>;
  /** Starts a stopped cluster again on the same port and data. */
  start(): Promise<void>;
  /** Stops it (SIGQUIT, immediate) and removes its directory, without waiting: safe in an exit handler. */
  kill(): void;
}

interface RunAs {
  uid: number;
  gid: number;
}

function runAsUser(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => {
    const r = spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
    if (r.status !== 0)
      throw new Error("PostgreSQL refuses to run as root and there is no 'postgres' user; install Debian's postgresql (scripts/install --test)");
    return Number(r.stdout.trim());
  };
  return { uid: id('-u'), gid: id('-g') };
}

export async function startPostgres(): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL is missing: no initdb in /usr/lib/postgresql/*/bin; install Debian's postgresql (scripts/install --test)");
  const runAs = runAsUser();
  const root = mkdtempSync(join(tmpdir(), 'anvil-pg-'));
  const data = join(root, 'data');
  const socketDir = join(root, 'run');
  mkdirSync(socketDir);
  const password = randomBytes(18).toString('base64url');
  const pwfile = join(root, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (runAs) for (const path of [root, socketDir, pwfile]) chownSync(path, runAs.uid, runAs.gid);
  const initdb = spawnSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', POSTGRES_USER, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync'],
    { encoding: 'utf8', ...runAs, timeout: POSTGRES_START_TIMEOUT_MS },
  );
  rmSync(pwfile, { force: true });
  if (initdb.status !== 0) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`initdb failed (${initdb.status ?? initdb.signal}): ${initdb.stderr || initdb.stdout}`);
  }
  const port = await freeTcpPort();
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const args = ['-D', data, '-p', String(port), '-k', socketDir, '-c', 'listen_addresses=127.0.0.1'];
    args.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=300');
    const proc = spawn(join(bin, 'postgres'), args, { stdio: ['ignore', 'ignore', 'pipe'], ...runAs });
    child = proc;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => fail(new Error(`PostgreSQL did not accept connections within ${POSTGRES_START_TIMEOUT_MS} ms:\n${log}`)),
        POSTGRES_START_TIMEOUT_MS,
      );
      const fail = (error: Error) => {
        clearTimeout(timer);
        proc.kill('SIGQUIT');
        reject(error);
      };
      proc.stderr?.setEncoding('utf8');
      proc.stderr?.on('data', (chunk: string) => {
        // Keep draining (a full pipe would block the server), but remember only the start-up.
        if (log.length < 20_000) log += chunk;
        if (log.includes('database system is ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('error', fail);
      proc.once('exit', (code, signal) => fail(new Error(`PostgreSQL exited (${code ?? signal}) while starting:\n${log}`)));
    });
    // The cluster must not keep a test process alive; kill() stops it on exit.
    proc.unref();
    (proc.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.ref();
      proc.kill('SIGINT');
    });
  };

  const kill = (): void => {
    const proc = child;
    child = undefined;
    if (proc?.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) {
      rmSync(root, { recursive: true, force: true });
      return;
    }
    proc.kill('SIGQUIT');
    // The server removes its pid file and socket as it goes, racing an rm from here; an exit
    // handler cannot wait, so a detached shell removes the directory once the server is gone.
    spawn('sh', ['-c', 'tail --pid="$1" -f /dev/null; rm -rf "$2"', 'sh', String(proc.pid), root], { detached: true, stdio: 'ignore' }).unref();
  };

  try {
    await start();
  } catch (error) {
    kill();
    throw error;
  }
  return {
    url: `postgres://${POSTGRES_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    port,
    password,
    stop,
    start,
    kill,
  };
}

let processCluster: Promise<PostgresCluster> | undefined;

/** The maintenance URL of ANVIL_TEST_POSTGRES_URL's cluster, or of this process's own, started on first use. */
async function clusterUrl(): Promise<string> {
  const shared = process.env.ANVIL_TEST_POSTGRES_URL;
  if (shared) return shared;
  processCluster ??= startPostgres().then((cluster) => {
    // Not 'beforeExit': node:test's runner passes through it between tests.
    process.once('exit', () => cluster.kill());
    return cluster;
  });
  return (await processCluster).url;
}

/** A new empty database (t_<pid>_<random>) in the tests' cluster; returns its URL. */
export async function freshDatabase(): Promise<string> {
  const admin = new URL(await clusterUrl());
  const name = `t_${process.pid}_${randomBytes(6).toString('hex')}`;
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: admin.href });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(admin.href);
  url.pathname = `/${name}`;
  return url.href;
}
