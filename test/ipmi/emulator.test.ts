// The emulator's session rules, checked with exact packets from a minimal codec-built
// console: presence pong, pre-session replies, privileges, 0xC1 for unknown commands,
// replay rejection, the slot limit, and idle timeout with an injected clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CIPHER_SUITES } from '../../src/protocols/ipmi/cipher-suites.ts';
import type { CipherSuite } from '../../src/protocols/ipmi/cipher-suites.ts';
import { AppCmd, AuthType, ChassisCmd, CompletionCode, GroupExtensionCmd, NetFn, PayloadType, RmcpPlusStatus } from '../../src/protocols/ipmi/constants.ts';
import { decodeResponse, encodeRequest } from '../../src/protocols/ipmi/message.ts';
import { decodeAsf, decodeRmcp, encodeAsf } from '../../src/protocols/ipmi/rmcp.ts';
import { decodeSession20, encodeSession20 } from '../../src/protocols/ipmi/session20.ts';
import { decodeSession15, encodeSession15 } from '../../src/protocols/ipmi/session15.ts';
import { decodeSol, encodeSol } from '../../src/protocols/ipmi/sol.ts';
import { decodeActivateSessionResponse, decodeSessionChallenge, encodeActivateSessionRequest } from '../../src/protocols/ipmi/session-commands.ts';
import { BmcServer } from '../../src/protocols/ipmi/server/server.ts';
import { MemoryBmcHandler } from '../../src/protocols/ipmi/server/memory-handler.ts';
import type { BmcHandler, PowerState } from '../../src/protocols/ipmi/server/handler.ts';
import { PASSWORD, USER } from './emulator-helpers.ts';
import { MiniConsole } from './mini-console.ts';

const suite3 = CIPHER_SUITES.get(3) as CipherSuite;

async function setup(t: import('node:test').TestContext, options: { maxSessions?: number } = {}) {
  let clock = 1_700_000_000_000;
  const server = new BmcServer({ now: () => clock, sweepIntervalMs: 3_600_000 });
  t.after(() => server.close());
  const hosted = await server.add({ handler: new MemoryBmcHandler({ user: USER, password: PASSWORD }), ...options });
  const consoles: MiniConsole[] = [];
  t.after(() => Promise.all(consoles.map((c) => c.close())));
  const open = async () => {
    const c = await MiniConsole.open(hosted.port);
    consoles.push(c);
    return c;
  };
  return { server, bmc: hosted.bmc, port: hosted.port, open, advance: (ms: number) => (clock += ms) };
}

test('answers an ASF presence ping with an IPMI-capable pong echoing tag and sequence', async (t) => {
  const { open } = await setup(t);
  const c = await open();
  c.send(encodeAsf({ type: 'ping', tag: 0x42 }, 0x07));
  const pong = decodeRmcp((await c.next()) as Buffer);
  assert.equal(pong.sequence, 0x07);
  const m = decodeAsf(pong.body);
  assert.equal(m.type, 'pong');
  assert.equal(m.tag, 0x42);
  if (m.type === 'pong') assert.equal(m.supportedEntities & 0x80, 0x80);
});

test('answers Get Channel Cipher Suites before any session, in RMCP+ framing', async (t) => {
  const { open } = await setup(t);
  const c = await open();
  c.send(
    encodeSession20({
      payloadType: PayloadType.IPMI,
      sessionId: 0,
      sequence: 0,
      payload: encodeRequest({ netFn: NetFn.APP, command: AppCmd.GET_CHANNEL_CIPHER_SUITES, data: Buffer.from([0x0e, 0x00, 0x80]) }),
    }),
  );
  const res = decodeResponse(decodeSession20((await c.next()) as Buffer).payload);
  assert.equal(res.completionCode, 0);
  // Channel 1, then the first 16 bytes of the record list: suites 17, 3, 16 and the start of 15.
  assert.equal(Buffer.from(res.data).toString('hex'), '01' + 'c011034481' + 'c003014181' + 'c010034480' + 'c0');
});

