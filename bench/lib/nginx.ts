// Debian's nginx as the reference HTTP server: its own config and prefix in a temp dir (no
// system file is read or written), in the foreground, stopped by the bench. Settings are
// Debian's defaults where they matter (worker_processes auto, sendfile on, tcp_nopush on,
// access log on), with worker_connections raised so a thousand machines get in at once.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';

export interface NginxOptions {
  /** Where config, pid file, logs and temp paths go. */
  readonly dir: string;
  /** Served as /. */
  readonly root: string;
  readonly listen: string;
  /** Connections a worker must hold at once. */
  readonly connections: number;
  /** Accept PUT of files under / (the dav module), any size, bodies spooled in `dir`'s temp. */
  readonly put?: boolean;
  /** Starts the command (inside the server's namespace). */
  readonly spawn: (command: string, args: readonly string[]) => ChildProcess;
}

/** How long nginx has to write its pid file (it does so once its sockets listen). */
export const NGINX_START_TIMEOUT_MS = 10_000;

export class Nginx {
  readonly child: ChildProcess;

  private constructor(child: ChildProcess) {
    this.child = child;
  }

  static async start(opts: NginxOptions): Promise<Nginx> {
    mkdirSync(join(opts.dir, 'temp'), { recursive: true });
    const pidFile = join(opts.dir, 'nginx.pid');
    const config = join(opts.dir, 'nginx.conf');
    writeFileSync(
      config,
      [
        `pid ${pidFile};`,
        'worker_processes auto;',
        `worker_rlimit_nofile ${opts.connections * 2 + 256};`,
        `error_log ${join(opts.dir, 'error.log')} warn;`,
        `events { worker_connections ${opts.connections + 128}; }`,
        'http {',
        '  sendfile on;',
        '  tcp_nopush on;',
        '  keepalive_requests 1000;',
        '  default_type application/octet-stream;',
        `  access_log ${join(opts.dir, 'access.log')};`,
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(opts.dir, 'temp', t)};`),
        `  server { listen ${opts.listen}; root ${opts.root};${opts.put ? ' location / { dav_methods PUT; create_full_put_path on; client_max_body_size 0; }' : ''} }`,
        '}',
        '',
      ].join('\n'),
    );
    const child = opts.spawn('nginx', ['-p', opts.dir, '-c', config, '-e', join(opts.dir, 'error.log'), '-g', 'daemon off;']);
    let output = '';
    child.stderr?.on('data', (d: Buffer) => (output += d));
    const deadline = performance.now() + NGINX_START_TIMEOUT_MS;
    while (!existsSync(pidFile) || readFileSync(pidFile, 'utf8').trim() === '') {
      if (child.exitCode !== null || performance.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`nginx did not start: ${output}${existsSync(join(opts.dir, 'error.log')) ? readFileSync(join(opts.dir, 'error.log'), 'utf8') : ''}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return new Nginx(child);
  }

  /** The master's pid (workers are its children). */
  get pid(): number {
    return this.child.pid!;
  }

  /** Graceful stop (SIGQUIT: the master stops its workers), then waits for the master. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGQUIT');
    await exited;
  }
}
