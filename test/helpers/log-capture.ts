// Collects a server's pino lines (JSON) so a test can read what was logged, and at what level.
import { Writable } from 'node:stream';

export interface LogLine {
  readonly level: number;
  readonly msg?: string;
  readonly [key: string]: unknown;
}

/** pino's numeric levels. */
export const LOG_LEVEL = { warn: 40, error: 50 } as const;

export class LogCapture extends Writable {
  readonly lines: LogLine[] = [];
  #partial = '';

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const text = this.#partial + chunk.toString('utf8');
    const parts = text.split('\n');
    this.#partial = parts.pop() ?? '';
    for (const part of parts) if (part.trim() !== '') this.lines.push(JSON.parse(part) as LogLine);
    callback();
  }

  /** Lines at warn level or above. */
  atLeast(level: number): LogLine[] {
    return this.lines.filter((line) => line.level >= level);
  }
}
