import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildAgentIso, ISOLINUX_FILES } from './agent-iso.ts';
import { havePeers, requireCondition } from '../../test/helpers/peers.ts';

test('the agent ISO: El Torito boots ISOLINUX, which loads the kernel and initrd with the command line; the ISO is 0600', async (t) => {
  if (!havePeers(t, 'xorriso')) return;
  if (!requireCondition(t, existsSync(ISOLINUX_FILES.bin), `${ISOLINUX_FILES.bin} is missing (Debian's isolinux)`)) return;
  const dir = mkdtempSync(join(tmpdir(), 'anvil-iso-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'k'), 'kernel bytes');
  writeFileSync(join(dir, 'i'), 'initrd bytes');
  const out = join(dir, 'agent.iso');
  await buildAgentIso(out, { kernel: join(dir, 'k'), initrd: join(dir, 'i'), cmdline: 'console=ttyS0 anvil.server=10.0.2.100:80 anvil.token=SECRET' });
  assert.equal(statSync(out).mode & 0o777, 0o600);
  const report = execFileSync('xorriso', ['-indev', out, '-report_el_torito', 'plain'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.match(report, /El Torito boot img : +1 +BIOS +y +none/, report);
  const extract = (path: string) => {
    execFileSync('xorriso', ['-osirrox', 'on', '-indev', out, '-extract', path, join(dir, 'x')], { stdio: 'ignore' });
    const text = readFileSync(join(dir, 'x'), 'utf8');
    rmSync(join(dir, 'x'), { force: true });
    return text;
  };
  assert.match(
    extract('/isolinux/isolinux.cfg'),
    /KERNEL \/vmlinuz\n {2}APPEND initrd=\/initrd\.gz console=ttyS0 anvil\.server=10\.0\.2\.100:80 anvil\.token=SECRET\n/,
  );
  assert.equal(extract('/vmlinuz'), 'kernel bytes');
  assert.equal(extract('/initrd.gz'), 'initrd bytes');
  await assert.rejects(buildAgentIso(join(dir, 'b.iso'), { kernel: join(dir, 'k'), initrd: join(dir, 'i'), cmdline: 'a\nb' }), /must be one line/);
});
