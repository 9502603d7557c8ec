/**
 * One shard runtime: a ShardHost with its own pg pool and persister, on the bus. It runs in a
 * worker thread (worker.ts) or, with SHARD_THREADS=0, in the main thread next to the edge
 * (inline.ts), where the in-process bus hands it commands by function call instead of
 * postMessage: no structured clone and no thread wake-up per message.
 */
import type { MessagePort } from 'node:worker_threads';
import { PortBus } from '../bus/inproc.ts';
import { NatsBus } from '../bus/nats.ts';
import type { Bus, Subscription } from '../bus/bus.ts';
import { Subjects } from '../bus/bus.ts';
import type { Config } from '../config.ts';
import { CachedConnections, httpConnectionLookup, tableConnectionLookup } from '../integrations/connections.ts';
import { createLogger } from '../log.ts';
import { resilient } from '../integrations/resilience.ts';
import { createPool, type DbTarget } from '../persist/db.ts';
import { Persister } from '../persist/persister.ts';
import { ConnectionsTable, Store } from '../persist/store.ts';
import { BlocksTable } from '../persist/moderation.ts';
import { ShardHost } from './host.ts';
import { InboundProbe } from './probe.ts';
import { createTicketPorts } from './ticket-ports.ts';
import type { ShardReport } from '../metrics.ts';
import { decode } from '../../protocol/codec.ts';

export interface ShardWorkerData {
  config: Config;
  db: DbTarget;
  /** In-process mode: the shards this thread serves for the node's life. */
  shards: number[];
  index: number;
  /** In-process mode: this thread's end of the hub channel. Cluster mode: absent (NATS). */
  port?: MessagePort;
  /** Cluster mode: the NATS server; shards are then assigned and withdrawn by the lease manager. */
  natsUrl?: string;
}

/** Messages from the main thread in cluster mode. */
export type ShardControl =
  | { assign: { shard: number; epoch: number } }
  | { unassign: { shard: number; flush: boolean } }
  | { stop: true };

/** The runtime's side of its owner: a worker's parentPort, or the inline owner's emitter. */
export interface RuntimeParent {
  postMessage(m: unknown): void;
  on(event: 'message', listener: (m: ShardControl) => void): unknown;
}

/**
 * Starts the runtime. `localBus`: the bus when running in the hub's own thread (inline); a
 * worker gets its bus from `data` (its end of the hub channel, or NATS).
 */
