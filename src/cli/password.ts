// Reading a secret from a file's first line, as --password-file options do (a command line is
// visible to every user of the machine; a file is not).
// node:fs, not node:fs/promises: `anvil ipmi` imports this module, and loading fs/promises (with
// the streams and readline it pulls in) was ~1.5 ms of every start for a file read few runs make.
import { readFileSync } from 'node:fs';
import { UsageError } from './command.ts';

export async function readPasswordFile(path: string, option: string): Promise<string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${option} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return text.split(/\r?\n/)[0] ?? '';
}

/** Lines of stdin not yet taken by a prompt (a pipe may hold several answers at once). */
let pending: string[] = [];
let stdinEnded = false;

/** The next line of a piped stdin, or undefined at its end. `pending`'s last item is the unfinished line. */
async function nextPipedLine(): Promise<string | undefined> {
  while (pending.length < 2 && !stdinEnded) {
    const chunk = await new Promise<string | undefined>((resolve) => {
      const onData = (d: Buffer) => done(d.toString('utf8'));
      const onEnd = () => done(undefined);
      const done = (text: string | undefined) => {
        process.stdin.off('data', onData).off('end', onEnd).pause();
        resolve(text);
      };
      process.stdin.on('data', onData).on('end', onEnd).resume();
    });
    if (chunk === undefined) stdinEnded = true;
    else pending = [...pending.slice(0, -1), ...((pending.at(-1) ?? '') + chunk).split(/\r?\n/)];
  }
  if (pending.length >= 2) return pending.shift();
  const last = pending.shift();
  return last === '' ? undefined : last;
}

/** Reads a line from the terminal without echoing it, as getpass(3) does; Ctrl-C or Ctrl-D gives up. */
function readHidden(): Promise<string | undefined> {
  const stdin = process.stdin;
  return new Promise((resolve) => {
    let text = '';
    stdin.setRawMode(true);
    const finish = (value: string | undefined) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      resolve(value);
    };
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish(text);
        if (ch === '\u0003' || ch === '\u0004') return finish(undefined);
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else text += ch;
      }
    };
    stdin.on('data', onData).resume();
  });
}

/**
 * A secret asked for interactively, as ipmitool's -a and `user set password` ask: the prompt on
 * stderr, the answer typed without echo on a terminal, or the next line of stdin when it is a pipe.
 */
export async function promptSecret(prompt: string): Promise<string> {
  process.stderr.write(prompt);
  const answer = process.stdin.isTTY ? await readHidden() : await nextPipedLine();
  if (answer === undefined) throw new UsageError('no password given (the prompt was left or stdin ended)');
  return answer;
}
