// What the HTTP routes use: the domain services they call, how they find the machine behind a
// bare pxemngr URL, and the limits and base URL the composition root configured.
import type { FastifyRequest } from 'fastify';
import { invalid, listWords } from '../common/errors.ts';
import type { Machines } from '../machines/machines.ts';
import type { NextBoot } from '../boot/next-boot.ts';
import type { Discovered } from '../boot/discovered.ts';
import type { BootService } from '../boot/boot-service.ts';
import type { Profiles } from '../boot/profiles.ts';
import type { AddressResolver } from '../boot/resolver.ts';
import type { Testing } from '../testing/testing.ts';
import type { Tokens } from '../auth/tokens.ts';
import type { MachineControl } from '../conductor/machine-control.ts';
import type { ImageLibrary } from '../provisioning/images.ts';
import type { Provisioner } from '../provisioning/provisioner.ts';
import type { Vcl } from '../provisioning/vcl.ts';
import type { Properties } from '../machines/properties.ts';
import type { Conductors } from '../conductor/conductors.ts';
import type { WorkQueue } from '../conductor/work.ts';

/** Largest test result accepted by default, in bytes (413 beyond). */
export const DEFAULT_UPLOAD_LIMIT = 64 * 1024 * 1024;

export interface ApiContext {
  readonly machines: Machines;
  readonly nextBoot: NextBoot;
  readonly discovered: Discovered;
  readonly boot: BootService;
  readonly profiles: Profiles;
  readonly testing: Testing;
  readonly tokens: Tokens;
  readonly control: MachineControl;
  readonly images: ImageLibrary;
  readonly provisioner: Provisioner;
  readonly vcl: Vcl;
  readonly properties: Properties;
  readonly conductors: Conductors;
  /** Operations handed to a machine's owner conductor (PostgreSQL); GET /work/{id} reads one. */
  readonly work: WorkQueue;
  readonly clock: () => Date;
  /** Where bare machine-facing URLs look up the caller's MAC. */
  readonly resolver: AddressResolver;
  readonly uploadLimit: number;
  /** One round trip to the database; throws STORE_UNREACHABLE (503, saying what to do) while it is away. */
  checkDatabase(): Promise<void>;
  /** The base URL for a request: the configured public URL or http://<Host>. */
  baseUrl(request: { protocol: string; headers: { host?: string | undefined } }): string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Errors as one plain-text line instead of JSON (routes wget and curl call). */
    plainErrors?: boolean;
  }
}

/**
 * A query key given twice (`/boot.ipxe?mac=…&mac=x`) arrives as an array, which no
 * machine-facing route takes: it is refused as the client's mistake before a handler sees it.
 * A preValidation hook of the whole server; it looks at machine-facing routes only.
 */
export async function refuseRepeatedQueryKeys(request: FastifyRequest): Promise<void> {
  if (!request.routeOptions.config?.plainErrors) return;
  const query = request.query as Record<string, unknown> | undefined;
  if (!query) return;
  const repeated = Object.keys(query).filter((key) => Array.isArray(query[key]));
  if (repeated.length > 0) {
    const names = repeated.map((key) => `'${key.length > 64 ? `${key.slice(0, 64)}…` : key}'`);
    throw invalid('REPEATED_QUERY_KEY', `the query gives ${listWords(names)} more than once; give each key once`);
  }
}

/** Route options of machine-facing URLs: plain-text errors, left out of the OpenAPI document. */
export const MACHINE_FACING = { config: { plainErrors: true }, schema: { hide: true } } as const;
