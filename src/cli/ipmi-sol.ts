// `anvil ipmi sol activate|deactivate`: an interactive serial console as ipmitool's, with
// its escapes after a newline: ~. leaves, ~B sends a break, ~? lists them, ~~ sends one ~.
import type { Bmc } from '../protocols/ipmi/client/bmc.ts';
import { deactivateSol, SolConsole } from '../protocols/ipmi/client/sol.ts';

const ESCAPE = 0x7e; // '~'
const CR = 0x0d;
const LF = 0x0a;
const HELP = `Supported escape sequences:
  ~.  terminate connection
  ~B  send a BREAK
  ~?  this message
  ~~  send the escape character by typing it twice
  (Note that escapes are only recognized immediately after newline.)\r\n`;

/** Splits typed bytes into console data and escape commands (pure, so it can be tested). */
export class EscapeReader {
  #afterNewline = true;
  #pendingEscape = false;

  feed(input: Uint8Array): { data: Buffer; commands: ('quit' | 'break' | 'help')[] } {
    const out: number[] = [];
    const commands: ('quit' | 'break' | 'help')[] = [];
    for (const byte of input) {
      if (this.#pendingEscape) {
        this.#pendingEscape = false;
        if (byte === 0x2e) commands.push('quit');
        else if (byte === 0x42) commands.push('break');
        else if (byte === 0x3f) commands.push('help');
        else if (byte === ESCAPE) out.push(ESCAPE);
        else out.push(ESCAPE, byte);
        if (commands.at(-1) === 'quit') break;
        continue;
      }
      if (byte === ESCAPE && this.#afterNewline) {
        this.#pendingEscape = true;
        continue;
      }
      out.push(byte);
      this.#afterNewline = byte === CR || byte === LF;
    }
    return { data: Buffer.from(out), commands };
  }
}

export async function solActivate(
  bmc: Bmc,
  io: { stdin: NodeJS.ReadStream; stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream } = process,
): Promise<number> {
  const console = await SolConsole.activate(bmc);
  const raw = io.stdin.isTTY === true;
  if (raw) io.stdin.setRawMode(true);
  io.stderr.write('[SOL Session operational.  Use ~? for help]\n');
  const escapes = new EscapeReader();
  return new Promise<number>((resolve) => {
    let done = false;
    const finish = async (code: number, message: string) => {
      if (done) return;
      done = true;
      io.stdin.off('data', onInput);
      io.stdin.off('end', onEnd);
      io.stdin.pause();
      if (raw) io.stdin.setRawMode(false);
      // Paused, a piped stdin still holds the process open after ~. (ipmitool exits): the session is done with it.
      else io.stdin.destroy();
      await console.close();
      io.stderr.write(message);
      resolve(code);
    };
    const onInput = (chunk: Buffer) => {
      const { data, commands } = escapes.feed(chunk);
      if (data.length > 0) console.write(data);
      for (const c of commands) {
        if (c === 'quit') void finish(0, '\n[terminated anvil]\n');
        else if (c === 'break') console.sendBreak();
        else io.stderr.write(HELP);
      }
    };
    const onEnd = () => void finish(0, '\n[terminated anvil]\n');
    console.on('data', (data) => io.stdout.write(data));
    console.on('deactivated', (reason) => void finish(1, `\n[SOL session closed: ${reason}]\n`));
    console.on('error', (error) => void finish(1, `\n[SOL session failed: ${error.message}]\n`));
    io.stdin.on('data', onInput);
    io.stdin.on('end', onEnd);
    io.stdin.resume();
  });
}

export async function solDeactivate(bmc: Bmc, stderr: NodeJS.WriteStream = process.stderr): Promise<void> {
  if (!(await deactivateSol(bmc))) stderr.write('Info: SOL payload already de-activated\n');
}
