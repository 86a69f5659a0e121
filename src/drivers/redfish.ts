// The redfish hardware type (Ironic's redfish): power through ComputerSystem.Reset and the
// boot device through the Boot override of the system, one Redfish client (and session) per
// BMC and credentials, shared by every machine behind it and logged out on close. With
// redfish_boot=virtual-media the deploy agent boots from an ISO the BMC inserts as its virtual
// CD (Ironic's redfish-virtual-media) instead of from the network; with redfish_boot=uefi-http
// a network boot is the UefiHttp override in UEFI mode (the firmware's HTTP boot client asks
// anvil's DHCP, which answers with iPXE's EFI loader by URL) rather than Pxe.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  ejectMedia,
  insertMedia,
  listVirtualMedia,
  REDFISH_ERROR_CODES,
  RedfishAuthError,
  RedfishClient,
  RedfishError,
  RedfishUnsupportedError,
} from '../protocols/redfish/index.ts';
import type { BootTarget, RedfishClientOptions, RedfishEndpoint } from '../protocols/redfish/index.ts';
import { InfoReader } from './driver-info.ts';
import { ControllerError, DRIVER_ERROR_CODES, UnsupportedError } from './errors.ts';
import { waitForPowerState } from './wait.ts';
import type { BootDevice, BootDeviceInfo, BootDeviceOptions, Driver, DriverContext, HardwareType, PowerOptions, PowerState, PowerTarget } from './types.ts';

/** Ironic's redfish BOOT_DEVICE_MAP. */
const DEVICES: Readonly<Partial<Record<BootDevice, BootTarget>>> = { pxe: 'Pxe', disk: 'Hdd', cdrom: 'Cd', bios: 'BiosSetup' };
const SUPPORTED = Object.keys(DEVICES) as BootDevice[];

const FIELDS = {
  redfish_address: { description: "the BMC's URL, https://host[:port] (https:// is assumed without a scheme)", required: true },
  redfish_username: { description: 'user name on the BMC', required: true },
  redfish_password: { description: 'password on the BMC', required: true, secret: true },
  redfish_system_id: { description: "the ComputerSystem's Id (optional when the BMC has one system)", required: false },
  redfish_verify_ca: { description: "true (default: the system's CAs), false (not verified, warned), or the path of a CA bundle (PEM)", required: false },
  redfish_boot: {
    description:
      'how the deploy agent boots: pxe (default; from the network), uefi-http (from the network by UEFI HTTP boot: the pxe boot device is the UefiHttp override) or virtual-media (an ISO anvil builds, inserted as the BMC virtual CD)',
    required: false,
  },
  redfish_agent_server: {
    description: 'with virtual-media: host:port the agent reaches anvil at, when not the host the BMC fetches the ISO from',
    required: false,
  },
} as const;

export const REDFISH_BOOT_METHODS = ['pxe', 'uefi-http', 'virtual-media'] as const;
export type RedfishBootMethod = (typeof REDFISH_BOOT_METHODS)[number];

export interface RedfishInfo {
  readonly endpoint: RedfishEndpoint;
  readonly systemId: string | undefined;
  /** A CA bundle file to read when the client is made. */
  readonly caFile: string | undefined;
  readonly boot: RedfishBootMethod;
  readonly agentServer: string | undefined;
}

export interface RedfishHardwareOptions {
  readonly client?: RedfishClientOptions;
  readonly pollMs?: number;
  /** Where the warning about verification turned off goes (default process.emitWarning). */
  readonly warn?: (message: string) => void;
}

