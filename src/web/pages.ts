// The pages: fleet, machine (with the operator's forms), run, raw log, versions, results.
// Handlers gather data through the services and hand the views plain, preformatted values;
// the fleet page is fleet-pages.ts, the kinds of route (page, form) kit.ts.
import { open } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { Liquid } from 'liquidjs';
import { notFound } from '../common/errors.ts';
import type { PageAuth, Viewer } from '../auth/web-session.ts';
import { RESULT_SPANS, WAIT_TEST, type ResultSpan, type Run } from '../testing/testing.ts';
import { BOOT_DEVICES, POWER_REQUESTS, type BootDevice, type PowerRequest } from '../conductor/machine-control.ts';
import type { WebContext } from './context.ts';
import { utc } from './views.ts';
import { outcome, STALE_WORDS } from './fleet.ts';
import { field, machinePath, pageKit, type Kit } from './kit.ts';
import { fleetPages } from './fleet-pages.ts';
import { chartOf, sparkOf } from './results.ts';
import { bytes } from '../common/format.ts';
import { PROVISION_VERBS, TRANSIENT_STATES, nextState, type ProvisionVerb } from '../provisioning/states.ts';

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

export function pageRoutes(app: FastifyInstance, ctx: WebContext, views: Liquid, auth: PageAuth): void {
  const kit = pageKit(app, views, auth);
  pxemngrPages(app, ctx);
  fleetPages(kit, ctx);
  machinePages(kit, ctx);
  runPages(kit, ctx);
  reportPages(kit, ctx);
  imagePages(kit, ctx);
}

function machinePages(kit: Kit, { machines, nextBoot, testing, profiles, control, images, provisioner, stale }: WebContext): void {
  kit.page('/machines/:name', 'machine', async (request, viewer) => {
    const machine = await machines.find(request.params.name!);
    const [macs, log, runs, available, tests, provisioning, library, stuck] = await Promise.all([
      machines.macsOf(machine.id),
      nextBoot.log(machine.id, 200),
      testing.runsOf(machine.id, 200),
      viewer.operator ? profiles.available() : Promise.resolve([]),
      viewer.operator ? testing.available() : Promise.resolve([]),
      provisioner.view(machine.name),
      viewer.operator ? images.list() : Promise.resolve([]),
      stale.find(machine.id),
    ]);
    const d = provisioning.deployment;
    const transient = (TRANSIENT_STATES as readonly string[]).includes(machine.provision_state);
    return {
      title: machine.name,
      nav: 'fleet',
      live: { page: 'machine', machine: machine.name },
      machine: {
        name: machine.name,
        next: machine.next_profile,
        once: machine.next_once === 1,
        version: machine.version ?? '',
        power: machine.power_state,
        provision: machine.provision_state,
        image: machine.image_name,
        driver: machine.driver,
      },
      provisioning: {
        error: transient ? null : provisioning.error,
        deployment: d && {
          kind: d.kind,
          image: d.image,
          state: d.state,
          // 'writing (write)' says nothing the state does not.
          phase: d.phase && !d.state.startsWith(d.phase) ? d.phase : null,
          device: d.device,
          by: d.requestedBy,
          started: utc(d.startedAt),
          finished: d.finishedAt && utc(d.finishedAt),
          deadline: utc(d.deadline),
          done: d.bytesDone,
          total: d.bytesTotal,
          percent: d.bytesTotal > 0 ? Math.floor((100 * Math.min(d.bytesDone, d.bytesTotal)) / d.bytesTotal) : 0,
          doneText: bytes(d.bytesDone),
          totalText: bytes(d.bytesTotal),
          error: d.error,
        },
      },
      // The verbs the state table allows from here (capture has its own form).
      provisionVerbs: PROVISION_VERBS.filter((v) => v !== 'capture' && nextState(machine.provision_state, v) !== undefined),
      images: library.map((i) => i.name),
      // While anvil works on the machine, the page follows it.
      refresh: transient ? 3 : undefined,
      macs,
      stale: (stuck.get(machine.id) ?? []).map((f) => ({ word: STALE_WORDS[f.kind], message: f.message, since: utc(f.since) })),
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
    };
  });

  const by = (viewer: Viewer) => `operator ${viewer.name} (web)`;
  kit.form('/machines/:name/power', 'operator', async (request, viewer) => {
    const target = field(request, 'target') as PowerRequest;
    const { name, powerState } = await control.setPower(request.params.name!, target, {}, by(viewer));
    return { to: machinePath(name), flash: `Power ${target} done: ${name} is now ${powerState}.` };
  });

  kit.form('/machines/:name/boot-device', 'operator', async (request, viewer) => {
    const options = { persistent: field(request, 'persistent') === 'on', uefi: field(request, 'uefi') === 'on' };
    const { name, device, persistent } = await control.setBootDevice(request.params.name!, field(request, 'device') as BootDevice, options, by(viewer));
    return { to: machinePath(name), flash: `${name} boots from ${device} ${persistent ? 'from now on' : 'once, on its next boot'}.` };
  });

  kit.form('/machines/:name/nextboot', 'operator', async (request, viewer) => {
    const machine = await machines.find(request.params.name!);
    const once = field(request, 'once') === 'on' || field(request, 'once') === '1';
    const profile = field(request, 'profile');
    await nextBoot.set(machine.name, profile, { once, reason: by(viewer) });
    return { to: machinePath(machine.name), flash: `Next boot of ${machine.name} is now ${profile}${once ? ', once (then local)' : ''}.` };
  });

  kit.form('/machines/:name/provision', 'operator', async (request, viewer) => {
    const name = request.params.name!;
    const verb = field(request, 'target') as ProvisionVerb;
    const who = by(viewer);
    if (verb === 'deploy') await provisioner.deploy(name, { image: field(request, 'image') }, who);
    else if (verb === 'manage' || verb === 'provide' || verb === 'undeploy' || verb === 'abort') await provisioner[verb](name, who);
    else await provisioner.states.check(await machines.find(name), verb);
    const machine = await machines.find(name);
    const what =
      verb === 'deploy'
        ? `Deploy of ${field(request, 'image')} to ${machine.name} started`
        : `${verb[0]!.toUpperCase()}${verb.slice(1)} of ${machine.name} accepted`;
    return { to: machinePath(machine.name), flash: `${what}: provision state ${machine.provision_state}.` };
  });

  kit.form('/machines/:name/tests', 'operator', async (request) => {
    const chosen = request.body?.test;
    const tests = (Array.isArray(chosen) ? chosen : [chosen]).filter((t): t is string => typeof t === 'string' && t !== '');
    const machine = await machines.find(request.params.name!);
    const runs = await testing.queue(machine, tests);
    const ids = runs.map((r) => r.id).join(', ');
    return {
      to: machinePath(machine.name),
      flash: `Queued ${tests.join(', ')} on ${machine.name} (run${runs.length > 1 ? 's' : ''} ${ids}); sent at its next test boot.`,
    };
  });
}

