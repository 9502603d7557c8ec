/**
 * Shard ownership across nodes: one lease per shard in a NATS JetStream KV bucket whose TTL is
 * LEASE_TTL_MS. The owner renews its leases every third of the TTL; the KV revision at which a
 * node acquired a lease is the shard's fencing epoch (claimed in Postgres before serving, so
 * a paused old owner can never commit after a new one took over). A node whose renewal fails
 * stops serving that shard at once. With SHARDS=auto a node takes a fair share of the shards,
 * taking over those whose owner's lease lapsed, and hands shards back in order when new nodes
 * join; with an explicit SHARDS list it takes exactly those.
 */
import type { KV, NatsConnection } from 'nats';
import type { Logger } from '../log.ts';

export interface LeaseCallbacks {
  /** Claim the epoch in Postgres and start serving; reject = do not serve (lease is released). */
  acquired(shard: number, epoch: number): Promise<void>;
  /** Stop taking commands for the shard and flush its writes (orderly handoff or exit). */
  releasing(shard: number): Promise<void>;
  /** The lease is gone (renewal failed): stop serving at once. */
  lost(shard: number): void;
}

export interface LeaseConfig {
  nodeId: string;
  prefix: string;
  shardCount: number;
  /** 'auto' or the explicit list of shards this node serves. */
  shards: 'auto' | number[];
  ttlMs: number;
  /** Extra fields for this node's heartbeat (role, sockets, shard actors). */
  status: () => Record<string, unknown>;
}

interface Held {
  epoch: number;
  revision: number;
  /** When the lease was last known good (acquired or renewed). */
  renewedAt: number;
}

export class ShardCountMismatchError extends Error {
  override name = 'ShardCountMismatchError';
}

export interface NodeStatus {
  id: string;
  role: string;
  shards: { shard: number; epoch: number; actors: number }[];
  sockets: number;
  [k: string]: unknown;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export class LeaseManager {
  private leases!: KV;
  private nodes!: KV;
  readonly held = new Map<number, Held>();
  private timers: NodeJS.Timeout[] = [];
  private renewing = false;
  private ticking = false;
  private stopping = false;

  constructor(private readonly nc: NatsConnection, private readonly cfg: LeaseConfig, private readonly cb: LeaseCallbacks, private readonly log: Logger) {}

  /** Buckets are named after the prefix, so clusters (and test runs) sharing NATS stay apart. */
  async start(): Promise<void> {
    const js = this.nc.jetstream();
    const cluster = await js.views.kv(`${this.cfg.prefix}-cluster`, { history: 1 });
    try {
      await cluster.create('shardCount', enc.encode(String(this.cfg.shardCount)));
    } catch {
      const existing = Number(dec.decode((await cluster.get('shardCount'))?.value ?? new Uint8Array()));
      if (existing !== this.cfg.shardCount) {
        throw new ShardCountMismatchError(`SHARD_COUNT=${this.cfg.shardCount} but the cluster "${this.cfg.prefix}" runs with ${existing}: refusing to join`);
      }
    }
    // A KV TTL applies to every key of its bucket (nats-server 2.9), so leases get their own bucket.
    this.leases = await js.views.kv(`${this.cfg.prefix}-leases`, { history: 1, ttl: this.cfg.ttlMs });
    this.nodes = await js.views.kv(`${this.cfg.prefix}-nodes`, { history: 1, ttl: this.cfg.ttlMs });
    await this.keepAlive();
    await this.tick();
    // Renewal runs on its own timer: a long rebalance (many acquisitions) must never delay it.
    const period = Math.max(100, Math.floor(this.cfg.ttlMs / 3));
    // Free shards are looked for twice per renew period: a dead owner's lease lapses at an
    // arbitrary moment, and every moment until the next look is a moment its shards answer
    // nobody (a takeover is to answer within LEASE_TTL_MS + one renew period + 1 s). A look is
    // one listing of the nodes bucket and, only when under our share, one create per free shard.
    const lookPeriod = Math.max(50, Math.floor(period / 2));
    this.timers.push(setInterval(() => void this.keepAlive(), period), setInterval(() => void this.tick(), lookPeriod));
  }

  private async keepAlive(): Promise<void> {
    if (this.renewing || this.stopping) return;
    this.renewing = true;
    try {
      await this.heartbeat();
      await this.renew();
    } catch (e) {
      this.log.warn({ err: e }, 'lease renewal round failed');
    } finally {
      this.renewing = false;
    }
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.stopping) return;
    this.ticking = true;
    try {
      await this.rebalance();
    } catch (e) {
      this.log.warn({ err: e }, 'rebalance failed');
    } finally {
      this.ticking = false;
    }
  }

  private async heartbeat(): Promise<void> {
    await this.nodes.put(this.cfg.nodeId, enc.encode(JSON.stringify({ id: this.cfg.nodeId, ...this.cfg.status() })));
  }

