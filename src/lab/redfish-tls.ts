// The HTTPS certificate of the lab's Redfish BMCs: one certificate authority and one server
// certificate for every address they listen on, made by the first `lab up` that needs it and
// kept in <lab>/redfish-tls/ (the key 0600), so an anvil that enrolled a VM verifies its BMC
// with redfish_verify_ca = <lab>/redfish-tls/ca.pem across restarts of `lab up`, as a site
// trusts the CA its BMCs' certificates come from. Made anew when it expires within a day or
// does not name an address a BMC listens on.
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateCertificate } from '../protocols/redfish/index.ts';
import type { GeneratedCertificate } from '../protocols/redfish/index.ts';
import type { LabStore } from './store.ts';

const RENEW_BEFORE_MS = 24 * 3600 * 1000;
const FILES = { ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem' } as const;

/** Where the lab's Redfish CA certificate is: what redfish_verify_ca names. */
export function labRedfishCaFile(store: LabStore): string {
  return join(store.tlsDir, FILES.ca);
}

/** Why the stored certificate will not do for these addresses, or undefined when it will. */
function unfit(tls: GeneratedCertificate, addresses: readonly string[], now: number): string | undefined {
  const cert = new X509Certificate(tls.cert);
  if (Date.parse(cert.validTo) - now < RENEW_BEFORE_MS) return `it expires ${cert.validTo}`;
  const missing = addresses.find((a) => (/^[\d.]+$|:/.test(a) ? cert.checkIP(a) === undefined : cert.checkHost(a) === undefined));
  return missing === undefined ? undefined : `it does not name ${missing}`;
}

async function readStored(dir: string): Promise<GeneratedCertificate | undefined> {
  try {
    const [ca, cert, key] = await Promise.all([FILES.ca, FILES.cert, FILES.key].map((f) => readFile(join(dir, f), 'utf8')));
    return { ca: ca!, cert: cert!, key: key! };
  } catch {
    return undefined;
  }
}

/**
 * The certificate for Redfish BMCs on `addresses`: the stored one when it fits, else a new one,
 * stored (each file written whole, then renamed into place). `note` says why one was made.
 */
export async function labRedfishTls(store: LabStore, addresses: readonly string[], note?: (line: string) => void): Promise<GeneratedCertificate> {
  const dir = store.tlsDir;
  const stored = await readStored(dir);
  const why = stored === undefined ? 'there was none' : unfit(stored, addresses, Date.now());
  if (stored !== undefined && why === undefined) return stored;
  const wanted = [...new Set(addresses.filter((a) => a !== '0.0.0.0' && a !== '::'))];
  const tls = await generateCertificate('anvil lab Redfish BMC', wanted);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const [name, mode] of [
    [FILES.key, 0o600],
    [FILES.cert, 0o644],
    [FILES.ca, 0o644],
  ] as const) {
    const file = join(dir, name);
    await writeFile(`${file}.tmp`, name === FILES.key ? tls.key : name === FILES.cert ? tls.cert : tls.ca, { mode });
    await rename(`${file}.tmp`, file);
  }
  note?.(`made the lab's Redfish certificate in ${dir} (${why}); clients verify it with ${labRedfishCaFile(store)}`);
  return tls;
}
