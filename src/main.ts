/**
 * Starts a node. Without NATS_URL: a complete single node — the uWS edge in this thread,
 * SHARD_THREADS shard threads on the in-process bus, Postgres (DATABASE_URL) or the embedded
 * PGlite thread. With NATS_URL: a cluster member in ROLE all|edge|shard, the bus is NATS and
 * the shards it serves are owned through leases (src/cluster/leases.ts).
 */
import type { Bus } from './bus/bus.ts';
import { Subjects } from './bus/bus.ts';
import { InprocHub } from './bus/inproc.ts';
import { NatsBus } from './bus/nats.ts';
import { LeaseManager, ShardCountMismatchError } from './cluster/leases.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { startEdge, type Edge } from './edge/app.ts';
import { createVerifier } from './auth/auth.ts';
import { SocketRegistry } from './edge/sockets.ts';
import { loadUws, UwsFallbackError } from './uws.ts';
import { OrderEventsConsumer } from './integrations/order-events-jetstream.ts';
import { applyOrderEvent } from './integrations/order-events.ts';
import { ShardClient } from './rpc/shard-client.ts';
import { createLogger, type Logger } from './log.ts';
import { Metrics } from './metrics.ts';
import { createPool, type DbTarget } from './persist/db.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './persist/embedded.ts';
import { migrate } from './persist/migrate.ts';
import { claimShard } from './cluster/fencing.ts';
import { ConnectionsTable, Store } from './persist/store.ts';
import { ShardThreads } from './shard/threads.ts';
import { EdgeThreads } from './edge/threads.ts';
import { OutboxRelay } from './outbox/relay.ts';
import { flushTracing, initTracing } from './tracing.ts';
import { defaultLimits } from '../protocol/frames.ts';
import { CloseCode } from '../protocol/errors.ts';
import type pg from 'pg';

function loadOrExit(): Config {
  try {
    const config = loadConfig();
    if (config.role !== 'shard') loadUws();
    return config;
  } catch (e) {
    if (e instanceof ConfigError || e instanceof UwsFallbackError) {
      console.error(`refusing to start: ${e.message}`);
      process.exit(78);
    }
    throw e;
  }
}

/** The database may still be starting: keep trying (readyz stays 503 meanwhile). */
async function migrateWhenUp(pool: pg.Pool, schema: string, log: Logger): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const applied = await migrate(pool, schema);
      if (applied.length) log.info({ applied }, 'migrations applied');
      return;
    } catch (e) {
      log.warn({ err: e, attempt }, 'database not ready for migrations; retrying');
      await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * attempt)));
    }
  }
}

