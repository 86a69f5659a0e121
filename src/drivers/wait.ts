// Waiting for a power state (Ironic's node_wait_for_power_state): poll until the machine
// reports the target, or fail naming the machine once the timeout passes.
import { setTimeout as delay } from 'node:timers/promises';
import { PowerTimeoutError } from './errors.ts';
import type { PowerOptions, PowerState, PowerTarget } from './types.ts';

/** How long a power action waits by default (Ironic's power_state_change_timeout). */
export const DEFAULT_POWER_TIMEOUT_MS = 60_000;
/** Spacing of the polls while waiting. */
export const DEFAULT_POWER_POLL_MS = 500;

export interface WaitOptions {
  readonly machine: string;
  readonly timeoutMs?: number;
  readonly pollMs?: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<unknown>;
}

export async function waitForPowerState(read: () => Promise<PowerState>, target: 'on' | 'off', options: WaitOptions): Promise<PowerState> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_POWER_TIMEOUT_MS;
  const pollMs = options.pollMs ?? DEFAULT_POWER_POLL_MS;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? delay;
  const deadline = now() + timeoutMs;
  for (;;) {
    const state = await read();
    if (state === target) return state;
    const left = deadline - now();
    if (left <= 0) throw new PowerTimeoutError(options.machine, target, timeoutMs, state);
    await sleep(Math.min(pollMs, left));
  }
}

/**
 * A hard reboot as off, then on (as Ironic's ipmitool reboot does), so each step has a state to
 * wait for; a machine that is off is just powered on.
 */
export function rebootByPowerCycle(
  getPowerState: () => Promise<PowerState>,
  setPowerState: (target: PowerTarget, options: PowerOptions) => Promise<PowerState>,
) {
  return async (options: PowerOptions = {}): Promise<PowerState> => {
    if ((await getPowerState()) === 'on') await setPowerState('off', options);
    return setPowerState('on', options);
  };
}
