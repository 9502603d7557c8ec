/**
 * Starts a complete node: the uWS edge in this thread, SHARD_THREADS shard threads on the
 * in-process bus, and Postgres (DATABASE_URL) or the embedded PGlite thread.
 */
import { MessageChannel, type Worker } from 'node:worker_threads';
import { Subjects } from './bus/bus.ts';
import { InprocHub } from './bus/inproc.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { startEdge, type Edge } from './edge/app.ts';
import { createVerifier } from './edge/auth.ts';
import { SocketRegistry } from './edge/sockets.ts';
import { loadUws, UwsFallbackError } from './edge/uws.ts';
import { createLogger, type Logger } from './log.ts';
import { createPool, type DbTarget } from './persist/db.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './persist/embedded.ts';
import { migrate } from './persist/migrate.ts';
import { ConnectionsTable, Store } from './persist/store.ts';
import type { ShardWorkerData } from './shard/worker.ts';
import { startWorker } from './worker-thread.ts';
import { Metrics, type ShardReport } from './metrics.ts';
import { OrderEventsConsumer } from './integrations/order-events-jetstream.ts';
import { applyOrderEvent } from './edge/order-events.ts';
import { defaultLimits } from '../protocol/frames.ts';
import { CloseCode } from '../protocol/errors.ts';

/** Shards of thread `i`: every shard k with k mod threads = i. */
function shardsOfThread(config: Config, i: number): number[] {
  const out: number[] = [];
  for (let k = i; k < config.shardCount; k += config.shardThreads) out.push(k);
  return out;
}

