// `anvil lab vm console NAME`: this terminal on a lab VM's serial console, raw, until Ctrl-]
// or the VM goes. Through `lab up`'s console share while it runs (it holds QEMU's one serial
// connection, and the share works while the VM is off, as SOL does), else QEMU's own socket.
import { AnvilError } from '../common/errors.ts';
import { connectConsoleShare } from '../lab/console-share.ts';
import { connectSerial } from '../lab/console.ts';
import type { LabStore } from '../lab/store.ts';
import { LabVm } from '../lab/vm.ts';

/** Ctrl-]: leaves the console, as virsh console and telnet do. */
const CONSOLE_ESCAPE = 0x1d;

export async function consoleCommand(store: LabStore, name: string): Promise<number> {
  const def = await store.load(name);
  const vm = await LabVm.open(store, name, { watch: false });
  const on = (await vm.getPowerState()) === 'on';
  await vm.close();
  // While lab up runs it holds QEMU's one serial connection and shares it; the share, like SOL, works while the VM is off too.
  const shared = await connectConsoleShare(store.consoleSocket(def.name));
  if (!shared && !on) throw new AnvilError('LAB_POWERED_OFF', 'conflict', `lab VM ${name} is off; power it on first ('anvil lab vm power ${name} on')`);
  const socket = shared ?? (await connectSerial(def.serialSocket, { timeoutMs: 0 }));
  const via = shared ? ` (shared by lab up${on ? '' : '; the VM is off, its output shows once it is powered on'})` : '';
  process.stderr.write(`connected to ${name}'s serial console${via}; Ctrl-] quits\n`);
  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  return new Promise<number>((resolveDone) => {
    const finish = (): void => {
      if (raw) stdin.setRawMode(false);
      // Paused, a piped stdin would still hold the process open: the console is done with it.
      stdin.destroy();
      socket.destroy();
      resolveDone(0);
    };
    stdin.on('data', (chunk: Buffer) => {
      const escape = chunk.indexOf(CONSOLE_ESCAPE);
      if (escape >= 0) {
        socket.write(chunk.subarray(0, escape));
        finish();
        return;
      }
      socket.write(chunk);
    });
    // Piped input that ends leaves the console open until the VM goes off or Ctrl-C.
    socket.on('data', (chunk: Buffer) => process.stdout.write(chunk));
    socket.on('close', finish);
    socket.on('error', finish);
  });
}
