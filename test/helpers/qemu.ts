// Boots a QEMU virtual machine for netboot tests: TCG only (KVM hangs on these machines,
// tiny-linux.md), no graphics, the serial console on the process's stdout, a NIC with
// Debian's iPXE option ROM (ipxe-qemu) on a tap device of a test namespace, an empty disk,
// and `-boot n`. waitFor() resolves on a console line; the VM is always killed after the test.
import { once } from 'node:events';
import { copyFileSync, createWriteStream, existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { TestContext } from 'node:test';
import type { Netns } from './netns.ts';
import { OVMF_HTTP_BOOT_ONLY } from '../../src/lab/qemu-args.ts';

export const QEMU = 'qemu-system-x86_64';
/** Enough for iPXE and the tiny Linux; keeps TCG tests lean. */
export const DEFAULT_VM_MEMORY_MB = 256;
export const DEFAULT_DISK_BYTES = 64 * 1024 * 1024;
/**
 * Debian's ipxe-qemu ROMs, the real iPXE firmware of the emulated NICs. For virtio the ROM is
 * left to QEMU, which finds this same file through its firmware path: passed explicitly as
 * romfile= (or as pxe-virtio.rom, which names only the modern id 1af4:1041) SeaBIOS never ran
 * it on QEMU 7.2 (checked with screendumps: "No bootable device").
 */
export const IPXE_ROMS = {
  'virtio-net-pci': { file: '/usr/lib/ipxe/qemu/efi-virtio.rom', explicit: false },
  e1000: { file: '/usr/lib/ipxe/qemu/pxe-e1000.rom', explicit: true },
} as const;
export type VmNic = keyof typeof IPXE_ROMS;

/** Debian's OVMF (package ovmf): real UEFI firmware with EDK2's own PXE client. */
export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

export interface VmOptions {
  readonly netns: Netns;
  readonly tap?: string;
  /** Lower-case colon-separated; default a locally administered MAC from the pid. */
  readonly mac?: string;
  readonly nic?: VmNic;
  readonly memoryMb?: number;
  /**
   * 'bios' (default): SeaBIOS running the NIC's iPXE ROM, so the first DHCP client is iPXE.
   * 'uefi': OVMF with no option ROM, so the first DHCP client is EDK2's PXE (arch 7) and
   * the NIC is driven by OVMF's own virtio-net driver.
   */
  readonly firmware?: 'bios' | 'uefi';
  /** With firmware 'uefi': 'pxe' (default) or 'http', UEFI HTTP boot with PXE switched off. */
  readonly uefiNetboot?: 'pxe' | 'http';
  /** Where to copy the serial console (kept); default a temp file removed after the test. */
  readonly serialLog?: string;
  readonly extraArgs?: readonly string[];
}

/** A locally administered unicast MAC (52:54:00 is QEMU's OUI; 02: is "local"). */
export function testMac(n = 0): string {
  const v = (process.pid * 16 + n) & 0xffffff;
  return `02:a0:00:${((v >> 16) & 255).toString(16).padStart(2, '0')}:${((v >> 8) & 255).toString(16).padStart(2, '0')}:${(v & 255).toString(16).padStart(2, '0')}`;
}

export class Vm {
  readonly mac: string;
  readonly process: ChildProcess;
  readonly serialLog: string;
  #console = '';
  #stderr = '';

  constructor(mac: string, child: ChildProcess, serialLog: string) {
    this.mac = mac;
    this.process = child;
    this.serialLog = serialLog;
    const log = createWriteStream(serialLog);
    child.stdout?.on('data', (chunk: Buffer) => {
      this.#console += chunk.toString('latin1');
      log.write(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr += chunk.toString('latin1');
    });
    child.once('exit', () => log.end());
  }

  get console(): string {
    return this.#console;
  }

  /** Resolves with the first console match; rejects on timeout or if QEMU exits first. */
  async waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const found = (): RegExpMatchArray | null => pattern.exec(this.#console);
    const now = found();
    if (now !== null) return now;
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.process.stdout?.off('data', onData);
        this.process.off('exit', onExit);
      };
      const fail = (why: string): void => {
        cleanup();
        reject(new Error(`${why} waiting for ${pattern}; console tail:\n${this.#console.slice(-3000)}\nqemu stderr:\n${this.#stderr.slice(-1000)}`));
      };
      const onData = (): void => {
        const m = found();
        if (m !== null) {
          cleanup();
          resolve(m);
        }
      };
      const onExit = (): void => {
        // The last chunk may arrive with the exit; look once more.
        const m = found();
        if (m !== null) {
          cleanup();
          resolve(m);
        } else fail(`QEMU exited (${this.process.exitCode ?? this.process.signalCode})`);
      };
      const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
      this.process.stdout?.on('data', onData);
      this.process.once('exit', onExit);
    });
  }

  async kill(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = once(this.process, 'exit');
    this.process.kill('SIGKILL');
    await exited;
  }
}

/** Starts the VM inside the namespace, attached to its tap; killed after the test. */
export function bootVm(t: TestContext, opts: VmOptions): Vm {
  const nic = opts.nic ?? 'virtio-net-pci';
  const mac = opts.mac ?? testMac();
  const dir = mkdtempSync(join(tmpdir(), 'anvil-vm-'));
  const disk = join(dir, 'disk.raw');
  writeFileSync(disk, '');
  truncateSync(disk, DEFAULT_DISK_BYTES);
  const rom = IPXE_ROMS[nic];
  const uefi = opts.firmware === 'uefi';
  if (!uefi && !existsSync(rom.file)) throw new Error(`iPXE ROM ${rom.file} is missing; install ipxe-qemu (scripts/install --test)`);
  const firmwareArgs: string[] = [];
  if (uefi) {
    if (!existsSync(OVMF_CODE)) throw new Error(`${OVMF_CODE} is missing; install ovmf`);
    const vars = join(dir, 'OVMF_VARS.fd');
    copyFileSync(OVMF_VARS, vars);
    firmwareArgs.push('-drive', `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,file=${vars}`);
    if (opts.uefiNetboot === 'http') firmwareArgs.push(...OVMF_HTTP_BOOT_ONLY);
  }
  // romfile= (empty) keeps iPXE out of the UEFI boot: the firmware's own PXE client asks.
  const romArg = uefi ? ',romfile=' : rom.explicit ? `,romfile=${rom.file}` : '';
  const args = [
    '-accel',
    'tcg',
    '-m',
    String(opts.memoryMb ?? DEFAULT_VM_MEMORY_MB),
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    'stdio',
    '-no-reboot',
    '-boot',
    'n',
    '-drive',
    `file=${disk},if=virtio,format=raw`,
    '-netdev',
    `tap,id=n0,ifname=${opts.tap ?? opts.netns.taps[0] ?? 'tap0'},script=no,downscript=no`,
    '-device',
    `${nic},netdev=n0,mac=${mac}${romArg},bootindex=1`,
    ...firmwareArgs,
    ...(opts.extraArgs ?? []),
  ];
  const child = opts.netns.spawn(QEMU, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const vm = new Vm(mac, child, opts.serialLog ?? join(dir, 'serial.log'));
  t.after(async () => {
    await vm.kill();
    // A failed waitFor() already carries the console's tail; ANVIL_KEEP_VM_LOGS=1 keeps the
    // whole serial log (the disk and UEFI variables go in any case).
    if (process.env.ANVIL_KEEP_VM_LOGS === '1' || opts.serialLog !== undefined) {
      rmSync(disk, { force: true });
      rmSync(join(dir, 'OVMF_VARS.fd'), { force: true });
    } else {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  return vm;
}