test('unknown and group-extension probe commands get 0xC1; privileges are enforced', async (t) => {
  const { open } = await setup(t);
  const c = await open();
  assert.equal(await c.login(USER, PASSWORD, suite3), 0);
  assert.equal((await c.command(NetFn.GROUP_EXTENSION, GroupExtensionCmd.GET_HPM_X_CAPABILITIES, [0x00]))?.cc, CompletionCode.INVALID_COMMAND);
  assert.equal((await c.command(NetFn.GROUP_EXTENSION, GroupExtensionCmd.GET_PICMG_PROPERTIES, [0x00]))?.cc, CompletionCode.INVALID_COMMAND);
  assert.equal((await c.command(0x30, 0x99))?.cc, CompletionCode.INVALID_COMMAND);
  // Sessions start at User: chassis control needs Operator until Set Session Privilege Level.
  assert.equal((await c.command(NetFn.CHASSIS, ChassisCmd.CHASSIS_CONTROL, [1]))?.cc, CompletionCode.INSUFFICIENT_PRIVILEGE);
  assert.deepEqual((await c.command(NetFn.APP, AppCmd.SET_SESSION_PRIVILEGE_LEVEL, [4]))?.data, Buffer.from([4]));
  assert.equal((await c.command(NetFn.CHASSIS, ChassisCmd.CHASSIS_CONTROL, [1]))?.cc, 0);
  // Short request data is a completion code, never a crash.
  assert.equal((await c.command(NetFn.STORAGE, 0x23, [1]))?.cc, CompletionCode.DATA_LENGTH_INVALID);
});

test('a retransmitted packet gets the same reply without running twice; an old replay gets nothing', async (t) => {
  const { open, bmc } = await setup(t);
  const c = await open();
  assert.equal(await c.login(USER, PASSWORD, suite3), 0);
  await c.command(NetFn.APP, AppCmd.SET_SESSION_PRIVILEGE_LEVEL, [4]);
  const packet = c.requestPacket(NetFn.CHASSIS, ChassisCmd.CHASSIS_CONTROL, [1]);
  c.send(packet);
  const first = await c.next();
  // ipmitool resends the identical datagram when a reply is lost: same answer, same bytes.
  c.send(packet);
  assert.deepEqual(await c.next(), first);
  assert.equal(bmc.stats.replays, 1);
  assert.deepEqual((bmc.handler as MemoryBmcHandler).powerLog, ['on'], 'power on ran once');
  // Once it has left the window of remembered replies, a replay is dropped silently.
  for (let i = 0; i < 10; i++) await c.command(NetFn.APP, AppCmd.GET_DEVICE_ID);
  c.send(packet);
  assert.equal(await c.next(300), undefined);
  // A packet forged from it (same sequence, other bytes) never gets the cached reply.
  const forged = Buffer.from(packet);
  forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1;
  c.send(forged);
  assert.equal(await c.next(300), undefined);
  assert.deepEqual((bmc.handler as MemoryBmcHandler).powerLog, ['on']);
});

test('session slots: full is status 0x01; Close Session and idle timeout free slots', async (t) => {
  const { open, bmc, advance } = await setup(t, { maxSessions: 2 });
  const a = await open();
  const b = await open();
  assert.equal(await a.login(USER, PASSWORD, suite3), 0);
  assert.equal(await b.login(USER, PASSWORD, suite3), 0);
  const c = await open();
  assert.equal(await c.login(USER, PASSWORD, suite3), RmcpPlusStatus.INSUFFICIENT_RESOURCES);
  assert.equal(bmc.activeSessionCount, 2);

  // Close Session frees a slot at once.
  assert.equal((await b.command(NetFn.APP, AppCmd.CLOSE_SESSION, [...Buffer.from(new Uint32Array([b.bmcSessionId]).buffer)]))?.cc, 0);
  assert.equal(bmc.sessionCount, 1);
  assert.equal(await c.login(USER, PASSWORD, suite3), 0);

  // Idle sessions expire.
  advance(61_000);
  bmc.sweep();
  assert.equal(bmc.sessionCount, 0);
  assert.equal(bmc.stats.sessionsExpired, 2);
  assert.equal(await a.command(NetFn.APP, AppCmd.GET_DEVICE_ID), undefined, 'an expired session gets no answer');
});

test('a flood of half-open logins cannot lock consoles out', async (t) => {
  const { open, bmc } = await setup(t, { maxSessions: 2 });
  const flood = await open();
  for (let i = 1; i <= 10; i++) {
    flood.send(
      encodeSession20({
        payloadType: PayloadType.OPEN_SESSION_REQUEST,
        sessionId: 0,
        sequence: 0,
        payload: Buffer.from([i, 4, 0, 0, i, 0, 0, 0, 0, 0, 0, 8, 1, 0, 0, 0, 1, 0, 0, 8, 1, 0, 0, 0, 2, 0, 0, 8, 1, 0, 0, 0]),
      }),
    );
    assert.ok(await flood.next());
  }
  assert.equal(bmc.sessionCount, 2);
  assert.equal(await (await open()).login(USER, PASSWORD, suite3), 0);
  assert.equal(bmc.activeSessionCount, 1);
});

