// The Redfish client against a service that misbehaves (a local HTTP server playing one):
// bodies that are not JSON, 503 with Retry-After then success, an error with
// @Message.ExtendedInfo, a task monitor that never ends, a service that never answers (the
// call deadline), a system without PowerState, and Basic auth where there are no sessions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RedfishClient } from '../../src/protocols/redfish/index.ts';
import type { RedfishClientOptions } from '../../src/protocols/redfish/index.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};
const ROOT = { '@odata.id': '/redfish/v1/', RedfishVersion: '1.15.0', Systems: { '@odata.id': '/redfish/v1/Systems' } };
const SYSTEMS = { Members: [{ '@odata.id': '/redfish/v1/Systems/1' }] };

async function serve(t: { after: (fn: () => Promise<void> | void) => void }, handler: Handler): Promise<string> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString();
    });
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return `http://127.0.0.1:${address.port}`;
}

const FAST: RedfishClientOptions = { requestTimeoutMs: 2000, callTimeoutMs: 5000, busyDelayMs: 1, task: { pollMs: 1, maxPolls: 5 } };

function open(t: { after: (fn: () => Promise<void>) => void }, url: string, options: RedfishClientOptions = FAST) {
  const c = new RedfishClient({ url, username: 'root', password: 'Sekrit-Pw-1' }, options);
  t.after(() => c.close());
  return c;
}

test('no session service: Basic on every request; a body that is not JSON is a clear error', async (t) => {
  const auth: string[] = [];
  const url = await serve(t, (req, res) => {
    auth.push(req.headers.authorization ?? '-');
    if (req.url === '/redfish/v1/') return json(res, 200, ROOT);
    if (req.url === '/redfish/v1/Systems') return json(res, 200, SYSTEMS);
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html>login</html>');
  });
  const c = open(t, url);
  await assert.rejects(c.getPowerState(), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'REDFISH_PROTOCOL');
    assert.match(e.message, /GET \/redfish\/v1\/Systems\/1 answered with a body that is not JSON/);
    return true;
  });
  assert.equal(c.transport.authKind, 'basic');
  assert.equal(auth[1], `Basic ${Buffer.from('root:Sekrit-Pw-1').toString('base64')}`);
});

test('503 with Retry-After is retried; an error body becomes its messages, never the password', async (t) => {
  let busy = 2;
  let retried = 0;
  const url = await serve(t, (req, res) => {
    if (req.url === '/redfish/v1/') return json(res, 200, ROOT);
    if (busy-- > 0) return json(res, 503, {}, { 'retry-after': '0' });
    if (busy === -1) retried += 1;
    if (req.url === '/redfish/v1/Systems') return json(res, 200, SYSTEMS);
    if (req.method === 'GET') return json(res, 200, { Id: '1', Boot: { BootSourceOverrideTarget: 'None' } });
    json(res, 400, {
      error: {
        code: 'Base.1.8.GeneralError',
        message: 'x',
        '@Message.ExtendedInfo': [{ MessageId: 'Base.1.8.PropertyValueFormatError', Message: 'The value is wrong.', Resolution: 'Correct it.' }],
      },
    });
  });
  const c = open(t, url);
  await assert.rejects(c.getPowerState(), /\/redfish\/v1\/Systems\/1 has no PowerState/);
  await assert.rejects(c.setBootOverride({ target: 'Pxe' }), (e: Error & { code?: string; status?: number }) => {
    assert.equal(e.code, 'REDFISH_HTTP');
    assert.equal(e.status, 400);
    assert.match(e.message, /PATCH \/redfish\/v1\/Systems\/1 with HTTP 400: The value is wrong. \(Correct it.\) \[Base.1.8.PropertyValueFormatError\]/);
    assert.doesNotMatch(e.message, /Sekrit/);
    return true;
  });
  assert.equal(retried, 1, 'the request answered 503 twice was sent again and then answered');
});

test('a task monitor that never ends is given up after its polls; a service that never answers hits the deadline', async (t) => {
  let polls = 0;
  const url = await serve(t, (req, res) => {
    if (req.url === '/redfish/v1/') return json(res, 200, ROOT);
    if (req.url === '/redfish/v1/Systems') return json(res, 200, SYSTEMS);
    if (req.url === '/redfish/v1/Systems/1')
      return json(res, 200, {
        Id: '1',
        PowerState: 'Off',
        Actions: { '#ComputerSystem.Reset': { target: '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset' } },
      });
    if (req.url?.endsWith('ComputerSystem.Reset')) return json(res, 202, {}, { location: '/redfish/v1/TaskService/TaskMonitors/1' });
    if (req.url === '/redfish/v1/TaskService/TaskMonitors/1') {
      polls += 1;
      return json(res, 202, { TaskState: 'Running' }, { location: '/redfish/v1/TaskService/TaskMonitors/1' });
    }
    // /stall: never answered
  });
  const c = open(t, url);
  await assert.rejects(c.reset('On'), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'REDFISH_TASK');
    assert.match(e.message, /ComputerSystem.Reset On was still running after 5 polls of its task monitor/);
    return true;
  });
  assert.equal(polls, 5);
  const slow = open(t, url, { ...FAST, requestTimeoutMs: 300 });
  await assert.rejects(slow.raw('GET', '/stall'), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'REDFISH_TIMEOUT');
    assert.match(e.message, /did not answer GET \/stall within 0.3 s/);
    return true;
  });
});

test('a refused connection is a connect error naming the service', async () => {
  const c = new RedfishClient({ url: 'http://127.0.0.1:1' }, FAST);
  await assert.rejects(
    c.getPowerState(),
    (e: Error & { code?: string }) => e.code === 'REDFISH_CONNECT' && /cannot reach Redfish http:\/\/127.0.0.1:1 \(ECONNREFUSED\)/.test(e.message),
  );
  await c.close();
});