export async function runShardRuntime(data: ShardWorkerData, parent: RuntimeParent, localBus?: Bus): Promise<void> {
  const { config } = data;
  const log = createLogger(config.logLevel).child({ thread: `shard-${data.index}` });
  const subjects = new Subjects(config.subjectPrefix);
  const bus: Bus = localBus ?? (data.natsUrl
    ? await NatsBus.connect(data.natsUrl, `${config.nodeId}-shard-${data.index}`)
    : new PortBus(data.port!, `shard${data.index}`));
  // One connection writes batches; the others serve rehydration and history reads.
  const pool = createPool(data.db, Math.max(2, config.dbPoolMax), `shard-${data.index}`);
  const store = new Store(pool);
  const persister = new Persister(pool, { ...config.persist, prepared: config.dbPreparedStatements, outbox: config.outbox.enabled,
    notifyAfterMs: config.notify.enabled ? config.notify.coalesceMs : undefined });
  const connectionsPolicy = resilient({
    timeoutMs: config.connections.timeoutMs, retries: config.connections.retries,
    breakerThreshold: config.connections.breakerThreshold, breakerHalfOpenAfterMs: config.connections.breakerHalfOpenAfterMs,
  });
  const lookup = config.connections.url
    ? httpConnectionLookup(config.connections.url, connectionsPolicy)
    : tableConnectionLookup(new ConnectionsTable(pool));
  // Blocks live in our own database whoever the connections authority is; both answers are cached together.
  const blocks = new BlocksTable(pool);
  const connections = new CachedConnections(lookup, config.connections.cacheTtlMs, config.connections.cacheMax, (a, b) => blocks.eitherBlocked(a, b));
  const tickets = createTicketPorts(config, bus, subjects, store);
  // A subject of this thread alone (node and thread), so the probe measures this thread's queue.
  const probe = new InboundProbe(bus, subjects.probe(config.nodeId, data.index));
  probe.start();
  const host = new ShardHost({
    inboundDelayMs: () => probe.delayMs,
    tickets: tickets.ports,
    publishEvents: !config.outbox.enabled,
    bus,
    subjects,
    store,
    persister,
    connections,
    limits: {
      ...config.actors, persistQueueDelayMaxMs: config.persist.queueDelayMaxMs,
      shedDelayTargetMs: config.persist.shedDelayTargetMs, shedShareMaxPct: config.persist.shedShareMaxPct,
    },
    onError: (e, where, cid) => log.warn({ err: e, where, cid }, 'shard error'),
    fences: data.natsUrl ? new Map() : undefined,
    shardCount: config.shardCount,
    onFenced: (shard) => {
      withdraw(shard);
      parent.postMessage({ fenced: shard });
    },
  });

  // Reported to the main thread's metrics once a second (bounded: batches per second are few).
  let batches: [number, number][] = [];
  let failures = 0;
  let ackedReported = 0;
  let epochSeen = 0;
  persister.onBatch = (b) => batches.length < 10_000 && batches.push([b.rows, b.ms]);
  setInterval(() => {
    failures = persister.failureEpoch - epochSeen;
    epochSeen = persister.failureEpoch;
    const report: ShardReport = {
      index: data.index, actors: host.actorCount, mailboxDepth: host.mailboxDepth, persistDepth: persister.depth,
      commands: host.commandsHandled, batches, batchFailures: failures, acked: host.acked - ackedReported,
      shardActors: host.actorsByShard(),
      heapUsedBytes: process.memoryUsage().heapUsed,
      dependencies: {
        ...(config.connections.url ? { connections: connectionsPolicy.state() } : {}),
        ...Object.fromEntries(Object.entries(tickets.breakers).map(([name, p]) => [name, p.state()])),
      },
    };
    ackedReported = host.acked;
    if (batches.length) log.debug({ batches: batches.length, rows: batches.reduce((a, b) => a + b[0], 0), depth: persister.depth }, 'persister');
    batches = [];
    parent.postMessage({ report });
  }, 1000).unref();

  const shardSubs = new Map<number, Subscription>();
  function withdraw(shard: number): void {
    shardSubs.get(shard)?.unsubscribe();
    shardSubs.delete(shard);
    host.dropShard(shard);
  }
  if (!data.natsUrl) for (const k of data.shards) bus.subscribe(subjects.shard(k), host.handle);
  bus.subscribe(subjects.connectionsChanged(), (d) => {
    const { a, b } = decode(d) as { a: string; b: string };
    connections.invalidate(a, b);
  });
  // An erasure rewrote these conversations' rows: their actors here reload before the next command.
  bus.subscribe(subjects.conversationsRewritten(), (d) => {
    for (const conv of (decode(d) as { convs: string[] }).convs) persister.markReload(conv);
  });
  // In-process mode: sent on the bus port itself, so it arrives after the subscriptions above.
  if (!data.natsUrl) bus.publish(`${config.subjectPrefix}.internal.ready`, new Uint8Array([data.index]));
  else parent.postMessage({ ready: data.index });

  parent.on('message', async (m: ShardControl) => {
    if ('assign' in m) {
      const { shard, epoch } = m.assign;
      host.fences?.set(shard, epoch);
      if (!shardSubs.has(shard)) shardSubs.set(shard, bus.subscribe(subjects.shard(shard), host.handle));
      // A round trip through NATS: the subscription is active before the lease manager moves on.
      if (bus instanceof NatsBus) await bus.nc.flush();
      return parent.postMessage({ assigned: shard });
    }
    if ('unassign' in m) {
      const { shard, flush } = m.unassign;
      shardSubs.get(shard)?.unsubscribe();
      shardSubs.delete(shard);
      if (flush) await persister.flushAll();
      host.dropShard(shard);
      return parent.postMessage({ unassigned: shard });
    }
    if (!('stop' in m)) return;
    probe.stop();
    await persister.flushAll();
    await bus.close();
    await pool.end().catch(() => {});
    parent.postMessage({ stopped: true });
  });
}
