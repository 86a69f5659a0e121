// The deploy engine end to end in one process, with the agent played by the test over HTTP
// (the real agent in QEMU is test/provisioning/agent.test.ts and the lab deploys): image
// upload, states, the boot answer while deploying, the agent's protocol, the checksum, the
// boot from disk, 403s for every token but the live one, deadlines and restarts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { zstdCompressSync } from 'node:zlib';
import { testAnvil, type TestAnvil } from '../helpers/anvil-inproc.ts';
import { Xxh64 } from '../../src/provisioning/xxh64.ts';
import { answerFields, fakeAgentBuild } from '../helpers/agent-server.ts';

const MAC = '52:54:00:d0:00:01';

async function setUp(t: Parameters<typeof testAnvil>[0], options: { deployTimeoutS?: number } = {}) {
  const anvil = await testAnvil(t, { agentBuild: fakeAgentBuild(), powerSync: false, ...options });
  assert.equal((await anvil.api('/api/v1/machines', { method: 'POST', json: { name: 'd1', macs: [MAC] } })).status, 201);
  assert.equal((await anvil.api('/api/v1/machines/d1', { method: 'PATCH', json: { driver: 'fake' } })).status, 200);
  return anvil;
}

async function upload(anvil: TestAnvil, name: string, body: Buffer, query = ''): Promise<Response> {
  return anvil.api(`/api/v1/images/${name}${query}`, { method: 'PUT', body: new Uint8Array(body) });
}

/** The agent's side of the protocol. */
function agent(anvil: TestAnvil, token: string) {
  const call = async (path: string, body?: string) => {
    const r = await fetch(`${anvil.url}/agent/v1/${path}`, { method: body === undefined ? 'GET' : 'POST', headers: { 'x-anvil-token': token }, body });
    return { status: r.status, text: await r.text() };
  };
  return { call, fields: answerFields };
}

/** The token the boot answer hands the machine, read from its iPXE script. */
async function bootToken(anvil: TestAnvil): Promise<{ script: string; token: string }> {
  const script = await (await fetch(`${anvil.url}/boot/${MAC}`)).text();
  const token = /anvil\.token=(\S+)/.exec(script)?.[1];
  assert.ok(token, script);
  return { script, token };
}

const provision = async (anvil: TestAnvil) =>
  (await (await anvil.api('/api/v1/machines/d1/provision')).json()) as {
    provisionState: string;
    image: string | null;
    error: string | null;
    deployment?: { state: string; bytesDone: number; phase: string; error: string | null; currentimage: string | null };
  };

