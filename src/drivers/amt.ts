// The amt hardware type (Ironic's pxe_amt, Kilo–Newton): power over WS-Management or the
// legacy SOAP services. AMT keeps only the first boot order it gets and has no persistent
// boot device, so setBootDevice sends nothing: the device is stored and applied just before
// each power-on, and a persistent one is applied again at every power-on.
import { createHash } from 'node:crypto';
import {
  AmtClient,
  AmtAuthError,
  AmtConnectError,
  AmtError,
  AmtTimeoutError,
  AmtTlsError,
  AmtUnsupportedError,
  AMT_HTTP_PORT,
  AMT_HTTPS_PORT,
  AMT_DEFAULT_USER,
} from '../protocols/amt/index.ts';
import type { AmtBootDevice, AmtEndpoint, TransportOptions } from '../protocols/amt/index.ts';
import { InfoReader } from './driver-info.ts';
import { ControllerError, DRIVER_ERROR_CODES, UnsupportedError } from './errors.ts';
import { waitForPowerState } from './wait.ts';
import type { BootDevice, BootDeviceInfo, BootDeviceOptions, Driver, DriverContext, HardwareType, PowerOptions, PowerState, PowerTarget } from './types.ts';

/**
 * Ironic's AMT BOOT_DEVICES_MAPPING (the boot sources every AMT with WS-Man offers), plus BIOS
 * setup and the hard drive in safe mode, which AMT sets through AMT_BootSettingData (WS-Man)
 * or a special command (SOAP).
 */
const DEVICES: Readonly<Partial<Record<BootDevice, AmtBootDevice>>> = { pxe: 'pxe', disk: 'hd', cdrom: 'cd', bios: 'bios', safe: 'hdsafe' };
const SUPPORTED = Object.keys(DEVICES) as BootDevice[];
/** driver_internal_info key of the stored boot device (Ironic: amt_boot_device / amt_boot_persistent). */
const BOOT_KEY = 'amt_boot_device';

const FIELDS = {
  amt_address: { description: "the AMT's IP address or host name", required: true },
  amt_password: { description: 'the AMT password', required: true, secret: true },
  amt_username: { description: `user name (default ${AMT_DEFAULT_USER})`, required: false },
  amt_protocol: { description: 'http (default) or https', required: false },
  amt_port: { description: `TCP port (default ${AMT_HTTP_PORT} for http, ${AMT_HTTPS_PORT} for https)`, required: false },
  amt_allow_self_signed: { description: "accept the AMT's self-signed TLS certificate (default false)", required: false },
} as const;

export interface AmtInfo {
  readonly endpoint: AmtEndpoint;
}

export interface AmtHardwareOptions {
  /** Retries and timeouts of the AMT transport (tests shorten them). */
  readonly transport?: TransportOptions;
  readonly pollMs?: number;
}

interface StoredBoot {
  readonly device: BootDevice;
  readonly persistent: boolean;
  readonly uefi: boolean;
}

function controllerError(machine: string, error: unknown): unknown {
  if (error instanceof AmtAuthError) return new ControllerError(DRIVER_ERROR_CODES.auth, machine, `AMT authentication failed: ${error.message}`, error);
  if (error instanceof AmtConnectError || error instanceof AmtTimeoutError)
    return new ControllerError(DRIVER_ERROR_CODES.unreachable, machine, error.message, error);
  if (error instanceof AmtTlsError)
    return new ControllerError(DRIVER_ERROR_CODES.failed, machine, `${error.message} (for a self-signed certificate set amt_allow_self_signed=true)`, error);
  if (error instanceof AmtUnsupportedError) return new UnsupportedError(machine, error.message);
  if (error instanceof AmtError) return new ControllerError(DRIVER_ERROR_CODES.failed, machine, error.message, error);
  return error;
}

export class AmtHardware implements HardwareType<AmtInfo> {
  readonly name = 'amt';
  readonly description = 'desktops with Intel AMT (WS-Management, or legacy SOAP before AMT 9)';
  readonly fields = FIELDS;
  readonly #options: AmtHardwareOptions;
  /** One client per AMT and credentials, so digest nonces and keep-alive connections are reused. */
  readonly #clients = new Map<string, AmtClient>();

