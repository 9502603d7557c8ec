/**
 * An extra edge thread (EDGE_THREADS > 1): its own uWS app on the node's port (the kernel
 * spreads connections over the threads), its own bus connection and pg pool. Readiness comes
 * from the main thread; /metrics and /cluster are answered by the main thread for the node.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { Bus } from '../bus/bus.ts';
import { Subjects } from '../bus/bus.ts';
import { PortBus } from '../bus/inproc.ts';
import { NatsBus } from '../bus/nats.ts';
import type { Config } from '../config.ts';
import { createLogger } from '../log.ts';
import { initTracing } from '../tracing.ts';
import { Metrics } from '../metrics.ts';
import { createPool, type DbTarget } from '../persist/db.ts';
import { ConnectionsTable, Store } from '../persist/store.ts';
import { defaultLimits } from '../../protocol/frames.ts';
import { CloseCode } from '../../protocol/errors.ts';
import { startEdge } from './app.ts';
import { closeHttpConnectionsAfterResponse } from '../http/routes.ts';
import { createVerifier } from '../auth/auth.ts';
import { SocketRegistry } from './sockets.ts';
import { startPresence } from '../presence/setup.ts';

export interface EdgeThreadData {
  config: Config;
  db: DbTarget;
  index: number;
  /** In-process mode: this thread's end of the hub channel; cluster mode: absent (NATS). */
  port?: MessagePort;
  natsUrl?: string;
}

type FromMain =
  | { readiness: ReturnType<Parameters<typeof startEdge>[1]['readiness']> }
  | { reply: number; value?: unknown; error?: string }
  | { stop: true };

initTracing(workerData.index !== undefined ? String(workerData.index) : 'worker');
const data = workerData as EdgeThreadData;
const { config } = data;
const log = createLogger(config.logLevel).child({ node: config.nodeId, thread: `edge-${data.index}` });
const bus: Bus = data.natsUrl ? await NatsBus.connect(data.natsUrl, `${config.nodeId}-edge-${data.index}`) : new PortBus(data.port!, `edge${data.index}`);
const pool = createPool(data.db, Math.max(2, Math.ceil(config.dbPoolMax / 2)), `edge-${data.index}`);
const metrics = new Metrics(false);
const subjects = new Subjects(config.subjectPrefix);
const registry = new SocketRegistry(bus, subjects, config.limits.wsBackpressureMaxBytes);
let readiness: ReturnType<Parameters<typeof startEdge>[1]['readiness']> = { ready: false, checks: {} };

// Small RPC to the main thread for what only it knows (the node's metrics, the cluster view).
let nextCall = 1;
const calls = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
function callMain<T>(what: 'metrics' | 'cluster'): Promise<T> {
  const id = nextCall++;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => (calls.delete(id), reject(new Error(`main thread did not answer ${what}`))), 5_000);
    calls.set(id, { resolve: (v) => (clearTimeout(timer), resolve(v as T)), reject: (e) => (clearTimeout(timer), reject(e)) });
    parentPort!.postMessage({ call: id, what });
  });
}

closeHttpConnectionsAfterResponse();
// This thread's sockets count in the node's presence directory (NATS KV, or the main thread's over the bus).
const presence = await startPresence({ config, bus, subjects, pool, log, nats: bus instanceof NatsBus ? bus.nc : undefined, edgeThread: data.index });
const edge = await startEdge(config, {
  presence,
  config, limits: { ...defaultLimits, maxFrameBytes: config.limits.maxFrameBytes }, bus, subjects, registry, pool, log, metrics,
  store: new Store(pool),
  verifier: createVerifier(config),
  connectionsTable: config.connections.url ? undefined : new ConnectionsTable(pool),
  readiness: () => readiness,
  metricsText: () => callMain('metrics'),
  clusterView: () => callMain('cluster'),
});

// This thread's counters go to the main thread, which serves them merged.
setInterval(() => {
  metrics.framesOut.inc(registry.framesOut);
  registry.framesOut = 0;
  if (registry.slowConsumerCloses) metrics.closes.inc({ code: String(CloseCode.overloaded) }, registry.slowConsumerCloses);
  registry.slowConsumerCloses = 0;
  void metrics.registry.getMetricsAsJSON().then((snapshot) => parentPort!.postMessage({ metrics: snapshot }));
}, 1000).unref();

parentPort!.on('message', async (m: FromMain) => {
  if ('readiness' in m) readiness = m.readiness;
  else if ('reply' in m) {
    const c = calls.get(m.reply);
    calls.delete(m.reply);
    if (m.error) c?.reject(new Error(m.error));
    else c?.resolve(m.value);
  } else if ('stop' in m) {
    // uWS aborts the process if a thread exits with sockets open: close everything first.
    await edge.close(CloseCode.restart, 'service restart');
    presence.stop();
    await bus.close();
    await pool.end().catch(() => {});
    parentPort!.postMessage({ stopped: true });
  }
});
parentPort!.postMessage({ ready: data.index });