test('a deploy: uploaded image, agent boot, hello, streamed image, progress, checksum, boot from disk, active', async (t) => {
  const anvil = await setUp(t);
  const disk = randomBytes(3 * 1024 * 1024);
  const sha = createHash('sha256').update(disk).digest('hex');
  const compressed = zstdCompressSync(disk);
  let r = await upload(anvil, 'img-z', compressed, `?sha256=${sha}`);
  assert.equal(r.status, 201, await r.clone().text());
  const image = (await r.json()) as { format: string; virtualSize: number; storedSize: number; sha256: string };
  assert.deepEqual([image.format, image.virtualSize, image.storedSize, image.sha256], ['zstd', disk.length, compressed.length, sha]);

  r = await anvil.api('/api/v1/machines/d1/provision', { method: 'PUT', json: { target: 'deploy', image: 'img-z' } });
  assert.equal(r.status, 202, await r.clone().text());
  assert.equal(((await r.json()) as { provisionState: string }).provisionState, 'wait-callback');
  const fake = anvil.services.control.types.fake.machine('d1');
  assert.equal(fake.power, 'on');
  assert.deepEqual(fake.boots, ['pxe'], 'powered on into the network once');

  const { script, token } = await bootToken(anvil);
  assert.match(
    script,
    /kernel http:\/\/127\.0\.0\.1:\d+\/tftp\/anvil-agent\/vmlinuz initrd=initrd\.gz console=tty0 console=ttyS0 anvil\.server=127\.0\.0\.1:\d+ anvil\.agent=1 anvil\.token=anvilagent_/,
  );
  const log = (await (await anvil.api('/api/v1/machines/d1/boot-log')).json()) as Array<{ profile: string }>;
  assert.equal(log[0]?.profile, 'anvil agent (deploy img-z)');
  assert.ok(!JSON.stringify(log).includes(token), 'the boot log never holds the token');
  assert.equal(await (await fetch(`${anvil.url}/tftp/anvil-agent/initrd.gz`)).text(), 'initrd');

  const a = agent(anvil, token);
  const hello = await a.call('hello', `mac=${MAC}\ndisk=vda\ndisk.vda.size=${64 << 20}\ndisk.vdb.size=1\ndisk=vdb\nkernel=6.1\nagent=1\n`);
  assert.equal(hello.status, 200, hello.text);
  const answer = a.fields(hello.text);
  assert.deepEqual(
    [answer.action, answer.device, answer.image_url, answer.format, answer.size, answer.sha256, answer.progress_interval, answer.login_home],
    ['deploy', '/dev/vda', `${anvil.url}/agent/v1/image`, 'zstd', String(disk.length), sha, '2', '/root'],
  );
  assert.match(answer.authorized_key ?? '', /^ssh-ed25519 AAAA\S+ anvil@/, 'the site key, made at the first deploy');
  const currentimage = hello.text
    .split('\n')
    .filter((l) => l.startsWith('currentimage='))
    .map((l) => l.slice('currentimage='.length));
  assert.deepEqual(currentimage.slice(0, 3), ['img-z', 'id=1', 'prettyname=img-z']);
  assert.ok(currentimage.includes('computer_hostname=d1'));
  assert.equal((await provision(anvil)).provisionState, 'deploying');
  const got = await fetch(`${anvil.url}/agent/v1/image`, { headers: { 'x-anvil-token': token } });
  assert.deepEqual(Buffer.from(await got.arrayBuffer()), compressed);
  assert.equal((await a.call('progress', 'phase=write\nbytes=1048576\n')).status, 200);
  assert.deepEqual([(await provision(anvil)).deployment?.phase, (await provision(anvil)).deployment?.bytesDone], ['write', 1048576]);

  const result = await a.call(
    'result',
    `status=ok\nphase=done\nsha256=${sha}\nbytes=${disk.length}\nwrite_seconds=1.5\ncurrentimage=skipped no ext4 or FAT filesystem on /dev/vda or its partitions\n`,
  );
  assert.deepEqual(a.fields(result.text), { action: 'wait' });
  await anvil.services.provisioner.stop();
  const done = await provision(anvil);
  assert.deepEqual([done.provisionState, done.image, done.deployment?.state], ['active', 'img-z', 'done']);
  assert.equal(
    done.deployment?.currentimage,
    'skipped no ext4 or FAT filesystem on /dev/vda or its partitions',
    'what the agent said of currentimage.txt is kept',
  );
  assert.deepEqual(fake.boots, ['pxe', 'disk'], 'power-cycled into its disk');
  assert.equal(fake.persistent, true);
  assert.match(await (await fetch(`${anvil.url}/boot/${MAC}`)).text(), /d1 boots from its local disk/);
  // The token died with the deploy.
  assert.equal((await a.call('progress', 'phase=write\nbytes=1\n')).status, 403);
  assert.equal((await fetch(`${anvil.url}/agent/v1/image`, { headers: { 'x-anvil-token': token } })).status, 403);

  const events = (await (await anvil.api('/api/v1/machines/d1/events')).json()) as Array<{ kind: string; message: string }>;
  const transitions = events
    .filter((e) => e.kind === 'provision')
    .map((e) => e.message.split(' (')[0])
    .reverse();
  assert.deepEqual(
    transitions.filter((m) => m?.includes('→')),
    ['available → deploying', 'deploying → wait-callback', 'wait-callback → deploying', 'deploying → active'],
  );
  assert.ok(transitions.includes('currentimage.txt: skipped no ext4 or FAT filesystem on /dev/vda or its partitions'), transitions.join('\n'));
  assert.equal((await anvil.api('/api/v1/images/img-z', { method: 'DELETE' })).status, 204, 'an image nobody deploys can go');
});

