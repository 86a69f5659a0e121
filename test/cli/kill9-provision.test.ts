// kill -9 of `anvil serve` while it provisions four machines at once (fake power driver; the
// agent's side of protocol v1 played by the test over HTTP, as test/provisioning/deploy-flow
// does in process): `dep` is deploying, its agent streaming the image; `cap` is capturing, its
// agent streaming the disk to anvil; `fin`'s deploy is finishing (the power cycle into its disk
// under way); `boot` is booting its agent, which has not called back. After the restart none is
// left in a transient state without a way out: `dep`'s deploy is resumed (its agent's token
// still works, the image streams again, the deploy ends active), `cap`'s capture failed with the
// reason as an event (no image, no temp file), `fin` booted its disk and is active, `boot`'s
// agent calls back to the new server and deploys. The database is whole before and after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request, get, type ClientRequest, type IncomingMessage } from 'node:http';
import { mkdirSync, rmSync } from 'node:fs';
import { zstdCompressSync } from 'node:zlib';
import { startServer, tempDir, type ServerProcess } from '../helpers/anvil-process.ts';
import { adminToken, assertDatabaseWhole, killHard, logLines, tempBytes, tempFiles, waitUntil } from '../helpers/kill9.ts';
import { answerFields, fakeAgentBuild } from '../helpers/agent-server.ts';

const MIB = 1024 * 1024;
/** Generous: only a hang reaches it. */
const TIMEOUT_MS = 300_000;
const STEP_MS = 120_000;
const TRANSIENT = ['deploying', 'wait-callback', 'undeploying', 'capturing', 'capture-wait'];

const MACS = { dep: '52:54:00:9b:00:01', cap: '52:54:00:9b:00:02', fin: '52:54:00:9b:00:03', boot: '52:54:00:9b:00:04' } as const;
type Name = keyof typeof MACS;

interface View {
  provisionState: string;
  image: string | null;
  error: string | null;
  deployment?: { state: string; kind: string; bytesDone: number };
}

