// The demo lab on QEMU: a few demo machines are real VMs (TCG, a small disk) behind emulated
// IPMI BMCs served in the demo's own process, enrolled with the ipmi driver, and netbooting
// from the demo's anvil. They use QEMU's user-mode network (slirp) with restrict=on: its DHCP
// hands iPXE anvil's /boot/<mac> URL at a guest address that slirp relays to anvil (guestfwd,
// one relay process per connection), and nothing else leaves the VM, so the demo never touches
// the host's network. With what scripts/install builds (the deploy agent, the tiny Linux and its
// disk image) the demo uploads the image and deploys it to each VM, which then boots its disk
// and reports its tests (deployed-lab.ts); without them each VM netboots the tiny Linux, which
// runs the machine's next test on the serial console and powers off (the demo uploads it).
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Services } from '../compose.ts';
import type { LabVmDefinition } from '../../lab/definition.ts';
import { enrollLabVm } from '../enroll-lab-vm.ts';
import { DEFAULT_IPXE_ROM, QEMU_BINARY } from '../../lab/qemu-args.ts';
import { onPath } from '../../lab/disk-image.ts';
import { anvilNetdev, GUEST_ANVIL } from '../../lab/guest-network.ts';
import { LabStore } from '../../lab/store.ts';
import { startLab } from '../../lab/up.ts';
import type { RunningLab } from '../../lab/up.ts';
import type { LabPowerEvent, LabVm } from '../../lab/vm.ts';
import { ConsoleRunReader, resultOf } from '../../lab/demo/console-results.ts';
import type { ConsoleRun } from '../../lab/demo/console-results.ts';
import type { DemoMachine } from './seed.ts';
import { demoImageMissing, ensureDemoImage } from './image.ts';
import { DEMO_VM_REBOOT_MS, DEMO_WHO, deployedLife, nextOff, queueIfIdle } from './deployed-lab.ts';

/** How many demo machines are VMs by default: enough to watch, few enough for TCG on a laptop. */
export const DEFAULT_DEMO_VMS = 3;
/** Enough for the deploy agent, which holds the image's blocks in flight. */
export const DEMO_VM_MEMORY_MB = 384;
/** The VMs' disks: the demo image is 32 MiB. */
export const DEMO_VM_DISK = '64M';
export { DEMO_VM_REBOOT_MS };
/** Between the VMs' first power-ons, so TCG boots do not all compete at once. */
export const DEMO_VM_STAGGER_MS = 4_000;
/** The profile the demo writes for its VMs: the tiny Linux running the next test. */
export const DEMO_VM_PROFILE = 'lab-vm';
export { GUEST_ANVIL };
export const TINY_LINUX_DIR = fileURLToPath(new URL('../../../.tools/tiny-linux/', import.meta.url));

/** The first line of the profile, so the demo rewrites only its own. */
const PROFILE_MARK = '# anvil demo: the tiny Linux for the demo lab VMs';

export interface QemuLabMachine {
  readonly name: string;
  readonly mac: string;
  /** address:port of its emulated IPMI BMC. */
  readonly bmc: string;
}

export interface QemuLab {
  readonly machines: readonly QemuLabMachine[];
  /** The image deployed to the VMs, or undefined when it cannot be (`why`): they netboot `profile`. */
  readonly image: string | undefined;
  /** Why the VMs are not deployed, when they are not. */
  readonly why: string | undefined;
  /** The profile the VMs netboot when they are not deployed, or undefined when the tiny Linux is not built (they boot their seeded profile). */
  readonly profile: string | undefined;
  /**
   * Resolves when every VM is stopped and the controllers are closed (after the signal). The
   * VMs are powered through anvil's services: close those only after this.
   */
  readonly stopped: Promise<void>;
}

export interface QemuLabOptions {
  /** The demo's base URL (http://127.0.0.1:PORT). */
  readonly url: string;
  readonly machines: readonly DemoMachine[];
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
}