function runPages(kit: Kit, { testing }: WebContext): void {
  kit.page('/runs/:id', 'run', async (request) => {
    const run = await testing.get(runId(request.params.id!));
    const lines = await testing.lines(run.id);
    const raw = run.upload_path ? await readHead(testing.uploadPath(run.id), RAW_PREVIEW_BYTES) : undefined;
    return {
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
    };
  });

  kit.raw('/runs/:id/raw', async (request, reply) => {
    const run = await testing.get(runId(request.params.id!));
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
}

function reportPages(kit: Kit, { testing, clock }: WebContext): void {
  kit.page('/versions', 'versions', async () => {
    const groups = new Map<string, { version: string; first: string; last: string; machines: Array<{ name: string; first: string; last: string }> }>();
    for (const v of await testing.versions()) {
      let g = groups.get(v.version);
      if (!g) groups.set(v.version, (g = { version: v.version, first: v.first_seen, last: v.last_seen, machines: [] }));
      if (v.first_seen < g.first) g.first = v.first_seen;
      if (v.last_seen > g.last) g.last = v.last_seen;
      g.machines.push({ name: v.machine, first: utc(v.first_seen), last: utc(v.last_seen) });
    }
    const versions = [...groups.values()].map((g) => ({ ...g, first: utc(g.first), last: utc(g.last), count: g.machines.length }));
    return { title: 'Versions', nav: 'versions', versions };
  });

  kit.page('/results', 'results', async (request) => {
    const span: ResultSpan = request.query.by === 'hour' ? 'hour' : 'day';
    const buckets = await testing.resultsOverTime(span, clock());
    const worst = await testing.worstMachines(buckets[0]!.key);
    return {
      title: 'Results',
      nav: 'results',
      span,
      spanLabel: RESULT_SPANS[span].label,
      count: RESULT_SPANS[span].buckets,
      chart: chartOf(buckets),
      buckets: [...buckets].reverse(),
      worst,
    };
  });
}

function imagePages(kit: Kit, { images }: WebContext): void {
  kit.page('/images', 'images', async () => ({
    title: 'Images',
    nav: 'images',
    images: (await images.list()).map((i) => ({
      name: i.name,
      format: i.format,
      virtual: bytes(i.virtualSize),
      stored: bytes(i.storedSize),
      megabytes: Math.floor(i.diskUsage / 1024 / 1024),
      sha256: i.sha256,
      origin: i.sourceMachine ? `${i.origin} from ${i.sourceMachine}` : i.origin,
      created: utc(i.createdAt),
      notes: i.notes,
    })),
  }));
}

/** pxemngr's own page URLs, for bookmarks and links in old reports: they lead to anvil's pages. */
function pxemngrPages(app: FastifyInstance, { machines }: WebContext): void {
  const id = (text: string) => {
    if (!/^\d{1,12}$/.test(text)) throw notFound('NOT_FOUND', `no such pxemngr page: '${text}' is not an id`);
    return Number(text);
  };
  app.get<{ Params: { id: string } }>('/test/:id', async (request, reply) => reply.redirect(`/runs/${id(request.params.id)}`, 301));
  app.get<{ Params: { id: string } }>('/testcontent/:id', async (request, reply) => reply.redirect(`/runs/${id(request.params.id)}/raw`, 301));
  app.get<{ Params: { id: string } }>('/system/:id', async (request, reply) => {
    const machine = await machines.byId(id(request.params.id));
    if (!machine) throw notFound('UNKNOWN_MACHINE', `no machine has the pxemngr id ${request.params.id}`);
    return reply.redirect(machinePath(machine.name), 301);
  });
}
