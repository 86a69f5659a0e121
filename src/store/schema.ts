// The database's tables as Kysely types. Timestamps are ISO-8601 UTC strings and flags
// are 0/1 integers, so one set of queries runs on SQLite and PostgreSQL alike.
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export interface SettingsTable {
  key: string;
  value: string;
}

export interface MachinesTable {
  id: Generated<number>;
  name: string;
  driver: Generated<string>;
  /** JSON; secrets inside are encrypted (see drivers' secret handling). */
  driver_info: Generated<string>;
  power_state: Generated<string>;
  provision_state: Generated<string>;
  maintenance: Generated<number>;
  maintenance_reason: string | null;
  /** Who holds the machine's exclusive lock, or null. */
  reservation: string | null;
  /** The conductor (conductors.id) whose process holds the lock; null for a command-line process. */
  reservation_conductor: Generated<string | null>;
  next_profile: Generated<string>;
  /** 1 when next_profile falls back to `local` after one boot is served. */
  next_once: Generated<number>;
  version: string | null;
  created_at: string;
  updated_at: string;
  /** JSON: what the driver remembers between operations (e.g. a boot device to re-apply). */
  driver_internal_info: Generated<string>;
  /** The kind of maintenance anvil set by itself ('power failure'), so it clears only its own. */
  fault: string | null;
  /** The image last deployed (or assigned) to the machine: VCL's nodetype. */
  image_id: number | null;
  /** Its name, kept when the image is deleted from the library. */
  image_name: string | null;
  /** A deploy deadline of the machine's own, in seconds (null: the server's). */
  deploy_timeout_s: number | null;
  /** Why the last deploy, capture or undeploy failed. */
  provision_error: string | null;
  /** JSON: how to reach the machine's OS (address, ssh_port, ssh_user, login_home); see machines/properties.ts. */
  properties: Generated<string>;
}

export interface MacsTable {
  mac: string;
  machine_id: number;
}

export interface ProfilesTable {
  name: string;
  available: number;
  synced_at: string;
}

export type BootLogKind = 'nextboot' | 'boot';

export interface BootLogTable {
  id: Generated<number>;
  machine_id: number;
  at: string;
  kind: BootLogKind;
  profile: string;
  /** operator, localboot callback, once-rule, boot served, ... */
  reason: string;
  loader: string | null;
  arch: string | null;
  address: string | null;
}

export interface TokensTable {
  id: Generated<number>;
  name: string;
  role: string;
  hash: string;
  created_at: string;
  last_used_at: string | null;
}

/** A signed-in browser: the cookie holds the session id, this row its SHA-256. */
export interface WebSessionsTable {
  id: Generated<number>;
  hash: string;
  token_id: number;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
}

export interface TestsTable {
  name: string;
  available: number;
  synced_at: string;
}

export type RunState = 'requested' | 'sent' | 'done' | 'error';

export interface RunsTable {
  id: Generated<number>;
  machine_id: number;
  test: string;
  state: RunState;
  requested_at: string;
  sent_at: string | null;
  finished_at: string | null;
  infos: Generated<number>;
  warnings: Generated<number>;
  errors: Generated<number>;
  version: string | null;
  upload_path: string | null;
  upload_bytes: number | null;
  error_reason: string | null;
}

export type LineKind = 'I' | 'W' | 'E' | 'V';

export interface RunLinesTable {
  id: Generated<number>;
  run_id: number;
  line_no: number;
  kind: LineKind;
  text: string;
}

export interface SystemVersionsTable {
  machine_id: number;
  version: string;
  first_seen: string;
  last_seen: string;
}

export interface DiscoveredTable {
  mac: string;
  arch: string | null;
  loader: string | null;
  address: string | null;
  first_seen: string;
  last_seen: string;
  boots: Generated<number>;
}

export interface MachineEventsTable {
  id: Generated<number>;
  machine_id: number;
  at: string;
  /** power, maintenance, controller, boot-device, driver */
  kind: string;
  message: string;
}

/** How an image's file holds the disk content: as it is, or compressed. */
export type ImageFormat = 'raw' | 'gzip' | 'zstd';

export interface ImagesTable {
  id: Generated<number>;
  name: string;
  format: ImageFormat;
  /** Bytes of the disk content (decompressed). */
  virtual_size: number;
  /** Bytes of the file in the library. */
  stored_size: number;
  /** sha256 of the disk content (decompressed). */
  sha256: string;
  /** The file's name in the images folder. */
  file: string;
  /** 'upload' or 'capture'. */
  origin: string;
  source_machine: string | null;
  notes: Generated<string>;
  created_at: string;
}

