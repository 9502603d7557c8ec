/**
 * Builds an edge's PresenceService on the directory its node has: NATS JetStream KV for a
 * cluster member (with edge liveness, so a dead node's users go offline), the main thread's
 * in-process directory on a single node (served over the in-process bus to its other edge
 * threads).
 */
import type { NatsConnection } from 'nats';
import type pg from 'pg';
import type { Bus, Subjects, Subscription } from '../bus/bus.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { PresenceTables } from '../persist/presence.ts';
import { BusDirectory, serveDirectory } from './bus-directory.ts';
import { type Directory, PresenceDirectory } from './directory.ts';
import { MemoryDirectory } from './memory.ts';
import { natsPresenceStores } from './nats-kv.ts';
import { type ClusterPresence, PresenceService } from './service.ts';

export interface PresenceSetup {
  config: Config;
  bus: Bus;
  subjects: Subjects;
  pool: pg.Pool;
  log: Logger;
  /** Cluster member: its NATS connection (the directory is JetStream KV). */
  nats?: NatsConnection;
  /** Extra edge threads pass their index; the main thread (edge 0) none. */
  edgeThread?: number;
}

export async function startPresence(s: PresenceSetup): Promise<PresenceService> {
  const { config } = s;
  const edgeId = s.edgeThread === undefined ? config.nodeId : `${config.nodeId}/edge-${s.edgeThread}`;
  let directory: Directory;
  let cluster: ClusterPresence | undefined;
  let served: Subscription | undefined;
  if (s.nats) {
    const { store, liveness } = await natsPresenceStores(s.nats, config.subjectPrefix, config.presence.edgeTtlMs, config.presence.kvTimeoutMs);
    const kv = new PresenceDirectory(store, edgeId);
    directory = kv;
    cluster = { directory: kv, liveness };
  } else if (s.edgeThread === undefined) {
    const memory = new MemoryDirectory();
    directory = memory.forEdge(edgeId);
    if (config.edgeThreads > 1) served = serveDirectory(s.bus, s.subjects.presenceDirectory(), memory);
  } else {
    directory = new BusDirectory(s.bus, s.subjects.presenceDirectory(), edgeId, config.presence.kvTimeoutMs);
  }
  const service = new PresenceService({ config, bus: s.bus, subjects: s.subjects, tables: new PresenceTables(s.pool), log: s.log, directory, edgeId, cluster });
  await service.start();
  if (served) service.onStop(() => served.unsubscribe());
  return service;
}
