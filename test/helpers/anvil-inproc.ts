// An anvil server in this process on a free loopback port, with a temporary data directory
// holding a few profiles and tests, for API tests that don't need a separate process.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { startAnvil, type AnvilOptions, type RunningAnvil } from '../../src/app/start.ts';
import { tempDir } from './anvil-process.ts';
import { testDatabaseUrl } from './database.ts';

export interface TestAnvil extends RunningAnvil {
  readonly data: string;
  /** An admin token. */
  readonly token: string;
  api(path: string, init?: RequestInit & { json?: unknown; token?: string | null }): Promise<Response>;
  /** Signs in to the pages through POST /login, as the sign-in form does; the `anvil_session=…` pair to send as a cookie. */
  signIn(token?: string): Promise<string>;
}

export async function testAnvil(
  t: TestContext,
  options: Partial<AnvilOptions> = {},
  files: {
    profiles?: Record<string, string>;
    tests?: Record<string, string>;
    /** Writes more into the data directory before the server starts (an old file it should pick up). */
    prepare?: (data: string) => void | Promise<void>;
  } = {},
): Promise<TestAnvil> {
  const data = tempDir();
  const profiles = join(data, 'tftp/pxelinux.cfg/profiles');
  const tests = join(data, 'tests');
  mkdirSync(profiles, { recursive: true });
  mkdirSync(tests, { recursive: true });
  for (const [name, text] of Object.entries(files.profiles ?? { 'local.prof': 'LOCALBOOT 0\n', 'install.prof': 'KERNEL vmlinuz\n' }))
    writeFileSync(join(profiles, name), text);
  for (const [name, text] of Object.entries(files.tests ?? { 'wait.test': 'sleep 1\n', 'hello.test': 'echo "I: hello {{ system }}"\n' }))
    writeFileSync(join(tests, name), text);
  await files.prepare?.(data);
  const databaseUrl = await testDatabaseUrl();
  const controller = new AbortController();
  const running = await startAnvil({ http: { host: '127.0.0.1', port: 0 }, data, logLevel: false, databaseUrl, ...options }, controller.signal);
  t.after(async () => {
    controller.abort();
    await running.stopped;
  });
  await running.services.profiles.sync(new Date().toISOString());
  await running.services.testing.sync();
  const { token } = await running.services.tokens.create('admin', 'test');
  return {
    ...running,
    data,
    token,
    api: (path, init = {}) => {
      const headers = new Headers(init.headers);
      const bearer = init.token === undefined ? token : init.token;
      if (bearer) headers.set('authorization', `Bearer ${bearer}`);
      let body = init.body;
      if (init.json !== undefined) {
        headers.set('content-type', 'application/json');
        body = JSON.stringify(init.json);
      }
      return fetch(running.url + path, { ...init, headers, body });
    },
    signIn: async (as = token) => {
      const login = await fetch(`${running.url}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: as, next: '/' }).toString(),
      });
      const pair = login.headers
        .getSetCookie()
        .map((c) => c.split(';')[0] ?? '')
        .find((c) => c.startsWith('anvil_session='));
      if (login.status !== 303 || !pair) throw new Error(`signing in answered ${login.status} without a session cookie: ${await login.text()}`);
      return pair;
    },
  };
}