test('a wrong password fails RAKP and leaves no session behind', async (t) => {
  const { open, bmc } = await setup(t);
  const c = await open();
  await assert.rejects(c.login(USER, 'not-it', suite3), /RAKP2/);
  assert.equal(await (await open()).login('nobody', PASSWORD, suite3), RmcpPlusStatus.UNAUTHORIZED_NAME);
  // The half-open session of the first attempt expires with the setup timeout; none is active.
  assert.equal(bmc.activeSessionCount, 0);
});

test('IPMI 1.5: a retransmitted Activate Session gets the same reply and no second session', async (t) => {
  const { open, bmc } = await setup(t);
  const c = await open();
  const challengeData = Buffer.concat([Buffer.from([AuthType.MD5]), Buffer.from(USER), Buffer.alloc(16 - USER.length)]);
  c.send(
    encodeSession15({
      authType: 'none',
      sequence: 0,
      sessionId: 0,
      message: encodeRequest({ netFn: NetFn.APP, command: AppCmd.GET_SESSION_CHALLENGE, data: challengeData }),
    }),
  );
  const challenge = decodeSessionChallenge(decodeResponse(decodeSession15((await c.next()) as Buffer).message).data);
  const activate = encodeSession15({
    authType: 'md5',
    sequence: 0,
    sessionId: challenge.temporarySessionId,
    password: PASSWORD,
    message: encodeRequest({
      netFn: NetFn.APP,
      command: AppCmd.ACTIVATE_SESSION,
      data: encodeActivateSessionRequest({ authType: AuthType.MD5, maxPrivilege: 4, challenge: challenge.challenge, initialOutboundSequence: 1 }),
    }),
  });
  c.send(activate);
  const first = (await c.next()) as Buffer;
  c.send(activate);
  const second = (await c.next()) as Buffer;
  assert.deepEqual(second, first);
  const reply = decodeResponse(decodeSession15(first).message);
  assert.equal(reply.completionCode, 0);
  assert.equal(decodeActivateSessionResponse(reply.data).maxPrivilege, 4);
  assert.equal(bmc.sessionCount, 1);
  assert.equal(bmc.stats.sessionsOpened, 1);
});

test('a handler that throws is answered 0xFF and counted; the BMC and SOL stay usable', async (t) => {
  class Flaky extends MemoryBmcHandler {
    broken = true;
    override getPower(): 'on' | 'off' {
      if (this.broken) throw new Error('VM unreachable');
      return super.getPower();
    }
    override attachSol(output: (data: Buffer) => void) {
      if (this.broken) throw new Error('no console yet');
      return super.attachSol(output);
    }
  }
  const handler = new Flaky({ user: USER, password: PASSWORD });
  const server = new BmcServer({ sweepIntervalMs: 3_600_000 });
  t.after(() => server.close());
  const { bmc, port } = await server.add({ handler });
  const c = await MiniConsole.open(port);
  t.after(() => c.close());
  assert.equal(await c.login(USER, PASSWORD, suite3), 0);
  const activate = [PayloadType.SOL, 1, 0xc0, 0, 0, 0];
  assert.equal((await c.command(NetFn.CHASSIS, ChassisCmd.GET_CHASSIS_STATUS))?.cc, CompletionCode.UNSPECIFIED);
  assert.equal((await c.command(NetFn.APP, AppCmd.ACTIVATE_PAYLOAD, activate))?.cc, CompletionCode.UNSPECIFIED);
  assert.equal(bmc.stats.commandErrors, 2);
  handler.broken = false;
  assert.equal((await c.command(NetFn.CHASSIS, ChassisCmd.GET_CHASSIS_STATUS))?.cc, 0);
  const activated = await c.command(NetFn.APP, AppCmd.ACTIVATE_PAYLOAD, activate);
  assert.equal(activated?.cc, 0);
  assert.equal(activated?.data.length, 12, 'Activate Payload answers exactly 12 bytes');
  assert.equal(activated?.data.readUInt16LE(8), port, 'the SOL port, little-endian');
});

