// Exit reasons of a lab VM's QEMU, from QEMU 7.2's SHUTDOWN event data and the exit signal.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exitReason } from './power-events.ts';

test('what was asked for here wins over what QEMU reports', () => {
  assert.equal(exitReason('soft-off', { guest: true, reason: 'guest-shutdown' }, null), 'soft-off');
  assert.equal(exitReason('requested-off', { guest: false, reason: 'host-qmp-quit' }, null), 'requested-off');
});

test("QEMU's SHUTDOWN cause: the guest, a quit from another process, a signal", () => {
  assert.equal(exitReason(undefined, { guest: true, reason: 'guest-shutdown' }, null), 'guest-poweroff');
  assert.equal(exitReason(undefined, { guest: false, reason: 'host-qmp-quit' }, null), 'requested-off');
  assert.equal(exitReason(undefined, { guest: false, reason: 'host-signal' }, null), 'killed');
});

test('no SHUTDOWN event: a kill signal is killed, anything else crashed', () => {
  assert.equal(exitReason(undefined, undefined, 'SIGKILL'), 'killed');
  assert.equal(exitReason(undefined, undefined, 'SIGSEGV'), 'crashed');
  assert.equal(exitReason(undefined, undefined, null), 'crashed');
});
