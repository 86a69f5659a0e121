// anvil's /metrics in Prometheus text format: what the server observes as it runs (driver call
// latencies and errors, power-sync passes, DHCP replies, TFTP and HTTP bytes) and what the
// database says at each scrape (machines by state, boots by loader, runs by state, deploy
// durations, stuck machines). README's "Metrics" section lists every family.
import type { Server, Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { DEPLOY_BUCKETS_S, LATENCY_BUCKETS_S, Metrics, emptyHistogram, observeInto, type Family, type HistogramValue } from '../common/metrics.ts';
import type { DriverCall } from '../conductor/driver-calls.ts';
import type { SyncReport } from '../conductor/power-sync.ts';
import { STALE_KINDS, type StaleWatch } from '../conductor/stale.ts';
import type { Machines } from '../machines/machines.ts';
import type { NextBoot } from '../boot/next-boot.ts';
import type { Discovered } from '../boot/discovered.ts';
import type { Testing } from '../testing/testing.ts';
import type { Provisioner } from '../provisioning/provisioner.ts';
import type { Tokens } from '../auth/tokens.ts';
import { requireRole } from '../auth/caller.ts';
import type { TftpServer } from '../protocols/tftp/index.ts';
import type { DhcpServer } from '../protocols/dhcp/index.ts';

export const METRICS_PATH = '/metrics';
/** The text format's content type (Prometheus exposition format 0.0.4). */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The services the scrape reads from. */
export interface MetricSources {
  readonly machines: Machines;
  readonly nextBoot: NextBoot;
  readonly testing: Testing;
  readonly provisioner: Provisioner;
  readonly stale: StaleWatch;
}

export class AnvilMetrics {
  readonly registry = new Metrics();
  readonly #driverLatency = this.registry.histogram(
    'anvil_driver_call_duration_seconds',
    "Calls to machines' controllers (IPMI, AMT, …) by hardware type and operation",
    LATENCY_BUCKETS_S,
  );
  readonly #driverErrors = this.registry.counter('anvil_driver_call_errors_total', 'Failed controller calls by hardware type, operation and error code');
  readonly #powerSync = this.registry.histogram('anvil_power_sync_duration_seconds', 'How long each power-sync pass over the fleet took', LATENCY_BUCKETS_S);
  readonly #powerSyncFailed = this.registry.counter('anvil_power_sync_failures_total', 'Machines whose power state could not be read in a pass');
  readonly #dhcpReplies = this.registry.counter('anvil_dhcp_replies_total', 'DHCP replies sent, by message type (OFFER, ACK, …)');

  /** The observer MachineControl reports each driver call to. */
  readonly onDriverCall = (call: DriverCall): void => {
    this.#driverLatency.observe({ driver: call.driver, operation: call.operation }, call.seconds);
    if (call.error) this.#driverErrors.inc({ driver: call.driver, operation: call.operation, code: call.error });
  };

  /** The observer of power-sync passes. */
  readonly onPowerSync = (report: SyncReport, seconds: number): void => {
    this.#powerSync.observe({}, seconds);
    if (report.failed.length > 0) this.#powerSyncFailed.inc({}, report.failed.length);
  };

  watchDhcp(server: DhcpServer): void {
    server.on('reply', (reply: { reply: string }) => this.#dhcpReplies.inc({ type: reply.reply }));
  }

  watchTftp(server: TftpServer): void {
    this.registry.collect(() => {
      const c = server.counters;
      return [
        counter('anvil_tftp_sent_bytes_total', 'TFTP payload bytes sent, retransmissions included', [{ labels: {}, value: c.bytesSent }]),
        counter('anvil_tftp_transfers_total', 'TFTP transfers by outcome', [
          { labels: { outcome: 'completed' }, value: c.transfersCompleted },
          { labels: { outcome: 'failed' }, value: c.transfersFailed },
        ]),
        gauge('anvil_tftp_active_transfers', 'TFTP transfers running now', [{ labels: {}, value: c.activeTransfers }]),
      ];
    });
  }

  /** The discovered list: rows now, rows evicted past the cap, new machines not listed over a source's rate. */
  watchDiscovered(discovered: Discovered): void {
    this.registry.collect(async () => [
      gauge('anvil_discovered_machines', 'Unknown machines listed as discovered', [{ labels: {}, value: await discovered.count() }]),
      counter('anvil_discovered_evicted_total', 'Discovered machines dropped, least recently seen first, to keep the list at its cap', [
        { labels: {}, value: discovered.counters.evicted },
      ]),
      counter('anvil_discovered_rate_limited_total', 'Unknown machines answered but not listed: their source address was over its rate', [
        { labels: {}, value: discovered.counters.rateLimited },
      ]),
    ]);
  }

  /** Bytes through the HTTP server's connections, headers included: the closed ones' plus the open ones' so far. */
  watchHttp(server: Server): void {
    const open = new Set<Socket>();
    let sent = 0;
    let received = 0;
    server.on('connection', (socket: Socket) => {
      open.add(socket);
      socket.once('close', () => {
        open.delete(socket);
        sent += socket.bytesWritten;
        received += socket.bytesRead;
      });
    });
    this.registry.collect(() => {
      let s = sent;
      let r = received;
      for (const socket of open) (s += socket.bytesWritten), (r += socket.bytesRead);
      return [
        counter('anvil_http_sent_bytes_total', 'Bytes the HTTP server sent (boot files, images, pages, API)', [{ labels: {}, value: s }]),
        counter('anvil_http_received_bytes_total', 'Bytes the HTTP server received (uploads, captures, API)', [{ labels: {}, value: r }]),
      ];
    });
  }

  /** The database's side, read at each scrape. */
  watchServices(s: MetricSources): void {
    this.registry.collect(async () => {
      const [states, loaders, runs, durations, stale] = await Promise.all([
        s.machines.countByState(),
        s.nextBoot.bootsByLoader(),
        s.testing.countByState(),
        s.provisioner.deployments.durations(),
        s.stale.find(),
      ]);
      const power = sumBy(states, (x) => x.power);
      const provision = sumBy(states, (x) => x.provision);
      const staleCounts = new Map(STALE_KINDS.map((k) => [k, 0]));
      for (const findings of stale.values()) for (const f of new Set(findings.map((x) => x.kind))) staleCounts.set(f, staleCounts.get(f)! + 1);
      const deploys = new Map<string, { labels: { kind: string; state: string }; value: HistogramValue }>();
      for (const d of durations) {
        const key = `${d.kind}\n${d.state}`;
        let entry = deploys.get(key);
        if (!entry) deploys.set(key, (entry = { labels: { kind: d.kind, state: d.state }, value: emptyHistogram(DEPLOY_BUCKETS_S) }));
        observeInto(entry.value, d.seconds);
      }
      return [
        gauge(
          'anvil_machines_by_power_state',
          'Machines by power state',
          [...power].map(([state, value]) => ({ labels: { state }, value })),
        ),
        gauge(
          'anvil_machines_by_provision_state',
          'Machines by provision state',
          [...provision].map(([state, value]) => ({ labels: { state }, value })),
        ),
        counter(
          'anvil_boots_served_total',
          'Network boots answered, by the loader that asked',
          loaders.map((l) => ({ labels: { loader: l.loader || 'unknown' }, value: l.count })),
        ),
        gauge(
          'anvil_runs',
          'Test runs by state',
          runs.map((r) => ({ labels: { state: r.state }, value: r.count })),
        ),
        {
          name: 'anvil_deploy_duration_seconds',
          help: 'Finished deploys and captures: request to end, by kind and end state',
          type: 'histogram',
          series: [...deploys.values()],
        },
        gauge(
          'anvil_stale_machines',
          'Machines with something stuck: an overdue run, a silent boot, a quiet deploy',
          [...staleCounts].map(([kind, value]) => ({ labels: { kind }, value })),
        ),
      ];
    });
  }
}

function sumBy<T>(items: readonly (T & { count: number })[], key: (item: T) => string): Map<string, number> {
  const out = new Map<string, number>();
  for (const item of items) out.set(key(item), (out.get(key(item)) ?? 0) + item.count);
  return out;
}

const gauge = (name: string, help: string, series: Array<{ labels: Record<string, string>; value: number }>): Family => ({ name, help, type: 'gauge', series });
const counter = (name: string, help: string, series: Array<{ labels: Record<string, string>; value: number }>): Family => ({
  name,
  help,
  type: 'counter',
  series,
});

/** GET /metrics for a viewer token (`Authorization: Bearer`, as Prometheus' `authorization` setting sends it). */
export function metricsRoute(app: FastifyInstance, metrics: AnvilMetrics, tokens: Tokens): void {
  app.get(METRICS_PATH, { schema: { hide: true } }, async (request, reply) => {
    await requireRole(tokens, request, 'viewer');
    return reply
      .type(METRICS_CONTENT_TYPE)
      .header('cache-control', 'no-store')
      .send(await metrics.registry.render());
  });
}
