// Builds the bootable disk image `anvil demo` uploads and deploys to its QEMU machines (the tiny
// Linux on syslinux, src/lab/disk-image.ts) into .tools/disk-images/, or finds it built.
// Run by scripts/install; the demo builds it too when it is missing.
//   node scripts/disk-image.ts
import { demoDiskImage } from '../src/app/demo/image.ts';

const image = demoDiskImage();
process.stdout.write(`disk image ${image.path}: ${image.size / 1024 / 1024} MiB, sha256 ${image.sha256}\n`);
