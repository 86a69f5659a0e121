// OEM handlers by vendor: re-exports only.
export * from './handler.ts';
export * from './lookup.ts';
export * from './supermicro.ts';
export * from './lenovo.ts';