function controllerError(machine: string, error: unknown): unknown {
  if (error instanceof RedfishAuthError) return new ControllerError(DRIVER_ERROR_CODES.auth, machine, `Redfish authentication failed: ${error.message}`, error);
  if (error instanceof RedfishUnsupportedError) return new UnsupportedError(machine, error.message);
  if (error instanceof RedfishError) {
    if (error.code === REDFISH_ERROR_CODES.connect || error.code === REDFISH_ERROR_CODES.timeout)
      return new ControllerError(DRIVER_ERROR_CODES.unreachable, machine, error.message, error);
    const hint = error.code === REDFISH_ERROR_CODES.tls ? ' (set redfish_verify_ca to the BMC CA bundle, or false to not verify)' : '';
    return new ControllerError(DRIVER_ERROR_CODES.failed, machine, `${error.message}${hint}`, error);
  }
  return error;
}

export class RedfishHardware implements HardwareType<RedfishInfo> {
  readonly name = 'redfish';
  readonly description = 'servers with a Redfish BMC (DMTF DSP0266)';
  readonly fields = FIELDS;
  readonly #options: RedfishHardwareOptions;
  readonly #clients = new Map<string, RedfishClient>();

  constructor(options: RedfishHardwareOptions = {}) {
    this.#options = options;
  }

  validate(machine: string, driverInfo: Readonly<Record<string, unknown>>): RedfishInfo {
    const r = new InfoReader(machine, this.name, driverInfo, this.fields);
    let address = r.required('redfish_address');
    const username = r.required('redfish_username');
    const password = r.required('redfish_password');
    const systemId = r.string('redfish_system_id');
    const verifyText = r.string('redfish_verify_ca');
    const boot = r.string('redfish_boot') ?? 'pxe';
    if (!(REDFISH_BOOT_METHODS as readonly string[]).includes(boot))
      r.problem(`redfish_boot must be ${REDFISH_BOOT_METHODS.slice(0, -1).join(', ')} or ${REDFISH_BOOT_METHODS.at(-1)}, not '${boot}'`);
    const agentServer = r.string('redfish_agent_server');
    if (agentServer !== undefined && !/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+):\d{1,5}$/i.test(agentServer))
      r.problem(`redfish_agent_server must be host:port, like 10.0.2.100:80, not '${agentServer}'`);
    if (address !== '' && !/^[a-z]+:\/\//i.test(address)) address = `https://${address}`;
    if (address !== '') {
      try {
        const url = new URL(address);
        if (url.protocol !== 'https:' && url.protocol !== 'http:') r.problem(`redfish_address must be an https:// URL, not '${address}'`);
      } catch {
        r.problem(`redfish_address must be a URL like https://10.0.0.5, not '${address}'`);
      }
    }
    const lower = verifyText?.toLowerCase();
    const verify = lower === undefined || ['true', 'yes', '1', 'on'].includes(lower) ? true : ['false', 'no', '0', 'off'].includes(lower) ? false : undefined;
    const caFile = verify === undefined ? verifyText : undefined;
    if (caFile !== undefined && !caFile.startsWith('/'))
      r.problem(`redfish_verify_ca must be true, false or the absolute path of a CA bundle, not '${caFile}'`);
    r.done();
    return { endpoint: { url: address, username, password, verify: verify !== false }, systemId, caFile, boot: boot as RedfishBootMethod, agentServer };
  }

  #client(info: RedfishInfo, machine: string): RedfishClient {
    const secret = createHash('sha256')
      .update(info.endpoint.password ?? '')
      .digest('hex');
    const key = [info.endpoint.url, info.endpoint.username, info.endpoint.verify, info.caFile, info.systemId, secret].join('|');
    let client = this.#clients.get(key);
    if (!client) {
      let ca: string | undefined;
      if (info.caFile !== undefined) {
        try {
          ca = readFileSync(info.caFile, 'utf8');
        } catch (error) {
          throw new ControllerError(
            DRIVER_ERROR_CODES.failed,
            machine,
            `cannot read redfish_verify_ca ${info.caFile}: ${(error as NodeJS.ErrnoException).code ?? ''}`,
            error,
          );
        }
      }
      const options: RedfishClientOptions = {
        ...this.#options.client,
        ...(info.systemId !== undefined ? { systemId: info.systemId } : {}),
        ...(this.#options.warn ? { warn: this.#options.warn } : {}),
      };
      client = new RedfishClient({ ...info.endpoint, ...(ca !== undefined ? { ca } : {}) }, options);
      this.#clients.set(key, client);
    }
    return client;
  }

