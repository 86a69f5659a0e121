// What the pages use: the domain services they show and change, nothing of the store.
import type { Machines } from '../machines/machines.ts';
import type { MachineChanges } from '../machines/changes.ts';
import type { NextBoot } from '../boot/next-boot.ts';
import type { Discovered } from '../boot/discovered.ts';
import type { Profiles } from '../boot/profiles.ts';
import type { Testing } from '../testing/testing.ts';
import type { Tokens } from '../auth/tokens.ts';
import type { WebSessions } from '../auth/sessions.ts';
import type { MachineControl } from '../conductor/machine-control.ts';
import type { ImageLibrary } from '../provisioning/images.ts';
import type { Provisioner } from '../provisioning/provisioner.ts';
import type { StaleWatch } from '../conductor/stale.ts';
import type { AnvilError } from '../common/errors.ts';
import type { Conductors } from '../conductor/conductors.ts';

export interface WebContext {
  readonly machines: Machines;
  /** What changed, as it happens: the live pages' source. */
  readonly changes: MachineChanges;
  readonly nextBoot: NextBoot;
  readonly discovered: Discovered;
  readonly profiles: Profiles;
  readonly testing: Testing;
  readonly tokens: Tokens;
  /** The pages' sign-in sessions. */
  readonly sessions: WebSessions;
  readonly control: MachineControl;
  readonly images: ImageLibrary;
  readonly provisioner: Provisioner;
  /** What is stuck (overdue runs, silent boots, quiet deploys), as /metrics counts it. */
  readonly stale: StaleWatch;
  /** Which conductor owns which machine (the hash ring), for the fleet's owner column and filter. */
  readonly conductors: Pick<Conductors, 'ownsEverything' | 'ownerOf' | 'machinesOf' | 'ring'>;
  readonly clock: () => Date;
  /** A failure because the database is away, as the 503 that says so (the composition root knows the store). */
  readonly databaseAway?: (error: unknown) => AnvilError | undefined;
}
