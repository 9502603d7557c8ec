/**
 * The persister of a shard thread: `lanes` independent group-commit lanes (lane.ts) over one
 * Postgres pool (batch-sql.ts), each conversation always on the same lane, so a conversation's
 * batches still commit in order while several batches (of different conversations) are in
 * flight at once — Postgres works on them in parallel while this thread keeps going.
 *
 * It also keeps what the lanes' failures mean for the thread's actors: a failed batch moves
 * `failureEpoch` (every actor reloads), a refused row marks its conversation (`mustReload`).
 */
import type pg from 'pg';
import type { Write } from '../../actors/types.ts';
import type { Fence } from '../cluster/fencing.ts';
import { pgCommit, type PgCommitOptions } from './batch-sql.ts';
import { PersistLane, type BatchStats, type LaneHooks, type LaneOptions } from './lane.ts';
import { PERSIST_REFUSED_CONVS_MAX } from '../config.ts';

export type PersisterOptions = LaneOptions & PgCommitOptions;


function laneOf(conv: string, lanes: number): number {
  let h = 0;
  for (let i = 0; i < conv.length; i++) h = (h * 31 + conv.charCodeAt(i)) | 0;
  return (h >>> 0) % lanes;
}

export class Persister {
  private readonly lanes: PersistLane[];
  /** Incremented on every failed batch of any lane: actors loaded before it must reload. */
  failureEpoch = 0;
  /** Conversations with a refused row since their actor last loaded: they must reload first. */
  private readonly refused = new Set<string>();

  constructor(pool: pg.Pool, opts: PersisterOptions & { lanes: number }) {
    // Each lane gets its share of the thread's bound, but room for at least one full batch.
    const laneOpts: LaneOptions = { ...opts, queueMax: Math.max(opts.batchMax, Math.floor(opts.queueMax / opts.lanes)) };
    const hooks: LaneHooks = { failed: () => this.failureEpoch++, refused: (conv) => this.markReload(conv) };
    const commit = pgCommit(pool, opts);
    this.lanes = Array.from({ length: opts.lanes }, () => new PersistLane(commit, laneOpts, hooks));
  }

  /** Whether `conv`'s actor must reload before its next decision (a row of it was refused). */
  mustReload(conv: string): boolean {
    return this.refused.size > 0 && this.refused.has(conv);
  }

  /** `conv`'s actor reloaded from the database: its refused rows are forgotten. */
  reloaded(conv: string): void {
    this.refused.delete(conv);
  }

  /**
   * `conv`'s actor must reload before its next decision: a row of it was refused, or its rows
   * were rewritten outside it (an erasure).
   */
  markReload(conv: string): void {
    if (this.refused.size >= PERSIST_REFUSED_CONVS_MAX) {
      // Overflow: every actor of the thread reloads instead (rare: validation keeps refusals rare).
      this.refused.clear();
      this.failureEpoch++;
    }
    this.refused.add(conv);
  }

  set onBatch(f: ((s: BatchStats) => void) | undefined) {
    for (const lane of this.lanes) lane.onBatch = f;
  }

  /** Rows and barriers waiting or in flight, over every lane. */
  get depth(): number {
    let n = 0;
    for (const lane of this.lanes) n += lane.depth;
    return n;
  }

  /**
   * The lane every write of `conv` goes through (fixed per conversation, so its batches commit in
   * order). Callers on the hot path keep it instead of hashing the id per command.
   */
  lane(conv: string): PersistLane {
    return this.lanes[laneOf(conv, this.lanes.length)];
  }

  /** All writes of one call belong to conversation `conv`; `fence` in cluster mode. */
  enqueue(conv: string, writes: Write[], fence?: Fence, tp?: string): Promise<void> {
    return this.lane(conv).enqueue(writes, fence, tp);
  }

  /** The slowest lane's estimated drain time: the shard thread's queueing delay for writes. */
  get delayMsMax(): number {
    let d = 0;
    for (const lane of this.lanes) d = Math.max(d, lane.delayMs);
    return d;
  }

  flushAll(): Promise<void> {
    return Promise.all(this.lanes.map((l) => l.flushAll())).then(() => {});
  }
}
