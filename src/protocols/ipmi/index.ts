// anvil/ipmi: a pure-TypeScript IPMI library. Re-exports only.
export * from './constants.ts';
export * from './errors.ts';
export { ProtocolError } from '../protocol-error.ts';
export * from './rmcp.ts';
export * from './message.ts';
export * from './session15.ts';
export * from './session20.ts';
export * from './crypto.ts';
export * from './cipher-suites.ts';
export * from './rakp.ts';
export * from './session-commands.ts';
export * from './sol.ts';
export * from './client/index.ts';
export * as commands from './commands/index.ts';
export * from './oem/index.ts';
