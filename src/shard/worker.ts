/** Shard thread entry: one ShardHost with its own pg pool and persister, on the bus. */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { PortBus } from '../bus/inproc.ts';
import { Subjects } from '../bus/bus.ts';
import type { Config } from '../config.ts';
import { CachedConnections, httpConnectionLookup, tableConnectionLookup } from '../integrations/connections.ts';
import { createLogger } from '../log.ts';
import { createPool, type DbTarget } from '../persist/db.ts';
import { Persister } from '../persist/persister.ts';
import { ConnectionsTable, Store } from '../persist/store.ts';
import { ShardHost } from './host.ts';
import type { ShardReport } from '../metrics.ts';
import { decode } from '../../protocol/codec.ts';

export interface ShardWorkerData {
  config: Config;
  db: DbTarget;
  shards: number[];
  index: number;
  port: MessagePort;
}

const data = workerData as ShardWorkerData;
const { config } = data;
const log = createLogger(config.logLevel).child({ thread: `shard-${data.index}` });
const subjects = new Subjects(config.subjectPrefix);
const bus = new PortBus(data.port, `shard${data.index}`);
// One connection writes batches; the others serve rehydration and history reads.
const pool = createPool(data.db, Math.max(2, config.dbPoolMax), `shard-${data.index}`);
const store = new Store(pool);
const persister = new Persister(pool, { ...config.persist, prepared: config.dbPreparedStatements });
const lookup = config.connections.url
  ? httpConnectionLookup(config.connections.url, config.connections.timeoutMs)
  : tableConnectionLookup(new ConnectionsTable(pool));
const connections = new CachedConnections(lookup, config.connections.cacheTtlMs, config.connections.cacheMax);
const host = new ShardHost({
  bus,
  subjects,
  store,
  persister,
  connections,
  limits: { ...config.actors, persistQueueMax: config.persist.queueMax },
  onError: (e, where) => log.warn({ err: e, where }, 'shard error'),
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
  };
  ackedReported = host.acked;
  if (batches.length) log.debug({ batches: batches.length, rows: batches.reduce((a, b) => a + b[0], 0), depth: persister.depth }, 'persister');
  batches = [];
  parentPort!.postMessage({ report });
}, 1000).unref();

for (const k of data.shards) bus.subscribe(subjects.shard(k), host.handle);
bus.subscribe(subjects.connectionsChanged(), (d) => {
  const { a, b } = decode(d) as { a: string; b: string };
  connections.invalidate(a, b);
});
// Sent on the bus port itself, so it arrives after the subscriptions above.
bus.publish(`${config.subjectPrefix}.internal.ready`, new Uint8Array([data.index]));


parentPort!.on('message', async (m: { stop?: boolean }) => {
  if (!m.stop) return;
  await persister.flushAll();
  await bus.close();
  await pool.end().catch(() => {});
  parentPort!.postMessage({ stopped: true });
});
