// The ipmi hardware type: power and boot device through anvil's IPMI client, one UDP socket
// and one session per BMC shared by every machine. Setting a boot device first disables the
// BMC's 60 s boot-flag timeout (Bmc.setBootDevice); a persistent device is remembered and
// re-asserted before each power-on if the BMC forgot it (Ironic's ensure_next_boot_device).
import { Duplex } from 'node:stream';
import { IpmiClient } from '../protocols/ipmi/client/client.ts';
import { IpmiSolBusyError, SolConsole } from '../protocols/ipmi/client/sol.ts';
import type { Bmc } from '../protocols/ipmi/client/bmc.ts';
import { IpmiCommandError, IpmiLoginError, IpmiSessionError, IpmiTimeoutError } from '../protocols/ipmi/client/errors.ts';
import type { BmcTarget, RetryPolicy } from '../protocols/ipmi/client/options.ts';
import type { BootDeviceName } from '../protocols/ipmi/commands/chassis.ts';
import type { PrivilegeLevel } from '../protocols/ipmi/constants.ts';
import { AnvilError } from '../common/errors.ts';
import { InfoReader } from './driver-info.ts';
import { ControllerError, DRIVER_ERROR_CODES } from './errors.ts';
import { rebootByPowerCycle, waitForPowerState } from './wait.ts';
import type {
  BootDevice,
  BootDeviceInfo,
  BootDeviceOptions,
  ConsoleOptions,
  Driver,
  DriverContext,
  HardwareType,
  PowerOptions,
  PowerState,
  PowerTarget,
} from './types.ts';

export const DEFAULT_IPMI_PORT = 623;
const PRIVILEGES = { CALLBACK: 1, USER: 2, OPERATOR: 3, ADMINISTRATOR: 4 } as const satisfies Record<string, PrivilegeLevel>;
type PrivilegeName = keyof typeof PRIVILEGES;
/** IPMI 2.0 passwords and Kg are at most 20 bytes (§13.31). */
const MAX_SECRET_BYTES = 20;
const SUPPORTED: readonly BootDevice[] = ['pxe', 'disk', 'cdrom', 'bios', 'safe'];
/** driver_internal_info key of the boot device to re-assert before power-on. */
const PERSISTENT_KEY = 'ipmi_persistent_boot_device';

const FIELDS = {
  ipmi_address: { description: "the BMC's IP address or host name", required: true },
  ipmi_port: { description: `UDP port (default ${DEFAULT_IPMI_PORT})`, required: false },
  ipmi_username: { description: 'user name (default: the anonymous user)', required: false },
  ipmi_password: { description: 'password (at most 20 bytes)', required: false, secret: true },
  ipmi_cipher_suite: { description: 'RMCP+ cipher suite (default: ask the BMC)', required: false },
  ipmi_kg: { description: 'BMC key Kg for two-key logins (default: the password)', required: false, secret: true },
  ipmi_privilege: { description: 'ADMINISTRATOR (default), OPERATOR, USER or CALLBACK', required: false },
  ipmi_protocol_version: { description: "'2.0' (RMCP+, default) or '1.5'", required: false },
} as const;

export interface IpmiInfo {
  readonly target: BmcTarget;
}

export interface IpmiHardwareOptions {
  /** Timeouts and retries of the shared client (tests shorten them). */
  readonly policy?: Partial<RetryPolicy>;
  /** Spacing of power-state polls while waiting. */
  readonly pollMs?: number;
}

/** A protocol error as a driver error: the category tells the API what status to answer. */
function controllerError(machine: string, error: unknown): unknown {
  if (error instanceof IpmiLoginError) return new ControllerError(DRIVER_ERROR_CODES.auth, machine, `IPMI authentication failed: ${error.message}`, error);
  if (error instanceof IpmiTimeoutError)
    return new ControllerError(DRIVER_ERROR_CODES.unreachable, machine, `the BMC does not answer: ${error.message}`, error);
  if (error instanceof IpmiCommandError || error instanceof IpmiSessionError)
    return new ControllerError(DRIVER_ERROR_CODES.failed, machine, error.message, error);
  return error;
}

export class IpmiHardware implements HardwareType<IpmiInfo> {
  readonly name = 'ipmi';
  readonly description = 'servers with an IPMI BMC (IPMI v2.0 RMCP+ or v1.5 LAN)';
  readonly fields = FIELDS;
  readonly #options: IpmiHardwareOptions;
  #client: IpmiClient | undefined;
  /** Open consoles, each with its own client: ended when the driver closes, or they would keep the process alive. */
  readonly #consoles = new Set<Duplex>();
  #closed = false;

  constructor(options: IpmiHardwareOptions = {}) {
    this.#options = options;
  }