test('refusals: wrong tokens, a checksum mismatch, a disk too small, a state that does not allow the verb, an image in use', async (t) => {
  const anvil = await setUp(t);
  const disk = randomBytes(1 << 20);
  assert.equal((await upload(anvil, 'img', disk)).status, 201);
  let r = await upload(anvil, 'img', disk);
  assert.equal(r.status, 409);
  r = await upload(anvil, 'other', disk, `?sha256=${'0'.repeat(64)}`);
  assert.equal(r.status, 400);
  assert.match(
    ((await r.json()) as { error: { message: string } }).error.message,
    /does not match sha256 0{64}: the file received has [0-9a-f]{64}; nothing was stored/,
  );
  assert.equal((await anvil.api('/api/v1/images/other')).status, 404);

  r = await anvil.api('/api/v1/machines/d1/provision', { method: 'PUT', json: { target: 'undeploy' } });
  assert.equal(r.status, 409);
  assert.match(
    ((await r.json()) as { error: { message: string } }).error.message,
    /machine 'd1' is available: it cannot undeploy from there; from available it can deploy and manage/,
  );
  r = await anvil.api('/api/v1/machines/d1/provision', { method: 'PUT', json: { target: 'deploy' } });
  assert.equal(r.status, 400);

  assert.equal((await anvil.api('/api/v1/machines/d1/provision', { method: 'PUT', json: { target: 'deploy', image: 'img' } })).status, 202);
  assert.equal((await anvil.api('/api/v1/images/img', { method: 'DELETE' })).status, 409, 'in use');
  const { token } = await bootToken(anvil);
  for (const bad of [undefined, 'anvilagent_wrong', token.slice(0, -1)]) {
    const res = await fetch(`${anvil.url}/agent/v1/hello`, { method: 'POST', headers: bad ? { 'x-anvil-token': bad } : {}, body: `mac=${MAC}\n` });
    assert.equal(res.status, 403, String(bad));
  }
  assert.equal((await provision(anvil)).provisionState, 'wait-callback', 'refused requests changed nothing');
  const a = agent(anvil, token);
  const hello = await a.call('hello', `mac=${MAC}\ndisk=vda\ndisk.vda.size=4096\n`);
  assert.deepEqual(a.fields(hello.text), { action: 'stop', message: `the image of ${disk.length} bytes fits none of the machine's disks: vda (4096 bytes)` });
  let view = await provision(anvil);
  assert.deepEqual([view.provisionState, view.deployment?.state], ['deploy-failed', 'failed']);
  assert.match(view.error ?? '', /fits none of the machine's disks/);
  assert.equal(anvil.services.control.types.fake.machine('d1').power, 'off', 'a failed deploy powers the machine off');

  // Deploy again from deploy-failed; this time the read-back does not match.
  assert.equal((await anvil.api('/api/v1/machines/d1/provision', { method: 'PUT', json: { target: 'deploy', image: 'img' } })).status, 202);
  const second = agent(anvil, (await bootToken(anvil)).token);
  await second.call('hello', `mac=${MAC}\ndisk=vda\ndisk.vda.size=${1 << 30}\n`);
  const result = await second.call('result', `status=ok\nsha256=${'a'.repeat(64)}\n`);
  assert.deepEqual(second.fields(result.text), { action: 'poweroff' });
  view = await provision(anvil);
  assert.equal(view.provisionState, 'deploy-failed');
  assert.match(view.error ?? '', /checksum mismatch: the agent read back sha256 a{64} from \/dev\/vda/);

  // The agent's own failure, in its words.
  assert.equal((await anvil.api('/api/v1/machines/d1/provision', { method: 'PUT', json: { target: 'deploy', image: 'img' } })).status, 202);
  const third = agent(anvil, (await bootToken(anvil)).token);
  await third.call('hello', `mac=${MAC}\ndisk=vda\ndisk.vda.size=${1 << 30}\n`);
  await third.call('result', 'status=failed\nphase=write\nmessage=dd: error writing /dev/vda: Input/output error\n');
  assert.match((await provision(anvil)).error ?? '', /the agent failed in write: dd: error writing \/dev\/vda: Input\/output error/);
  r = await anvil.api('/api/v1/machines/d1/provision', { method: 'PUT', json: { target: 'undeploy' } });
  assert.equal(r.status, 200);
  assert.equal(((await r.json()) as { provisionState: string }).provisionState, 'available');
});

test('a deploy past its deadline fails with the reason, and abort ends one at once', async (t) => {
  const anvil = await setUp(t);
  assert.equal((await upload(anvil, 'img', randomBytes(4096))).status, 201);
  assert.equal((await anvil.api('/api/v1/machines/d1/provision', { method: 'PUT', json: { target: 'deploy', image: 'img', timeout: 1 } })).status, 202);
  const { token } = await bootToken(anvil);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  assert.deepEqual(await anvil.services.provisioner.expire(), ['d1']);
  const view = await provision(anvil);
  assert.equal(view.provisionState, 'deploy-failed');
  assert.match(view.error ?? '', /the deploy did not finish within 1 s; no progress reported \(wait-callback\)/);
  assert.equal((await agent(anvil, token).call('hello', `mac=${MAC}\n`)).status, 403);

  assert.equal((await anvil.api('/api/v1/machines/d1/provision', { method: 'PUT', json: { target: 'deploy', image: 'img' } })).status, 202);
  const r = await anvil.api('/api/v1/machines/d1/provision', { method: 'PUT', json: { target: 'abort' } });
  assert.equal(r.status, 200);
  assert.deepEqual(((await r.json()) as { provisionState: string; error: string }).provisionState, 'deploy-failed');
  assert.match(await (await fetch(`${anvil.url}/boot/${MAC}`)).text(), /boots from its local disk|booting/, 'no agent once aborted');
});

test('after a restart a deploy in flight is resumed, one that was starting is failed, and nothing stays transient', async (t) => {
  const anvil = await setUp(t);
  const { machines, provisioner, store } = anvil.services;
  assert.equal((await upload(anvil, 'img', randomBytes(4096))).status, 201);
  assert.equal((await anvil.api('/api/v1/machines', { method: 'POST', json: { name: 'd2', macs: ['52:54:00:d0:00:02'] } })).status, 201);
  assert.equal((await anvil.api('/api/v1/machines/d2', { method: 'PATCH', json: { driver: 'fake' } })).status, 200);
  assert.equal((await anvil.api('/api/v1/machines/d1/provision', { method: 'PUT', json: { target: 'deploy', image: 'img' } })).status, 202);
  assert.equal((await anvil.api('/api/v1/machines/d2/provision', { method: 'PUT', json: { target: 'deploy', image: 'img' } })).status, 202);
  // d2's deploy as a kill -9 in its first step would leave it.
  const d2 = (await machines.byName('d2'))!;
  await store.db.updateTable('deployments').set({ state: 'starting' }).where('machine_id', '=', d2.id).execute();
  await store.db.updateTable('machines').set({ provision_state: 'deploying' }).where('id', '=', d2.id).execute();
  const report = await provisioner.recover();
  assert.deepEqual(report.map((r) => [r.machine, r.outcome]).sort(), [
    ['d1', 'resumed: waiting for the agent (wait-callback)'],
    ['d2', 'failed: stopped while starting'],
  ]);
  assert.equal((await machines.byName('d2'))?.provision_state, 'deploy-failed');
  assert.equal((await machines.byName('d1'))?.provision_state, 'wait-callback');
});

test('a capture: the disk arrives zstd-compressed, is hashed as it arrives, and becomes an image only when the agent agrees', async (t) => {
  const anvil = await setUp(t);
  const { store, machines, images } = anvil.services;
  const d1 = (await machines.byName('d1'))!;
  await store.db.updateTable('machines').set({ provision_state: 'active' }).where('id', '=', d1.id).execute();
  const disk = Buffer.concat([randomBytes(1 << 20), Buffer.alloc(7 << 20), randomBytes(4096)]);
  const sha = createHash('sha256').update(disk).digest('hex');
  const sum = await Xxh64.create();
  sum.update(disk);
  const xxh = sum.hex();

  let r = await anvil.api('/api/v1/machines/d1/provision', { method: 'PUT', json: { target: 'capture', image: 'snap', notes: 'after the run' } });
  assert.equal(r.status, 202, await r.clone().text());
  assert.equal(((await r.json()) as { provisionState: string }).provisionState, 'capture-wait');
  const { token } = await bootToken(anvil);
  const a = agent(anvil, token);
  const hello = await a.call('hello', `mac=${MAC}\ndisk=vda\ndisk.vda.size=${disk.length}\n`);
  assert.deepEqual(a.fields(hello.text), {
    action: 'capture',
    device: '/dev/vda',
    size: String(disk.length),
    upload_url: `${anvil.url}/agent/v1/capture`,
    progress_interval: '2',
  });
  assert.equal((await provision(anvil)).provisionState, 'capturing');
  assert.equal((await fetch(`${anvil.url}/agent/v1/image`, { headers: { 'x-anvil-token': token } })).status, 400, 'a capture has no image to fetch');

  const compressed = zstdCompressSync(disk);
  const put = await fetch(`${anvil.url}/agent/v1/capture`, { method: 'PUT', headers: { 'x-anvil-token': token }, body: new Uint8Array(compressed) });
  assert.equal(put.status, 200);
  assert.deepEqual(a.fields(await put.text()), { sha256: sha, xxh64: xxh, bytes: String(disk.length) });
  assert.equal((await images.list()).length, 0, 'nothing visible before the agent agrees');
  const done = await a.call('result', `status=ok\nphase=done\nxxh64=${xxh}\nbytes=${disk.length}\nsent=${compressed.length}\nread_seconds=2.50\n`);
  assert.deepEqual(a.fields(done.text), { action: 'wait' });
  await anvil.services.provisioner.stop();
  assert.equal((await provision(anvil)).provisionState, 'active');
  const snap = await images.show('snap');
  assert.deepEqual(
    [snap.format, snap.virtualSize, snap.sha256, snap.origin, snap.sourceMachine, snap.notes],
    ['zstd', disk.length, sha, 'capture', 'd1', 'after the run'],
  );
  assert.equal(snap.storedSize, compressed.length, 'zeros cost almost nothing');
  const events = (await (await anvil.api('/api/v1/machines/d1/events')).json()) as Array<{ message: string }>;
  assert.ok(
    events.some(
      (e) =>
        e.message === `captured /dev/vda into snap: ${disk.length} bytes read in 2.50 s, ${compressed.length} bytes zstd on the wire; the agent's xxh64 agreed`,
    ),
    events.map((e) => e.message).join('\n'),
  );
  assert.ok(snap.storedSize < (1 << 20) + 65536);

  // A capture whose agent disagrees (by XXH64; by SHA-256, as an agent built before XXH64 says it),
  // or names no checksum, leaves no image and no file.
  for (const [said, error] of [
    [`xxh64=${'0'.repeat(16)}`, new RegExp(`checksum mismatch: the agent read xxh64 0{16} from /dev/vda, anvil received ${xxh}`)],
    [`sha256=${'b'.repeat(64)}`, new RegExp(`checksum mismatch: the agent read sha256 b{64} from /dev/vda, anvil received ${sha}`)],
    ['bytes=1', /the agent reported no checksum of what it read \(neither xxh64= nor sha256=\)/],
  ] as const) {
    r = await anvil.api('/api/v1/machines/d1/provision', { method: 'PUT', json: { target: 'capture', image: 'bad' } });
    assert.equal(r.status, 202, await r.clone().text());
    const b = agent(anvil, (await bootToken(anvil)).token);
    await b.call('hello', `mac=${MAC}\ndisk=vda\ndisk.vda.size=${disk.length}\n`);
    await fetch(`${anvil.url}/agent/v1/capture`, {
      method: 'PUT',
      headers: { 'x-anvil-token': (await bootToken(anvil)).token },
      body: new Uint8Array(compressed),
    });
    await b.call('result', `status=ok\n${said}\n`);
    const view = await provision(anvil);
    assert.equal(view.provisionState, 'capture-failed');
    assert.match(view.error ?? '', error);
  }
  assert.deepEqual(
    (await images.list()).map((i) => i.name),
    ['snap'],
  );
  const { readdirSync } = await import('node:fs');
  assert.deepEqual(
    readdirSync(anvil.services.paths.images).filter((f) => f.startsWith('.incoming')),
    [],
  );
});
