// The lab's Redfish handler over a PowerTarget in memory: resets become the VM's power actions,
// a Once override is the VM's one-time boot device, Continuous its persistent one; virtual media
// is downloaded and put in the VM's drive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { LabRedfishHandler } from './controller-redfish.ts';
import type { LabBootDeviceSetting, LabPowerAction, LabPowerState } from './power-target.ts';
import type { LabBootDevice } from './definition.ts';

class MemoryVm {
  readonly name = 'vm-1';
  power: LabPowerState = 'off';
  readonly actions: LabPowerAction[] = [];
  persistent: LabBootDeviceSetting = { device: 'disk', persistent: true, efi: false };
  once: LabBootDeviceSetting | undefined;
  async getPowerState() {
    return this.power;
  }
  async setPowerState(action: LabPowerAction) {
    this.actions.push(action);
    this.power = action === 'off' || action === 'soft-off' ? 'off' : 'on';
    if (action !== 'off' && action !== 'soft-off') this.once = undefined;
  }
  async getBootDevice() {
    return this.once ?? this.persistent;
  }
  async setBootDevice(device: LabBootDevice | 'default', options: { persistent: boolean; efi?: boolean }) {
    if (device === 'default') this.once = undefined;
    else if (options.persistent) this.persistent = { device, persistent: true, efi: options.efi === true };
    else this.once = { device, persistent: false, efi: options.efi === true };
  }
  openConsole() {
    return new PassThrough();
  }
}

test('resets power the VM; Once, Continuous and Disabled overrides map onto its boot devices', async () => {
  const vm = new MemoryVm();
  const h = new LabRedfishHandler(vm);
  assert.deepEqual(await h.getBoot(), { target: 'None', enabled: 'Disabled', mode: 'Legacy' });
  await h.setBoot({ target: 'Pxe', enabled: 'Once', mode: 'UEFI' });
  assert.deepEqual(await h.getBoot(), { target: 'Pxe', enabled: 'Once', mode: 'UEFI' });
  await h.reset('ForceRestart');
  assert.equal(await h.getPowerState(), 'On');
  assert.deepEqual(await h.getBoot(), { target: 'None', enabled: 'Disabled', mode: 'Legacy' }, 'the one-time device was used');
  await h.reset('ForceRestart');
  await h.reset('GracefulShutdown');
  await h.reset('ForceOff');
  await h.reset('PowerCycle');
  assert.deepEqual(vm.actions, ['on', 'reset', 'soft-off', 'on']);
  await h.setBoot({ target: 'Cd', enabled: 'Continuous', mode: 'Legacy' });
  assert.deepEqual(await h.getBoot(), { target: 'Cd', enabled: 'Continuous', mode: 'Legacy' });
  await assert.rejects(
    h.setBoot({ target: 'Usb', enabled: 'Once', mode: 'UEFI' }),
    /lab VM vm-1 cannot boot from Usb; it boots Pxe, Hdd, Cd, BiosSetup, UefiHttp/,
  );
  await assert.rejects(h.insertMedia('http://127.0.0.1:1/a.iso'), /vm-1 has no CD-ROM drive for virtual media/);
  assert.deepEqual(await h.getMedia(), { image: undefined, inserted: false });
});

test("UefiHttp is the VM's http boot device, in UEFI mode even when Legacy was asked for", async () => {
  const vm = new MemoryVm();
  const h = new LabRedfishHandler(vm);
  await h.setBoot({ target: 'UefiHttp', enabled: 'Once', mode: 'Legacy' });
  assert.deepEqual(vm.once, { device: 'http', persistent: false, efi: true });
  assert.deepEqual(await h.getBoot(), { target: 'UefiHttp', enabled: 'Once', mode: 'UEFI' });
  await h.reset('On');
  await h.setBoot({ target: 'UefiHttp', enabled: 'Continuous', mode: 'UEFI' });
  assert.deepEqual(vm.persistent, { device: 'http', persistent: true, efi: true });
  assert.deepEqual(await h.getBoot(), { target: 'UefiHttp', enabled: 'Continuous', mode: 'UEFI' });
});

test('virtual media: the image at the URL is downloaded into the lab and put in the VM; a bad URL or answer is a clear error and leaves nothing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'anvil-media-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const iso = Buffer.from('an ISO image, or near enough');
  const server = createServer((req, res) => {
    if (req.url === '/boot.iso') res.end(iso);
    else res.writeHead(404).end('no such file');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const vm = Object.assign(new MemoryVm(), {
    cdrom: undefined as string | undefined,
    async insertMedia(file: string) {
      this.cdrom = file;
    },
    async ejectMedia() {
      this.cdrom = undefined;
    },
    async getMedia() {
      return this.cdrom;
    },
  });
  const h = new LabRedfishHandler(vm, { mediaDir: join(dir, 'media') });
  await assert.rejects(h.insertMedia('boot.iso'), /'boot.iso' is not a URL; give an http:\/\/ or https:\/\/ URL/);
  await assert.rejects(h.insertMedia('ftp://127.0.0.1/boot.iso'), /is not http:\/\/ or https:\/\//);
  await assert.rejects(h.insertMedia(`${base}/gone.iso`), /could not download virtual media from http:\/\/127\.0\.0\.1:\d+: it answered 404/);
  assert.deepEqual(await readdir(join(dir, 'media')), [], 'no partial file is left');
  assert.deepEqual(await h.getMedia(), { image: undefined, inserted: false });

  await h.insertMedia(`${base}/boot.iso`);
  assert.equal(vm.cdrom, join(dir, 'media', 'vm-1.iso'));
  assert.deepEqual(await readFile(vm.cdrom), iso);
  assert.deepEqual(await h.getMedia(), { image: `${base}/boot.iso`, inserted: true });
  await h.ejectMedia();
  assert.deepEqual(await h.getMedia(), { image: undefined, inserted: false });
});
