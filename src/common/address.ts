// HOST:PORT arguments (--http, --tftp): '0.0.0.0:8080', ':8080', '8080', '[::]:8080'.
import { invalid } from './errors.ts';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export function parseHostPort(text: string, defaults: HostPort, option: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:]*))?(?::(\d+))?$/.exec(text.trim());
  const bare = /^\d+$/.test(text.trim());
  const host = bare ? defaults.host : (m?.[1] ?? m?.[2]) || defaults.host;
  const port = bare ? Number(text) : m?.[3] !== undefined ? Number(m[3]) : defaults.port;
  if (!m && !bare) throw invalid('INVALID_ADDRESS', `${option} '${text}' is not HOST:PORT (e.g. 0.0.0.0:${defaults.port})`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalid('INVALID_ADDRESS', `${option} '${text}': the port must be 0-65535`);
  return { host, port };
}
