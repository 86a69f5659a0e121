// A throwaway self-signed certificate for the emulator's HTTPS face, made with the openssl
// CLI (node:crypto makes keys but not X.509 certificates). Like an unprovisioned-CA AMT's.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const SELF_SIGNED_DEFAULTS = { days: 30, bits: 2048, timeoutMs: 30_000 } as const;

export async function makeSelfSignedCertificate(commonName: string): Promise<{ key: string; cert: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'anvil-amt-tls-'));
  try {
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    await run(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        `rsa:${SELF_SIGNED_DEFAULTS.bits}`,
        '-nodes',
        '-keyout',
        keyPath,
        '-out',
        certPath,
        '-days',
        String(SELF_SIGNED_DEFAULTS.days),
        '-subj',
        `/CN=${commonName}`,
        '-addext',
        `subjectAltName=DNS:${commonName},IP:127.0.0.1`,
      ],
      { timeout: SELF_SIGNED_DEFAULTS.timeoutMs },
    );
    return { key: await readFile(keyPath, 'utf8'), cert: await readFile(certPath, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
