// The emulated lab (anvil's VirtualBMC): re-exports only.
export * from './definition.ts';
export * from './store.ts';
export * from './power-target.ts';
export * from './vm.ts';
export * from './console.ts';
export * from './controllers.ts';
export * from './enroll.ts';
export * from './up.ts';
export { cleanupOrphans, findRunning, isAlive } from './process.ts';
export { bootOption, qemuLaunch, DEFAULT_IPXE_ROM, QEMU_BINARY } from './qemu-args.ts';
export * from './power-events.ts';
