// A throwaway certificate authority and a server certificate it signed, for the emulator's
// HTTPS (a BMC's own certificate is usually of this kind: made on the BMC, trusted by nobody
// until an operator pins it or adds its CA). Made with the openssl CLI, since node:crypto
// makes keys but not X.509 certificates.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const CERTIFICATE_DEFAULTS = { days: 30, timeoutMs: 30_000 } as const;

export interface GeneratedCertificate {
  /** The CA's certificate (PEM): what a client puts in its CA bundle. */
  readonly ca: string;
  /** The server's certificate (PEM): what a client pins. */
  readonly cert: string;
  readonly key: string;
}

/** A CA and a certificate for `names` (host names or IP addresses) signed by it; 127.0.0.1 and localhost are always in it. */
export async function generateCertificate(commonName: string, names: readonly string[] = []): Promise<GeneratedCertificate> {
  const dir = await mkdtemp(join(tmpdir(), 'anvil-redfish-tls-'));
  const days = String(CERTIFICATE_DEFAULTS.days);
  const opts = { timeout: CERTIFICATE_DEFAULTS.timeoutMs };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const alt = [...new Set(['127.0.0.1', 'localhost', ...names])].map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  try {
    const f = (name: string) => join(dir, name);
    await run('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', days, '-subj', `/CN=${commonName} CA`], opts);
    await run(
      'openssl',
      [
        'req',
        '-x509',
        ...ec,
        '-keyout',
        f('key.pem'),
        '-out',
        f('cert.pem'),
        '-days',
        days,
        '-subj',
        `/CN=${commonName}`,
        '-CA',
        f('ca.pem'),
        '-CAkey',
        f('ca.key'),
        '-addext',
        `subjectAltName=${alt}`,
        '-addext',
        'basicConstraints=critical,CA:FALSE',
      ],
      opts,
    );
    const [ca, cert, key] = await Promise.all(['ca.pem', 'cert.pem', 'key.pem'].map((n) => readFile(f(n), 'utf8')));
    return { ca: ca as string, cert: cert as string, key: key as string };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