  constructor(options: AmtHardwareOptions = {}) {
    this.#options = options;
  }

  validate(machine: string, driverInfo: Readonly<Record<string, unknown>>): AmtInfo {
    const r = new InfoReader(machine, this.name, driverInfo, this.fields);
    const host = r.required('amt_address');
    const password = r.required('amt_password');
    const user = r.string('amt_username') ?? AMT_DEFAULT_USER;
    const scheme = r.oneOf('amt_protocol', ['http', 'https'] as const) ?? 'http';
    const port = r.integer('amt_port', 1, 65535) ?? (scheme === 'https' ? AMT_HTTPS_PORT : AMT_HTTP_PORT);
    const allowSelfSigned = r.boolean('amt_allow_self_signed') ?? false;
    r.done();
    return { endpoint: { host, port, scheme, user, password, allowSelfSigned } };
  }

  #client(endpoint: AmtEndpoint): AmtClient {
    const secret = createHash('sha256').update(endpoint.password).digest('hex');
    const key = [endpoint.host, endpoint.port, endpoint.scheme, endpoint.user, endpoint.allowSelfSigned, secret].join('|');
    let client = this.#clients.get(key);
    if (!client) {
      client = new AmtClient(endpoint, this.#options.transport ?? {});
      this.#clients.set(key, client);
    }
    return client;
  }

  create(info: AmtInfo, context: DriverContext): Driver {
    const machine = context.machine;
    const client = () => this.#client(info.endpoint);
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
      return state === 'on' || state === 'off' ? state : 'unknown';
    };
    const stored = async (): Promise<StoredBoot | undefined> => (await context.state.get())[BOOT_KEY] as StoredBoot | undefined;
    const wait = (target: 'on' | 'off', options: PowerOptions) =>
      waitForPowerState(read, target, { machine, pollMs, ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) });

    const powerOn = async (options: PowerOptions): Promise<PowerState> => {
      if ((await read()) === 'on') return 'on';
      const boot = await stored();
      client().setNextBoot(boot ? DEVICES[boot.device] : undefined);
      await client().setPowerState('on');
      // A one-time choice is used up; the machine boots its disk next time (Ironic resets to disk).
      if (boot && !boot.persistent) await context.state.set({ [BOOT_KEY]: undefined });
      return wait('on', options);
    };
    const powerOff = async (soft: boolean, options: PowerOptions): Promise<PowerState> => {
      if ((await read()) === 'off') return 'off';
      await client().setPowerState(soft ? 'soft-off' : 'off');
      return wait('off', options);
    };

    return {
      power: {
        getPowerState: () => guard(read),
        setPowerState: (target: PowerTarget, options: PowerOptions = {}) =>
          guard(() => (target === 'on' ? powerOn(options) : powerOff(target === 'soft-off', options))),
        // Off, then on, as Ironic's AMT driver: the boot device is applied with the power-on.
        reboot: (options: PowerOptions = {}) =>
          guard(async () => {
            await powerOff(false, options);
            return powerOn(options);
          }),
      },
      management: {
        getSupportedBootDevices: () => SUPPORTED,
        getBootDevice: async (): Promise<BootDeviceInfo> => {
          const boot = await stored();
          return boot ? { device: boot.device, persistent: boot.persistent, uefi: boot.uefi } : { device: 'disk', persistent: false };
        },
        setBootDevice: async (device: BootDevice, options: BootDeviceOptions = {}) => {
          if (DEVICES[device] === undefined) throw new UnsupportedError(machine, `AMT cannot boot from '${device}'; it offers ${SUPPORTED.join(', ')}`);
          const boot: StoredBoot = { device, persistent: options.persistent === true, uefi: options.uefi === true };
          await context.state.set({ [BOOT_KEY]: boot });
        },
      },
    };
  }

  async close(): Promise<void> {
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }
}
