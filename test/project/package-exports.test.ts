// anvil/ipmi, anvil/ipmi/server, anvil/amt and anvil/redfish as another project gets them: `npm pack`, the
// tarball unpacked into the project's node_modules (where Node strips no types, so the
// package must carry JavaScript), imported from plain JavaScript that drives the emulators
// with the clients, and type-checked from TypeScript through the shipped declarations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execFile } from 'node:child_process';
import { tempDir } from '../helpers/anvil-process.ts';

const ROOT = resolve(import.meta.dirname, '../..');

function exec(file: string, args: readonly string[], options: { cwd?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(file, args, { ...options, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr: stderr || (error?.message ?? '') });
    });
  });
}

const CONSUMER_JS = `
import { IpmiClient } from 'anvil/ipmi';
import { BmcServer, MemoryBmcHandler } from 'anvil/ipmi/server';
import { AmtClient, AmtEmulator, MemoryAmtHandler } from 'anvil/amt';
import { RedfishClient, RedfishEmulator } from 'anvil/redfish';

const server = new BmcServer();
const { port } = await server.add({ port: 0, handler: new MemoryBmcHandler({ user: 'admin', password: 'pk-pw', power: 'on' }) });
const client = new IpmiClient();
const bmc = client.bmc({ host: '127.0.0.1', port, user: 'admin', password: 'pk-pw' });
const ipmi = await bmc.getPowerState();
await bmc.setPower('off');
const ipmiAfter = await bmc.getPowerState();
await client.close();
await server.close();

const emulator = new AmtEmulator({ password: 'Amt-pk-1!', address: '127.0.0.1', port: 0, handler: new MemoryAmtHandler() });
const amtPort = (await emulator.listen()).port;
const amt = await new AmtClient({ host: '127.0.0.1', port: amtPort, password: 'Amt-pk-1!' }).getPowerState();
await emulator.close();

const rfe = new RedfishEmulator({ password: 'Rf-pk-1' });
const { url } = await rfe.listen();
const rf = new RedfishClient({ url, username: 'admin', password: 'Rf-pk-1' });
await rf.reset('On');
const redfish = await rf.getPowerState();
await rf.close();
await rfe.close();
console.log(JSON.stringify({ ipmi, ipmiAfter, amt, redfish }));
`;

const CONSUMER_TS = `
import { IpmiClient, IpmiError } from 'anvil/ipmi';
import { AmtClient } from 'anvil/amt';
import { RedfishClient, RedfishError } from 'anvil/redfish';
const client: IpmiClient = new IpmiClient();
const state: Promise<'on' | 'off'> = client.bmc({ host: 'h', user: 'u', password: 'p' }).getPowerState();
const code: string = new IpmiError('x').code;
const rf: Promise<string> = new RedfishClient({ url: 'https://h' }).getPowerState();
const rfCode: string = new RedfishError('REDFISH_HTTP', 'x').code;
export const used = [state, code, AmtClient, rf, rfCode];
`;

test('npm pack ships anvil/ipmi, anvil/ipmi/server, anvil/amt and anvil/redfish as JavaScript with types, usable from another project', {
  timeout: 300_000,
}, async () => {
  const dir = tempDir();
  const pack = await exec('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: ROOT });
  assert.equal(pack.code, 0, pack.stderr);
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, `npm pack wrote no tarball: ${pack.stdout}`);

  // consumer/node_modules/anvil is the unpacked tarball; anvil's own dependencies come from
  // the directory above, as a hoisted install would have them.
  const consumer = join(dir, 'consumer');
  mkdirSync(join(consumer, 'node_modules/anvil'), { recursive: true });
  assert.equal((await exec('tar', ['-xzf', join(dir, tarball), '-C', join(consumer, 'node_modules/anvil'), '--strip-components=1'])).code, 0);
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
  writeFileSync(join(consumer, 'main.js'), CONSUMER_JS);
  const run = await exec(process.execPath, ['main.js'], { cwd: consumer });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), { ipmi: 'on', ipmiAfter: 'off', amt: 'off', redfish: 'On' });

  writeFileSync(join(consumer, 'check.ts'), CONSUMER_TS);
  writeFileSync(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'es2024',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        strict: true,
        noEmit: true,
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules/@types')],
      },
      files: ['check.ts'],
    }),
  );
  const tsc = await exec(join(ROOT, 'node_modules/.bin/tsc'), ['-p', consumer], { cwd: consumer });
  assert.equal(tsc.code, 0, tsc.stdout + tsc.stderr);
});
