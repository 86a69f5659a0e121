// The pages: fleet, machine (with the operator's forms), run, raw log, versions, results.
// Handlers gather data through the services and hand the views plain, preformatted values;
// the fleet's rows come from fleet.ts so 10,000 machines still render in well under a second.
import { open } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Liquid } from 'liquidjs';
import { sql } from 'kysely';
import type { Services } from '../services.ts';
import type { Run } from '../store/schema.ts';
import { invalid, notFound } from '../common/errors.ts';
import { WAIT_TEST } from '../testing/testing.ts';
import { POWER_REQUESTS, type PowerRequest } from '../conductor/machine-control.ts';
import { BOOT_DEVICES, type BootDevice } from '../drivers/types.ts';
import { utc } from './views.ts';
import { fleetRows, isFailing, outcome } from './fleet.ts';
import type { PageAuth, Viewer } from './session.ts';
import { chartOf, RESULT_SPANS, resultsOverTime, sparkOf, type ResultSpan } from './results.ts';

/** Discovered machines listed on the fleet page, most recently seen first (GET /api/v1/discovered has them all). */
export const DISCOVERED_SHOWN = 100;

/** Bytes of an upload shown on its run page; the rest is behind /runs/:id/raw. */
export const RAW_PREVIEW_BYTES = 256 * 1024;

const LINE_WORDS = { I: 'info', W: 'warning', E: 'error', V: 'version' } as const;

interface ResultCell {
  readonly run: number;
  readonly test: string;
  readonly state: string;
  readonly infos: number;
  readonly warnings: number;
  readonly errors: number;
  readonly when: string;
}

function resultCell(run: Pick<Run, 'id' | 'test' | 'state' | 'infos' | 'warnings' | 'errors' | 'finished_at'>): ResultCell {
  return { run: run.id, test: run.test, state: run.state, infos: run.infos, warnings: run.warnings, errors: run.errors, when: utc(run.finished_at) };
}

function runId(text: string): number {
  if (!/^\d{1,12}$/.test(text)) throw notFound('UNKNOWN_RUN', `no test run '${text}'; run ids are numbers`);
  return Number(text);
}

async function readHead(path: string, bytes: number): Promise<string | undefined> {
  let file;
  try {
    file = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await file.read(buffer, 0, bytes, 0);
    return new TextDecoder('utf-8', { fatal: false }).decode(buffer.subarray(0, bytesRead));
  } finally {
    await file.close();
  }
}

