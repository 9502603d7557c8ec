/**
 * An in-memory CommitPort for lane tests: commits batches to an array, and can be told to fail
 * the database on given calls, refuse batches holding a given row (as Postgres refuses a bad
 * row: the whole statement, nothing written), fence shards by epoch, and hold a call in flight.
 */
import type { Write } from '../../actors/types.ts';
import { fenceKey, type Fence } from '../../src/cluster/fencing.ts';
import type { CommitEntry, CommitPort, CommitResult } from '../../src/persist/lane.ts';

/** A call held in flight: `reached` once the lane made it, `release` lets it go on. */
export interface Held {
  reached: Promise<void>;
  release(): void;
}

export class MemoryCommit implements CommitPort {
  /** Every write that was committed, in commit order. */
  readonly committed: Write[] = [];
  /** What the lane handed over, call by call (call n is `calls[n - 1]`). */
  readonly calls: (readonly CommitEntry[])[] = [];
  private readonly failing = new Set<number>();
  private readonly refusals: { row: (w: Write) => boolean; sqlState: string }[] = [];
  /** shard → the epoch that owns it (shard_epochs); a fence of another epoch is stale. */
  private readonly epochs = new Map<number, number>();
  private readonly holds: { reached: () => void; released: Promise<void> }[] = [];

  /** The database fails call number `n` (1-based, counted since creation), after any hold. */
  failCall(n: number): void {
    this.failing.add(n);
  }

  /** Refuses every batch holding a write that matches `row`, with SQLSTATE `sqlState`. */
  refuse(row: (w: Write) => boolean, sqlState = '23514'): void {
    this.refusals.push({ row, sqlState });
  }

  /** From now on `shard` is owned by `epoch`. */
  claim(shard: number, epoch: number): void {
    this.epochs.set(shard, epoch);
  }

  /** Holds the next call not yet held until `release()`. */
  hold(): Held {
    let reached!: () => void;
    let release!: () => void;
    const reachedP = new Promise<void>((r) => (reached = r));
    this.holds.push({ reached, released: new Promise<void>((r) => (release = r)) });
    return { reached: reachedP, release };
  }

  async commit(entries: readonly CommitEntry[]): Promise<CommitResult> {
    this.calls.push([...entries]);
    const n = this.calls.length;
    const held = this.holds.shift();
    if (held) (held.reached(), await held.released);
    if (this.failing.has(n)) throw Object.assign(new Error('connection terminated'), { code: '08006' });
    const writes = entries.flatMap((e) => e.writes);
    const refusal = this.refusals.find((r) => writes.some(r.row));
    if (refusal) return { kind: 'refused', cause: Object.assign(new Error('row refused'), { code: refusal.sqlState }) };
    const stale = new Map<string, Fence>();
    for (const e of entries) {
      if (e.fence && this.epochs.get(e.fence.shard) !== e.fence.epoch) stale.set(fenceKey(e.fence), e.fence);
      else this.committed.push(...e.writes);
    }
    return { kind: 'committed', stale: [...stale.values()] };
  }
}
