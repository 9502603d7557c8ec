/**
 * What the node says about itself over HTTP: /readyz (one check per dependency, 503 once
 * draining) and the operator view of GET /cluster. Read at request time, so a component
 * started later (leases) shows up as soon as it exists.
 */
import type { HttpDeps } from '../http/routes.ts';
import type { LeaseManager } from '../cluster/leases.ts';
import type { BusComponent } from './bus.ts';
import type { NodeParts } from './parts.ts';

export type Readiness = ReturnType<HttpDeps['readiness']>;

export interface NodeStatusSources {
  bus: BusComponent;
  /** The lease manager of a cluster member, once created. */
  leases: () => LeaseManager | undefined;
  /** Sockets open on this thread's edge. */
  sockets: () => number;
}

export interface NodeStatus {
  readiness(): Readiness;
  clusterView(): Promise<unknown>;
}

export function nodeStatus(parts: NodeParts, src: NodeStatusSources): NodeStatus {
  const { config, threads, state, cluster } = parts;
  const readiness = (): Readiness => {
    const shardsOk = !threads || threads.allReady();
    const checks: Readiness['checks'] = {
      database: { status: state.dbReady ? 'ok' : 'fail' },
      shards: { status: shardsOk ? 'ok' : 'fail', detail: threads ? `${threads.readyCount()}/${threads.count} threads` : 'edge role: none' },
    };
    const nats = src.bus.nats;
    if (nats) checks.bus = { status: nats.nc.isClosed() ? 'fail' : 'ok', detail: 'nats' };
    if (cluster && threads) checks.leases = { status: state.leasesReady ? 'ok' : 'fail', detail: `${src.leases()?.held.size ?? 0} shards owned` };
    const ready = !state.stopping && Object.values(checks).every((c) => c.status === 'ok');
    return { ready, checks };
  };
  const clusterView = async (): Promise<unknown> => {
    const leases = src.leases();
    if (!leases) return { shardCount: config.shardCount, nodes: [{ id: config.nodeId, role: config.role, shards: [], sockets: src.sockets() }] };
    const nodes = (await leases.liveNodes()).sort((a, b) => a.id.localeCompare(b.id));
    return { shardCount: config.shardCount, nodes: nodes.map((n) => ({ id: n.id, role: n.role, shards: n.shards, sockets: n.sockets })) };
  };
  return { readiness, clusterView };
}
