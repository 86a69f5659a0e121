// Issue 11's end to end, as a VCL site would drive anvil: `anvil serve` and `anvil lab` on one
// data directory; two lab VMs behind emulated IPMI BMCs, enrolled with an SSH port forward
// (lab vm create --ssh-port --enroll). Image A, the bootable test disk whose tiny Linux runs
// dropbear with anvil.ssh=1, is loaded onto vm1: node_status says READY with every field true
// and currentimage A (the agent wrote currentimage.txt and the site key into the image's FAT).
// A file written on vm1 over SSH (the site key in DATA/ssh) is captured with vm1's disk as
// image B, B is loaded onto vm2, and the file is there; vm1 powered off is RELOAD naming
// rpower; get_image_size of B is the du of its file in the library, in MB as VCL counts. Then
// the Perl example (examples/vcl/cycle.pl over the HTTP API, Debian's perl and core modules)
// drives the same cycle the other way round: B onto vcl2, captured as C, C onto vcl1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ANVIL, ROOT, exec, startServer } from '../helpers/anvil-process.ts';
import { havePeers } from '../helpers/peers.ts';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.ts';
import { buildDiskImage, DISK_IMAGE_PEERS } from '../../src/lab/disk-image.ts';
import { sshRun } from '../helpers/ssh-client.ts';
import { labData, startLabUp } from '../lab/helpers.ts';
import { GUEST_ANVIL } from '../../src/lab/guest-network.ts';

const PASSWORD = 'vcl-Lab-11';
/** iPXE, the agent, the write (or the read), a power cycle, syslinux and the tiny Linux under TCG. */
const STEP_TIMEOUT_S = 600;

interface NodeStatus {
  status: string;
  ping: number;
  ssh: number;
  rpower: number;
  nodeset: string;
  nodetype: string | null;
  currentimage: string | null;
  reasons: string[];
}