/** Why the demo cannot run QEMU machines here, or undefined when it can. */
export function qemuLabMissing(): string | undefined {
  if (!onPath(QEMU_BINARY)) return `${QEMU_BINARY} is not installed (apt-get install qemu-system-x86)`;
  if (!existsSync(DEFAULT_IPXE_ROM)) return `Debian's iPXE ROM ${DEFAULT_IPXE_ROM} is missing (apt-get install ipxe-qemu)`;
  return undefined;
}

/**
 * The slirp backend of a demo VM: isolated (restrict=on), its DHCP naming anvil's boot URL for
 * its MAC, and GUEST_ANVIL:80 relayed to anvil's HTTP server (url: where this process reaches it).
 */
export function demoNetdev(url: string, mac: string): string {
  return anvilNetdev({ url }, mac);
}

function copyIfChanged(from: string, to: string): void {
  if (existsSync(to) && statSync(to).size === statSync(from).size && statSync(to).mtimeMs >= statSync(from).mtimeMs) return;
  copyFileSync(from, to);
}

/** Puts the tiny Linux in the TFTP root and writes its profile; undefined when it is not built. */
async function prepareTinyLinux(services: Services): Promise<string | undefined> {
  const kernel = join(TINY_LINUX_DIR, 'vmlinuz');
  const initrd = join(TINY_LINUX_DIR, 'initrd.gz');
  if (!existsSync(kernel) || !existsSync(initrd)) return undefined;
  const dir = join(services.paths.tftpRoot, DEMO_VM_PROFILE);
  await mkdir(dir, { recursive: true });
  copyIfChanged(kernel, join(dir, 'vmlinuz'));
  copyIfChanged(initrd, join(dir, 'initrd.gz'));
  const profile = join(services.paths.profiles, `${DEMO_VM_PROFILE}.prof`);
  if (!existsSync(profile) || readFileSync(profile, 'utf8').startsWith(PROFILE_MARK)) {
    writeFileSync(
      profile,
      [
        PROFILE_MARK,
        "# (scripts/tiny-linux): it runs the machine's next test, prints it on the serial console and powers off.",
        'DEFAULT tiny',
        'LABEL tiny',
        `  KERNEL ${DEMO_VM_PROFILE}/vmlinuz`,
        `  APPEND initrd=${DEMO_VM_PROFILE}/initrd.gz console=ttyS0 quiet no_timer_check anvil.server={{ server | remove: "http://" }} anvil.mac={{ mac }} anvil.run=nexttest anvil.localboot=0`,
        '',
      ].join('\n'),
    );
  }
  await services.profiles.sync(services.clock().toISOString());
  return DEMO_VM_PROFILE;
}

/**
 * Defines the VMs (fresh each start: their BMC ports and the demo's URL change), serves their
 * BMCs, enrolls them, and keeps them booting until the signal; then stops every QEMU.
 */
