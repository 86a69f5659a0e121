// kill -9 of `anvil serve` in the middle of a burst of writes: API clients enrolling machines,
// setting their next boot, queueing runs and fetching them as the machine would (/nexttest/),
// while pxemngr commands (addsystem, nextboot, nexttest) write the same database beside it.
// Every write that was acknowledged (2xx, exit 0) before or after the kill is there after the
// restart, read back through the API; nothing half-done is (a machine without its MAC); and
// SQLite's integrity check passes on the database the crash left and after the restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PXEMNGR, exec, startServer, tempDir, type ServerProcess } from '../helpers/anvil-process.ts';
import { adminToken, assertDatabaseWhole, killHard, waitUntil } from '../helpers/kill9.ts';

/** Concurrent API clients and pxemngr command loops. */
const API_WRITERS = 12;
const PXEMNGR_WRITERS = 3;
/** The kill comes once this many writes of each kind were acknowledged. */
const KILL_AFTER_API = 300;
const KILL_AFTER_PXEMNGR = 6;
/** Generous: only a hang reaches it. */
const TIMEOUT_MS = 300_000;

type Kind = 'create' | 'next-boot' | 'queue' | 'sent';

/** One acknowledged write and what it should have left. */
interface Ack {
  readonly by: 'api' | 'pxemngr';
  readonly kind: Kind;
  readonly machine: string;
  readonly mac?: string;
  readonly profile?: string;
  readonly runs?: readonly number[];
}

const hex = (n: number) => n.toString(16).padStart(2, '0');
/** A locally administered unicast MAC, one per writer and machine. */
const macOf = (group: number, writer: number, i: number) => `02:${hex(group)}:${hex(writer)}:${hex(i >> 8)}:${hex(i & 255)}:01`;
const profileOf = (i: number) => (i % 2 === 0 ? 'install' : 'rescue');

function setUpData(): string {
  const data = tempDir('anvil-kill9-burst-');
  const profiles = join(data, 'tftp/pxelinux.cfg/profiles');
  mkdirSync(profiles, { recursive: true });
  mkdirSync(join(data, 'tests'), { recursive: true });
  writeFileSync(join(profiles, 'local.prof'), 'LOCALBOOT 0\n');
  writeFileSync(join(profiles, 'install.prof'), 'KERNEL vmlinuz\nAPPEND url={{ server }}/preseed\n');
  writeFileSync(join(profiles, 'rescue.prof'), 'KERNEL rescue\n');
  writeFileSync(join(data, 'tests/wait.test'), 'sleep 5\n');
  writeFileSync(join(data, 'tests/t1.test'), '#!/bin/sh\necho "I: t1"\n');
  return data;
}

