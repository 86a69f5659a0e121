// A minimal RMCP+ console built from anvil's codec, for tests that need to craft or replay
// exact packets (fuzzing, replay windows, slot limits). Not the product client.
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { CIPHER_SUITES } from '../../src/protocols/ipmi/cipher-suites.ts';
import type { CipherSuite } from '../../src/protocols/ipmi/cipher-suites.ts';
import { PayloadType } from '../../src/protocols/ipmi/constants.ts';
import type { SessionKeys } from '../../src/protocols/ipmi/crypto.ts';
import { deriveSessionKeys } from '../../src/protocols/ipmi/crypto.ts';
import { decodeResponse, encodeRequest } from '../../src/protocols/ipmi/message.ts';
import {
  decodeOpenSessionResponse,
  decodeRakp2,
  decodeRakp4,
  encodeOpenSessionRequest,
  encodeRakp1,
  encodeRakp3,
  rakp3AuthCode,
  sessionIntegrityKey,
  verifyRakp2,
  verifyRakp4,
} from '../../src/protocols/ipmi/rakp.ts';
import { decodeSession20, encodeSession20 } from '../../src/protocols/ipmi/session20.ts';

export const REPLY_TIMEOUT_MS = 2000;

export class MiniConsole {
  readonly socket: Socket;
  readonly #port: number;
  #queue: Buffer[] = [];
  #waiter: ((b: Buffer) => void) | undefined;
  keys: SessionKeys | undefined;
  bmcSessionId = 0;
  readonly consoleSessionId = randomBytes(4).readUInt32LE(0) | 1;
  sequence = 1;
  #rqSeq = 1;

  private constructor(socket: Socket, port: number) {
    this.socket = socket;
    this.#port = port;
    socket.on('message', (msg) => {
      if (this.#waiter !== undefined) {
        const w = this.#waiter;
        this.#waiter = undefined;
        w(msg);
      } else this.#queue.push(msg);
    });
  }

  static async open(port: number): Promise<MiniConsole> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    return new MiniConsole(socket, port);
  }

  send(packet: Buffer): void {
    this.socket.send(packet, this.#port, '127.0.0.1');
  }

  /** The next datagram from the BMC, or undefined after the timeout. */
  next(timeoutMs = REPLY_TIMEOUT_MS): Promise<Buffer | undefined> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.#waiter = (b) => {
        clearTimeout(timer);
        resolve(b);
      };
    });
  }

  drain(): void {
    this.#queue = [];
  }

  async #exchange(type: number, payload: Buffer): Promise<Buffer> {
    this.send(encodeSession20({ payloadType: type, sessionId: 0, sequence: 0, payload }));
    const reply = await this.next();
    if (reply === undefined) throw new Error(`no reply to payload type 0x${type.toString(16)}`);
    return decodeSession20(reply).payload;
  }

  /** Open Session + RAKP 1–4; returns the Open Session status (0 = logged in). */
  async login(user: string, password: string, suite: CipherSuite = CIPHER_SUITES.get(3) as CipherSuite, privilege = 4): Promise<number> {
    const opened = decodeOpenSessionResponse(
      await this.#exchange(
        PayloadType.OPEN_SESSION_REQUEST,
        encodeOpenSessionRequest({
          tag: 1,
          requestedMaxPrivilege: privilege,
          consoleSessionId: this.consoleSessionId,
          auth: suite.auth,
          integrity: suite.integrity,
          confidentiality: suite.confidentiality,
        }),
      ),
    );
    if (opened.status !== 0) return opened.status;
    this.bmcSessionId = opened.bmcSessionId;
    const rm = randomBytes(16);
    const userName = Buffer.from(user);
    const role = 0x10 | privilege;
    const rakp2 = decodeRakp2(
      await this.#exchange(PayloadType.RAKP1, encodeRakp1({ tag: 2, bmcSessionId: opened.bmcSessionId, consoleRandom: rm, role, userName })),
    );
    if (rakp2.status !== 0) return rakp2.status;
    const x = {
      auth: suite.auth,
      consoleSessionId: this.consoleSessionId,
      bmcSessionId: opened.bmcSessionId,
      consoleRandom: rm,
      bmcRandom: rakp2.bmcRandom,
      bmcGuid: rakp2.bmcGuid,
      role,
      userName,
    };
    verifyRakp2(x, password, rakp2.keyExchangeAuthCode);
    const rakp4 = decodeRakp4(
      await this.#exchange(
        PayloadType.RAKP3,
        encodeRakp3({ tag: 3, status: 0, bmcSessionId: opened.bmcSessionId, keyExchangeAuthCode: rakp3AuthCode(x, password) }),
      ),
    );
    if (rakp4.status !== 0) return rakp4.status;
    const sik = sessionIntegrityKey(x, password);
    verifyRakp4(x, sik, rakp4.integrityCheckValue);
    this.keys = deriveSessionKeys(suite.auth, sik, suite.integrity, suite.confidentiality);
    return 0;
  }

  /** An in-session request packet, as it would go on the wire (for replay and mutation). */
  requestPacket(netFn: number, command: number, data: number[] = []): Buffer {
    const message = encodeRequest({ netFn, command, data: Buffer.from(data), sequence: this.#rqSeq });
    this.#rqSeq = (this.#rqSeq + 1) & 0x3f;
    return encodeSession20(
      { payloadType: PayloadType.IPMI, sessionId: this.bmcSessionId, sequence: this.sequence++, payload: message },
      this.keys,
      randomBytes(16),
    );
  }

  /** Sends a request in the session and returns [completion code, data], or undefined without reply. */
  async command(netFn: number, command: number, data: number[] = []): Promise<{ cc: number; data: Buffer } | undefined> {
    this.send(this.requestPacket(netFn, command, data));
    const reply = await this.next();
    if (reply === undefined) return undefined;
    const res = decodeResponse(decodeSession20(reply, this.keys).payload);
    return { cc: res.completionCode, data: Buffer.from(res.data) };
  }

  #closed = false;

  /** Closes the socket; safe to call twice. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