export async function startQemuLab(services: Services, options: QemuLabOptions): Promise<QemuLab> {
  const { signal, log } = options;
  const store = new LabStore(services.paths.data);
  const why = demoImageMissing();
  const image = why ? undefined : (await ensureDemoImage(services, log)).name;
  const profile = image ? undefined : await prepareTinyLinux(services);
  const names = options.machines.map((m) => m.name);
  const password = randomBytes(12).toString('base64url');
  const defs = new Map<string, LabVmDefinition>();
  for (const m of options.machines) {
    const def = store.define({
      name: m.name,
      mac: m.mac,
      memoryMb: DEMO_VM_MEMORY_MB,
      diskSize: image ? DEMO_VM_DISK : null,
      netdev: demoNetdev(options.url, m.mac),
      // Port 0: the BMC takes any free port; the definition is saved with the one it got.
      bmc: { kind: 'ipmi', address: '127.0.0.1', ipmiPort: 0, amtPort: 0, user: 'admin', password },
    });
    await store.save(def);
    defs.set(m.name, def);
  }
  const lab: RunningLab = await startLab(store, { only: names, log: (line) => log(`lab: ${line}`) });
  // A QEMU a killed demo left running still has the old URL: this demo's VMs start fresh.
  await Promise.all(lab.vms.map((vm) => vm.powerOff()));
  const machines: QemuLabMachine[] = [];
  try {
    for (const c of lab.controllers) {
      const def = defs.get(c.name)!;
      const bound = { ...def, bmc: { ...def.bmc!, ipmiPort: c.port } };
      await store.save(bound);
      await enrollLabVm(services, bound, { driver: 'ipmi', who: DEMO_WHO });
      if (profile) await services.nextBoot.set(c.name, profile, { reason: 'demo lab VM' });
      machines.push({ name: c.name, mac: def.mac, bmc: `${c.address}:${c.port}` });
    }
  } catch (error) {
    await lab.close();
    throw error;
  }
  const lives = image ? deployedLives(services, lab.vms, options) : lab.vms.map((vm, i) => life(services, vm, options, i));
  const stopped = (async () => {
    // A power-on in flight finishes first (it uses anvil's driver, so anvil stops after this lab).
    await Promise.all(lives);
    await Promise.all(lab.vms.map((vm) => vm.powerOff().catch((error: unknown) => log(`${vm.name}: could not stop QEMU: ${(error as Error).message}`))));
    await lab.close();
  })();
  return { machines, image, why, profile, stopped };
}

/** Each VM deployed after the one before it (the first alone: it reports soonest under TCG), then booting its disk. */
function deployedLives(services: Services, vms: readonly LabVm[], options: QemuLabOptions): Promise<void>[] {
  let turn: Promise<void> = Promise.resolve();
  return vms.map((vm) => {
    const { promise, resolve } = Promise.withResolvers<void>();
    const lived = deployedLife(services, vm, turn, resolve, options);
    turn = promise;
    return lived;
  });
}

/** A VM's life in the demo: powered on through anvil's ipmi driver, booted, off again, and on after a pause. */
async function life(services: Services, vm: LabVm, options: QemuLabOptions, index: number): Promise<void> {
  const { signal, log } = options;
  const reader = new ConsoleRunReader(
    (run) =>
      void upload(services, vm.name, run, options).catch((error: unknown) => {
        if (!signal.aborted) log(`${vm.name}: upload of its test output failed: ${(error as Error).message}`);
      }),
  );
  const console = vm.openConsole();
  console.on('data', (chunk: Buffer) => reader.push(chunk));
  signal.addEventListener('abort', () => console.destroy(), { once: true });
  await sleep(index * DEMO_VM_STAGGER_MS, undefined, { signal }).catch(() => undefined);
  while (!signal.aborted) {
    try {
      const off = nextOff(vm, signal);
      await services.control.setPower(vm.name, 'on', {}, DEMO_WHO);
      await off;
      if (signal.aborted) break;
      // Idle: play the operator and queue another round, as the simulated machines do.
      await queueIfIdle(services, vm.name);
    } catch (error) {
      if (!signal.aborted) log(`${vm.name}: ${(error as Error).message}`);
    }
    await sleep(DEMO_VM_REBOOT_MS, undefined, { signal }).catch(() => undefined);
  }
}

/** Uploads a test's console output to the run the machine was sent, as the machine would. */
async function upload(services: Services, name: string, run: ConsoleRun, options: QemuLabOptions): Promise<void> {
  // wait.test prints nothing and belongs to no run.
  if (run.output === '') return;
  const machine = await services.machines.find(name);
  const sent = await services.testing.latestSent(machine);
  const response = await fetch(`${options.url}/upload/${sent.id}/`, {
    method: 'POST',
    body: resultOf(run),
    headers: { 'content-type': 'text/plain' },
    signal: options.signal,
  });
  if (!response.ok) throw new Error(`${response.status} ${(await response.text()).trim()}`);
}
