/**
 * A write-behind group-commit lane: the calls of many actors are gathered and handed to a
 * `CommitPort` as one batch, which writes them in one atomic step (src/persist/batch-sql.ts
 * does it in Postgres; tests use an in-memory one).
 *
 * Contract: `enqueue` resolves once every write of that call is durable, in enqueue order.
 * One batch is in flight at a time; calls arriving meanwhile form the next batch.
 * - When the database fails (the port rejects), the batch and everything queued behind it are
 *   rejected (later rows may depend on seqs of the failed ones) and `hooks.failed` runs (every
 *   actor of the thread reloads).
 * - When it refuses a row (the port answers `refused`), only that call is refused
 *   (RowRefusedError), with the calls of the same conversation behind it (their seqs build on
 *   it: PersistFailedError, retryable); batch-mates of other conversations commit as usual, and
 *   `hooks.refused` names the conversation (only its actor reloads).
 * - A call whose fence no longer holds is rejected with FencedError; its batch-mates commit.
 */
import type { Write } from '../../actors/types.ts';
import { FencedError, fenceKey, type Fence } from '../cluster/fencing.ts';
import { spanContextOf, startSpan, tracingEnabled } from '../tracing.ts';
import { DrainRate } from './drain-rate.ts';
import { RowRefusedError } from './row-errors.ts';

export interface LaneOptions {
  flushMs: number;
  /** Rows per batch (a single larger call still goes out alone). */
  batchMax: number;
  /** Rows and barriers waiting or in flight; a call beyond it is refused at once. */
  queueMax: number;
}

/** One call's writes as the commit port sees them. */
export interface CommitEntry {
  readonly writes: readonly Write[];
  /** Cluster mode: write only while this epoch still owns the shard. */
  readonly fence?: Fence;
}

export type CommitResult =
  /** Written atomically, except every write under a `stale` fence (a newer epoch owns its shard). */
  | { readonly kind: 'committed'; readonly stale: readonly Fence[] }
  /**
   * A row was refused for its data (`cause` carries the SQLSTATE): nothing was written. Which row
   * is unknown, so the lane retries halves of the batch until the culprit stands alone.
   */
  | { readonly kind: 'refused'; readonly cause: unknown };

/**
 * Where a lane's batches go. `commit` writes every write of `entries`, all or nothing, and
 * rejects when the database itself failed (connection lost, shutdown, timeout). The lane never
 * hands it an empty batch or one of barriers only.
 */
export interface CommitPort {
  commit(entries: readonly CommitEntry[]): Promise<CommitResult>;
}

export interface LaneHooks {
  /** The database failed a batch: every actor of the thread must reload. */
  failed(): void;
  /** A row of `conv` was refused: its actor must reload before its next decision. */
  refused(conv: string): void;
}

export interface BatchStats {
  rows: number;
  entries: number;
  ms: number;
}

export class PersisterOverloadedError extends Error {
  override name = 'PersisterOverloadedError';
}

export class PersistFailedError extends Error {
  override name = 'PersistFailedError';
}

interface Entry extends CommitEntry {
  /** The conversation of every write in `writes` (undefined for a barrier without writes). */
  readonly conv: string | undefined;
  /** Traceparent of the command that produced the writes (tracing on). */
  readonly tp?: string;
  resolve(): void;
  reject(e: Error): void;
}

/** What the settling of one batch found: per-entry errors, the refused conversations. */
interface Settling {
  errors: Map<Entry, Error>;
  refused: Set<string>;
  /** Set when the database itself failed: nothing after it was tried. */
  failure?: unknown;
}

/**
 * Room a call takes in the lane's bound: its rows, or one for a barrier (a call without writes
 * that resolves once everything before it committed). Barriers count so that a flood of them
 * (resends, redelivered events) cannot grow the queue without bound.
 */
function slotsOf(rows: number): number {
  return Math.max(rows, 1);
}

/** Rows and slots of a set of entries. */
class Tally {
  rows = 0;
  slots = 0;

