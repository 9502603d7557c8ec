/**
 * Starts a node. Without NATS_URL: a complete single node — the uWS edge in this thread,
 * SHARD_THREADS shard threads on the in-process bus, Postgres (DATABASE_URL) or the embedded
 * PGlite thread. With NATS_URL: a cluster member in ROLE all|edge|shard, the bus is NATS and
 * the shards it serves are owned through leases (src/cluster/leases.ts).
 *
 * The composition root: the node is the ordered list of components in main(), started in that
 * order and stopped in reverse on SIGTERM/SIGINT (src/node/).
 */
import { createVerifier } from './auth/auth.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createLogger, type Logger } from './log.ts';
import { BusComponent } from './node/bus.ts';
import { firstToStop, Lifecycle, StartRefused, type Component } from './node/component.ts';
import { DatabaseComponent } from './node/database.ts';
import { AttachmentSweepComponent } from './node/attachments.ts';
import { NotifierComponent } from './node/notifications.ts';
import { RetentionComponent } from './node/retention.ts';
import { IdempotencySweepComponent } from './node/idempotency.ts';
import { EdgeComponent } from './node/edge.ts';
import { LeasesComponent } from './node/leases.ts';
import { OrderEventsComponent } from './node/order-events.ts';
import { nodeParts, type NodeParts } from './node/parts.ts';
import { RelayComponent } from './node/relay.ts';
import { ShardsComponent } from './node/shards.ts';
import { nodeStatus } from './node/status.ts';
import { flushTracing, initTracing } from './tracing.ts';
import { loadUws, UwsFallbackError } from './uws.ts';

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

async function main(): Promise<void> {
  const config = loadOrExit();
  const log = createLogger(config.logLevel).child({ node: config.nodeId });
  const verifier = createVerifier(config);
  if (verifier.devMode) {
    log.warn({ secretFile: `${config.dataDir}/dev-jwt-secret` }, 'no JWT configuration: using a generated dev secret; mint tokens with `npm run token -- --sub alice`');
  }
  const parts = nodeParts(config, log);
  const { cluster, threads } = parts;
  const bus = new BusComponent(parts);
  const sockets = (): number => edge.socketCount;
  const leases = cluster ? new LeasesComponent(parts, bus, sockets) : undefined;
  const edge = new EdgeComponent(parts, bus, verifier, nodeStatus(parts, { bus, leases: () => leases?.leases, sockets }));
  const node = new Lifecycle([
    tracing,
    bus,
    edge, // listens before the database is up: /readyz answers 503 meanwhile
    new DatabaseComponent(parts),
    new AttachmentSweepComponent(parts), // stops before the database it deletes from
    // Notifications (NOTIFY_WEBHOOK_URL): on nodes with an edge, whose presence directory it asks.
    config.notify.enabled && config.role !== 'shard' ? new NotifierComponent(parts, (user) => edge.online(user)) : undefined,
    new RetentionComponent(parts), // the same
    config.role !== 'shard' ? new IdempotencySweepComponent(parts) : undefined, // the same; keys are written by edges
    config.outbox.enabled && cluster && threads ? new RelayComponent(parts, bus) : undefined, // stops after the shards' last flush
    threads && new ShardsComponent(parts, threads, bus),
    leases,
    cluster ? new OrderEventsComponent(parts, bus) : undefined,
    // Sockets go first on shutdown (1012, clients reconnect elsewhere) while the rest still serves.
    firstToStop('drain', () => edge.stop()),
  ], log);
  await startOrRefuse(node, log);
  drainOnSignal(node, parts, () => edge.hasThreads);
}

/** initTracing before anything can start a span; the last flush once everything stopped. */
const tracing: Component = { name: 'tracing', start: async () => initTracing('main'), stop: flushTracing };

/** A refusal (another shard count in the cluster) exits 78 like a config error; anything else is fatal. */
async function startOrRefuse(node: Lifecycle, log: Logger): Promise<void> {
  try {
    await node.start();
  } catch (e) {
    if (e instanceof StartRefused) {
      log.error(e.message);
      console.error(`refusing to start: ${e.message}`);
      process.exit(78);
    }
    throw e;
  }
}

/**
 * On SIGTERM/SIGINT: /readyz turns 503, the components stop in reverse, exit 0 once all did
 * (1 when one failed to stop, or when SHUTDOWN_TIMEOUT_MS passes first).
 */
function drainOnSignal(node: Lifecycle, parts: NodeParts, uwsThreads: () => boolean): void {
  const { state, log, config } = parts;
  const shutdown = async (signal: string): Promise<void> => {
    if (state.stopping) return;
    state.stopping = true;
    log.info({ signal }, 'draining');
    const hardStop = setTimeout(() => {
      log.error('shutdown timed out');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    hardStop.unref();
    const failed = await node.stop().then(() => false, () => true); // the failure is logged by the lifecycle
    if (failed) exitNow(1, uwsThreads());
    log.info('stopped');
    exitNow(0, uwsThreads());
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

main().catch((e: unknown) => {
  console.error('fatal:', e);
  process.exit(1);
});
