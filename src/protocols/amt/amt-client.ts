// The one AMT client a driver needs: detects whether the machine speaks WS-Management (AMT 6+)
// or only the legacy SOAP services (before AMT 9) and offers power and one-time boot device
// control over either. The boot device is remembered and sent just before the power action
// that boots, because AMT keeps only the first boot order it receives (Ironic amt-pxe-driver spec).
import { SOAP_SYSTEM_POWER_STATES, soapPowerStateTextFromCim } from './constants.ts';
import type { AmtBootDevice, AmtPowerAction, AmtPowerState, SoapRemoteCommand } from './constants.ts';
import { AmtProtocolError, AmtUnsupportedError } from './errors.ts';
import { SoapClient } from './soap-client.ts';
import type { RemoteControlCapabilities } from './soap-client.ts';
import type { AmtEndpoint, TransportOptions } from './transport.ts';
import { WsmanClient } from './wsman-client.ts';

export type AmtWireProtocol = 'wsman' | 'soap';

export interface AmtClientOptions extends TransportOptions {
  /** 'auto' (default) tries WS-Management first and falls back to SOAP. */
  readonly protocol?: AmtWireProtocol | 'auto';
}

export interface AmtInfo {
  readonly protocol: AmtWireProtocol;
  /** Firmware version, e.g. "8.1.20". */
  readonly version: string;
  readonly powerState: AmtPowerState;
  /** The raw code: CIM PowerState (WS-Man) or SystemPowerState (SOAP). */
  readonly rawPowerState: number;
  /** amttool's name for the power state ("S0", "S5 (soft-off)", ...); over WS-Man, the CIM state's SOAP peer. */
  readonly powerStateText?: string;
  readonly hostname?: string;
  readonly domain?: string;
  readonly capabilities?: RemoteControlCapabilities;
}

/** Actions after which the machine boots, so a pending boot device applies. */
const BOOTING_ACTIONS: ReadonlySet<AmtPowerAction> = new Set(['on', 'reset', 'cycle', 'soft-reset', 'soft-cycle']);
const SOAP_COMMANDS: Readonly<Partial<Record<AmtPowerAction, SoapRemoteCommand>>> = {
  on: 'powerup',
  off: 'powerdown',
  reset: 'reset',
  cycle: 'powercycle',
};

export class AmtClient {
  readonly wsman: WsmanClient;
  readonly soap: SoapClient;
  readonly #choice: AmtWireProtocol | 'auto';
  #detected: Promise<AmtWireProtocol> | undefined;
  #nextBoot: AmtBootDevice | undefined;

  constructor(endpoint: AmtEndpoint, options: AmtClientOptions = {}) {
    this.wsman = new WsmanClient(endpoint, options);
    this.soap = new SoapClient(endpoint, options);
    this.#choice = options.protocol ?? 'auto';
  }

  close(): void {
    this.wsman.close();
    this.soap.close();
  }

  /** The protocol in use: the forced one, or the detected one (asked once, then remembered). */
  protocol(): Promise<AmtWireProtocol> {
    if (this.#choice !== 'auto') return Promise.resolve(this.#choice);
    this.#detected ??= this.#detect().catch((error: unknown) => {
      this.#detected = undefined;
      throw error;
    });
    return this.#detected;
  }

  async #detect(): Promise<AmtWireProtocol> {
    try {
      await this.wsman.identify();
      return 'wsman';
    } catch (error) {
      // Only "no WS-Man here" falls back; wrong password or no answer at all would fail on SOAP too.
      if (!(error instanceof AmtUnsupportedError) && !(error instanceof AmtProtocolError)) throw error;
    }
    await this.soap.getCoreVersion();
    return 'soap';
  }

  async getPowerState(): Promise<AmtPowerState> {
    if ((await this.protocol()) === 'wsman') return (await this.wsman.getPowerState()).state;
    return (await this.soap.getSystemPowerState()).state;
  }

  /**
   * Carries out a power action; if it boots the machine, the boot device set with setNextBoot
   * is applied first (WS-Man) or with it (SOAP SpecialCommand), then forgotten. Over WS-Man a
   * boot with no device set asks AMT for a normal boot.
   */
  async setPowerState(action: AmtPowerAction): Promise<void> {
    const device = BOOTING_ACTIONS.has(action) ? this.#nextBoot : undefined;
    if ((await this.protocol()) === 'wsman') {
      // A boot without a device still resets the boot options, so an earlier bios or hdsafe request cannot stick.
      if (BOOTING_ACTIONS.has(action)) await this.wsman.setNextBoot(device);
      await this.wsman.requestPowerStateChange(action);
    } else {
      const command = SOAP_COMMANDS[action];
      if (command === undefined) {
        throw new AmtUnsupportedError(
          `power action '${action}' needs WS-Management; AMT ${this.soap.transport.label} speaks only the legacy SOAP services (on, off, reset, cycle)`,
        );
      }
      await this.soap.remoteControl(command, device);
    }
    if (device !== undefined) this.#nextBoot = undefined;
  }

  /** Remembers the device for the next boot only; undefined means the normal boot order. Sends nothing. */
  setNextBoot(device: AmtBootDevice | undefined): void {
    this.#nextBoot = device;
  }

  /** The device the next booting power action will use, if one is pending. */
  getNextBoot(): AmtBootDevice | undefined {
    return this.#nextBoot;
  }

  /** What amttool's `info` shows, from whichever protocol is in use. */
  async info(): Promise<AmtInfo> {
    const protocol = await this.protocol();
    if (protocol === 'wsman') {
      const identity = await this.wsman.identify();
      const { hostname, domain } = await this.wsman.getHostName();
      const power = await this.wsman.getPowerState();
      const capabilities = await this.wsman.getRemoteControlCapabilities();
      return {
        protocol,
        version: identity.version.replace(/^AMT\s+/, ''),
        hostname,
        domain,
        capabilities,
        powerState: power.state,
        rawPowerState: power.cim,
        powerStateText: soapPowerStateTextFromCim(power.cim),
      };
    }
    const version = await this.soap.getCoreVersion();
    const hostname = await this.soap.getHostName();
    const domain = await this.soap.getDomainName();
    const power = await this.soap.getSystemPowerState();
    const capabilities = await this.soap.getRemoteControlCapabilities();
    return {
      protocol,
      version,
      hostname,
      domain,
      capabilities,
      powerState: power.state,
      rawPowerState: power.raw,
      powerStateText: SOAP_SYSTEM_POWER_STATES[power.raw & 0x0f] ?? String(power.raw),
    };
  }
}
