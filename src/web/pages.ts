// The pages: fleet, machine (with the operator's forms), run, raw log, versions, results.
// Handlers gather data through the services and hand the views plain, preformatted values;
// the fleet's rows come from fleet.ts so 10,000 machines still render in well under a second.
import { open } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Liquid } from 'liquidjs';
import { invalid, notFound } from '../common/errors.ts';
import type { Role } from '../auth/tokens.ts';
import type { PageAuth, Viewer } from '../auth/web-session.ts';
import { RESULT_SPANS, RESULT_SPAN_NAMES, type ResultSpan } from '../testing/testing.ts';
import type { BootDevice, PowerRequest } from '../conductor/machine-control.ts';
import type { WebContext } from './context.ts';
import { utc } from './views.ts';
import { fleetRows, isFailing, outcome } from './fleet.ts';
import { chartOf } from './results.ts';
import { machineView } from './machine-page.ts';
import { pageAsked, pageHref, paging } from './paging.ts';
import { versionChartOf } from './version-chart.ts';
import { bytes } from '../common/format.ts';
import type { ProvisionVerb } from '../provisioning/states.ts';

/** Discovered machines listed on the fleet page, most recently seen first (GET /api/v1/discovered has them all). */
export const DISCOVERED_SHOWN = 100;

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

type PageRequest = FastifyRequest<{
  Params: Record<string, string>;
  Querystring: Record<string, string | undefined>;
  Body: Record<string, unknown> | undefined;
}>;

/** A form field as the one string the service validates ('' when absent). */
const field = (request: PageRequest, name: string): string => {
  const value = request.body?.[name];
  return typeof value === 'string' ? value : '';
};
const machinePath = (name: string) => `/machines/${encodeURIComponent(name)}`;

/** The cookie that carries a form's answer to the page it redirects to, read once. */
export const FLASH_COOKIE = 'anvil_flash';
/** Longest answer kept (a cookie is small). */
export const FLASH_MAX_CHARS = 400;

/** Where a form leads and, said on that page, what it did. */
export interface FormAnswer {
  readonly to: string;
  readonly flash: string;
}

/**
 * The two kinds of route every page is: a view that needs a signed-in viewer, and a form that
 * needs a role, the CSRF token and this origin, then redirects. Validation is the services'.
 */
function pageKit(app: FastifyInstance, views: Liquid, auth: PageAuth) {
  const render = async (request: FastifyRequest, reply: FastifyReply, view: string, viewer: Viewer, data: Record<string, unknown>) => {
    const flash = request.cookies[FLASH_COOKIE];
    if (flash !== undefined) reply.clearCookie(FLASH_COOKIE, { path: '/' });
    return reply.type('text/html; charset=utf-8').send(await views.renderFile(view, { ...data, viewer, flash }));
  };
  return {
    page(path: string, view: string, data: (request: PageRequest, viewer: Viewer) => Promise<Record<string, unknown>>): void {
      app.get(path, async (request, reply) => {
        const viewer = await auth.viewer(request, reply);
        if (!viewer) return reply;
        return render(request, reply, view, viewer, await data(request as PageRequest, viewer));
      });
    },
    raw(path: string, send: (request: PageRequest, reply: FastifyReply) => Promise<FastifyReply>): void {
      app.get(path, async (request, reply) => ((await auth.viewer(request, reply)) ? send(request as PageRequest, reply) : reply));
    },
    form(path: string, role: Role, act: (request: PageRequest, viewer: Viewer) => Promise<FormAnswer>): void {
      app.post(path, async (request, reply) => {
        const viewer = await auth.formViewer(request, reply, role);
        if (!viewer) return reply;
        const { to, flash } = await act(request as PageRequest, viewer);
        reply.setCookie(FLASH_COOKIE, flash.slice(0, FLASH_MAX_CHARS), {
          path: '/',
          httpOnly: true,
          sameSite: 'strict',
          secure: request.protocol === 'https',
          maxAge: 60,
        });
        return reply.redirect(to, 303);
      });
    },
  };
}

type Kit = ReturnType<typeof pageKit>;

export function pageRoutes(app: FastifyInstance, ctx: WebContext, views: Liquid, auth: PageAuth): void {
  const kit = pageKit(app, views, auth);
  pxemngrPages(app, ctx);
  fleetPages(kit, ctx);
  machinePages(kit, ctx);
  runPages(kit, ctx);
  reportPages(kit, ctx);
  imagePages(kit, ctx);
}

function fleetPages(kit: Kit, { nextBoot, discovered, testing, machines }: WebContext): void {
  kit.page('/', 'fleet', async () => {
    // Five queries for the whole fleet: machines, MACs, last boots, latest results, the discovered.
    const [fleet, found, discoveredCount, results] = await Promise.all([
      nextBoot.fleet(),
      discovered.list(DISCOVERED_SHOWN),
      discovered.count(),
      testing.latestResults(),
    ]);
    let failing = 0;
    for (const r of results.values()) if (isFailing(r)) failing++;
    return {
      title: 'Fleet',
      nav: 'fleet',
      live: { page: 'fleet' },
      rows: fleetRows(fleet, results),
      count: fleet.length,
      failing,
      discovered: found.map((d) => ({
        mac: d.mac,
        arch: d.arch ?? '',
        loader: d.loader ?? '',
        address: d.address ?? '',
        firstSeen: utc(d.first_seen),
        lastSeen: utc(d.last_seen),
        boots: d.boots,
      })),
      discoveredCount,
    };
  });

  // A discovered machine enrolled from the fleet page: pxemngr addsystem NAME MAC, then its page.
  kit.form('/discovered/:mac/enroll', 'operator', async (request, viewer) => {
    const { machine } = await machines.add(field(request, 'name').trim(), [request.params.mac!]);
    request.log.info({ machine: machine.name, mac: request.params.mac, operator: viewer.name }, 'discovered machine enrolled');
    return { to: machinePath(machine.name), flash: `Enrolled ${machine.name} (${request.params.mac}); it boots ${machine.next_profile} next.` };
  });

  kit.form('/discovered/:mac/forget', 'operator', async (request) => {
    await discovered.forget(request.params.mac!);
    return { to: '/#discovered', flash: `Forgot ${request.params.mac}; it is listed again if it asks to boot.` };
  });
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