  create(info: RedfishInfo, context: DriverContext): Driver {
    const machine = context.machine;
    const client = () => this.#client(info, machine);
    const pollMs = this.#options.pollMs ?? 1000;
    const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (error) {
        throw controllerError(machine, error);
      }
    };
    const read = async (): Promise<PowerState> => {
      const state = await client().getPowerState();
      return state === 'On' ? 'on' : state === 'Off' ? 'off' : 'unknown';
    };
    const ejectCd = async (): Promise<void> => {
      const slots = await listVirtualMedia(client());
      if (slots.some((slot) => slot.inserted && slot.mediaTypes.includes('CD'))) await ejectMedia(client(), { mediaType: 'CD' });
    };
    const wait = (target: 'on' | 'off', options: PowerOptions) =>
      waitForPowerState(read, target, { machine, pollMs, ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) });
    const set = async (target: PowerTarget, options: PowerOptions): Promise<PowerState> => {
      const now = await read();
      if (target === 'on') {
        if (now === 'on') return 'on';
        await client().reset('On');
        return wait('on', options);
      }
      if (now === 'off') return 'off';
      await client().reset(target === 'soft-off' ? 'GracefulShutdown' : 'ForceOff');
      return wait('off', options);
    };
    return {
      power: {
        getPowerState: () => guard(read),
        setPowerState: (target: PowerTarget, options: PowerOptions = {}) => guard(() => set(target, options)),
        reboot: (options: PowerOptions = {}) =>
          guard(async () => {
            if ((await read()) !== 'on') return set('on', options);
            await client().reset('ForceRestart');
            return wait('on', options);
          }),
      },
      management: {
        getSupportedBootDevices: () => SUPPORTED,
        getBootDevice: () =>
          guard(async (): Promise<BootDeviceInfo> => {
            const boot = await client().getBoot();
            // UefiHttp is a network boot, whichever way this machine is set to boot.
            const device =
              boot.target === 'UefiHttp' ? 'pxe' : ((Object.entries(DEVICES).find(([, t]) => t === boot.target)?.[0] as BootDevice | undefined) ?? null);
            if (boot.enabled === 'Disabled' || device === null) return { device: null, persistent: false };
            return { device, persistent: boot.enabled === 'Continuous', uefi: boot.mode === 'UEFI' };
          }),
        setBootDevice: (device: BootDevice, options: BootDeviceOptions = {}) =>
          guard(async () => {
            const httpBoot = device === 'pxe' && info.boot === 'uefi-http';
            const target = httpBoot ? 'UefiHttp' : DEVICES[device];
            if (target === undefined) throw new UnsupportedError(machine, `Redfish has no boot target for '${device}'; anvil offers ${SUPPORTED.join(', ')}`);
            // UEFI HTTP boot exists in UEFI mode only.
            const mode = options.uefi || httpBoot ? 'UEFI' : 'Legacy';
            await client().setBootOverride({ target, enabled: options.persistent ? 'Continuous' : 'Once', mode });
          }),
      },
      ...(info.boot === 'virtual-media'
        ? {
            vmedia: {
              insert: (url: string) =>
                guard(async () => {
                  // A BMC refuses an insert into a slot that holds an image (409 ResourceInUse): eject first.
                  await ejectCd();
                  await insertMedia(client(), url, { mediaType: 'CD', writeProtected: true });
                }),
              eject: () => guard(ejectCd),
              ...(info.agentServer !== undefined ? { agentServer: info.agentServer } : {}),
            },
          }
        : {}),
    };
  }

  async close(): Promise<void> {
    const clients = [...this.#clients.values()];
    this.#clients.clear();
    await Promise.all(clients.map((c) => c.close()));
  }
}
