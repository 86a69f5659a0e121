// `anvil redfish`: talks to a Redfish BMC with the habits of DMTF's redfishtool
// (`-r host -u user Systems reset On`, `Systems setBootOverride Once Pxe`, raw GET/PATCH/POST),
// output a person reads or --json. The password comes from REDFISH_PASSWORD or -P FILE; -p on
// the command line works but is warned about, since others can read it.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  BOOT_ENABLED,
  BOOT_MODES,
  BOOT_TARGETS,
  RESET_TYPES,
  RedfishClient,
  ejectMedia,
  insertMedia,
  listVirtualMedia,
  managerPaths,
  readInventory,
  readLogEntries,
} from '../protocols/redfish/index.ts';
import type { BootEnabled, BootMode, BootTarget, Json, RedfishEndpoint, ResetType } from '../protocols/redfish/index.ts';
import { UsageError } from './command.ts';
import { readPasswordFile } from './password.ts';

const HELP = `Usage: anvil redfish -r HOST[:PORT] -u USER [options] COMMAND [ARGS]

Talks to a Redfish BMC (DMTF DSP0266) as DMTF's redfishtool does. Logs in with a session
(X-Auth-Token; Basic when the BMC has no SessionService) and logs out at the end.

Options:
  -r, --rhost H[:P]    the BMC (https:// is assumed; give http:// for a lab emulator on loopback)
  -u, --user U         user name
  -P, --password-file F  read the password from the first line of F (or set REDFISH_PASSWORD)
  -p, --password W     the password on the command line (others can read it: prefer the two above)
  -I, --id ID          the ComputerSystem's Id (needed when the BMC has several)
      --ca F           trust the CA certificates (PEM) in F
      --pin F          accept exactly the certificate (PEM) in F
      --insecure       do not verify the certificate (warned)
      --timeout S      deadline of each call in seconds (default 120)
      --json           print JSON instead of text
  -h, --help           this help

Commands:
  Systems                          the system: power, boot override, allowed values
  Systems reset TYPE               ComputerSystem.Reset (${RESET_TYPES.slice(0, 5).join(', ')}, ...), if the system allows it
  Systems setBootOverride ENABLED TARGET [MODE]
                                   ENABLED: ${BOOT_ENABLED.join('|')}; TARGET: Pxe, Hdd, Cd, UefiHttp, BiosSetup, ...; MODE: ${BOOT_MODES.join('|')}
  Systems inventory                processors, memory, NICs with MACs, storage
  Systems logs | Managers logs     log entries of the system's or the managers' LogServices
  VirtualMedia                     the virtual media slots (under the system or its manager)
  VirtualMedia insert URL [TYPE]   InsertMedia of an image URL (TYPE default CD)
  VirtualMedia eject [SLOT]        EjectMedia
  raw GET|PATCH|POST|DELETE PATH [JSON]
                                   any request; PATCH sends If-Match with the resource's ETag
  root                             the service root

Environment: REDFISH_PASSWORD  the password, when neither -P nor -p is given.`;

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        rhost: { type: 'string', short: 'r' },
        user: { type: 'string', short: 'u' },
        password: { type: 'string', short: 'p' },
        'password-file': { type: 'string', short: 'P' },
        id: { type: 'string', short: 'I' },
        ca: { type: 'string' },
        pin: { type: 'string' },
        insecure: { type: 'boolean' },
        timeout: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function choice<T extends string>(value: string | undefined, choices: readonly T[], what: string): T {
  const found = choices.find((c) => c.toLowerCase() === (value ?? '').toLowerCase());
  if (found === undefined) throw new UsageError(`${what} must be one of ${choices.join(', ')}${value === undefined ? '' : `, not '${value}'`}`);
  return found;
}