  /** The one client for all machines, opened on first use. */
  get client(): IpmiClient {
    // A call after close() would open a socket nobody closes and keep the process alive.
    if (this.#closed)
      throw new AnvilError('DRIVERS_CLOSED', 'unavailable', 'the IPMI driver has been closed (anvil is stopping); try again when it has restarted');
    this.#client ??= new IpmiClient(this.#options.policy ? { policy: this.#options.policy } : {});
    return this.#client;
  }

  validate(machine: string, driverInfo: Readonly<Record<string, unknown>>): IpmiInfo {
    const r = new InfoReader(machine, this.name, driverInfo, this.fields);
    const host = r.required('ipmi_address');
    const port = r.integer('ipmi_port', 1, 65535) ?? DEFAULT_IPMI_PORT;
    const user = r.string('ipmi_username') ?? '';
    const password = r.string('ipmi_password') ?? '';
    const cipherSuite = r.integer('ipmi_cipher_suite', 0, 17);
    const kg = r.string('ipmi_kg');
    const privilege = r.oneOf<PrivilegeName>('ipmi_privilege', Object.keys(PRIVILEGES) as PrivilegeName[]) ?? 'ADMINISTRATOR';
    const version = r.oneOf('ipmi_protocol_version', ['2.0', '1.5']) ?? '2.0';
    if (Buffer.byteLength(user) > 16) r.problem('ipmi_username must be at most 16 bytes');
    if (Buffer.byteLength(password) > MAX_SECRET_BYTES) r.problem(`ipmi_password must be at most ${MAX_SECRET_BYTES} bytes`);
    if (kg !== undefined && Buffer.byteLength(kg) > MAX_SECRET_BYTES) r.problem(`ipmi_kg must be at most ${MAX_SECRET_BYTES} bytes`);
    r.done();
    return {
      target: {
        host,
        port,
        user,
        password,
        privilege: PRIVILEGES[privilege],
        protocol: version === '1.5' ? 'lan' : 'lanplus',
        ...(cipherSuite !== undefined ? { cipherSuite } : {}),
        ...(kg !== undefined ? { kg } : {}),
      },
    };
  }

  create(info: IpmiInfo, context: DriverContext): Driver {
    const machine = context.machine;
    const bmc = (): Bmc => this.client.bmc(info.target);
    const pollMs = this.#options.pollMs ?? 500;
    const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (error) {
        throw controllerError(machine, error);
      }
    };
    const getPowerState = (): Promise<PowerState> => guard(() => bmc().getPowerState());

    /** Re-sends a remembered persistent boot device that the BMC no longer has. */
    const ensureBootDevice = async (): Promise<void> => {
      const wanted = (await context.state.get())[PERSISTENT_KEY] as { device: BootDevice; uefi: boolean } | undefined;
      if (!wanted) return;
      const flags = await bmc().getBootDevice();
      if (flags.valid && flags.persistent && flags.device === wanted.device && flags.efi === wanted.uefi) return;
      await bmc().setBootDevice(wanted.device as BootDeviceName, { persistent: true, efi: wanted.uefi });
    };

    const setPowerState = (target: PowerTarget, options: PowerOptions = {}): Promise<PowerState> =>
      guard(async () => {
        if (target === 'on') await ensureBootDevice();
        await bmc().setPower(target === 'soft-off' ? 'soft' : target);
        return waitForPowerState(() => bmc().getPowerState(), target === 'on' ? 'on' : 'off', {
          machine,
          pollMs,
          ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
        });
      });

    return {
      power: {
        getPowerState,
        setPowerState,
        reboot: rebootByPowerCycle(getPowerState, setPowerState),
      },
      management: {
        getSupportedBootDevices: () => SUPPORTED,
        getBootDevice: () =>
          guard(async (): Promise<BootDeviceInfo> => {
            const flags = await bmc().getBootDevice();
            if (flags.valid && SUPPORTED.includes(flags.device as BootDevice))
              return { device: flags.device as BootDevice, persistent: flags.persistent, uefi: flags.efi };
            const wanted = (await context.state.get())[PERSISTENT_KEY] as { device: BootDevice; uefi: boolean } | undefined;
            return wanted ? { device: wanted.device, persistent: true, uefi: wanted.uefi } : { device: null, persistent: false };
          }),
        setBootDevice: (device: BootDevice, options: BootDeviceOptions = {}) =>
          guard(async () => {
            const persistent = options.persistent === true;
            const uefi = options.uefi === true;
            await bmc().setBootDevice(device as BootDeviceName, { persistent, efi: uefi });
            await context.state.set({ [PERSISTENT_KEY]: persistent ? { device, uefi } : undefined });
          }),
      },
      console: { open: (options: ConsoleOptions = {}) => this.#openConsole(machine, info, options) },
    };
  }

  /**
   * SOL in a client and session of its own, so ending the console (Close Session) leaves the
   * shared session of power and boot-device calls alone.
   */
  async #openConsole(machine: string, info: IpmiInfo, options: ConsoleOptions): Promise<Duplex> {
    if (this.#closed)
      throw new AnvilError('DRIVERS_CLOSED', 'unavailable', 'the IPMI driver has been closed (anvil is stopping); try again when it has restarted');
    const client = new IpmiClient(this.#options.policy ? { policy: this.#options.policy } : {});
    let sol: SolConsole;
    try {
      sol = await SolConsole.activate(client.bmc(info.target), { force: options.takeover === true });
    } catch (error) {
      await client.close().catch(() => undefined);
      if (error instanceof IpmiSolBusyError)
        throw new ControllerError(
          DRIVER_ERROR_CODES.failed,
          machine,
          'SOL is already active in another session on the BMC; take the console over to end that session',
          error,
        );
      throw controllerError(machine, error);
    }
    const stream = solStream(sol, client);
    this.#consoles.add(stream);
    stream.once('close', () => this.#consoles.delete(stream));
    return stream;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(
      [...this.#consoles].map((stream) => {
        const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
        stream.destroy();
        return closed;
      }),
    );
    const client = this.#client;
    this.#client = undefined;
    await client?.close();
  }
}

/** A SOL console as a byte stream; destroying it deactivates SOL and closes the session first. */
function solStream(sol: SolConsole, client: IpmiClient): Duplex {
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      sol.write(chunk);
      done();
    },
    final(done) {
      done();
    },
    destroy(error, done) {
      sol
        .close()
        .catch(() => undefined)
        .then(() => client.close())
        .catch(() => undefined)
        .then(() => done(error));
    },
  });
  sol.on('data', (data) => stream.push(data));
  sol.on('deactivated', () => {
    stream.push(null);
    stream.destroy();
  });
  sol.on('error', (error) => stream.destroy(error));
  return stream;
}
