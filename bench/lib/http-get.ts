// The HTTP client of the boot storm, the same for anvil and for nginx: a GET over a given
// keep-alive agent (one per machine, as iPXE keeps one connection), from a given source
// address, the body counted and optionally hashed, never kept.
import { createHash } from 'node:crypto';
import { Agent, request } from 'node:http';

/** A machine's connection: iPXE reuses one connection for script, kernel and initrd. */
export function machineAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 1 });
}

/** How long a transfer may go without a byte before it counts as failed (iPXE gives up too). */
export const HTTP_IDLE_TIMEOUT_MS = 120_000;

export interface HttpGetResult {
  readonly status: number;
  readonly bytes: number;
  /** Hex sha256 of the body, when asked for. */
  readonly sha256?: string;
  /** The body as text, when asked for (scripts). */
  readonly text?: string;
}

export interface HttpGetOptions {
  readonly agent: Agent;
  readonly localAddress?: string;
  readonly hash?: boolean;
  readonly text?: boolean;
}

export function httpGet(url: string, opts: HttpGetOptions): Promise<HttpGetResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: opts.agent, ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }) }, (res) => {
      let bytes = 0;
      const hash = opts.hash ? createHash('sha256') : undefined;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        hash?.update(chunk);
        if (opts.text) chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('aborted', () => reject(new Error(`${url}: the server closed the connection after ${bytes} bytes`)));
      res.on('end', () => {
        const expected = res.headers['content-length'];
        if (expected !== undefined && Number(expected) !== bytes) {
          reject(new Error(`${url}: ${bytes} bytes of the ${expected} announced`));
          return;
        }
        resolve({
          status: res.statusCode ?? 0,
          bytes,
          ...(hash === undefined ? {} : { sha256: hash.digest('hex') }),
          ...(opts.text ? { text: Buffer.concat(chunks).toString('utf8') } : {}),
        });
      });
    });
    req.setTimeout(HTTP_IDLE_TIMEOUT_MS, () => req.destroy(new Error(`${url}: nothing received for ${HTTP_IDLE_TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.end();
  });
}