async function main(): Promise<void> {
  const config = loadOrExit();
  initTracing('main');
  const log = createLogger(config.logLevel).child({ node: config.nodeId });
  const verifier = createVerifier(config);
  if (verifier.devMode) {
    log.warn({ secretFile: `${config.dataDir}/dev-jwt-secret` }, 'no JWT configuration: using a generated dev secret; mint tokens with `npm run token -- --sub alice`');
  }
  const cluster = config.natsUrl !== undefined;
  const hostsShards = config.role !== 'edge';
  // Every member answers HTTP (health, readiness, metrics, /cluster); shard-only ones take no sockets.
  const servesSockets = true;

  const db: DbTarget = config.databaseUrl ? { url: config.databaseUrl, schema: config.databaseSchema } : { socketDir: config.dataDir, schema: 'public' };
  if (cluster && !config.databaseUrl) log.warn('cluster mode with embedded PGlite: every node must share one Postgres; set DATABASE_URL');
  const pool = createPool(db, config.dbPoolMax, 'edge');
  const store = new Store(pool);
  const subjects = new Subjects(config.subjectPrefix);
  const metrics = new Metrics();
  const state = { dbReady: false, stopping: false, leasesReady: !cluster || !hostsShards };

  const hub = cluster ? undefined : new InprocHub();
  const natsBus = cluster ? await connectNats(config, log) : undefined;
  const bus: Bus = natsBus ?? hub!.local('edge');
  const threads = hostsShards
    ? new ShardThreads(config, db, natsBus ? { kind: 'nats', natsUrl: config.natsUrl! } : { kind: 'inproc', hub: hub! }, log, metrics)
    : undefined;
  const registry = new SocketRegistry(bus, subjects, config.limits.wsBackpressureMaxBytes);
  let framesOutSeen = 0;
  let slowSeen = 0;
  setInterval(() => {
    metrics.framesOut.inc(registry.framesOut - framesOutSeen);
    framesOutSeen = registry.framesOut;
    if (registry.slowConsumerCloses > slowSeen) metrics.closes.inc({ code: String(CloseCode.overloaded) }, registry.slowConsumerCloses - slowSeen);
    slowSeen = registry.slowConsumerCloses;
  }, 1000).unref();
  let leases: LeaseManager | undefined;

  const readiness = () => {
    const shardsOk = !threads || threads.allReady();
    const checks: Record<string, { status: 'ok' | 'fail'; detail?: string }> = {
      database: { status: state.dbReady ? 'ok' : 'fail' },
      shards: { status: shardsOk ? 'ok' : 'fail', detail: threads ? `${threads.readyCount()}/${threads.count} threads` : 'edge role: none' },
    };
    if (natsBus) checks.bus = { status: natsBus.nc.isClosed() ? 'fail' : 'ok', detail: 'nats' };
    if (cluster && hostsShards) checks.leases = { status: state.leasesReady ? 'ok' : 'fail', detail: `${leases?.held.size ?? 0} shards owned` };
    const ready = !state.stopping && Object.values(checks).every((c) => c.status === 'ok');
    return { ready, checks };
  };

  let edge: Edge | undefined;
  if (servesSockets) {
    edge = await startEdge(config, {
      config, limits: { ...defaultLimits, maxFrameBytes: config.limits.maxFrameBytes }, bus, subjects, registry, store, pool, log, metrics, verifier,
      connectionsTable: config.connections.url ? undefined : new ConnectionsTable(pool),
      readiness,
      metricsText: () => metrics.text(),
      clusterView: () => (leases ? clusterView(config, leases) : Promise.resolve(singleNodeView(config, threads, registry))),
    });
    log.info({ port: edge.port, role: config.role, cluster }, 'edge listening');
  }

  // Extra edge threads share the port once the edge in this thread listens (so PORT=0 resolves).
  let edgeThreads: EdgeThreads | undefined;
  if (servesSockets && config.edgeThreads > 1 && edge) {
    edgeThreads = new EdgeThreads({
      config: { ...config, port: edge.port }, db, hub, metrics, log, readiness,
      clusterView: () => (leases ? clusterView(config, leases) : Promise.resolve(singleNodeView(config, threads, registry))),
    });
    await edgeThreads.start();
    log.info({ threads: config.edgeThreads }, 'edge threads listening');
  }

  let embedded: EmbeddedPostgres | undefined;
  if (!config.databaseUrl) {
    // One connection per pool slot of every thread, plus the migration connection.
    embedded = await startEmbeddedPostgres(config.dataDir, config.dbPoolMax * (config.shardThreads + 1) + 2);
    log.info({ dir: config.dataDir }, 'embedded Postgres (PGlite) ready');
  }
  await migrateWhenUp(pool, db.schema, log);
  state.dbReady = true;

  if (threads) {
    if (hub) bus.subscribe(`${config.subjectPrefix}.internal.ready`, (d) => threads.markReady(d[0]));
    threads.start();
    while (!threads.allReady()) await new Promise((r) => setTimeout(r, 20));
  }

  if (cluster && threads) {
    leases = new LeaseManager(
      natsBus!.nc,
      {
        nodeId: config.nodeId, prefix: config.subjectPrefix, shardCount: config.shardCount, shards: config.shards, ttlMs: config.leaseTtlMs,
        status: () => ({ role: config.role, shards: threads.shardStatus(), sockets: registry.socketCount }),
      },
      {
        acquired: async (shard, epoch) => {
          if (!(await claimShard(pool, shard, epoch, config.nodeId, Date.now()))) throw new Error(`epoch ${epoch} is stale for shard ${shard}`);
          await threads.assign(shard, epoch);
        },
        releasing: (shard) => threads.unassign(shard, true),
        lost: (shard) => void threads.unassign(shard, false),
      },
      log.child({ component: 'leases' }),
    );
    threads.onShardsLost = (lost) => {
      for (const shard of lost) leases?.forget(shard);
    };
    try {
      await leases.start();
    } catch (e) {
      if (e instanceof ShardCountMismatchError) {
        log.error(e.message);
        console.error(`refusing to start: ${e.message}`);
        process.exit(78);
      }
      throw e;
    }
    state.leasesReady = true;
  } else if (cluster) {
    // An edge-only member still heartbeats, so the operator view lists it.
    leases = new LeaseManager(natsBus!.nc, {
      nodeId: config.nodeId, prefix: config.subjectPrefix, shardCount: config.shardCount, shards: [], ttlMs: config.leaseTtlMs,
      status: () => ({ role: config.role, shards: [], sockets: registry.socketCount }),
    }, { acquired: async () => {}, releasing: async () => {}, lost: () => {} }, log.child({ component: 'leases' }));
    await leases.start();
  }

  const orderEvents = startOrderEvents(config, bus, subjects, metrics, log, () => state.stopping);
  let relay: OutboxRelay | undefined;
  if (config.outbox.enabled && natsBus && hostsShards) {
    relay = new OutboxRelay(natsBus.nc, pool, { ...config.outbox, subjectPrefix: config.subjectPrefix }, log.child({ component: 'outbox' }));
    await relay.start().catch((e) => log.error({ err: e }, 'outbox relay could not start; events stay in the outbox'));
  }

  const shutdown = async (signal: string): Promise<void> => {
    if (state.stopping) return;
    state.stopping = true;
    log.info({ signal }, 'draining');
    const hardStop = setTimeout(() => {
      log.error('shutdown timed out');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    hardStop.unref();
    await Promise.all([edge?.close(CloseCode.restart, 'service restart'), edgeThreads?.stop()]);
    await orderEvents?.stop();
    await leases?.stop(); // orderly: each shard stops, flushes, then lets go of its lease
    await threads?.stop();
    await relay?.stop();
    await relay?.round().catch(() => {}); // what the last flushes wrote
    await flushTracing();
    await natsBus?.close();
    await pool.end().catch(() => {});
    await embedded?.stop();
    log.info('stopped');
    exitNow(0, edgeThreads !== undefined);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/**
 * Exits once everything is flushed and closed. With edge threads the process ends without
 * tearing the threads down one by one: uWS aborts the process when a thread it ran on is
 * torn down (uv_loop_close with open handles), and nothing is left to clean up by then.
 */
function exitNow(code: number, uwsThreads: boolean): never {
  if (uwsThreads) (process as unknown as { reallyExit(code: number): never }).reallyExit(code);
  process.exit(code);
}

async function connectNats(config: Config, log: Logger): Promise<NatsBus> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await NatsBus.connect(config.natsUrl!, `${config.nodeId}-edge`);
    } catch (e) {
      log.warn({ err: e, attempt }, 'NATS not reachable; retrying');
      await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * attempt)));
    }
  }
}