/** A process of the cluster whose data directory holds an image's file (migration 012). */
export interface ImageCopiesTable {
  image_id: number;
  /** The holder's own URL (anvil serve --peer-url), where the others read the file from. */
  peer_url: string;
  created_at: string;
}

export interface DeploymentsTable {
  id: Generated<number>;
  machine_id: number;
  /** 'deploy' or 'capture'. */
  kind: string;
  image_id: number | null;
  image_name: string;
  /** starting, wait-callback, writing, verifying, finishing, done, failed (see provisioning/deployments.ts). */
  state: string;
  token_hash: string;
  /** The agent's token, encrypted: the boot answer hands it out again if the machine reboots. */
  token_sealed: string;
  requested_by: string;
  timeout_s: number | null;
  /** Seconds without progress after which it fails (null: the server's). */
  stall_timeout_s: number | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
  phase: string | null;
  bytes_done: Generated<number>;
  bytes_total: Generated<number>;
  progress_at: string | null;
  device: string | null;
  /** JSON: what the agent said of the machine (MACs, disks). */
  agent_info: Generated<string>;
  /** JSON: the agent's result (sha256, timings). */
  result: Generated<string>;
  error: string | null;
  /** A capture's content as received, in the images folder until it is whole and verified. */
  upload_file: string | null;
  /** Notes the image a capture makes will carry. */
  notes: Generated<string>;
}

/** A DHCP lease (server mode): one per MAC; see protocols/dhcp/lease-store.ts. */
export interface DhcpLeasesTable {
  mac: string;
  address: string;
  /** offered | bound | released */
  state: string;
  /** Milliseconds since the epoch. */
  expires_at: number;
  hostname: string | null;
  /** Option 61 as hex. */
  client_id: string | null;
}

/** A running (or dead) `anvil serve`: its conductor heartbeats here. */
export interface ConductorsTable {
  id: string;
  hostname: string;
  pid: number;
  started_at: string;
  heartbeat_at: string;
}

/** One operation on a machine, run by its owner conductor (conductor/work.ts). */
export interface WorkItemsTable {
  id: Generated<number>;
  machine_name: string;
  /** power, boot-device, deploy, capture, undeploy, abort, finish. */
  kind: string;
  /** JSON of the operation's arguments. */
  args: Generated<string>;
  /** queued → running → done | failed | interrupted. */
  state: Generated<string>;
  requested_by: string;
  /** The conductor of the process that asked (null for a command-line process). */
  requested_conductor: string | null;
  /** The conductor that claimed it. */
  conductor: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** JSON of the operation's answer, when done. */
  result: string | null;
  error: string | null;
  error_code: string | null;
  error_category: string | null;
}

export interface Database {
  settings: SettingsTable;
  machines: MachinesTable;
  macs: MacsTable;
  profiles: ProfilesTable;
  boot_log: BootLogTable;
  tokens: TokensTable;
  web_sessions: WebSessionsTable;
  tests: TestsTable;
  runs: RunsTable;
  run_lines: RunLinesTable;
  system_versions: SystemVersionsTable;
  discovered: DiscoveredTable;
  machine_events: MachineEventsTable;
  images: ImagesTable;
  image_copies: ImageCopiesTable;
  deployments: DeploymentsTable;
  dhcp_leases: DhcpLeasesTable;
  conductors: ConductorsTable;
  work_items: WorkItemsTable;
}

export type Machine = Selectable<MachinesTable>;
export type NewMachine = Insertable<MachinesTable>;
export type MachineUpdate = Updateable<MachinesTable>;
export type BootLogEntry = Selectable<BootLogTable>;
export type Run = Selectable<RunsTable>;
export type RunLine = Selectable<RunLinesTable>;
export type Token = Selectable<TokensTable>;
export type WebSession = Selectable<WebSessionsTable>;
export type Discovered = Selectable<DiscoveredTable>;
export type MachineEvent = Selectable<MachineEventsTable>;
export type Image = Selectable<ImagesTable>;
export type Deployment = Selectable<DeploymentsTable>;
export type ConductorRow = Selectable<ConductorsTable>;
export type WorkItem = Selectable<WorkItemsTable>;
