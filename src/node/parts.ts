/**
 * What a node's components share, made from the config before any of them starts: nothing
 * here connects or listens (the pool connects on first use), so building it cannot fail on a
 * dependency that is still starting.
 */
import { Subjects } from '../bus/bus.ts';
import { InprocHub } from '../bus/inproc.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { Metrics } from '../metrics.ts';
import { createPool, type DbTarget } from '../persist/db.ts';
import { Store } from '../persist/store.ts';
import { ShardThreads } from '../shard/threads.ts';
import type pg from 'pg';

/** What /readyz reports besides the components' own checks; `stopping` turns it 503 first thing. */
export interface NodeState {
  dbReady: boolean;
  stopping: boolean;
  leasesReady: boolean;
}

export interface NodeParts {
  readonly config: Config;
  readonly log: Logger;
  /** With NATS_URL the node is a cluster member; without, a complete single node. */
  readonly cluster: boolean;
  readonly db: DbTarget;
  readonly pool: pg.Pool;
  readonly store: Store;
  readonly subjects: Subjects;
  readonly metrics: Metrics;
  readonly state: NodeState;
  /** The in-process bus of a single node (its shard and edge threads attach to it). */
  readonly hub: InprocHub | undefined;
  /** Shard threads, unless the role is edge; started by the shards component. */
  readonly threads: ShardThreads | undefined;
}

export function nodeParts(config: Config, log: Logger): NodeParts {
  const cluster = config.natsUrl !== undefined;
  const hostsShards = config.role !== 'edge';
  const db: DbTarget = config.databaseUrl ? { url: config.databaseUrl, schema: config.databaseSchema } : { socketDir: config.dataDir, schema: 'public' };
  if (cluster && !config.databaseUrl) log.warn('cluster mode with embedded PGlite: every node must share one Postgres; set DATABASE_URL');
  const pool = createPool(db, config.dbPoolMax, 'edge');
  const metrics = new Metrics();
  metrics.shardCount.set(config.shardCount);
  const hub = cluster ? undefined : new InprocHub();
  const threads = hostsShards
    ? new ShardThreads(config, db, hub ? { kind: 'inproc', hub } : { kind: 'nats', natsUrl: config.natsUrl! }, log, metrics)
    : undefined;
  return {
    config, log, cluster, db, pool, metrics, hub, threads,
    store: new Store(pool),
    subjects: new Subjects(config.subjectPrefix),
    state: { dbReady: false, stopping: false, leasesReady: !cluster || !hostsShards },
  };
}