  /**
   * Renews every lease at once. A renewal refused by the KV (another revision: the lease
   * lapsed or was taken) ends serving the shard at once; one that merely timed out (NATS
   * busy) is retried next round until the lease would have lapsed anyway. Serving a little
   * longer is safe: a new owner's epoch fences our writes out in Postgres.
   */
  private async renew(): Promise<void> {
    const now = Date.now();
    await Promise.all(
      [...this.held].map(async ([shard, h]) => {
        try {
          h.revision = await this.leases.update(key(shard), enc.encode(this.cfg.nodeId), h.revision);
          h.renewedAt = now;
        } catch (e) {
          const refused = /wrong last sequence|key not found|10071/i.test(e instanceof Error ? e.message : String(e));
          if (!refused && now - h.renewedAt < this.cfg.ttlMs * 0.8) return;
          this.log.error({ shard, err: e }, 'lease renewal failed: no longer serving the shard');
          if (this.held.get(shard) === h) this.held.delete(shard);
          this.cb.lost(shard);
        }
      }),
    );
  }

  /** Live nodes that host shards, from their heartbeats. */
  async liveNodes(): Promise<NodeStatus[]> {
    // Keys first, then values: awaiting a get inside the keys() iteration cuts the listing short.
    const keys: string[] = [];
    for await (const k of await this.nodes.keys()) keys.push(k);
    const out: NodeStatus[] = [];
    for (const k of keys) {
      const e = await this.nodes.get(k);
      if (e && e.operation === 'PUT' && e.value.length) out.push(JSON.parse(dec.decode(e.value)) as NodeStatus);
    }
    return out;
  }

  /** How many shards this node should hold: its fair share of the live shard hosts. */
  private async share(): Promise<number> {
    if (this.cfg.shards !== 'auto') return this.cfg.shards.length;
    const hosts = new Set((await this.liveNodes()).filter((n) => n.role !== 'edge').map((n) => n.id));
    hosts.add(this.cfg.nodeId);
    return Math.ceil(this.cfg.shardCount / hosts.size);
  }

  private async rebalance(): Promise<void> {
    const share = await this.share();
    // Hand back what is over our share (a node joined), highest shards first.
    if (this.cfg.shards === 'auto' && this.held.size > share) {
      const excess = [...this.held.keys()].sort((a, b) => b - a).slice(0, this.held.size - share);
      for (const shard of excess) await this.release(shard);
    }
    // Take free shards until we hold our share (a lease that lapsed is free again), several at
    // a time: a failover should not take one round trip chain per shard.
    const order = this.cfg.shards === 'auto' ? preferenceOrder(this.cfg.nodeId, this.cfg.shardCount) : this.cfg.shards;
    const candidates = order.filter((k) => !this.held.has(k));
    for (let i = 0; i < candidates.length && this.held.size < share && !this.stopping; ) {
      const batch = candidates.slice(i, i + Math.min(acquireParallelism, share - this.held.size));
      i += batch.length;
      await Promise.all(batch.map((k) => this.tryAcquire(k)));
    }
  }

  private async tryAcquire(shard: number): Promise<void> {
    let revision: number;
    try {
      revision = await this.leases.create(key(shard), enc.encode(this.cfg.nodeId));
    } catch {
      return; // owned by a live node
    }
    this.held.set(shard, { epoch: revision, revision, renewedAt: Date.now() });
    try {
      await this.cb.acquired(shard, revision);
      this.log.info({ shard, epoch: revision }, 'shard acquired');
    } catch (e) {
      this.log.warn({ shard, err: e }, 'could not take the shard; releasing its lease');
      this.held.delete(shard);
      await this.leases.delete(key(shard)).catch(() => {});
    }
  }

  /**
   * The shard was taken from us (fenced, or its thread died): stop renewing and let the lease
   * lapse. Not deleted: if we were fenced, the key may already be the new owner's.
   */
  forget(shard: number): void {
    this.held.delete(shard);
  }

  /** Orderly handoff: stop, flush, then let go of the lease. */
  async release(shard: number): Promise<void> {
    if (!this.held.has(shard)) return;
    await this.cb.releasing(shard);
    this.held.delete(shard);
    await this.leases.delete(key(shard)).catch(() => {});
    this.log.info({ shard }, 'shard released');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    while (this.ticking || this.renewing) await new Promise((r) => setTimeout(r, 20));
    for (const shard of [...this.held.keys()]) await this.release(shard);
    await this.nodes.delete(this.cfg.nodeId).catch(() => {});
  }
}

/** Shards acquired concurrently per round. */
const acquireParallelism = 8;

function key(shard: number): string {
  return `s${shard}`;
}

/** Every shard, in an order that differs per node, so nodes do not all race for the same ones. */
function preferenceOrder(nodeId: string, shardCount: number): number[] {
  let h = 2166136261;
  for (let i = 0; i < nodeId.length; i++) h = Math.imul(h ^ nodeId.charCodeAt(i), 16777619);
  const start = (h >>> 0) % shardCount;
  return Array.from({ length: shardCount }, (_, i) => (start + i) % shardCount);
}
