/**
 * Cluster membership: a shard-hosting member owns its shards through leases (each acquisition
 * claimed in Postgres under its epoch, so a stale owner's writes are fenced out); an edge-only
 * member still heartbeats, so the operator view lists it.
 */
import { claimShard } from '../cluster/fencing.ts';
import { LeaseManager, ShardCountMismatchError, type LeaseCallbacks, type LeaseConfig } from '../cluster/leases.ts';
import type { ShardThreads } from '../shard/threads.ts';
import type { BusComponent } from './bus.ts';
import { StartRefused, type Component } from './component.ts';
import type { NodeParts } from './parts.ts';

export class LeasesComponent implements Component {
  readonly name = 'leases';
  private manager: LeaseManager | undefined;

  /** `sockets` counts this thread's open sockets, for the heartbeat. */
  constructor(private readonly parts: NodeParts, private readonly bus: BusComponent, private readonly sockets: () => number) {}

  /** Undefined until started. */
  get leases(): LeaseManager | undefined {
    return this.manager;
  }

  async start(): Promise<void> {
    const { config, log, threads } = this.parts;
    const cfg: LeaseConfig = {
      nodeId: config.nodeId, prefix: config.subjectPrefix, shardCount: config.shardCount, ttlMs: config.leaseTtlMs,
      shards: threads ? config.shards : [],
      status: () => ({ role: config.role, shards: threads ? threads.shardStatus() : [], sockets: this.sockets() }),
    };
    const callbacks: LeaseCallbacks = threads ? this.hosting(threads) : { acquired: async () => {}, releasing: async () => {}, lost: () => {} };
    const manager = new LeaseManager(this.bus.natsConnection(), cfg, callbacks, log.child({ component: 'leases' }));
    this.manager = manager;
    if (!threads) return manager.start();
    threads.onShardsLost = (lost) => {
      this.parts.metrics.leaseChanges.inc({ event: 'lost' }, lost.length);
      for (const shard of lost) manager.forget(shard);
    };
    try {
      await manager.start();
    } catch (e) {
      // Another shard count would put conversations on the wrong shards. A shard-hosting member
      // refuses (exit 78, as before the split); an edge-only one still fails with the error itself.
      if (e instanceof ShardCountMismatchError) throw new StartRefused(e.message);
      throw e;
    }
    this.parts.state.leasesReady = true;
  }

  /** Orderly: each shard stops, flushes, then lets go of its lease. */
  async stop(): Promise<void> {
    await this.manager?.stop();
  }

  private hosting(threads: ShardThreads): LeaseCallbacks {
    const { config, pool, metrics } = this.parts;
    return {
      acquired: async (shard, epoch) => {
        if (!(await claimShard(pool, shard, epoch, config.nodeId, Date.now()))) throw new Error(`epoch ${epoch} is stale for shard ${shard}`);
        await threads.assign(shard, epoch);
        metrics.leaseChanges.inc({ event: 'acquired' });
      },
      releasing: (shard) => (metrics.leaseChanges.inc({ event: 'released' }), threads.unassign(shard, true)),
      lost: (shard) => (metrics.leaseChanges.inc({ event: 'lost' }), void threads.unassign(shard, false)),
    };
  }
}