  add(e: Entry, sign: 1 | -1 = 1): void {
    this.rows += sign * e.writes.length;
    this.slots += sign * slotsOf(e.writes.length);
  }

  subtract(t: Tally): void {
    this.rows -= t.rows;
    this.slots -= t.slots;
  }
}

const noHooks: LaneHooks = { failed: () => {}, refused: () => {} };

function failedError(cause: unknown): PersistFailedError {
  return new PersistFailedError('database write failed', { cause });
}

function dependentError(): PersistFailedError {
  return new PersistFailedError('an earlier write of this conversation was refused; retry');
}

/** One span per batch, linked to the commands whose writes it carries (at most 64 links). */
function batchSpan(batch: Entry[], rows: number) {
  if (!tracingEnabled()) return undefined;
  const links = batch.flatMap((e) => {
    const ctx = spanContextOf(e.tp);
    return ctx ? [{ context: ctx }] : [];
  }).slice(0, 64);
  return startSpan('persist batch', undefined, { 'chat.rows': rows, 'chat.entries': batch.length }, links);
}

export class PersistLane {
  private queue: Entry[] = [];
  private queued = new Tally();
  private inflight: Tally | undefined;
  private timer: NodeJS.Timeout | undefined;
  private drained: (() => void)[] = [];
  private readonly rate = new DrainRate();
  /** When the previous batch finished, if rows were already waiting then (backlog: the gap counts). */
  private backloggedSince: number | undefined;
  onBatch: ((s: BatchStats) => void) | undefined;

  constructor(
    private readonly port: CommitPort,
    private readonly opts: LaneOptions,
    private readonly hooks: LaneHooks = noHooks,
  ) {}

  /** Rows and barriers waiting or in flight; bounded by `queueMax`. */
  get depth(): number {
    return this.queued.slots + (this.inflight?.slots ?? 0);
  }

  /** Estimated ms until every row queued now has committed (the load-shedding signal). */
  get delayMs(): number {
    return this.rate.drainMs(this.queued.rows + (this.inflight?.rows ?? 0));
  }

  /** Whether a call of `rows` rows (0: a barrier) would be admitted now. */
  fits(rows: number): boolean {
    return this.depth + slotsOf(rows) <= this.opts.queueMax;
  }

  enqueue(writes: Write[], fence?: Fence, tp?: string): Promise<void> {
    if (!this.fits(writes.length)) {
      return Promise.reject(new PersisterOverloadedError(`persister queue full (${this.opts.queueMax} rows and barriers)`));
    }
    return new Promise<void>((resolve, reject) => {
      const entry: Entry = { conv: writes[0]?.conv, writes, fence, tp, resolve, reject };
      this.queue.push(entry);
      this.queued.add(entry);
      this.schedule();
    });
  }