test('a handler that answers later (a promise) is waited for; a rejected promise is answered 0xFF', async (t) => {
  // Handlers that reach a VM or a PDU answer asynchronously (the lab's does); the in-memory one answers at once.
  // This one is the in-memory BMC with power read through a promise.
  const memory = new MemoryBmcHandler({ user: USER, password: PASSWORD });
  let failing = false;
  const handler: BmcHandler = new Proxy(memory, {
    get(target, prop) {
      if (prop === 'getPower')
        return () => new Promise<PowerState>((resolve, reject) => setImmediate(() => (failing ? reject(new Error('PDU unreachable')) : resolve('on'))));
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const server = new BmcServer({ sweepIntervalMs: 3_600_000 });
  t.after(() => server.close());
  const { bmc, port } = await server.add({ handler });
  const c = await MiniConsole.open(port);
  t.after(() => c.close());
  assert.equal(await c.login(USER, PASSWORD, suite3), 0);
  const status = await c.command(NetFn.CHASSIS, ChassisCmd.GET_CHASSIS_STATUS);
  assert.equal(status?.cc, 0);
  assert.equal((status?.data[0] ?? 0) & 0x01, 1, 'power on, as the handler said');
  failing = true;
  assert.equal((await c.command(NetFn.CHASSIS, ChassisCmd.GET_CHASSIS_STATUS))?.cc, CompletionCode.UNSPECIFIED);
  assert.equal(bmc.stats.commandErrors, 1);
});

test('a SOL console that vanishes with output pending is cleaned up (pyghmi fakebmc crashed here)', async (t) => {
  const { open, bmc, advance } = await setup(t);
  const c = await open();
  assert.equal(await c.login(USER, PASSWORD, suite3), 0);
  assert.equal((await c.command(NetFn.APP, AppCmd.ACTIVATE_PAYLOAD, [PayloadType.SOL, 1, 0xc0, 0, 0, 0]))?.cc, 0);
  // Type a line: the BMC acks it, echoes it, and then waits for an ack that never comes.
  c.send(
    encodeSession20(
      {
        payloadType: PayloadType.SOL,
        sessionId: c.bmcSessionId,
        sequence: c.sequence++,
        payload: encodeSol({ sequence: 1, ackSequence: 0, acceptedCount: 0, flags: 0, data: Buffer.from('hi\r') }),
      },
      c.keys,
      Buffer.alloc(16, 1),
    ),
  );
  const ack = decodeSol(decodeSession20((await c.next()) as Buffer, c.keys).payload);
  assert.deepEqual([ack.sequence, ack.ackSequence, ack.acceptedCount], [0, 1, 3]);
  const output = decodeSol(decodeSession20((await c.next()) as Buffer, c.keys).payload);
  assert.match(output.data.toString(), /anvil-console\[ANVIL0001\]: hi/);
  assert.equal(bmc.sol.owner?.bmcSessionId, c.bmcSessionId);
  // The console disappears without acking or closing: its idle session is swept, SOL freed.
  await c.close();
  advance(61_000);
  bmc.sweep();
  assert.equal(bmc.sessionCount, 0);
  assert.equal(bmc.sol.owner, undefined);
  // A new console can take SOL at once.
  const d = await open();
  assert.equal(await d.login(USER, PASSWORD, suite3), 0);
  assert.equal((await d.command(NetFn.APP, AppCmd.ACTIVATE_PAYLOAD, [PayloadType.SOL, 1, 0xc0, 0, 0, 0]))?.cc, 0);
});

test('a handler that answers after the server closed is not answered, and is no error', async (t) => {
  const errors: unknown[] = [];
  const server = new BmcServer({ sweepIntervalMs: 3_600_000, onError: (error) => errors.push(error) });
  t.after(() => server.close());
  const memory = new MemoryBmcHandler({ user: USER, password: PASSWORD });
  let answer: ((state: PowerState) => void) | undefined;
  let asked!: () => void;
  const askedOnce = new Promise<void>((resolve) => {
    asked = resolve;
  });
  const handler: BmcHandler = new Proxy(memory, {
    get(target, prop) {
      if (prop === 'getPower')
        return () =>
          new Promise<PowerState>((done) => {
            answer = done;
            asked();
          });
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const { port } = await server.add({ handler });
  const c = await MiniConsole.open(port);
  t.after(() => c.close());
  assert.equal(await c.login(USER, PASSWORD, suite3), 0);
  void c.command(NetFn.CHASSIS, ChassisCmd.GET_CHASSIS_STATUS).catch(() => undefined);
  await askedOnce;
  await server.close();
  answer!('on');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(errors, []);
});
