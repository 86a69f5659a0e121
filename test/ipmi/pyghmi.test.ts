// pyghmi's client (Debian python3-pyghmi) against the emulator. pyghmi proposes cipher
// suite 17 first; pyghmi's own fakebmc grants suite 3 regardless and the login fails.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { requireCondition } from '../helpers/peers.ts';
import { PASSWORD, USER, runPeer, startEmulator } from './emulator-helpers.ts';

/** pyghmi is a Debian package: use the system interpreter, not a pyenv shim without it. */
const PYTHON = '/usr/bin/python3';

const SCRIPT = `
import sys, json
from pyghmi.ipmi import command
c = command.Command(bmc='127.0.0.1', port=int(sys.argv[1]), userid=sys.argv[2], password=sys.argv[3], keepalive=False)
out = {'power0': c.get_power()}
c.set_power('on', wait=True)
out['power1'] = c.get_power()
c.set_bootdev('network', persist=True, uefiboot=True)
out['boot'] = c.get_bootdev()
out['deviceid'] = list(c.raw_command(netfn=6, command=1)['data'])
out['sensors'] = sorted((r.name, r.value) for r in c.get_sensor_data())
out['users'] = {k: v['name'] for k, v in c.get_users().items()}
c.ipmi_session.logout()
print(json.dumps(out))
`;

test('pyghmi Command: power, boot device, raw, sensors, users', async (t) => {
  const ok = spawnSync(PYTHON, ['-c', 'import pyghmi.ipmi.command']).status === 0;
  if (!requireCondition(t, ok, 'python3-pyghmi is not installed')) return;
  const { port, handler, server } = await startEmulator(t);
  // The password goes to our own inline script as an argument: fine for a loopback test.
  const run = await runPeer(PYTHON, ['-c', SCRIPT, String(port), USER, PASSWORD], {}, 30_000);
  assert.equal(run.code, 0, run.stderr);
  const out = JSON.parse(run.stdout) as {
    power0: { powerstate: string };
    power1: { powerstate: string };
    boot: { bootdev: string; persistent: boolean; uefimode: boolean };
    deviceid: number[];
    sensors: [string, number][];
    users: Record<string, string>;
  };
  assert.equal(out.power0.powerstate, 'off');
  assert.equal(out.power1.powerstate, 'on');
  assert.deepEqual(out.boot, { bootdev: 'network', persistent: true, uefimode: true });
  assert.equal(out.deviceid.length, 15);
  assert.deepEqual(out.sensors, [
    ['12V', 12],
    ['CPU Temp', 42],
    ['Fan 1', 4800],
  ]);
  assert.equal(out.users['2'], 'admin');
  assert.equal(handler.power, 'on');
  assert.equal(server.stats().activeSessions, 0);
});

const SOL_SCRIPT = `
import sys, time, threading
from pyghmi.ipmi import console
got = []
done = threading.Event()
def handler(data):
    if isinstance(data, (bytes, str)):
        got.append(data.decode('latin1') if isinstance(data, bytes) else data)
        if 'anvil-console' in ''.join(got): done.set()
c = console.Console(bmc='127.0.0.1', port=int(sys.argv[1]), userid=sys.argv[2], password=sys.argv[3], iohandler=handler, force=True)
deadline = time.time() + 10
while not c.connected and time.time() < deadline:
    console.session.Session.wait_for_rsp(0.2)
c.send_data('from pyghmi\\r')
while not done.is_set() and time.time() < deadline:
    console.session.Session.wait_for_rsp(0.2)
print(''.join(got))
c.close()
`;

test('pyghmi Console (SOL) sends and receives through the emulator', async (t) => {
  const ok = spawnSync(PYTHON, ['-c', 'import pyghmi.ipmi.console']).status === 0;
  if (!requireCondition(t, ok, 'python3-pyghmi is not installed')) return;
  const { port } = await startEmulator(t);
  const run = await runPeer(PYTHON, ['-c', SOL_SCRIPT, String(port), USER, PASSWORD], {}, 30_000);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /anvil-console\[ANVIL0001\]: from pyghmi/);
});
