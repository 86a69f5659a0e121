// The demo's QEMU machines run their tests in the tiny Linux (scripts/tiny-linux), which prints
// each test's output on the serial console between ANVIL-RUN-BEGIN and ANVIL-RUN-END lines:
// its busybox wget cannot send the multipart upload pxemngr's tests use. The demo reads those
// lines off the console and uploads the output for the machine. Parsing only here.

/** One test's output as the guest printed it, and its exit status. */
export interface ConsoleRun {
  readonly mac: string;
  readonly output: string;
  readonly status: number;
}

const BEGIN = /^ANVIL-RUN-BEGIN (\S+)$/;
const END = /^ANVIL-RUN-END (\S+) status (\d+)$/;
/** Terminal escapes SeaBIOS and iPXE write to the serial console; they are no test output. */
const ESCAPES = /\x1b\[[0-9;?]*[A-Za-z]|\x1bc/g;

/** Fed console bytes as they come, calls onRun for each complete BEGIN..END block. */
export class ConsoleRunReader {
  readonly #onRun: (run: ConsoleRun) => void;
  #partial = '';
  #lines: string[] | undefined;
  #mac = '';

  constructor(onRun: (run: ConsoleRun) => void) {
    this.#onRun = onRun;
  }

  push(chunk: Buffer | string): void {
    const text = this.#partial + chunk.toString();
    const lines = text.split('\n');
    this.#partial = lines.pop() ?? '';
    for (const raw of lines) this.#line(raw.replace(/\r$/, '').replace(ESCAPES, ''));
  }

  #line(line: string): void {
    const begin = BEGIN.exec(line);
    if (begin) {
      this.#lines = [];
      this.#mac = begin[1]!;
      return;
    }
    if (this.#lines === undefined) return;
    const end = END.exec(line);
    if (end && end[1] === this.#mac) {
      const output = this.#lines.length > 0 ? this.#lines.join('\n') + '\n' : '';
      this.#lines = undefined;
      this.#onRun({ mac: this.#mac, output, status: Number(end[2]) });
      return;
    }
    this.#lines.push(line);
  }
}

/** What is uploaded: the output, with an E: line for a script that failed (as the simulated machines report it). */
export function resultOf(run: ConsoleRun): string {
  return run.output + (run.status === 0 ? '' : `E: test script exited with status ${run.status}\n`);
}