  /** Resolves when everything enqueued so far has been committed or rejected. */
  flushAll(): Promise<void> {
    if (!this.inflight && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  private schedule(): void {
    if (this.inflight) return; // the batch in flight flushes the queue when it commits
    if (this.queued.rows >= this.opts.batchMax) return void this.flush();
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.opts.flushMs);
  }

  /** The next batch: up to `batchMax` rows (barriers ride along: they add nothing to the statement), at least one entry. */
  private take(): { batch: Entry[]; taken: Tally } {
    // One splice per batch: shift() per entry was measured at 7.5 % of a saturated shard thread
    // (each shift moves a long backlog).
    const taken = new Tally();
    let n = 0;
    while (n < this.queue.length && (taken.rows === 0 || taken.rows + this.queue[n].writes.length <= this.opts.batchMax)) taken.add(this.queue[n++]);
    this.queued.subtract(taken);
    return { batch: this.queue.splice(0, n), taken };
  }

  private async flush(): Promise<void> {
    if (this.timer) (clearTimeout(this.timer), (this.timer = undefined));
    if (this.inflight || this.queue.length === 0) return this.notifyDrained();
    const { batch, taken } = this.take();
    this.inflight = taken;
    const rows = taken.rows;
    const started = performance.now();
    const span = batchSpan(batch, rows);
    try {
      const settled: Settling = { errors: new Map(), refused: new Set() };
      await this.settle(batch, settled);
      if (settled.failure === undefined) {
        // Under backlog the time between batches (this thread busy elsewhere) drains nothing either.
        this.rate.sample(rows, performance.now() - (this.backloggedSince ?? started));
        this.onBatch?.({ rows, entries: batch.length, ms: performance.now() - started });
      }
      for (const e of batch) {
        const error = settled.errors.get(e);
        if (error) e.reject(error);
        else e.resolve(); // committed, possibly in a part of the batch tried before a failure
      }
      if (settled.failure !== undefined) this.failQueue(settled.failure, span);
      else if (settled.refused.size > 0) this.refuseDependents(settled.refused);
    } catch (cause) {
      for (const e of batch) e.reject(failedError(cause));
      this.failQueue(cause, span);
    } finally {
      span?.end();
      this.inflight = undefined;
    }
    this.backloggedSince = this.queue.length > 0 ? performance.now() : undefined;
    if (this.queue.length > 0) void this.flush();
    else this.notifyDrained();
  }

  private notifyDrained(): void {
    if (this.inflight || this.queue.length > 0) return;
    const waiters = this.drained;
    this.drained = [];
    for (const w of waiters) w();
  }

  /**
   * Commits `batch`, recording per entry what failed. A refused row is found by splitting the
   * batch in halves (first half first, so a conversation's rows still commit in order) until the
   * culprit stands alone; the culprit's conversation's later entries are not tried (they build on
   * its seqs). About 2·log2(n) extra statements per culprit; none when nothing is refused.
   */
  private async settle(batch: Entry[], s: Settling): Promise<void> {
    const live: Entry[] = [];
    for (const e of batch) {
      if (s.failure !== undefined) s.errors.set(e, failedError(s.failure));
      else if (e.conv !== undefined && s.refused.has(e.conv)) s.errors.set(e, dependentError());
      else live.push(e);
    }
    // Barriers only: everything before them already committed, nothing to write.
    if (!live.some((e) => e.writes.length > 0)) return;
    let result: CommitResult;
    try {
      result = await this.port.commit(live);
    } catch (cause) {
      s.failure = cause;
      for (const e of live) s.errors.set(e, failedError(cause));
      return;
    }
    if (result.kind === 'committed') return this.fenceOut(live, result.stale, s);
    if (live.length === 1) {
      s.errors.set(live[0], new RowRefusedError(result.cause));
      if (live[0].conv !== undefined) s.refused.add(live[0].conv);
      return;
    }
    const mid = live.length >>> 1;
    await this.settle(live.slice(0, mid), s);
    await this.settle(live.slice(mid), s);
  }

  /** Committed entries whose fence went stale wrote nothing: their callers no longer own the shard. */
  private fenceOut(entries: Entry[], stale: readonly Fence[], s: Settling): void {
    if (stale.length === 0) return;
    const keys = new Set(stale.map(fenceKey));
    for (const e of entries) if (e.fence && e.writes.length > 0 && keys.has(fenceKey(e.fence))) s.errors.set(e, new FencedError(e.fence.shard));
  }

  /** The database failed: every actor reloads, and nothing queued can build on what failed. */
  private failQueue(cause: unknown, span: ReturnType<typeof batchSpan>): void {
    this.hooks.failed();
    const failed = this.queue;
    this.queue = [];
    this.queued = new Tally();
    const error = failedError(cause);
    for (const e of failed) e.reject(error);
    span?.setStatus({ code: 2, message: 'batch failed' });
  }

  /** Entries queued behind a refused row of their conversation build on its seq: refuse them too. */
  private refuseDependents(convs: Set<string>): void {
    for (const conv of convs) this.hooks.refused(conv);
    const keep: Entry[] = [];
    for (const e of this.queue) {
      if (e.conv !== undefined && convs.has(e.conv)) {
        this.queued.add(e, -1);
        e.reject(dependentError());
      } else keep.push(e);
    }
    this.queue = keep;
  }
}
