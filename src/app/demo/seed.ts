// The demo lab's content: a few boot profiles, test scripts and machines, written into a
// data directory the first time the demo runs there (never over a user's own files).
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Services } from '../compose.ts';

export const DEMO_PROFILES: Record<string, string> = {
  'local.prof': 'DEFAULT local\nLABEL local\n  LOCALBOOT 0\n',
  'install.prof': [
    'DEFAULT install',
    'LABEL install',
    '  KERNEL debian/vmlinuz',
    '  INITRD debian/initrd.gz',
    '  APPEND auto=true priority=critical url={{ server }}/preseed/{{ system }}.cfg console=ttyS0',
    '',
  ].join('\n'),
  'rescue.prof':
    '#!ipxe\nkernel {{ server }}/artifacts/rescue/vmlinuz console=ttyS0 rescue/enable=true\ninitrd {{ server }}/artifacts/rescue/initrd.gz\nboot\n',
};

export const DEMO_TESTS: Record<string, string> = {
  'wait.test': '#!/bin/sh\n# Nothing queued for {{ system }}: wait, then ask again.\nsleep 3\n',
  'hello.test': [
    '#!/bin/sh',
    '# Run {{ log }} of {{ testname }} on {{ system }} ({{ mac }}), from {{ server }}',
    'echo "I: hello from {{ system }}"',
    'echo "I: kernel $(uname -r)"',
    // The minute without its leading zero: sh reads 08 and 09 as bad octal, and the V: line was lost.
    'm=$(date +%M); echo "V: demo-os 1.$(( ${m#0} % 3 ))"',
    '',
  ].join('\n'),
  'disk.test': [
    '#!/bin/sh',
    '# A disk check: real machines would run smartctl here.',
    'echo "I: checking disks on {{ system }}"',
    'for d in sda sdb; do',
    '  r=$(od -An -N1 -tu1 /dev/urandom | tr -d " ")',
    '  if [ "$r" -lt 40 ]; then echo "E: /dev/$d: reallocated sectors $r"; elif [ "$r" -lt 90 ]; then echo "W: /dev/$d: temperature high"; else echo "I: /dev/$d: SMART ok"; fi',
    'done',
    '',
  ].join('\n'),
  'memtest.test': [
    '#!/bin/sh',
    'echo "I: memtest pass 1 on {{ system }}"',
    'r=$(od -An -N1 -tu1 /dev/urandom | tr -d " ")',
    'if [ "$r" -lt 30 ]; then echo "E: bit flip at 0x$(printf %x $((r * 4096)))"; else echo "I: no errors"; fi',
    '',
  ].join('\n'),
};

export interface DemoMachine {
  readonly name: string;
  readonly mac: string;
}

export const DEMO_MACHINES: readonly DemoMachine[] = Array.from({ length: 5 }, (_, i) => ({
  name: `demo-${String(i + 1).padStart(2, '0')}`,
  mac: `52:54:00:de:00:${String(i + 1).padStart(2, '0')}`,
}));

function writeIfMissing(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    const path = join(dir, name);
    if (!existsSync(path)) writeFileSync(path, text);
  }
}

/** Writes the demo's profiles and tests where missing, syncs them and enrolls the demo machines. */
export async function seedDemo(services: Services): Promise<void> {
  writeIfMissing(services.paths.profiles, DEMO_PROFILES);
  writeIfMissing(services.paths.tests, DEMO_TESTS);
  await services.profiles.sync(services.clock().toISOString());
  await services.testing.sync();
  for (const [i, m] of DEMO_MACHINES.entries()) {
    if (await services.machines.byName(m.name)) continue;
    await services.machines.add(m.name, [m.mac]);
    if (i % 2 === 0) await services.nextBoot.set(m.name, 'install', { once: true, reason: 'demo' });
    const machine = await services.machines.find(m.name);
    await services.testing.queue(machine, ['hello', 'disk', 'memtest']);
  }
}