async function endpoint(o: ReturnType<typeof parse>['values']): Promise<RedfishEndpoint> {
  if (!o.rhost) throw new UsageError('no BMC: give -r HOST[:PORT]');
  const url = /^[a-z]+:\/\//i.test(o.rhost) ? o.rhost : `https://${o.rhost}`;
  if (o.password !== undefined)
    process.stderr.write('anvil redfish: warning: a password on the command line is visible to other users; use REDFISH_PASSWORD or -P FILE\n');
  const password = o.password ?? (o['password-file'] !== undefined ? await readPasswordFile(o['password-file'], '-P') : process.env['REDFISH_PASSWORD']);
  if (o.user !== undefined && (password === undefined || password === '')) throw new UsageError('no password: set REDFISH_PASSWORD, or give -P FILE');
  const read = (f: string, what: string) =>
    readFile(f, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read ${what} ${f}: ${e.code ?? e.message}`);
    });
  return {
    url,
    ...(o.user !== undefined ? { username: o.user, password: password ?? '' } : {}),
    ...(o.ca !== undefined ? { ca: await read(o.ca, '--ca') } : {}),
    ...(o.pin !== undefined ? { pinnedCertificate: await read(o.pin, '--pin') } : {}),
    ...(o.insecure ? { verify: false } : {}),
  };
}

type Out = (value: unknown, text: () => string) => void;

async function systems(c: RedfishClient, args: string[], out: Out): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === 'get') {
    const { resource } = await c.system();
    const boot = await c.getBoot();
    const { allowed } = await c.resetTypes().catch(() => ({ allowed: [] as readonly ResetType[] }));
    out(resource, () =>
      [
        `System ${String(resource.Id)} (${String(resource.Name ?? '')})`,
        `  PowerState        ${String(resource.PowerState)}`,
        `  Boot override     ${boot.target ?? '-'} ${boot.enabled ?? '-'} ${boot.mode ?? ''}`.trimEnd(),
        `  Boot targets      ${boot.allowedTargets?.join(', ') ?? 'any'}`,
        `  Reset types       ${allowed.join(', ') || 'none'}`,
      ].join('\n'),
    );
    return;
  }
  if (sub === 'reset') {
    const type = choice(rest[0], RESET_TYPES, 'the ResetType');
    const done = await c.reset(type);
    out({ ResetType: type, TaskState: done.state }, () => `${type}: ${done.state.toLowerCase()}`);
    return;
  }
  if (sub === 'setBootOverride') {
    const enabled: BootEnabled = choice(rest[0], BOOT_ENABLED, 'ENABLED');
    const target: BootTarget = choice(rest[1], BOOT_TARGETS, 'TARGET');
    const mode: BootMode | undefined = rest[2] !== undefined ? choice(rest[2], BOOT_MODES, 'MODE') : undefined;
    await c.setBootOverride({ target, enabled, ...(mode ? { mode } : {}) });
    out(
      { BootSourceOverrideTarget: target, BootSourceOverrideEnabled: enabled, ...(mode ? { BootSourceOverrideMode: mode } : {}) },
      () => `boot override: ${target} ${enabled}${mode ? ` ${mode}` : ''}`,
    );
    return;
  }
  if (sub === 'inventory') {
    const inv = await readInventory(c);
    out(inv, () =>
      [
        `System ${inv.id} ${inv.manufacturer ?? ''} ${inv.model ?? ''}`.trimEnd(),
        ...inv.processors.map((p) => `  cpu      ${p.id} ${p.model ?? ''} ${p.cores ?? '?'} cores`),
        ...inv.memory.map((m) => `  memory   ${m.id} ${m.capacityMiB ?? '?'} MiB`),
        ...inv.nics.map((n) => `  nic      ${n.id} ${n.mac ?? '-'} ${n.linkStatus ?? ''}`.trimEnd()),
        ...inv.storage.map((s) => `  storage  ${s.id} ${s.devices.length} device(s)`),
      ].join('\n'),
    );
    return;
  }
  if (sub === 'logs') return logs(c, [await c.systemPath()], out);
  throw new UsageError(`unknown Systems command '${sub}' (try --help)`);
}

async function logs(c: RedfishClient, owners: string[], out: Out): Promise<void> {
  const entries = (await Promise.all(owners.map((o) => readLogEntries(c, o)))).flat();
  out(
    entries,
    () => entries.map((e) => `${e.created ?? '-'}  ${(e.severity ?? '-').padEnd(8)} ${e.log}/${e.id}  ${e.message ?? ''}`).join('\n') || 'no log entries',
  );
}

async function media(c: RedfishClient, args: string[], out: Out): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === 'list') {
    const slots = await listVirtualMedia(c);
    out(
      slots,
      () =>
        slots.map((s) => `${s.id.padEnd(10)} ${s.mediaTypes.join('/').padEnd(12)} ${s.inserted ? (s.image ?? '(inserted)') : '(empty)'}`).join('\n') ||
        'no virtual media',
    );
    return;
  }
  if (sub === 'insert') {
    if (!rest[0]) throw new UsageError('VirtualMedia insert needs the URL of an image');
    const slot = await insertMedia(c, rest[0], { ...(rest[1] ? { mediaType: rest[1] } : {}) });
    out(slot, () => `${slot.id}: inserted ${rest[0]}`);
    return;
  }
  if (sub === 'eject') {
    const slot = await ejectMedia(c, rest[0] ? { slotId: rest[0] } : {});
    out(slot, () => `${slot.id}: ejected`);
    return;
  }
  throw new UsageError(`unknown VirtualMedia command '${sub}' (try --help)`);
}

async function raw(c: RedfishClient, args: string[], out: Out): Promise<void> {
  const method = choice(args[0], ['GET', 'PATCH', 'POST', 'DELETE'] as const, 'the raw method');
  const path = args[1];
  if (!path) throw new UsageError(`raw ${method} needs a path, like /redfish/v1/Systems`);
  let body: Json | undefined;
  if (args[2] !== undefined) {
    try {
      body = JSON.parse(args[2]) as Json;
    } catch {
      throw new UsageError(`the body of raw ${method} must be JSON, not '${args[2]}'`);
    }
  } else if (method === 'PATCH') throw new UsageError('raw PATCH needs a JSON body');
  const answer = await c.raw(method, path, body);
  out(answer.body ?? { status: answer.status }, () => (answer.body === undefined ? `HTTP ${answer.status}` : JSON.stringify(answer.body, null, 2)));
}

export async function run(argv: string[]): Promise<number> {
  const { values: o, positionals } = parse(argv);
  if (o.help || positionals.length === 0) {
    process.stdout.write(`${HELP}\n`);
    return o.help ? 0 : 2;
  }
  const seconds = o.timeout === undefined ? 120 : Number(o.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) throw new UsageError(`--timeout takes seconds from 1 to 3600, not '${o.timeout}'`);
  const c = new RedfishClient(await endpoint(o), {
    callTimeoutMs: seconds * 1000,
    ...(o.id !== undefined ? { systemId: o.id } : {}),
    warn: (m) => process.stderr.write(`anvil redfish: warning: ${m}\n`),
  });
  const out: Out = (value, text) => process.stdout.write(`${o.json ? JSON.stringify(value, null, 2) : text()}\n`);
  const [group, ...args] = positionals;
  try {
    if (group === 'Systems') await systems(c, args, out);
    else if (group === 'Managers' && args[0] === 'logs') await logs(c, await managerPaths(c), out);
    else if (group === 'VirtualMedia') await media(c, args, out);
    else if (group === 'raw') await raw(c, args, out);
    else if (group === 'root') {
      const root = await c.serviceRoot();
      out(root, () => `Redfish ${String(root.RedfishVersion ?? '?')} at ${c.origin} (${String(root.Name ?? '')})`);
    } else throw new UsageError(`unknown command '${[group, ...args].join(' ')}' (try --help)`);
  } finally {
    await c.close();
  }
  return 0;
}
