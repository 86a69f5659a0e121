// The pages: fleet, machine (with the operator's forms), run, raw log, versions, results.
// Handlers gather data through the services and hand the views plain, preformatted values;
// the fleet page is fleet-pages.ts, the machine page's data machine-page.ts, the kinds of route
// (page, form) kit.ts.
import { open } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { Liquid } from 'liquidjs';
import { invalid, notFound } from '../common/errors.ts';
import type { PageAuth, Viewer } from '../auth/web-session.ts';
import { RESULT_SPANS, RESULT_SPAN_NAMES, type ResultSpan } from '../testing/testing.ts';
import type { BootDevice, PowerRequest } from '../conductor/machine-control.ts';
import type { WebContext } from './context.ts';
import { utc } from './views.ts';
import { outcome } from './fleet.ts';
import { field, machinePath, pageKit, type Kit } from './kit.ts';
import { fleetPages } from './fleet-pages.ts';
import { chartOf } from './results.ts';
import { machineView } from './machine-page.ts';
import { pageAsked, pageHref, paging } from './paging.ts';
import { versionChartOf } from './version-chart.ts';
import { bytes } from '../common/format.ts';
import type { ProvisionVerb } from '../provisioning/states.ts';

/** Bytes of an upload shown on its run page; the rest is behind /runs/:id/raw. */
export const RAW_PREVIEW_BYTES = 256 * 1024;

/** Machines on one page of the versions timeline. */
export const VERSIONS_PAGE = 50;

const LINE_WORDS = { I: 'info', W: 'warning', E: 'error', V: 'version' } as const;

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

function machinePages(kit: Kit, ctx: WebContext): void {
  const { machines, nextBoot, testing, control, provisioner } = ctx;
  kit.page('/machines/:name', 'machine', (request, viewer) => machineView(ctx, request.params.name!, request.query, viewer));

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
  kit.page('/versions', 'versions', async (request) => {
    const asked = pageAsked(request.query, 'page');
    const first = await testing.versionTimeline(VERSIONS_PAGE, (asked - 1) * VERSIONS_PAGE);
    const pages = paging(first.total, asked, VERSIONS_PAGE, (p) => pageHref('/versions', request.query, 'page', p));
    const { machines } = pages.page === asked ? first : await testing.versionTimeline(VERSIONS_PAGE, pages.offset);
    return { title: 'Versions', nav: 'versions', chart: versionChartOf(machines), pages };
  });

  kit.page('/results', 'results', async (request) => {
    const by = request.query.by;
    if (by !== undefined && by !== '' && !(RESULT_SPAN_NAMES as readonly string[]).includes(by))
      throw invalid('INVALID_SPAN', `?by=${by} is not a bucket size; say one of ${RESULT_SPAN_NAMES.join(', ')}, or leave it out to fit the data`);
    const window = await testing.resultWindow(clock(), by ? (by as ResultSpan) : undefined);
    const buckets = await testing.resultsOverTime(window);
    const worst = await testing.worstMachines(buckets[0]!.key);
    const label = RESULT_SPANS[window.span].label;
    return {
      title: 'Results',
      nav: 'results',
      span: window.span,
      chosen: by ?? '',
      spans: RESULT_SPAN_NAMES.map((s) => ({ span: s, label: RESULT_SPANS[s].label, current: s === by })),
      spanLabel: label,
      count: buckets.length,
      all: window.all,
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