test('kill -9 during a burst of API and pxemngr writes: every acknowledged write survives, the database is whole', { timeout: TIMEOUT_MS }, async (t) => {
  const data = setUpData();
  const token = await adminToken(data);
  for (const sync of ['syncbootnames', 'synctestnames']) {
    const r = await exec(PXEMNGR, ['--data', data, sync]);
    assert.equal(r.code, 0, r.stderr);
  }
  let server: ServerProcess = await startServer(data, ['--power-sync-interval', '0']);
  t.after(() => server.stop());
  const url = server.url;

  const acks: Ack[] = [];
  /** Writes refused before the kill: each would be a defect of its own (a busy database, a 500). */
  const refused: string[] = [];
  let inFlightAtKill = 0;
  let killed = false;
  // However the test ends, the loops stop.
  t.after(() => {
    killed = true;
  });
  const count = (by: Ack['by']) => acks.filter((a) => a.by === by).length;

  const apiWriter = async (w: number) => {
    const call = async (method: string, path: string, body?: unknown) =>
      fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    /** Runs one write; false once the server is gone (the loop ends). */
    const step = async (kind: Kind, send: () => Promise<Response>, ack: (r: Response) => Promise<Omit<Ack, 'by' | 'kind'>>): Promise<boolean> => {
      let response: Response;
      try {
        response = await send();
      } catch (error) {
        if (!killed) refused.push(`${kind}: ${(error as Error).message}`);
        else inFlightAtKill++;
        return false;
      }
      if (response.status >= 200 && response.status < 300) {
        acks.push({ by: 'api', kind, ...(await ack(response)) });
        return true;
      }
      refused.push(`${kind}: ${response.status} ${await response.text()}`);
      return false;
    };
    for (let i = 0; !killed; i++) {
      const machine = `api-${w}-${i}`;
      const mac = macOf(1, w, i);
      const profile = profileOf(i);
      if (
        !(await step(
          'create',
          () => call('POST', '/api/v1/machines', { name: machine, macs: [mac] }),
          async () => ({ machine, mac }),
        ))
      )
        return;
      if (
        !(await step(
          'next-boot',
          () => call('PUT', `/api/v1/machines/${machine}/next-boot`, { profile }),
          async () => ({ machine, profile }),
        ))
      )
        return;
      let queued: number[] = [];
      const queue = await step(
        'queue',
        () => call('POST', `/api/v1/machines/${machine}/runs`, { tests: ['t1'] }),
        async (r) => {
          queued = ((await r.json()) as Array<{ id: number }>).map((run) => run.id);
          return { machine, runs: queued };
        },
      );
      if (!queue) return;
      // The machine asks for its next test, as pxemngr's URLs have it: the run is sent.
      const sent = await step(
        'sent',
        () => fetch(`${url}/nexttest/${mac}/`),
        async (r) => {
          await r.text();
          return { machine, runs: [Number(r.headers.get('x-anvil-run'))] };
        },
      );
      if (!sent) return;
    }
  };

  const pxemngrWriter = async (w: number) => {
    const run = async (kind: Kind, args: string[], ack: (stdout: string) => Omit<Ack, 'by' | 'kind'>): Promise<boolean> => {
      const r = await exec(PXEMNGR, ['--data', data, ...args]);
      if (r.code !== 0) {
        refused.push(`pxemngr ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
        return false;
      }
      acks.push({ by: 'pxemngr', kind, ...ack(r.stdout) });
      return true;
    };
    // The commands need no server: the loop goes on through the kill and stops after it.
    for (let i = 0; !killed; i++) {
      const machine = `px-${w}-${i}`;
      const mac = macOf(2, w, i);
      const profile = profileOf(i);
      if (!(await run('create', ['addsystem', machine, mac], () => ({ machine, mac })))) return;
      if (!(await run('next-boot', ['nextboot', machine, profile], () => ({ machine, profile })))) return;
      if (
        !(await run('queue', ['--json', 'nexttest', machine, 't1'], (out) => ({ machine, runs: (JSON.parse(out) as Array<{ id: number }>).map((r) => r.id) })))
      )
        return;
    }
  };

  const guarded = (writer: Promise<void>) =>
    writer.catch((error: unknown) => {
      refused.push(`a writer failed: ${(error as Error).stack}`);
    });
  const writers = [
    ...Array.from({ length: API_WRITERS }, (_, w) => guarded(apiWriter(w))),
    ...Array.from({ length: PXEMNGR_WRITERS }, (_, w) => guarded(pxemngrWriter(w))),
  ];
  await waitUntil('the burst under way', TIMEOUT_MS / 2, () =>
    (count('api') >= KILL_AFTER_API && count('pxemngr') >= KILL_AFTER_PXEMNGR) || refused.length > 0 ? true : undefined,
  );
  assert.deepEqual(refused, [], 'no write was refused before the kill');
  const ackedBeforeKill = { api: count('api'), pxemngr: count('pxemngr') };
  killed = true;
  await killHard(server);
  await Promise.all(writers);
  assert.deepEqual(refused, [], 'no write was refused');
  assertDatabaseWhole(data, 'after the kill');

  server = await startServer(data, ['--power-sync-interval', '0']);
  const api = async <T>(path: string): Promise<T> => {
    const r = await fetch(`${server.url}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200, `${path}: ${await r.clone().text()}`);
    return (await r.json()) as T;
  };
  interface Summary {
    name: string;
    macs: string[];
    nextProfile: string;
  }
  const machines = new Map<string, Summary>();
  for (let offset = 0; ; offset += 1000) {
    const page = await api<Summary[]>(`/machines?limit=1000&offset=${offset}`);
    for (const m of page) machines.set(m.name, m);
    if (page.length < 1000) break;
  }
  const runsOf = new Map<string, Map<number, { test: string; state: string }>>();
  const runs = async (machine: string) => {
    let known = runsOf.get(machine);
    if (!known) {
      known = new Map((await api<Array<{ id: number; test: string; state: string }>>(`/machines/${machine}/runs?limit=1000`)).map((r) => [r.id, r]));
      runsOf.set(machine, known);
    }
    return known;
  };

  const lost: string[] = [];
  for (const ack of acks) {
    const found = machines.get(ack.machine);
    const what = `${ack.by} ${ack.kind} ${ack.machine}`;
    if (!found) {
      lost.push(`${what}: no such machine`);
      continue;
    }
    if (ack.kind === 'create' && !found.macs.includes(ack.mac!)) lost.push(`${what}: MAC ${ack.mac} missing (${found.macs.join(',')})`);
    if (ack.kind === 'next-boot' && found.nextProfile !== ack.profile) lost.push(`${what}: next boot ${found.nextProfile}, not ${ack.profile}`);
    if (ack.kind === 'queue' || ack.kind === 'sent') {
      const known = await runs(ack.machine);
      for (const id of ack.runs!) {
        const run = known.get(id);
        if (!run || run.test !== 't1') lost.push(`${what}: run ${id} missing`);
        else if (ack.kind === 'sent' && run.state !== 'sent') lost.push(`${what}: run ${id} is ${run.state}, not sent`);
      }
    }
  }
  const halfDone = [...machines.values()].filter((m) => m.macs.length === 0).map((m) => m.name);
  const found = acks.length - lost.length;
  t.diagnostic(
    `acknowledged writes: ${acks.length} (api ${count('api')}, pxemngr ${count('pxemngr')}; ${ackedBeforeKill.api} + ${ackedBeforeKill.pxemngr} before the kill); ` +
      `API requests cut by the kill: ${inFlightAtKill}; found after the restart: ${found}; lost: ${lost.length}; machines: ${machines.size}`,
  );
  assert.deepEqual(lost, [], 'every acknowledged write is there');
  assert.deepEqual(halfDone, [], 'no machine without its MAC');
  assert.ok(acks.length >= KILL_AFTER_API + KILL_AFTER_PXEMNGR);

  assert.equal(await server.stop(), 0);
  assertDatabaseWhole(data, 'after the restart');
  rmSync(data, { recursive: true, force: true });
});