async function ok(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const result = await exec(file, args, env);
  assert.equal(result.code, 0, `${file} ${args.join(' ')}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

test('VCL cycle on lab VMs: load A, node_status READY, a file written over SSH, capture B, load B elsewhere, power_off RELOAD, get_image_size', {
  timeout: 1_200_000,
}, async (t) => {
  if (!havePeers(t, 'qemu-system-x86_64', 'ssh', 'du', 'perl', ...DISK_IMAGE_PEERS)) return;
  const data = labData(t);
  const server = await startServer(data, ['--power-sync-interval', '0']);
  t.after(() => server.stop());
  const vcl = (...args: string[]) => exec(ANVIL, ['vcl', '--data', data, ...args]);

  const vms = [
    { name: 'vcl1', mac: '52:54:00:c1:00:01', ssh: await freeTcpPort(), bmc: await freeUdpPort() },
    { name: 'vcl2', mac: '52:54:00:c1:00:02', ssh: await freeTcpPort(), bmc: await freeUdpPort() },
  ];
  for (const vm of vms) {
    const created = await ok(
      ANVIL,
      [
        'lab',
        'vm',
        'create',
        vm.name,
        '--mac',
        vm.mac,
        '--disk',
        '64M',
        '--memory',
        '384',
        '--bmc-port',
        String(vm.bmc),
        '--ssh-port',
        String(vm.ssh),
        '--enroll',
        '--data',
        data,
      ],
      { ANVIL_BMC_PASSWORD: PASSWORD },
    );
    assert.match(created, new RegExp(`SSH at 127\\.0\\.0\\.1:${vm.ssh}`));
  }
  await startLabUp(
    t,
    data,
    vms.map((vm) => `${vm.name}: `),
  );

  // The deployed system: the tiny Linux on a FAT disk, serving SSH and staying up.
  const image = buildDiskImage({ server: GUEST_ANVIL, append: 'anvil.run=none anvil.localboot=0 anvil.ssh=1' });
  await ok(ANVIL, ['image', 'upload', image.path, '--name', 'vcl-a', '--sha256', image.sha256, '--data', data]);

  /** node_status until it says READY (the disk boots after the load), or its last answer. */
  const readyStatus = async (machine: string): Promise<NodeStatus> => {
    let status: NodeStatus | undefined;
    for (let i = 0; i < 120; i++) {
      const r = await vcl('--json', 'node_status', machine);
      status = JSON.parse(r.stdout) as NodeStatus;
      if (status.status === 'READY') return status;
      await sleep(2000);
    }
    assert.fail(`${machine} never READY: ${JSON.stringify(status)}\n${server.logs().slice(-3000)}`);
  };
  const key = join(data, 'ssh/id_ed25519');

  const loaded = await vcl('--json', 'load', 'vcl1', 'vcl-a');
  assert.equal(JSON.parse(loaded.stdout).result, 1, `${loaded.stdout}\n${loaded.stderr}\n${server.logs().slice(-3000)}`);
  assert.equal(JSON.parse(loaded.stdout).deployment.currentimage, 'written /dev/vda1 vfat');
  const one = await readyStatus('vcl1');
  assert.deepEqual(
    [one.ping, one.ssh, one.rpower, one.nodeset, one.nodetype, one.currentimage, one.reasons],
    [1, 1, 1, 'boot', 'vcl-a', 'vcl-a', []],
    JSON.stringify(one),
  );
  assert.equal((await vcl('get_current_image', 'vcl1')).stdout, 'vcl-a\n');

  // A file on the running machine, written over SSH with the site's key; sync before the capture powers it off.
  await sshRun(vms[0]!.ssh, key, 'echo cycle-marker-11 > /root/marker.txt && sync');
  const captured = await vcl('capture', 'vcl1', 'vcl-b');
  assert.equal(captured.stdout, '1\n', `${captured.stderr}\n${server.logs().slice(-3000)}`);

  const second = await vcl('load', 'vcl2', 'vcl-b');
  assert.equal(second.stdout, '1\n', `${second.stderr}\n${server.logs().slice(-3000)}`);
  const two = await readyStatus('vcl2');
  assert.equal(two.currentimage, 'vcl-b', 'the load wrote currentimage.txt over the captured one');
  assert.equal(await sshRun(vms[1]!.ssh, key, 'cat /root/marker.txt'), 'cycle-marker-11\n', 'the file came with the captured disk');

  assert.equal((await vcl('power_off', 'vcl1')).stdout, '1\n');
  const off = await vcl('--json', 'node_status', 'vcl1');
  const offStatus = JSON.parse(off.stdout) as NodeStatus;
  assert.equal(offStatus.status, 'RELOAD');
  assert.equal(offStatus.rpower, 0);
  assert.ok(
    offStatus.reasons.some((r) => r.startsWith('rpower:')),
    JSON.stringify(offStatus.reasons),
  );

  // VCL's get_image_size: du -c of the image's files in KiB, / 1024.
  const file = readdirSync(join(data, 'images')).find((f) => f.startsWith('vcl-b-'));
  assert.ok(file, 'the captured image is in the library');
  const kib = Number(
    execFileSync('du', ['-c', join(data, 'images', file)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .at(-1)
      ?.split('\t')[0],
  );
  assert.equal((await vcl('get_image_size', 'vcl-b')).stdout, `${Math.floor(kib / 1024)}\n`);

  // VCL's side: the wrapper module in Perl, against the same anvil.
  const token = (await ok(ANVIL, ['token', 'create', '--role', 'admin', '--data', data])).trim();
  const between = `ssh -i ${key} -p ${vms[1]!.ssh} -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR root@127.0.0.1 'echo perl-marker-11 > /root/perl.txt && sync'`;
  const perl = await exec('perl', [join(ROOT, 'examples/vcl/cycle.pl'), 'vcl2', 'vcl1', 'vcl-b', 'vcl-c'], {
    ANVIL_URL: server.url,
    ANVIL_TOKEN: token,
    ANVIL_BETWEEN: between,
  });
  const said = `${perl.stdout}\n${perl.stderr}\n${server.logs().slice(-2000)}`;
  assert.equal(perl.code, 0, said);
  for (const line of [
    'load vcl2 vcl-b: 1',
    'node_status vcl2: status=READY ping=1 ssh=1 rpower=1 nodeset=boot nodetype=vcl-b currentimage=vcl-b',
    'get_current_image vcl2: vcl-b',
    'capture vcl2 vcl-c: 1',
    'load vcl1 vcl-c: 1',
    'node_status vcl1: status=READY ping=1 ssh=1 rpower=1 nodeset=boot nodetype=vcl-c currentimage=vcl-c',
    'power_off vcl2: 1',
  ])
    assert.ok(perl.stdout.includes(`${line}\n`), `${line}\n${said}`);
  assert.match(perl.stdout, /get_image_size vcl-c: [1-9]\d*\n/);
  assert.match(perl.stdout, /node_status vcl2: status=RELOAD .*rpower=0[^]*reason: rpower: /);
  assert.equal(await sshRun(vms[0]!.ssh, key, 'cat /root/perl.txt /root/marker.txt'), 'perl-marker-11\ncycle-marker-11\n', 'both files came along');
});