async function clusterView(config: Config, leases: LeaseManager) {
  const nodes = (await leases.liveNodes()).sort((a, b) => a.id.localeCompare(b.id));
  return { shardCount: config.shardCount, nodes: nodes.map((n) => ({ id: n.id, role: n.role, shards: n.shards, sockets: n.sockets })) };
}

function singleNodeView(config: Config, threads: ShardThreads | undefined, registry: SocketRegistry) {
  void threads;
  return { shardCount: config.shardCount, nodes: [{ id: config.nodeId, role: config.role, shards: [], sockets: registry.socketCount }] };
}

/** Order events from JetStream, once every shard can take them; retried until NATS answers. */
function startOrderEvents(config: Config, bus: Bus, subjects: Subjects, metrics: Metrics, log: Logger, stopping: () => boolean): OrderEventsConsumer | undefined {
  if (!config.natsUrl) return undefined;
  const shards = new ShardClient(bus, subjects, { shardCount: config.shardCount, timeoutMs: config.limits.busRequestTimeoutMs, attemptMs: config.leaseTtlMs });
  const consumer = new OrderEventsConsumer(
    { ...config.events, natsUrl: config.natsUrl },
    (e) => applyOrderEvent(shards, e),
    log.child({ component: 'order-events' }),
  );
  const seen = { applied: 0, deadLettered: 0 };
  setInterval(() => {
    const s = consumer.stats;
    metrics.eventsApplied.inc(s.applied - seen.applied);
    metrics.eventsDeadLettered.inc(s.deadLettered - seen.deadLettered);
    metrics.eventsLag.set(s.lastLagMs / 1000);
    Object.assign(seen, { applied: s.applied, deadLettered: s.deadLettered });
  }, 1000).unref();
  void (async () => {
    for (let attempt = 1; !stopping(); attempt++) {
      try {
        await consumer.start();
        log.info({ stream: config.events.stream, consumer: config.events.consumer }, 'order events: consuming from JetStream');
        return;
      } catch (e) {
        log.warn({ err: e, attempt }, 'order events: JetStream not reachable; retrying');
        await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * attempt)));
      }
    }
  })();
  return consumer;
}

main().catch((e: unknown) => {
  console.error('fatal:', e);
  process.exit(1);
});
