// Issue 13's virtual-media boot, end to end: a lab VM behind anvil's emulated Redfish BMC,
// enrolled with redfish_boot=virtual-media. `anvil machine deploy` builds an ISO of the agent
// (ISOLINUX, the agent's kernel and initrd, its command line with the deployment's token), hands
// its URL to the BMC, which fetches it and inserts it as the VM's virtual CD; the VM boots the
// CD once (anvil never answers a network boot for it), the agent writes and verifies the image,
// the media is ejected and the ISO removed, and the VM boots its disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ANVIL, exec, startServer } from '../helpers/anvil-process.ts';
import { havePeers, requireCondition } from '../helpers/peers.ts';
import { freeTcpPort } from '../helpers/ports.ts';
import { buildDiskImage, DISK_IMAGE_PEERS } from '../../src/lab/disk-image.ts';
import { labData, startLabUp } from '../lab/helpers.ts';
import { GUEST_ANVIL } from '../../src/lab/guest-network.ts';
import { ISOLINUX_FILES } from '../../src/provisioning/agent-iso.ts';

const PASSWORD = 'vmedia-Lab-3';
const DEPLOY_TIMEOUT_S = 300;

async function ok(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const result = await exec(ANVIL, args, env);
  assert.equal(result.code, 0, `anvil ${args.join(' ')}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

test('a lab VM behind a Redfish BMC is deployed through virtual media: the agent boots from an ISO the BMC inserts, not from the network', {
  timeout: 600_000,
}, async (t) => {
  if (!havePeers(t, 'qemu-system-x86_64', 'xorriso', ...DISK_IMAGE_PEERS)) return;
  if (!requireCondition(t, existsSync(ISOLINUX_FILES.bin), `${ISOLINUX_FILES.bin} is missing (Debian's isolinux)`)) return;
  const data = labData(t);
  const server = await startServer(data, ['--power-sync-interval', '0']);
  t.after(() => server.stop());
  const port = await freeTcpPort();
  // prettier-ignore
  await ok(
    [
      'lab',
      'vm',
      'create',
      'vmd',
      '--mac',
      '52:54:00:d2:00:01',
      '--disk',
      '64M',
      '--memory',
      '384',
      '--bmc',
      'redfish',
      '--redfish-port',
      String(port),
      '--enroll',
      '--data',
      data,
    ],
    { ANVIL_BMC_PASSWORD: PASSWORD },
  );
  // The agent in the VM reaches anvil at the lab network's guest address; the BMC at anvil's own URL.
  await ok(['machine', 'set', 'vmd', '--driver-info', `redfish_boot=virtual-media,redfish_agent_server=${GUEST_ANVIL}:80`, '--data', data]);
  const bad = await exec(ANVIL, ['machine', 'set', 'vmd', '--driver-info', 'redfish_boot=floppy', '--data', data]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /redfish_boot must be pxe, uefi-http or virtual-media, not 'floppy'/);
  const lab = await startLabUp(t, data, ['vmd: Redfish BMC']);

  const image = buildDiskImage({ server: GUEST_ANVIL });
  await ok(['image', 'upload', image.path, '--name', 'tiny', '--sha256', image.sha256, '--data', data]);
  const deployed = await exec(ANVIL, ['machine', 'deploy', 'vmd', '--image', 'tiny', '--timeout', String(DEPLOY_TIMEOUT_S), '--data', data]);
  const evidence = `${deployed.stdout}\n${deployed.stderr}\n--- anvil serve:\n${server.logs().slice(-5000)}\n--- lab up:\n${lab.output.text.slice(-3000)}`;
  assert.equal(deployed.code, 0, evidence);
  assert.match(deployed.stdout, /vmd: active, image tiny/, evidence);

  const token = (await ok(['token', 'create', '--role', 'viewer', '--data', data])).trim();
  const api = async <T>(path: string): Promise<T> =>
    (await (await fetch(`${server.url}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } })).json()) as T;
  const events = await api<Array<{ message: string }>>('/machines/vmd/events');
  assert.ok(
    events.some((e) => /virtual media: the BMC inserted the agent ISO/.test(e.message)),
    JSON.stringify(events.map((e) => e.message)),
  );
  const log = await api<Array<{ kind: string; profile: string }>>('/machines/vmd/boot-log');
  assert.ok(!log.some((e) => /anvil agent/.test(e.profile)), `anvil served no network boot of the agent: ${JSON.stringify(log)}`);
  const provision = await api<{ provisionState: string; deployment: { device: string; bytesDone: number } }>('/machines/vmd/provision');
  assert.deepEqual([provision.provisionState, provision.deployment.device, provision.deployment.bytesDone], ['active', '/dev/vda', image.size]);
  // The ISO held the token: gone with the deployment, and never in a log line.
  assert.deepEqual(existsSync(join(data, 'agent-media')) ? readdirSync(join(data, 'agent-media')) : [], []);
  assert.match(server.logs(), /a BMC is fetching the agent ISO/);
  assert.doesNotMatch(server.logs(), /agent\/v1\/media\/(?!\*{6})/, 'the token in the media URL is masked in the log');
  assert.match(lab.output.text, /vmd: power on/);
});
