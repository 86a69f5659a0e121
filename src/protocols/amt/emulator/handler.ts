// What the AMT emulator controls: a machine's power and its next boot device. The default
// keeps them in memory; a QEMU virtual machine can stand behind the same interface.
import type { AmtBootDevice, AmtPowerAction, AmtPowerState } from '../constants.ts';

/** The machine refused: e.g. reset while it is off (AMT answers "not permitted"). */
export type PowerChangeResult = 'ok' | 'not-permitted' | 'unsupported';

export interface AmtHandler {
  getPowerState(): Promise<AmtPowerState>;
  /**
   * Carries out a power action. `bootDevice` is the one-time boot device to use if the action
   * boots the machine (on, reset, cycle); undefined means its normal boot order.
   */
  setPowerState(action: AmtPowerAction, bootDevice: AmtBootDevice | undefined): Promise<PowerChangeResult>;
  /** Actions this machine can carry out, reported as CIM_PowerManagementCapabilities.PowerStatesSupported. */
  supportedPowerActions(): readonly AmtPowerAction[];
}

/** One boot of the emulated machine: which device it used ('default' = its normal order). */
export interface BootRecord {
  readonly device: AmtBootDevice | 'default';
  readonly action: AmtPowerAction;
}

/** The basic actions every AMT since 1.0 has; graceful ones are AMT 9+ and need an OS agent. */
export const BASIC_POWER_ACTIONS: readonly AmtPowerAction[] = ['on', 'off', 'reset', 'cycle'];
export const ALL_POWER_ACTIONS: readonly AmtPowerAction[] = [
  'on',
  'off',
  'reset',
  'cycle',
  'soft-off',
  'soft-reset',
  'soft-cycle',
  'sleep',
  'hibernate',
  'nmi',
];

/** A machine that exists only in memory: power and a log of boots, for tests and demos. */
export class MemoryAmtHandler implements AmtHandler {
  #power: AmtPowerState;
  readonly #actions: readonly AmtPowerAction[];
  readonly boots: BootRecord[] = [];

  constructor(options: { power?: AmtPowerState; actions?: readonly AmtPowerAction[] } = {}) {
    this.#power = options.power ?? 'off';
    this.#actions = options.actions ?? BASIC_POWER_ACTIONS;
  }

  get power(): AmtPowerState {
    return this.#power;
  }

  /** The device of the most recent boot, or undefined if it never booted here. */
  get lastBoot(): BootRecord | undefined {
    return this.boots.at(-1);
  }

  async getPowerState(): Promise<AmtPowerState> {
    return this.#power;
  }

  supportedPowerActions(): readonly AmtPowerAction[] {
    return this.#actions;
  }

  async setPowerState(action: AmtPowerAction, bootDevice: AmtBootDevice | undefined): Promise<PowerChangeResult> {
    if (!this.#actions.includes(action)) return 'unsupported';
    const on = this.#power === 'on';
    switch (action) {
      case 'on':
        if (!on) this.#boot(action, bootDevice);
        return 'ok';
      case 'off':
      case 'soft-off':
        this.#power = 'off';
        return 'ok';
      case 'sleep':
      case 'hibernate':
        if (!on) return 'not-permitted';
        this.#power = action === 'sleep' ? 'sleep' : 'hibernate';
        return 'ok';
      case 'nmi':
        return on ? 'ok' : 'not-permitted';
      case 'reset':
      case 'cycle':
      case 'soft-reset':
      case 'soft-cycle':
        // AMT refuses to reset or cycle a machine that is off (PT_STATUS "not permitted").
        if (!on) return 'not-permitted';
        this.#boot(action, bootDevice);
        return 'ok';
    }
  }

  #boot(action: AmtPowerAction, device: AmtBootDevice | undefined): void {
    this.#power = 'on';
    this.boots.push({ action, device: device ?? 'default' });
  }
}
