/**
 * The node's shard threads: starts them, restarts a crashed one, and (cluster mode) assigns
 * and withdraws shards on behalf of the lease manager. Shard k always lives in thread
 * k mod SHARD_THREADS. SHARD_THREADS=0 runs one shard runtime in the main thread instead
 * (inline.ts): every shard, no thread hop.
 */
import { MessageChannel } from 'node:worker_threads';
import type { InprocHub } from '../bus/inproc.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Metrics, ShardReport } from '../metrics.ts';
import type { DbTarget } from '../persist/db.ts';
import { startWorker } from '../worker-thread.ts';
import { InlineShardWorker } from './inline.ts';
import type { ShardControl, ShardWorkerData } from './runtime.ts';

/** Shard runtimes a node runs: SHARD_THREADS worker threads, or the one inline runtime when it is 0. */
export function shardRuntimes(config: Pick<Config, 'shardThreads'>): number {
  return Math.max(1, config.shardThreads);
}

export type ThreadsMode = { kind: 'inproc'; hub: InprocHub } | { kind: 'nats'; natsUrl: string };

/** What is used of a worker thread (an inline runtime has the same surface). */
interface ThreadWorker {
  postMessage(m: ShardControl): void;
  terminate(): Promise<number>;
  on(event: 'message', listener: (m: Record<string, unknown>) => void): unknown;
  on(event: 'error', listener: (e: Error) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
}

interface Thread {
  worker: ThreadWorker;
  ready: boolean;
  detach: () => void;
  waiters: Map<string, () => void>;
}

export class ShardThreads {
  private threads: Thread[] = [];
  private stopping = false;
  private readonly reports = new Map<number, ShardReport>();
  /** Cluster mode: a thread crashed or a write was fenced; its shards are no longer served. */
  onShardsLost: (shards: number[]) => void = () => {};
  private readonly assigned = new Map<number, number>();

  constructor(
    private readonly config: Config,
    private readonly db: DbTarget,
    private readonly mode: ThreadsMode,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  get count(): number {
    return shardRuntimes(this.config);
  }

  private get inline(): boolean {
    return this.config.shardThreads === 0;
  }

  readyCount(): number {
    return this.threads.filter((t) => t?.ready).length;
  }

  allReady(): boolean {
    return this.threads.length === this.count && this.threads.every((t) => t.ready);
  }

  /** In-process mode: thread i's ready signal arrives over the hub (after its subscriptions). */
  markReady(i: number): void {
    if (this.threads[i]) this.threads[i].ready = true;
  }

  start(): void {
    for (let i = 0; i < this.count; i++) this.spawn(i);
  }

  private staticShards(i: number): number[] {
    const out: number[] = [];
    for (let k = i; k < this.config.shardCount; k += this.count) out.push(k);
    return out;
  }

  private spawn(i: number): void {
    let detach = () => {};
    const data: ShardWorkerData = { config: this.config, db: this.db, shards: this.staticShards(i), index: i };
    if (this.mode.kind === 'nats') data.natsUrl = this.mode.natsUrl;
    const worker = this.inline ? new InlineShardWorker(data, this.mode.kind === 'inproc' ? this.mode.hub.local(`shard${i}`) : undefined) : this.startThread(data, (d) => (detach = d));
    const thread: Thread = { worker, ready: false, detach, waiters: new Map() };
    this.threads[i] = thread;
    worker.on('error', (e) => this.log.error({ err: e, thread: i }, 'shard thread crashed'));
    worker.on('message', (m: Record<string, unknown>) => this.onMessage(i, thread, m));
    worker.on('exit', (code) => {
      thread.detach();
      if (this.stopping) return;
      this.log.error({ thread: i, code }, 'shard thread exited; restarting it (its actors rehydrate from Postgres)');
      thread.ready = false;
      const lost = [...this.assigned.keys()].filter((k) => k % this.count === i);
      for (const k of lost) this.assigned.delete(k);
      if (lost.length) this.onShardsLost(lost);
      setTimeout(() => this.spawn(i), 100);
    });
  }

  /** A worker thread; in-process mode attaches its end of a channel to the hub (`setDetach`: how to undo it). */
  private startThread(data: ShardWorkerData, setDetach: (detach: () => void) => void): ThreadWorker {
    const transferList = [];
    if (this.mode.kind === 'inproc') {
      const { port1, port2 } = new MessageChannel();
      const off = this.mode.hub.attach(port1);
      setDetach(() => (off(), port1.close()));
      data.port = port2;
      transferList.push(port2);
    }
    return startWorker(new URL('./worker.ts', import.meta.url), data as unknown as Record<string, unknown>, { transferList });
  }

  private onMessage(i: number, thread: Thread, m: Record<string, unknown>): void {
    if (m.report) {
      const r = m.report as ShardReport;
      this.reports.set(i, r);
      this.metrics.shardReport(r);
      this.metrics.shardsOwned.set(this.ownedCount());
    } else if (m.ready !== undefined) thread.ready = true;
    else if (m.assigned !== undefined) thread.waiters.get(`a${m.assigned}`)?.();
    else if (m.unassigned !== undefined) thread.waiters.get(`u${m.unassigned}`)?.();
    else if (m.fenced !== undefined) {
      const shard = m.fenced as number;
      this.log.warn({ shard }, 'a newer owner fenced this node out of the shard');
      this.assigned.delete(shard);
      this.onShardsLost([shard]);
    }
  }

  private control(shard: number, msg: ShardControl, ack: string, timeoutMs = 15_000): Promise<void> {
    const thread = this.threads[shard % this.count];
    if (!thread?.ready) return Promise.reject(new Error(`thread for shard ${shard} is not ready`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => (thread.waiters.delete(ack), reject(new Error(`no ${ack} from thread`))), timeoutMs);
      thread.waiters.set(ack, () => (clearTimeout(timer), thread.waiters.delete(ack), resolve()));
      thread.worker.postMessage(msg);
    });
  }

  async assign(shard: number, epoch: number): Promise<void> {
    await this.control(shard, { assign: { shard, epoch } }, `a${shard}`);
    this.assigned.set(shard, epoch);
  }

  async unassign(shard: number, flush: boolean): Promise<void> {
    this.assigned.delete(shard);
    await this.control(shard, { unassign: { shard, flush } }, `u${shard}`).catch((e) => this.log.warn({ err: e, shard }, 'unassign'));
  }

  /** Shards served here: those assigned by leases (cluster), or every shard of a ready thread (single node). */
  ownedCount(): number {
    if (this.mode.kind === 'nats') return this.assigned.size;
    return this.threads.reduce((n, t, i) => n + (t?.ready ? this.staticShards(i).length : 0), 0);
  }

  /** Per shard served here: its epoch and live actors (for the operator view). */
  shardStatus(): { shard: number; epoch: number; actors: number }[] {
    const actors: Record<number, number> = {};
    for (const r of this.reports.values()) Object.assign(actors, r.shardActors);
    return [...this.assigned].sort((a, b) => a[0] - b[0]).map(([shard, epoch]) => ({ shard, epoch, actors: actors[shard] ?? 0 }));
  }

  /** Asks every thread to flush its persister, then terminates them. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.threads.map(
        (t) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => void t.worker.terminate().then(() => resolve()), 5_000);
            t.worker.on('message', (m: { stopped?: boolean }) => {
              if (!m.stopped) return;
              clearTimeout(timer);
              void t.worker.terminate().then(() => resolve());
            });
            t.worker.postMessage({ stop: true });
          }),
      ),
    );
  }
}