interface ShardThread {
  worker: Worker;
  ready: boolean;
  detach: () => void;
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
    loadUws();
  } catch (e) {
    if (e instanceof ConfigError || e instanceof UwsFallbackError) {
      console.error(`refusing to start: ${e.message}`);
      process.exit(78);
    }
    throw e;
  }
  const log = createLogger(config.logLevel).child({ node: config.nodeId });
  const verifier = createVerifier(config);
  if (verifier.devMode) {
    log.warn({ secretFile: `${config.dataDir}/dev-jwt-secret` }, 'no JWT configuration: using a generated dev secret; mint tokens with `npm run token -- --sub alice`');
  }

  const db: DbTarget = config.databaseUrl
    ? { url: config.databaseUrl, schema: config.databaseSchema }
    : { socketDir: config.dataDir, schema: 'public' };
  const pool = createPool(db, config.dbPoolMax, 'edge');
  const store = new Store(pool);
  const hub = new InprocHub();
  const bus = hub.local('edge');
  const subjects = new Subjects(config.subjectPrefix);
  const registry = new SocketRegistry(bus, subjects, config.limits.wsBackpressureMaxBytes);
  const threads: ShardThread[] = [];
  const state = { dbReady: false, stopping: false };

  const limits = { ...defaultLimits, maxFrameBytes: config.limits.maxFrameBytes };
  const metrics = new Metrics();
  let framesOutSeen = 0;
  setInterval(() => {
    metrics.framesOut.inc(registry.framesOut - framesOutSeen);
    framesOutSeen = registry.framesOut;
    if (orderEvents) {
      const s = orderEvents.stats;
      metrics.eventsApplied.inc(s.applied - eventsSeen.applied);
      metrics.eventsDeadLettered.inc(s.deadLettered - eventsSeen.deadLettered);
      metrics.eventsLag.set(s.lastLagMs / 1000);
      Object.assign(eventsSeen, s);
    }
  }, 1000).unref();
  const eventsSeen = { applied: 0, deadLettered: 0 };
  let orderEvents: OrderEventsConsumer | undefined;
  const edge: Edge = await startEdge(config, {
    config, limits, bus, subjects, registry, store, pool, log, metrics, verifier,
    connectionsTable: config.connections.url ? undefined : new ConnectionsTable(pool),
    readiness: () => {
      const shardsReady = threads.length === config.shardThreads && threads.every((t) => t.ready);
      return {
        ready: state.dbReady && shardsReady && !state.stopping,
        checks: {
          database: { status: state.dbReady ? 'ok' : 'fail' },
          shards: { status: shardsReady ? 'ok' : 'fail', detail: `${threads.filter((t) => t.ready).length}/${config.shardThreads} threads` },
        },
      };
    },
  });
  log.info({ port: edge.port }, 'edge listening');

  let embedded: EmbeddedPostgres | undefined;
  if (!config.databaseUrl) {
    // One connection per pool slot of every thread, plus the migration connection.
    embedded = await startEmbeddedPostgres(config.dataDir, config.dbPoolMax * (config.shardThreads + 1) + 2);
    log.info({ dir: config.dataDir }, 'embedded Postgres (PGlite) ready');
  }
  // The database may still be starting: keep trying (readyz stays 503 meanwhile).
  for (let attempt = 1; ; attempt++) {
    try {
      const applied = await migrate(pool, db.schema);
      if (applied.length) log.info({ applied }, 'migrations applied');
      break;
    } catch (e) {
      log.warn({ err: e, attempt }, 'database not ready for migrations; retrying');
      await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * attempt)));
    }
  }
  state.dbReady = true;

  let markShardsReady: () => void = () => {};
  const shardsReady = new Promise<void>((resolve) => (markShardsReady = resolve));
  bus.subscribe(`${config.subjectPrefix}.internal.ready`, (d) => {
    const t = threads[d[0]];
    if (t) t.ready = true;
    if (threads.length === config.shardThreads && threads.every((x) => x.ready)) markShardsReady();
  });
  const startThread = (i: number): void => {
    const { port1, port2 } = new MessageChannel();
    const detach = hub.attach(port1);
    const data: ShardWorkerData = { config, db, shards: shardsOfThread(config, i), index: i, port: port2 };
    const worker = startWorker(new URL('./shard/worker.ts', import.meta.url), data as unknown as Record<string, unknown>, { transferList: [port2] });
    threads[i] = { worker, ready: false, detach };
    worker.on('error', (e) => log.error({ err: e, thread: i }, 'shard thread crashed'));
    worker.on('message', (m: { report?: ShardReport }) => m.report && metrics.shardReport(m.report));
    worker.on('exit', (code) => {
      detach();
      port1.close();
      if (state.stopping) return;
      log.error({ thread: i, code }, 'shard thread exited; restarting it (its actors rehydrate from Postgres)');
      threads[i].ready = false;
      setTimeout(() => startThread(i), 100);
    });
  };
  for (let i = 0; i < config.shardThreads; i++) startThread(i);

  if (config.events.natsUrl) {
    orderEvents = new OrderEventsConsumer(
      { ...config.events, natsUrl: config.events.natsUrl },
      (e) => applyOrderEvent(bus, subjects, config.shardCount, e, config.limits.busRequestTimeoutMs),
      log.child({ component: 'order-events' }),
    );
    // Started once every shard can take events; retried until NATS answers.
    void (async () => {
      await shardsReady;
      for (let attempt = 1; !state.stopping; attempt++) {
        try {
          await orderEvents.start();
          log.info({ stream: config.events.stream, consumer: config.events.consumer }, 'order events: consuming from JetStream');
          return;
        } catch (e) {
          log.warn({ err: e, attempt }, 'order events: JetStream not reachable; retrying');
          await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * attempt)));
        }
      }
    })();
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
    edge.close(CloseCode.restart, 'service restart');
    await orderEvents?.stop();
    await Promise.all(threads.map((t) => stopThread(t.worker, log)));
    await pool.end().catch(() => {});
    await embedded?.stop();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/** Asks a shard thread to flush its persister, then terminates it. */
function stopThread(worker: Worker, log: Logger): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => void worker.terminate().then(() => resolve()), 5_000);
    worker.on('message', (m: { stopped?: boolean }) => {
      if (!m.stopped) return;
      clearTimeout(timer);
      void worker.terminate().then(() => resolve());
    });
    worker.postMessage({ stop: true });
    void log;
  });
}

main().catch((e: unknown) => {
  console.error('fatal:', e);
  process.exit(1);
});
