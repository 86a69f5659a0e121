// Every `bin/anvil` sub-command, in the order `anvil --help` lists them.
// Each entry loads its module only when it runs, so one command's start-up never pays for another's.
import type { CliCommand } from './command.ts';

/** A command whose module is imported when it runs. */
export function lazy(name: string, summary: string, load: () => Promise<{ run(argv: string[]): Promise<number> }>): CliCommand {
  return { name, summary, run: async (argv) => (await load()).run(argv) };
}

// Add a command with one line: lazy('name', 'summary', () => import('./module.ts')). Keep it one
// line of that shape: scripts/build-cli.ts reads it to know which files each command can run.
export const commands: readonly CliCommand[] = [
  lazy('serve', 'Run the server: machine-facing URLs, the API and the web pages', () => import('./serve.ts')),
  lazy('demo', 'Run the server with a demo lab of simulated machines', () => import('./demo.ts')),
  lazy('export-pxelinux', 'Write pxelinux.cfg/01-<mac> files for a TFTP server of your own', () => import('./export-pxelinux.ts')),
  lazy('token', 'Create, list and revoke API tokens', () => import('./token.ts')),
  lazy('conductor', 'List the anvil serve processes sharing the database: heartbeats, alive or dead, machines owned', () => import('./conductor.ts')),
  lazy('pxemngr', 'The PXE Manager commands (also bin/pxemngr)', () => import('./pxemngr.ts')),
  lazy('ipmi', 'Talk to BMCs the way ipmitool does (fleets with -H node[1-100])', () => import('./ipmi.ts')),
  lazy('image', 'The image library: upload, list, show, download and delete disk images', () => import('./image.ts')),
  lazy('machine', 'Power, boot device and driver of a machine (IPMI, AMT) under its lock', () => import('./machine.ts')),
  lazy('vcl', "Apache VCL's provisioning interface: node_status, load, capture, power_*, get_current_image, get_image_size", () => import('./vcl.ts')),
  lazy('amt', 'Control Intel AMT machines the way amttool does', () => import('./amt.ts')),
  lazy('redfish', 'Talk to Redfish BMCs the way redfishtool does (Systems reset On, setBootOverride, raw)', () => import('./redfish.ts')),
  lazy('bmc amt', 'Run an emulated Intel AMT (WS-Management and legacy SOAP)', () => import('./bmc-amt.ts')),
  lazy('bmc redfish', 'Run an emulated Redfish BMC (sessions, TLS, ETags, virtual media, task monitors)', () => import('./bmc-redfish.ts')),
  lazy('bmc fake', 'Run emulated IPMI BMCs (pyghmi fakebmc, or a fleet with --count)', () => import('./bmc-fake.ts')),
  lazy('lab', "The emulated lab: QEMU machines behind emulated BMCs (anvil's VirtualBMC)", () => import('./lab.ts')),
];
