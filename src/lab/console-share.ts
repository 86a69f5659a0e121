// `lab up` shares each VM's serial console on a Unix socket of its own (run/NAME/console.sock).
// QEMU serves its serial socket to one client only, and the supervising `lab up` is that
// client; without this, a VM behind an AMT alone (AMT has no SOL here) would have no console
// while lab up runs. Each connection is a SerialConsole stream: it outlives the VM's power
// cycles, as SOL does, and sees output from the moment it connects.
import { rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface ConsoleShare {
  readonly path: string;
  /** Disconnects every client and removes the socket. */
  close(): Promise<void>;
}

/** Serves `open()` streams on a Unix socket at path (replacing one a killed lab up left behind). */
export async function shareConsole(path: string, open: () => Duplex): Promise<ConsoleShare> {
  await rm(path, { force: true });
  const clients = new Set<Socket>();
  const server = createServer((socket) => {
    clients.add(socket);
    const stream = open();
    // Not pipe(): a slow client must not hold back the console others share; a socket buffers.
    stream.on('data', (chunk: Buffer) => socket.write(chunk));
    stream.on('end', () => socket.end());
    stream.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => stream.write(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      clients.delete(socket);
      stream.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    path,
    close: async () => {
      for (const socket of clients) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(path, { force: true });
    },
  };
}

/** A connection to a console share, or undefined when none is served (no lab up, or one that was killed). */
export function connectConsoleShare(path: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ path });
    socket.once('error', () => resolve(undefined));
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}
