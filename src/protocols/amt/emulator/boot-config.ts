// The emulator's pending one-time boot configuration, shared by its WS-Man and SOAP faces:
// ChangeBootOrder picks the source, SetBootConfigRole(IsNext) arms it, the next boot uses it
// once (DSP1012 Boot Control Profile §7.3-7.4; AMT only honours one-time "IsNext").
import type { AmtBootDevice } from '../constants.ts';

export class BootConfig {
  /** Source picked by ChangeBootOrder; undefined = none (normal boot order). */
  source: AmtBootDevice | undefined;
  /** SetBootConfigRole(Role=1) was called since the last boot. */
  armed = false;

  /** The device the next boot should use, if one is set and armed. */
  get pending(): AmtBootDevice | undefined {
    return this.armed ? this.source : undefined;
  }

  /** A boot happened: a one-time setting is spent. */
  consume(): void {
    this.source = undefined;
    this.armed = false;
  }
}
