// The emulator's pending one-time boot configuration, shared by its WS-Man and SOAP faces:
// ChangeBootOrder picks the source, SetBootConfigRole(IsNext) arms it, the next boot uses it
// once (DSP1012 Boot Control Profile §7.3-7.4; AMT only honours one-time "IsNext"). Intel's
// AMT_BootSettingData adds BIOS setup (no source, BIOSSetup) and safe mode (hard drive, UseSafeMode).
import { BOOT_DEVICES } from '../constants.ts';
import type { AmtBootDevice } from '../constants.ts';
import { defaultBootSettings } from './boot-setting-data.ts';

export class BootConfig {
  /** The devices this machine's BIOS offers (AMT_BootCapabilities, SOAP SpecialCommandsSupported). */
  readonly offered: ReadonlySet<AmtBootDevice>;
  /** Source picked by ChangeBootOrder; undefined = none (normal boot order). */
  source: AmtBootDevice | undefined;
  /** SetBootConfigRole(Role=1) was called since the last boot. */
  armed = false;
  /**
   * AMT_BootSettingData as last Put. A boot does not clear it: some firmware leaves the options
   * set, which is why a client resets them before each boot it asks for.
   */
  settings: ReadonlyMap<string, string> = defaultBootSettings();

  constructor(offered: readonly AmtBootDevice[] = BOOT_DEVICES) {
    this.offered = new Set(offered);
  }

  /** The device the next boot should use, if one is set and armed. */
  get pending(): AmtBootDevice | undefined {
    if (!this.armed) return undefined;
    if (this.source === undefined) return this.settings.get('BIOSSetup') === 'true' ? 'bios' : undefined;
    // UseSafeMode applies only to the hard-drive source (AMT SDK, AMT_BootSettingData.UseSafeMode).
    if (this.source === 'hd' && this.settings.get('UseSafeMode') === 'true') return 'hdsafe';
    return this.source;
  }

  /** A boot happened: the one-time source and role are spent. */
  consume(): void {
    this.source = undefined;
    this.armed = false;
  }
}
