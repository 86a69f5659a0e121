// HTTP artifact throughput alone: every machine at once fetches the kernel and then the
// initrd over its own keep-alive connection from its own address, exactly as in the storm
// but without the DHCP and TFTP steps, so anvil and nginx are measured with the same client.
import { httpGet, machineAgent } from './http-get.ts';

export interface LoadResult {
  readonly wallMs: number;
  readonly bytes: number;
  /** Per machine, the time for both files. */
  readonly machineMs: number[];
  readonly errors: number;
  /** The first few error messages. */
  readonly samples: string[];
}

const ERROR_SAMPLES = 5;

export async function loadArtifacts(files: readonly { url: string; bytes: number }[], sources: readonly string[]): Promise<LoadResult> {
  let bytes = 0;
  let errors = 0;
  const samples: string[] = [];
  const machineMs: number[] = [];
  const start = performance.now();
  await Promise.all(
    sources.map(async (localAddress) => {
      const agent = machineAgent();
      const t0 = performance.now();
      try {
        for (const file of files) {
          const r = await httpGet(file.url, { agent, localAddress });
          bytes += r.bytes;
          if (r.status !== 200 || r.bytes !== file.bytes) throw new Error(`${file.url}: HTTP ${r.status}, ${r.bytes} bytes of ${file.bytes}`);
        }
        machineMs.push(performance.now() - t0);
      } catch (error) {
        errors++;
        if (samples.length < ERROR_SAMPLES) samples.push(`${localAddress}: ${(error as Error).message}`);
      } finally {
        agent.destroy();
      }
    }),
  );
  return { wallMs: performance.now() - start, bytes, machineMs, errors, samples };
}