test('kill -9 mid-deploy, mid-capture, mid-finish and mid-boot of an agent: after the restart each is resumed or failed with its reason, no partial image, no temp file', {
  timeout: TIMEOUT_MS,
}, async (t) => {
  const data = tempDir('anvil-kill9-provision-');
  mkdirSync(data, { recursive: true });
  const agentBuild = fakeAgentBuild('anvil-kill9-agent-');
  const env = { ANVIL_AGENT_BUILD: agentBuild };
  const token = await adminToken(data);
  let server: ServerProcess = await startServer(data, ['--power-sync-interval', '0'], env);
  t.after(() => server.stop());

  const api = async (path: string, init: { method?: string; json?: unknown; body?: Uint8Array } = {}) => {
    const r = await fetch(`${server.url}/api/v1${path}`, {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${token}`,
        ...(init.json !== undefined ? { 'content-type': 'application/json' } : init.body ? { 'content-type': 'application/octet-stream' } : {}),
      },
      body: init.json !== undefined ? JSON.stringify(init.json) : init.body,
    });
    return { status: r.status, json: (await r.json().catch(() => undefined)) as unknown };
  };
  const ok = async (path: string, init: Parameters<typeof api>[1] & { status?: number } = {}) => {
    const r = await api(path, init);
    assert.equal(r.status, init.status ?? 200, `${init.method ?? 'GET'} ${path}: ${JSON.stringify(r.json)}`);
    return r.json;
  };
  const view = async (name: Name) => (await ok(`/machines/${name}/provision`)) as View;
  const until = (name: Name, what: string, check: (v: View) => boolean) =>
    waitUntil(`${name} ${what}`, STEP_MS, async () => {
      const v = await view(name);
      return check(v) ? v : undefined;
    });
  /** The agent's token, from the boot answer the machine gets. */
  const agentToken = async (name: Name) => {
    const script = await (await fetch(`${server.url}/boot/${MACS[name]}`)).text();
    const found = /anvil\.token=(\S+)/.exec(script)?.[1];
    assert.ok(found, `${name} boots its agent: ${script}`);
    return found;
  };
  const agent = async (agentTokenValue: string, path: string, body: string) => {
    const r = await fetch(`${server.url}/agent/v1/${path}`, { method: 'POST', headers: { 'x-anvil-token': agentTokenValue }, body });
    return { status: r.status, text: await r.text() };
  };
  const hello = async (name: Name, tokenValue: string, diskSize: number) => {
    const r = await agent(tokenValue, 'hello', `mac=${MACS[name]}\ndisk=vda\ndisk.vda.size=${diskSize}\nkernel=6.1\nagent=1\n`);
    assert.equal(r.status, 200, r.text);
    return answerFields(r.text);
  };

  for (const name of Object.keys(MACS) as Name[]) {
    await ok('/machines', { method: 'POST', json: { name, macs: [MACS[name]] }, status: 201 });
    await ok(`/machines/${name}`, { method: 'PATCH', json: { driver: 'fake' } });
  }
  const big = randomBytes(16 * MIB);
  const bigSha = createHash('sha256').update(big).digest('hex');
  const tiny = randomBytes(MIB);
  const tinySha = createHash('sha256').update(tiny).digest('hex');
  await ok('/images/big', { method: 'PUT', body: new Uint8Array(big), status: 201 });
  await ok('/images/tiny', { method: 'PUT', body: new Uint8Array(tiny), status: 201 });

  // cap first becomes active with tiny, the whole way.
  await ok('/machines/cap/provision', { method: 'PUT', json: { target: 'deploy', image: 'tiny' }, status: 202 });
  const capDeploy = await agentToken('cap');
  assert.equal((await hello('cap', capDeploy, 64 * MIB)).action, 'deploy');
  assert.equal((await agent(capDeploy, 'result', `status=ok\nphase=done\nsha256=${tinySha}\nbytes=${tiny.length}\n`)).status, 200);
  await until('cap', 'active', (v) => v.provisionState === 'active');

  // fin: a deploy whose agent is done, caught in the power cycle into its disk (3 s per power change).
  await ok('/machines/fin/provision', { method: 'PUT', json: { target: 'deploy', image: 'tiny' }, status: 202 });
  const finToken = await agentToken('fin');
  await hello('fin', finToken, 64 * MIB);
  await ok('/machines/fin', { method: 'PATCH', json: { driver_info: { fake_power_delay_ms: 3000 } } });
  const finResult = await agent(finToken, 'result', `status=ok\nphase=done\nsha256=${tinySha}\nbytes=${tiny.length}\n`);
  assert.deepEqual(answerFields(finResult.text), { action: 'wait' });

  // boot: a deploy whose machine is booting its agent, which has not called back yet.
  await ok('/machines/boot/provision', { method: 'PUT', json: { target: 'deploy', image: 'tiny' }, status: 202 });

  // dep: its agent streams the image and reports the first MiB written, then reads no more.
  await ok('/machines/dep/provision', { method: 'PUT', json: { target: 'deploy', image: 'big' }, status: 202 });
  const depToken = await agentToken('dep');
  assert.deepEqual([(await hello('dep', depToken, 64 * MIB)).action], ['deploy']);
  let streamed = 0;
  let imageResponse: IncomingMessage | undefined;
  const imageRequest = get(`${server.url}/agent/v1/image`, { headers: { 'x-anvil-token': depToken } }, (res: IncomingMessage) => {
    imageResponse = res;
    res.on('data', (chunk: Buffer) => {
      streamed += chunk.length;
      if (streamed >= MIB) res.pause();
    });
    res.on('error', () => undefined);
  });
  imageRequest.on('error', () => undefined);
  await waitUntil('the image streaming to dep', STEP_MS, () => (streamed >= MIB ? true : undefined));
  assert.equal((await agent(depToken, 'progress', `phase=write\nbytes=${MIB}\n`)).status, 200);

  // cap: a capture whose agent has sent 2 MiB of the disk (zstd) and holds the rest.
  const capDisk = Buffer.concat([randomBytes(6 * MIB), Buffer.alloc(2 * MIB)]);
  const capStream = zstdCompressSync(capDisk);
  await ok('/machines/cap/provision', { method: 'PUT', json: { target: 'capture', image: 'snap' }, status: 202 });
  const capToken = await agentToken('cap');
  assert.equal((await hello('cap', capToken, capDisk.length)).action, 'capture');
  const put: ClientRequest = request(`${server.url}/agent/v1/capture`, { method: 'PUT', headers: { 'x-anvil-token': capToken } });
  const captureCut = new Promise<string>((resolve) => {
    put.on('error', (error) => resolve((error as NodeJS.ErrnoException).code ?? error.message));
    put.on('response', (res) => resolve(`answered ${res.statusCode}`));
    put.on('close', () => resolve('closed'));
  });
  put.write(capStream.subarray(0, 2 * MIB));
  await waitUntil('the capture arriving on disk', STEP_MS, () => (tempBytes(data, 'images') >= MIB ? true : undefined));

  const states = {
    dep: (await view('dep')).deployment?.state,
    cap: (await view('cap')).deployment?.state,
    fin: (await view('fin')).deployment?.state,
    boot: (await view('boot')).deployment?.state,
  };
  assert.deepEqual(states, { dep: 'writing', cap: 'reading', fin: 'finishing', boot: 'wait-callback' }, 'each is where the kill is to catch it');
  await killHard(server);
  assert.equal(imageResponse?.complete, false, 'the image was still streaming');
  imageRequest.destroy();
  const captureEnd = await captureCut;
  assert.ok(!captureEnd.startsWith('answered'), `the capture upload was cut: ${captureEnd}`);
  const left = tempFiles(data);
  t.diagnostic(`at the kill: deployments ${JSON.stringify(states)}; image streamed to dep: ${streamed} bytes; temp files the crash left: ${left.length}`);
  assert.equal(left.length, 1, `the crash left the capture's temp file: ${left.join(', ')}`);
  assertDatabaseWhole(data, 'after the kill');

  server = await startServer(data, ['--power-sync-interval', '0'], env);
  const recovered = Object.fromEntries(logLines(server.logs(), /provisioning after a restart/).map((l) => [String(l.machine), String(l.outcome)]));
  assert.deepEqual(recovered, {
    dep: 'resumed: waiting for the agent (writing)',
    cap: 'failed: its upload was cut',
    fin: 'resumed: booted from disk',
    boot: 'resumed: waiting for the agent (wait-callback)',
  });
  const sweptLine = logLines(server.logs(), /temp file\(s\)/)[0];
  assert.equal(sweptLine?.images, 1, server.logs());
  const afterRestart = tempFiles(data);
  assert.deepEqual(afterRestart, []);

  // cap: failed, with the reason, as an event; no image of the half-sent disk; its agent is refused.
  const cap = await view('cap');
  assert.deepEqual([cap.provisionState, cap.deployment?.state, cap.image], ['capture-failed', 'failed', 'tiny']);
  assert.match(cap.error ?? '', /anvil stopped while the capture's disk was arriving; capture again/);
  const capEvents = (await ok('/machines/cap/events')) as Array<{ kind: string; message: string }>;
  assert.ok(
    capEvents.some((e) => e.kind === 'provision' && /capturing → capture-failed .*anvil stopped while the capture's disk was arriving/.test(e.message)),
    JSON.stringify(capEvents.slice(0, 5)),
  );
  assert.equal((await api('/images/snap')).status, 404);
  assert.deepEqual(
    ((await ok('/images')) as Array<{ name: string }>).map((i) => i.name),
    ['big', 'tiny'],
  );
  assert.equal((await agent(capToken, 'progress', 'phase=read\nbytes=1\n')).status, 403, "the failed capture's token is dead");

  // boot: its agent, booted from the answer the restarted server gives, calls back and deploys.
  assert.equal((await view('boot')).provisionState, 'wait-callback');
  const bootToken = await agentToken('boot');
  assert.equal((await hello('boot', bootToken, 64 * MIB)).action, 'deploy');
  assert.deepEqual(answerFields((await agent(bootToken, 'result', `status=ok\nphase=done\nsha256=${tinySha}\nbytes=${tiny.length}\n`)).text), {
    action: 'wait',
  });
  await until('boot', 'active', (v) => v.provisionState === 'active' && v.deployment?.state === 'done');

  // fin: booted its disk during the restart.
  const fin = await view('fin');
  assert.deepEqual([fin.provisionState, fin.image, fin.deployment?.state], ['active', 'tiny', 'done']);

  // dep: resumed. Its agent fetches the image again with the same token, writes it and reports.
  const dep = await view('dep');
  assert.deepEqual([dep.provisionState, dep.deployment?.state], ['deploying', 'writing']);
  const depEvents = (await ok('/machines/dep/events')) as Array<{ message: string }>;
  assert.ok(depEvents.some((e) => /anvil restarted: resumed the deploy of big, waiting for its agent \(writing\)/.test(e.message)));
  const again = await fetch(`${server.url}/agent/v1/image`, { headers: { 'x-anvil-token': depToken } });
  assert.equal(again.status, 200);
  assert.equal(
    createHash('sha256')
      .update(Buffer.from(await again.arrayBuffer()))
      .digest('hex'),
    bigSha,
    'the whole image, unchanged',
  );
  assert.equal((await agent(depToken, 'progress', `phase=verify\nbytes=${big.length}\n`)).status, 200);
  assert.deepEqual(answerFields((await agent(depToken, 'result', `status=ok\nphase=done\nsha256=${bigSha}\nbytes=${big.length}\n`)).text), { action: 'wait' });
  await until('dep', 'active', (v) => v.provisionState === 'active' && v.deployment?.state === 'done');

  const stuck: string[] = [];
  for (const name of Object.keys(MACS) as Name[]) {
    const v = await view(name);
    if (TRANSIENT.includes(v.provisionState)) stuck.push(`${name}: ${v.provisionState}`);
  }
  t.diagnostic(`after the restart: ${JSON.stringify(recovered)}; transient states left: ${stuck.length}; temp files: ${afterRestart.length}`);
  assert.deepEqual(stuck, []);

  assert.equal(await server.stop(), 0);
  assertDatabaseWhole(data, 'after the restart');
  assert.deepEqual(tempFiles(data), []);
  rmSync(data, { recursive: true, force: true });
  rmSync(agentBuild, { recursive: true, force: true });
});