export function pageRoutes(app: FastifyInstance, services: Services, views: Liquid, auth: PageAuth): void {
  const { machines, testing, profiles, store } = services;
  const render = async (reply: FastifyReply, view: string, viewer: Viewer, data: Record<string, unknown>) =>
    reply.type('text/html; charset=utf-8').send(await views.renderFile(view, { ...data, viewer }));

  app.get('/', async (request, reply) => {
    const viewer = await auth.viewer(request, reply);
    if (!viewer) return reply;
    // Four queries for the whole fleet: Machines.list()'s three and the latest results by name.
    const [fleet, discovered, discoveredCount, latest] = await Promise.all([
      machines.list(),
      machines.discovered(DISCOVERED_SHOWN),
      machines.discoveredCount(),
      store.db
        .selectFrom('runs')
        .innerJoin('machines', 'machines.id', 'runs.machine_id')
        .select(['machines.name as machine', 'runs.id', 'runs.test', 'runs.state', 'runs.infos', 'runs.warnings', 'runs.errors', 'runs.finished_at'])
        .where('runs.id', 'in', (eb) =>
          eb
            .selectFrom('runs')
            .select((e) => e.fn.max('id').as('id'))
            .where('state', 'in', ['done', 'error'])
            .groupBy('machine_id'),
        )
        .execute(),
    ]);
    const results = new Map(latest.map((r) => [r.machine, r]));
    let failing = 0;
    for (const r of latest) if (isFailing(r)) failing++;
    return render(reply, 'fleet', viewer, {
      title: 'Fleet',
      nav: 'fleet',
      rows: fleetRows(fleet, results),
      count: fleet.length,
      failing,
      discovered: discovered.map((d) => ({
        mac: d.mac,
        arch: d.arch ?? '',
        loader: d.loader ?? '',
        address: d.address ?? '',
        firstSeen: utc(d.first_seen),
        lastSeen: utc(d.last_seen),
        boots: d.boots,
      })),
      discoveredCount,
    });
  });

  // A discovered machine enrolled from the fleet page: pxemngr addsystem NAME MAC, then its page.
  app.post<{ Params: { mac: string }; Body: { name?: unknown } }>('/discovered/:mac/enroll', async (request, reply) => {
    const viewer = await auth.formViewer(request, reply, 'operator');
    if (!viewer) return reply;
    const name = request.body?.name;
    if (typeof name !== 'string' || name.trim() === '') throw invalid('NAME_REQUIRED', 'give the machine a name to enroll it');
    const { machine } = await machines.add(name.trim(), [request.params.mac]);
    request.log.info({ machine: machine.name, mac: request.params.mac, operator: viewer.name }, 'discovered machine enrolled');
    return reply.redirect(`/machines/${encodeURIComponent(machine.name)}`, 303);
  });

  app.post<{ Params: { mac: string } }>('/discovered/:mac/forget', async (request, reply) => {
    const viewer = await auth.formViewer(request, reply, 'operator');
    if (!viewer) return reply;
    await machines.forgetDiscovered(request.params.mac);
    return reply.redirect('/#discovered', 303);
  });

  app.get<{ Params: { name: string } }>('/machines/:name', async (request, reply) => {
    const viewer = await auth.viewer(request, reply);
    if (!viewer) return reply;
    const machine = await machines.find(request.params.name);
    const [macs, log, runs, available, tests] = await Promise.all([
      machines.macsOf(machine.id),
      machines.bootLog(machine.id, 200),
      testing.runsOf(machine.id, 200),
      viewer.operator ? profiles.available() : Promise.resolve([]),
      viewer.operator ? testing.available() : Promise.resolve([]),
    ]);
    return render(reply, 'machine', viewer, {
      title: machine.name,
      nav: 'fleet',
      machine: {
        name: machine.name,
        next: machine.next_profile,
        once: machine.next_once === 1,
        version: machine.version ?? '',
        power: machine.power_state,
        provision: machine.provision_state,
        driver: machine.driver,
      },
      macs,
      log: log.map((e) => ({
        at: utc(e.at),
        kind: e.kind === 'boot' ? 'boot served' : 'next boot set',
        boot: e.kind === 'boot',
        profile: e.profile,
        reason: e.reason,
        loader: e.loader ?? '',
        arch: e.arch ?? '',
        address: e.address ?? '',
      })),
      runs: runs.map((r) => ({ ...resultCell(r), requested: utc(r.requested_at), outcome: outcome(r) })),
      spark: sparkOf(runs),
      profiles: available,
      tests: tests.filter((t) => t !== WAIT_TEST),
      // Power and boot-device buttons only where a controller can act on them.
      controllable: viewer.operator && machine.driver !== 'manual',
      powerRequests: POWER_REQUESTS,
      bootDevices: BOOT_DEVICES,
    });
  });

  app.post<{ Params: { name: string }; Body: { target?: unknown } }>('/machines/:name/power', async (request, reply) => {
    const viewer = await auth.formViewer(request, reply, 'operator');
    if (!viewer) return reply;
    const target = request.body?.target;
    if (typeof target !== 'string' || !(POWER_REQUESTS as readonly string[]).includes(target))
      throw invalid('POWER_TARGET', `choose one of: ${POWER_REQUESTS.join(', ')}`);
    const machine = await machines.find(request.params.name);
    await services.control.setPower(machine.name, target as PowerRequest, {}, `operator ${viewer.name} (web)`);
    return reply.redirect(`/machines/${encodeURIComponent(machine.name)}`, 303);
  });

  app.post<{ Params: { name: string }; Body: { device?: unknown; persistent?: unknown; uefi?: unknown } }>(
    '/machines/:name/boot-device',
    async (request, reply) => {
      const viewer = await auth.formViewer(request, reply, 'operator');
      if (!viewer) return reply;
      const device = request.body?.device;
      if (typeof device !== 'string' || !(BOOT_DEVICES as readonly string[]).includes(device))
        throw invalid('BOOT_DEVICE', `choose one of: ${BOOT_DEVICES.join(', ')}`);
      const machine = await machines.find(request.params.name);
      await services.control.setBootDevice(
        machine.name,
        device as BootDevice,
        { persistent: request.body?.persistent === 'on', uefi: request.body?.uefi === 'on' },
        `operator ${viewer.name} (web)`,
      );
      return reply.redirect(`/machines/${encodeURIComponent(machine.name)}`, 303);
    },
  );

  app.post<{ Params: { name: string }; Body: { profile?: unknown; once?: unknown } }>('/machines/:name/nextboot', async (request, reply) => {
    const viewer = await auth.formViewer(request, reply, 'operator');
    if (!viewer) return reply;
    const profile = request.body?.profile;
    if (typeof profile !== 'string' || profile === '') throw invalid('PROFILE_REQUIRED', 'choose a profile for the next boot');
    const machine = await machines.find(request.params.name);
    await machines.setNextBoot(machine.name, profile, {
      once: request.body?.once === 'on' || request.body?.once === '1',
      reason: `operator ${viewer.name} (web)`,
    });
    return reply.redirect(`/machines/${encodeURIComponent(machine.name)}`, 303);
  });

  app.post<{ Params: { name: string }; Body: { test?: unknown } }>('/machines/:name/tests', async (request, reply) => {
    const viewer = await auth.formViewer(request, reply, 'operator');
    if (!viewer) return reply;
    const chosen = request.body?.test;
    const tests = (Array.isArray(chosen) ? chosen : [chosen]).filter((t): t is string => typeof t === 'string' && t !== '');
    if (tests.length === 0) throw invalid('TEST_REQUIRED', 'choose at least one test to queue');
    const machine = await machines.find(request.params.name);
    await testing.queue(machine, tests);
    return reply.redirect(`/machines/${encodeURIComponent(machine.name)}`, 303);
  });

  app.get<{ Params: { id: string } }>('/runs/:id', async (request, reply) => {
    const viewer = await auth.viewer(request, reply);
    if (!viewer) return reply;
    const run = await testing.get(runId(request.params.id));
    const lines = await testing.lines(run.id);
    const raw = run.upload_path ? await readHead(testing.uploadPath(run.id), RAW_PREVIEW_BYTES) : undefined;
    return render(reply, 'run', viewer, {
      title: `Run ${run.id}`,
      nav: 'fleet',
      run: {
        id: run.id,
        test: run.test,
        machine: run.machine,
        state: run.state,
        outcome: outcome(run),
        version: run.version ?? '',
        requested: utc(run.requested_at),
        sent: utc(run.sent_at),
        finished: utc(run.finished_at),
        infos: run.infos,
        warnings: run.warnings,
        errors: run.errors,
        reason: run.error_reason ?? '',
        bytes: run.upload_bytes ?? 0,
      },
      lines: lines.map((l) => ({ no: l.line_no, kind: l.kind, word: LINE_WORDS[l.kind], text: l.text })),
      raw,
      truncated: raw !== undefined && (run.upload_bytes ?? 0) > RAW_PREVIEW_BYTES,
      previewKiB: RAW_PREVIEW_BYTES / 1024,
    });
  });

  app.get<{ Params: { id: string } }>('/runs/:id/raw', async (request, reply) => {
    const viewer = await auth.viewer(request, reply);
    if (!viewer) return reply;
    const run = await testing.get(runId(request.params.id));
    if (!run.upload_path) throw notFound('NO_UPLOAD', `test run ${run.id} (${run.test} on ${run.machine}) has no uploaded log yet (state ${run.state})`);
    const file = await open(testing.uploadPath(run.id), 'r').catch(() => {
      throw notFound('UPLOAD_MISSING', `the log of test run ${run.id} is no longer in the uploads folder`);
    });
    // Plain text that browsers must not sniff into HTML: the upload is outside input.
    return reply
      .type('text/plain; charset=utf-8')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "sandbox; default-src 'none'")
      .send(file.createReadStream());
  });

  app.get('/versions', async (request, reply) => {
    const viewer = await auth.viewer(request, reply);
    if (!viewer) return reply;
    const seen = await testing.versions();
    const groups = new Map<string, { version: string; first: string; last: string; machines: Array<{ name: string; first: string; last: string }> }>();
    for (const v of seen) {
      let g = groups.get(v.version);
      if (!g) groups.set(v.version, (g = { version: v.version, first: v.first_seen, last: v.last_seen, machines: [] }));
      if (v.first_seen < g.first) g.first = v.first_seen;
      if (v.last_seen > g.last) g.last = v.last_seen;
      g.machines.push({ name: v.machine, first: utc(v.first_seen), last: utc(v.last_seen) });
    }
    const versions = [...groups.values()].map((g) => ({ ...g, first: utc(g.first), last: utc(g.last), count: g.machines.length }));
    return render(reply, 'versions', viewer, { title: 'Versions', nav: 'versions', versions });
  });

  app.get<{ Querystring: { by?: string } }>('/results', async (request, reply) => {
    const viewer = await auth.viewer(request, reply);
    if (!viewer) return reply;
    const span: ResultSpan = request.query.by === 'hour' ? 'hour' : 'day';
    const buckets = await resultsOverTime(store.db, span, services.clock());
    const worst = await store.db
      .selectFrom('runs')
      .innerJoin('machines', 'machines.id', 'runs.machine_id')
      .select(['machines.name as machine', sql<number>`sum(runs.errors)`.as('errors'), sql<number>`count(*)`.as('runs')])
      .where('runs.state', '=', 'done')
      .where('runs.errors', '>', 0)
      .where('runs.finished_at', '>=', buckets[0]!.key)
      .groupBy('machines.name')
      .orderBy(sql`sum(runs.errors)`, 'desc')
      .limit(10)
      .execute();
    return render(reply, 'results', viewer, {
      title: 'Results',
      nav: 'results',
      span,
      spanLabel: RESULT_SPANS[span].label,
      count: RESULT_SPANS[span].buckets,
      chart: chartOf(buckets),
      buckets: [...buckets].reverse(),
      worst: worst.map((w) => ({ machine: w.machine, errors: Number(w.errors), runs: Number(w.runs) })),
    });
  });
}
