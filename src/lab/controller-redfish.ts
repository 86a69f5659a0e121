// The Redfish BMC emulator's handler for a lab VM (what `--bmc redfish` puts in front of QEMU):
// ComputerSystem.Reset powers the VM, the Boot override sets its boot device (Once: the next
// boot only; Continuous: every boot; UEFI mode boots it through OVMF's EFI loader; UefiHttp
// is OVMF's UEFI HTTP boot), and the
// virtual CD downloads the image at the URL it is given into the lab (as a BMC fetches it over
// its own network) and puts it in the VM's CD-ROM drive, the running QEMU's too.
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BootOverrideState, EmulatedPowerState, MediaState, RedfishHandler } from '../protocols/redfish/emulator/handler.ts';
import type { BootTarget, ResetType } from '../protocols/redfish/constants.ts';
import type { LabBootDevice } from './definition.ts';
import type { LabPowerTarget } from './controllers.ts';

const TO_LAB: Partial<Record<BootTarget, LabBootDevice>> = { Pxe: 'pxe', Hdd: 'disk', Cd: 'cdrom', BiosSetup: 'bios', UefiHttp: 'http' };
const FROM_LAB: Record<LabBootDevice, BootTarget> = { pxe: 'Pxe', disk: 'Hdd', cdrom: 'Cd', bios: 'BiosSetup', http: 'UefiHttp' };
/** A virtual-media image that takes longer than this to download is given up on. */
export const MEDIA_DOWNLOAD_TIMEOUT_MS = 10 * 60_000;

/** A VM whose CD-ROM drive takes an ISO (LabVm). */
export interface LabMediaTarget {
  insertMedia(file: string): Promise<void>;
  ejectMedia(): Promise<void>;
  getMedia(): Promise<string | undefined>;
}

export interface LabRedfishHandlerOptions {
  /** Where inserted images are downloaded to; without it (and a target that takes media), virtual media is refused. */
  readonly mediaDir?: string;
}

export class LabRedfishHandler implements RedfishHandler {
  readonly target: LabPowerTarget & Partial<LabMediaTarget>;
  readonly #mediaDir: string | undefined;
  /** Whether the last override set here was Continuous: the VM's own persistent device is "no override". */
  #continuous = false;
  /** The URL of the image inserted here, as the BMC reports it (the VM keeps the file only). */
  #image: string | undefined;

  constructor(target: LabPowerTarget & Partial<LabMediaTarget>, options: LabRedfishHandlerOptions = {}) {
    this.target = target;
    this.#mediaDir = options.mediaDir;
  }

  async getPowerState(): Promise<EmulatedPowerState> {
    return (await this.target.getPowerState()) === 'on' ? 'On' : 'Off';
  }

  async reset(type: ResetType): Promise<void> {
    const on = (await this.target.getPowerState()) === 'on';
    switch (type) {
      case 'On':
      case 'ForceOn':
        if (!on) await this.target.setPowerState('on');
        return;
      case 'ForceOff':
        if (on) await this.target.setPowerState('off');
        return;
      case 'GracefulShutdown':
        if (on) await this.target.setPowerState('soft-off');
        return;
      case 'Nmi':
        if (on) await this.target.nmi?.();
        return;
      case 'PowerCycle':
        await this.target.setPowerState(on ? 'cycle' : 'on');
        return;
      default:
        // ForceRestart, GracefulRestart: a machine that is off is powered on, as BMCs do.
        await this.target.setPowerState(on ? 'reset' : 'on');
    }
  }

  async getBoot(): Promise<BootOverrideState> {
    const setting = await this.target.getBootDevice();
    const mode = setting.efi ? 'UEFI' : 'Legacy';
    if (!setting.persistent) return { target: FROM_LAB[setting.device], enabled: 'Once', mode };
    if (this.#continuous) return { target: FROM_LAB[setting.device], enabled: 'Continuous', mode };
    return { target: 'None', enabled: 'Disabled', mode };
  }

  async setBoot(boot: BootOverrideState): Promise<void> {
    if (boot.enabled === 'Disabled' || boot.target === 'None') {
      this.#continuous = false;
      await this.target.setBootDevice('default', { persistent: false });
      return;
    }
    const device = TO_LAB[boot.target];
    if (device === undefined) throw new Error(`lab VM ${this.target.name} cannot boot from ${boot.target}; it boots ${Object.keys(TO_LAB).join(', ')}`);
    this.#continuous = boot.enabled === 'Continuous';
    // UEFI HTTP boot exists in UEFI mode only, whatever mode was asked for.
    await this.target.setBootDevice(device, { persistent: this.#continuous, efi: boot.mode === 'UEFI' || device === 'http' });
  }

  async getMedia(): Promise<MediaState> {
    const file = await this.target.getMedia?.();
    if (file === undefined) return { image: undefined, inserted: false };
    return { image: this.#image ?? `file://${file}`, inserted: true };
  }

  async insertMedia(image: string): Promise<void> {
    const { insertMedia } = this.target;
    if (this.#mediaDir === undefined || insertMedia === undefined) throw new Error(`lab VM ${this.target.name} has no CD-ROM drive for virtual media`);
    let url: URL;
    try {
      url = new URL(image);
    } catch {
      throw new Error(`virtual media image '${image}' is not a URL; give an http:// or https:// URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`virtual media image ${image} is not http:// or https://`);
    await mkdir(this.#mediaDir, { recursive: true, mode: 0o700 });
    const file = join(this.#mediaDir, `${this.target.name}.iso`);
    const part = `${file}.part`;
    try {
      const answer = await fetch(url, { signal: AbortSignal.timeout(MEDIA_DOWNLOAD_TIMEOUT_MS) });
      if (!answer.ok || answer.body === null) throw new Error(`it answered ${answer.status} ${answer.statusText}`);
      await pipeline(Readable.fromWeb(answer.body), createWriteStream(part, { mode: 0o600 }));
      await rename(part, file);
    } catch (error) {
      await rm(part, { force: true });
      // Named by its origin only: a media URL may carry a token in its path (anvil's agent ISO does).
      const reason = (error as Error).message.replaceAll(image, url.origin);
      throw new Error(`lab VM ${this.target.name}: could not download virtual media from ${url.origin}: ${reason}`, { cause: error });
    }
    await insertMedia.call(this.target, file);
    this.#image = image;
  }

  async ejectMedia(): Promise<void> {
    await this.target.ejectMedia?.();
    this.#image = undefined;
  }
}
