/**
 * Prometheus metrics (prom-client), served at GET /metrics. The edge observes its own events;
 * shard threads report theirs to the main thread once a second (ShardReport), since a
 * registry cannot be shared across threads.
 */
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from 'prom-client';

export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[];

export interface ShardReport {
  index: number;
  actors: number;
  mailboxDepth: number;
  persistDepth: number;
  /** Commands handled since the last report. */
  commands: number;
  /** Batches committed since the last report: [rows, ms] each. */
  batches: [number, number][];
  batchFailures: number;
  acked: number;
  /** Live actors per shard this thread serves. */
  shardActors: Record<number, number>;
  /** Breaker state per outside dependency this thread calls. */
  dependencies: Record<string, 'closed' | 'open' | 'half-open'>;
  /** V8 heap in use by this thread's isolate (the default metrics only see the main thread's). */
  heapUsedBytes?: number;
}

export class Metrics {
  readonly registry = new Registry();
  readonly socketsOpen = new Gauge({ name: 'chat_sockets_open', help: 'WebSockets open on this node', registers: [this.registry] });
  readonly framesIn = new Counter({ name: 'chat_frames_in_total', help: 'Client frames received, by type', labelNames: ['type'], registers: [this.registry] });
  readonly framesOut = new Counter({ name: 'chat_frames_out_total', help: 'Frames written to sockets', registers: [this.registry] });
  readonly rejected = new Counter({ name: 'chat_frames_rejected_total', help: 'Frames answered with an error, by code', labelNames: ['code'], registers: [this.registry] });
  readonly closes = new Counter({ name: 'chat_socket_closes_total', help: 'Sockets closed by the server, by close code', labelNames: ['code'], registers: [this.registry] });
  readonly shed = new Counter({
    name: 'chat_sends_shed_total', help: 'Writes refused by load shedding (err 503 "overloaded"), by where: edge (early, no bus hop) or shard (its delay bound)',
    labelNames: ['where'], registers: [this.registry],
  });
  readonly acked = new Counter({ name: 'chat_messages_acked_total', help: 'Messages committed and acknowledged', registers: [this.registry] });
  readonly ackLatency = new Histogram({
    name: 'chat_send_ack_seconds', help: 'Edge-measured time from a send frame to its ack',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [this.registry],
  });
  readonly batchRows = new Histogram({ name: 'chat_persist_batch_rows', help: 'Rows per committed batch', buckets: [1, 5, 10, 50, 100, 250, 500, 1000], registers: [this.registry] });
  readonly batchSeconds = new Histogram({
    name: 'chat_persist_batch_seconds', help: 'Commit latency of a batch', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: [this.registry],
  });
  readonly batchFailures = new Counter({ name: 'chat_persist_batch_failures_total', help: 'Batches that failed (their sends got err 503)', registers: [this.registry] });
  readonly actors = new Gauge({ name: 'chat_actors', help: 'Live actors per shard thread', labelNames: ['thread'], registers: [this.registry] });
  readonly mailboxDepth = new Gauge({ name: 'chat_mailbox_depth', help: 'Queued commands per shard thread', labelNames: ['thread'], registers: [this.registry] });
  readonly persistDepth = new Gauge({ name: 'chat_persist_queue_rows', help: 'Rows waiting or in flight per shard thread', labelNames: ['thread'], registers: [this.registry] });
  readonly threadHeap = new Gauge({ name: 'chat_shard_heap_used_bytes', help: 'V8 heap in use per shard thread (actors, dedupe windows, caches)', labelNames: ['thread'], registers: [this.registry] });
  readonly busRequests = new Counter({ name: 'chat_bus_requests_total', help: 'Edge → shard round trips, by outcome', labelNames: ['outcome'], registers: [this.registry] });
  readonly eventsApplied = new Counter({ name: 'chat_order_events_applied_total', help: 'Order events applied', registers: [this.registry] });
  readonly eventsDeadLettered = new Counter({ name: 'chat_order_events_dead_lettered_total', help: 'Order events sent to the dead-letter subject', registers: [this.registry] });
  readonly eventsLag = new Gauge({ name: 'chat_order_events_lag_seconds', help: 'occurredAt → applied, last event', registers: [this.registry] });
  readonly breakerState = new Gauge({
    name: 'chat_dependency_breaker_state', help: 'Circuit breaker per dependency: 0 closed, 1 half-open, 2 open (failing fast)',
    labelNames: ['dependency', 'thread'], registers: [this.registry],
  });
  readonly notifyDeadLettered = new Counter({
    name: 'chat_notify_dead_lettered_total', help: 'Notification deliveries made dead letters (NOTIFY_ATTEMPTS_MAX failures or a refusal), by channel',
    labelNames: ['channel'], registers: [this.registry],
  });
  readonly shardCount = new Gauge({ name: 'chat_shard_count', help: 'SHARD_COUNT: the shards of the cluster, each to be served by one node', registers: [this.registry] });
  readonly shardsOwned = new Gauge({ name: 'chat_shards_owned', help: 'Shards this node serves (leases held in cluster mode; those of its ready threads on a single node)', registers: [this.registry] });
  readonly leaseChanges = new Counter({
    name: 'chat_shard_lease_changes_total', help: 'Shard ownership changes on this node: acquired, released (orderly handoff), lost (renewal refused, fenced out, or its thread died)',
    labelNames: ['event'], registers: [this.registry],
  });

  /** Latest snapshots from edge threads (EDGE_THREADS > 1), merged into /metrics. */
  readonly edgeThreadSnapshots = new Map<number, MetricsSnapshot>();

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry });
    // Series the alert rules take increase()/rate() of start at 0, so their first event counts
    // (deploy/prometheus/chat.rules.yml; a series born at 1 shows no increase).
    for (const where of ['edge', 'shard']) this.shed.inc({ where }, 0);
    this.closes.inc({ code: '1013' }, 0); // CloseCode.overloaded: slow consumers
    for (const channel of ['webhook', 'push']) this.notifyDeadLettered.inc({ channel }, 0);
    for (const event of ['acquired', 'released', 'lost']) this.leaseChanges.inc({ event }, 0);
  }

  /** This thread's metrics plus every edge thread's, summed (counters, histograms, gauges). */
  async text(): Promise<{ contentType: string; text: string }> {
    if (this.edgeThreadSnapshots.size === 0) return { contentType: this.registry.contentType, text: await this.registry.metrics() };
    const merged = AggregatorRegistry.aggregate([await this.registry.getMetricsAsJSON(), ...this.edgeThreadSnapshots.values()] as Parameters<typeof AggregatorRegistry.aggregate>[0]);
    return { contentType: merged.contentType, text: await merged.metrics() };
  }

  shardReport(r: ShardReport): void {
    const thread = String(r.index);
    this.actors.set({ thread }, r.actors);
    this.mailboxDepth.set({ thread }, r.mailboxDepth);
    this.persistDepth.set({ thread }, r.persistDepth);
    if (r.heapUsedBytes !== undefined) this.threadHeap.set({ thread }, r.heapUsedBytes);
    for (const [rows, ms] of r.batches) {
      this.batchRows.observe(rows);
      this.batchSeconds.observe(ms / 1000);
    }
    if (r.batchFailures) this.batchFailures.inc(r.batchFailures);
    if (r.acked) this.acked.inc(r.acked);
    for (const [dependency, st] of Object.entries(r.dependencies ?? {})) {
      this.breakerState.set({ dependency, thread }, st === 'open' ? 2 : st === 'half-open' ? 1 : 0);
    }
  }
}
