// BMC health commands: Get Self Test Results (IPMI v2.0 §20.4) and Get Watchdog Timer
// (§27.7). Pure payload builders and decoders.
import { AppCmd, NetFn } from '../constants.ts';
import { at, need, request, u16le } from './request.ts';
import type { CommandRequest } from './request.ts';

export function getSelfTestResults(): CommandRequest {
  return request('Get Self Test Results', NetFn.APP, AppCmd.GET_SELF_TEST_RESULTS);
}

/** Byte 1 of Get Self Test Results (§20.4): 0x55 no error, 0x56 not implemented, 0x57 corrupted device, 0x58 fatal. */
export const SelfTestCode = { PASSED: 0x55, NOT_IMPLEMENTED: 0x56, DEVICE_CORRUPTED: 0x57, FATAL_ERROR: 0x58 } as const;

export interface SelfTestResult {
  readonly code: number;
  /** Byte 2: for 0x57, which devices failed (bit 7 SEL ... bit 0 operational firmware); else the failure code. */
  readonly detail: number;
}

export function decodeSelfTestResults(data: Uint8Array): SelfTestResult {
  need(data, 2, 'Get Self Test Results');
  return { code: at(data, 0), detail: at(data, 1) };
}

export function getWatchdogTimer(): CommandRequest {
  return request('Get Watchdog Timer', NetFn.APP, AppCmd.GET_WATCHDOG_TIMER);
}

export interface WatchdogTimer {
  /** Byte 1 as sent: bits 2:0 timer use, bit 6 running, bit 7 "don't log". */
  readonly use: number;
  /** Byte 2: bits 6:4 pre-timeout interrupt, bits 2:0 timeout action. */
  readonly action: number;
  /** Pre-timeout interval, seconds. */
  readonly preTimeout: number;
  /** Timer use expiration flags, bit n for timer use n. */
  readonly expirationFlags: number;
  /** Initial and present countdown, in 100 ms units. */
  readonly initialCountdown: number;
  /** Undefined when the BMC's answer stops short of it (OpenIPMI's ipmi_sim sends 6 of the 8 bytes). */
  readonly presentCountdown?: number;
}

export function decodeWatchdogTimer(data: Uint8Array): WatchdogTimer {
  need(data, 6, 'Get Watchdog Timer');
  return {
    use: at(data, 0),
    action: at(data, 1),
    preTimeout: at(data, 2),
    expirationFlags: at(data, 3),
    initialCountdown: u16le(data, 4),
    ...(data.length >= 8 ? { presentCountdown: u16le(data, 6) } : {}),
  };
}
