// A browser-console WebSocket client for tests: opens /machines/:name/console/ws as a page of
// this host would, and collects console bytes (binary frames) and statuses (text frames).
import type { TestAnvil } from './anvil-inproc.ts';

export const CONSOLE_WAIT_MS = 60_000;

export interface ConsoleClient {
  readonly ws: WebSocket;
  bytes(): string;
  readonly statuses: string[];
  closed(): { code: number; reason: string } | undefined;
  until(what: string, ok: () => boolean): Promise<void>;
}

export function connectConsole(a: TestAnvil, machine: string, token: string, query = ''): ConsoleClient {
  const url = `${a.url.replace(/^http/, 'ws')}/machines/${machine}/console/ws${query}`;
  const ws = new WebSocket(url, { headers: { origin: a.url, authorization: `Bearer ${token}` } } as never);
  ws.binaryType = 'arraybuffer';
  let bytes = '';
  const statuses: string[] = [];
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  let closed: { code: number; reason: string } | undefined;
  ws.addEventListener('message', (event) => {
    if (typeof event.data === 'string') statuses.push((JSON.parse(event.data) as { status: string }).status);
    else bytes += Buffer.from(event.data as ArrayBuffer).toString('latin1');
    wake();
  });
  ws.addEventListener('close', (event) => {
    closed = { code: event.code, reason: event.reason };
    wake();
  });
  const until = async (what: string, ok: () => boolean): Promise<void> => {
    const deadline = AbortSignal.timeout(CONSOLE_WAIT_MS);
    while (!ok()) {
      if (deadline.aborted) throw new Error(`timed out waiting for ${what}; bytes ${JSON.stringify(bytes)}, statuses ${JSON.stringify(statuses)}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        deadline.addEventListener('abort', () => resolve(), { once: true });
      });
    }
  };
  return { ws, bytes: () => bytes, statuses, closed: () => closed, until };
}
