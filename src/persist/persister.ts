/**
 * Write-behind persister with group commit: rows from every actor of a shard thread are
 * gathered and committed as ONE statement (data-modifying CTEs over json_to_recordset), so a
 * batch is atomic without an explicit transaction — which also keeps it safe on PGlite, whose
 * socket server interleaves connections query by query.
 *
 * Contract: `enqueue` resolves once every write of that call is durable, in enqueue order.
 * One batch is in flight at a time; rows arriving meanwhile form the next batch.
 * - When the database fails (connection lost, shutdown), the batch and everything queued behind
 *   it are rejected (later rows may depend on seqs of the failed ones) and every actor of the
 *   thread reloads (`failureEpoch`).
 * - When it refuses a row (a value it cannot hold, a broken constraint), only that call is
 *   refused (RowRefusedError), with the calls of the same conversation behind it (their seqs
 *   build on it: PersistFailedError, retryable); batch-mates of other conversations commit as
 *   usual, and only that conversation's actor reloads (`mustReload`).
 */
import { createHash } from 'node:crypto';
import { spanContextOf, startSpan, tracingEnabled } from '../tracing.ts';
import type pg from 'pg';
import type { ConversationRow, MessageRow, WatermarkRow, Write } from '../../actors/types.ts';
import { isRowError, RowRefusedError } from './row-errors.ts';

export interface PersisterOptions {
  flushMs: number;
  batchMax: number;
  queueMax: number;
  /**
   * Use a named (server-side prepared) statement. Off for PGlite: its socket server runs every
   * client connection in one session, where a second PREPARE of the same name fails.
   */
  prepared?: boolean;
  /** Write domain events to the outbox in the same statement (relayed by src/outbox/relay.ts). */
  outbox?: boolean;
}

export class PersisterOverloadedError extends Error {
  override name = 'PersisterOverloadedError';
}

export class PersistFailedError extends Error {
  override name = 'PersistFailedError';
}

/** The shard's epoch in Postgres is no longer the writer's: another node owns it now. */
export class FencedError extends Error {
  override name = 'FencedError';
  constructor(readonly shard: number) {
    super(`shard ${shard} is owned by a newer epoch`);
  }
}

/** Cluster mode: the shard a write belongs to and the epoch its writer holds the shard under. */
export interface Fence {
  shard: number;
  epoch: number;
}

interface Entry {
  /** The conversation of every write in `writes` (undefined for a barrier without writes). */
  conv: string | undefined;
  writes: Write[];
  fence?: Fence;
  /** Traceparent of the command that produced the writes (tracing on). */
  tp?: string;
  resolve(): void;
  reject(e: Error): void;
}

export interface BatchStats {
  rows: number;
  entries: number;
  ms: number;
}

/**
 * Persister of a shard thread: `lanes` independent group-commit lanes, each conversation
 * always on the same lane, so a conversation's batches still commit in order while several
 * batches (of different conversations) are in flight at once — Postgres works on them in
 * parallel while this thread keeps going.
 */
export class Persister {
  private readonly lanes: PersistLane[];
  /** Incremented on every failed batch of any lane: actors loaded before it must reload. */
  failureEpoch = 0;
  /** Conversations with a refused row since their actor last loaded: they must reload first. */
  private readonly refused = new Set<string>();

  constructor(pool: pg.Pool, opts: PersisterOptions & { lanes: number }) {
    const laneQueueMax = Math.max(opts.batchMax, Math.floor(opts.queueMax / opts.lanes));
    const hooks: LaneHooks = { failed: () => this.failureEpoch++, refused: (conv) => this.markRefused(conv) };
    this.lanes = Array.from({ length: opts.lanes }, () => new PersistLane(pool, { ...opts, queueMax: laneQueueMax }, hooks));
  }

  /** Whether `conv`'s actor must reload before its next decision (a row of it was refused). */
  mustReload(conv: string): boolean {
    return this.refused.size > 0 && this.refused.has(conv);
  }

  /** `conv`'s actor reloaded from the database: its refused rows are forgotten. */
  reloaded(conv: string): void {
    this.refused.delete(conv);
  }

  private markRefused(conv: string): void {
    if (this.refused.size >= refusedConvsMax) {
      // Overflow: every actor of the thread reloads instead (rare: validation keeps refusals rare).
      this.refused.clear();
      this.failureEpoch++;
    }
    this.refused.add(conv);
  }

  set onBatch(f: ((s: BatchStats) => void) | undefined) {
    for (const lane of this.lanes) lane.onBatch = f;
  }

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

/** One span per batch, linked to the commands whose writes it carries (at most 64 links). */
function batchSpan(batch: Entry[], rows: number) {
  if (!tracingEnabled()) return undefined;
  const links = batch.flatMap((e) => {
    const ctx = spanContextOf(e.tp);
    return ctx ? [{ context: ctx }] : [];
  }).slice(0, 64);
  return startSpan('persist batch', undefined, { 'chat.rows': rows, 'chat.entries': batch.length }, links);
}

/**
 * Conversations remembered as "reload before the next decision" per shard thread; over it,
 * every actor of the thread reloads (the failure epoch moves) and the set starts afresh.
 */
export const refusedConvsMax = 10_000;

export interface LaneHooks {
  /** The database failed a batch: every actor of the thread must reload. */
  failed(): void;
  /** A row of `conv` was refused: its actor must reload before its next decision. */
  refused(conv: string): void;
}

/** What the settling of one batch found: per-entry errors, the refused conversations. */
interface Settling {
  errors: Map<Entry, Error>;
  refused: Set<string>;
  /** Set when the database itself failed: nothing after it was tried. */
  failure?: unknown;
}

function dependentError(): PersistFailedError {
  return new PersistFailedError('an earlier write of this conversation was refused; retry');
}

function fenceKey(f: Fence): string {
  return `${f.shard}:${f.epoch}`;
}

function laneOf(conv: string, lanes: number): number {
  let h = 0;
  for (let i = 0; i < conv.length; i++) h = (h * 31 + conv.charCodeAt(i)) | 0;
  return (h >>> 0) % lanes;
}

/** Weight of the newest batch in the lane's throughput average (about the last 5 batches count). */
const rateSmoothing = 0.2;

/** Batches measured before the lane estimates its drain time (odd: their median seeds it). */
export const warmupBatches = 3;

export class PersistLane {
  private queue: Entry[] = [];
  private queuedRows = 0;
  private inflightRows = 0;
  private inflight = false;
  private timer: NodeJS.Timeout | undefined;
  private drained: (() => void)[] = [];
  /**
   * Measured commit throughput (rows per ms, moving average over batches): the queue's drain
   * time is depth / rate. Under backlog the batches are full, so the estimate is the lane's
   * capacity; 0 until the warm-up batches are measured.
   */
  private rowsPerMs = 0;
  /**
   * The first batches' samples, before the average starts. A lane's first batch also opens a
   * connection and prepares the statement (≈ 200 ms for a few rows): seeded by that one sample,
   * a handful of queued rows looked like seconds of work and a cold node refused its first
   * sends. The median of the first `warmupBatches` drops such an outlier.
   */
  private warmup: number[] = [];
  /** When the previous batch finished, if rows were already waiting then (backlog: the gap counts). */
  private backloggedSince: number | undefined;
  onBatch: ((s: BatchStats) => void) | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly opts: PersisterOptions,
    private readonly hooks: LaneHooks = { failed: () => {}, refused: () => {} },
  ) {}

  /** Rows waiting or in flight; bounded by `queueMax`. */
  get depth(): number {
    return this.queuedRows + this.inflightRows;
  }

  /** Estimated ms until everything queued now has committed (the load-shedding signal). */
  get delayMs(): number {
    return this.rowsPerMs > 0 ? this.depth / this.rowsPerMs : 0;
  }

  fits(rows: number): boolean {
    return this.depth + rows <= this.opts.queueMax;
  }

  private measure(rows: number, ms: number): void {
    if (rows === 0) return;
    const sample = rows / Math.max(ms, 0.1);
    if (this.rowsPerMs > 0) {
      this.rowsPerMs += rateSmoothing * (sample - this.rowsPerMs);
      return;
    }
    this.warmup.push(sample);
    if (this.warmup.length < warmupBatches) return;
    this.rowsPerMs = this.warmup.sort((a, b) => a - b)[warmupBatches >> 1];
    this.warmup = [];
  }

  enqueue(writes: Write[], fence?: Fence, tp?: string): Promise<void> {
    if (writes.length > 0 && this.depth + writes.length > this.opts.queueMax) {
      return Promise.reject(new PersisterOverloadedError(`persister queue full (${this.opts.queueMax} rows)`));
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ conv: writes[0]?.conv, writes, fence, tp, resolve, reject });
      this.queuedRows += writes.length;
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
    if (this.queuedRows >= this.opts.batchMax) return void this.flush();
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.opts.flushMs);
  }

  private take(): Entry[] {
    // One splice per batch: shift() per entry was measured at 7.5 % of a saturated shard thread
    // (each shift moves a long backlog).
    let rows = 0;
    let n = 0;
    while (n < this.queue.length && (rows === 0 || rows + this.queue[n].writes.length <= this.opts.batchMax)) rows += this.queue[n++].writes.length;
    const batch = this.queue.splice(0, n);
    this.queuedRows -= rows;
    this.inflightRows = rows;
    return batch;
  }

  private async flush(): Promise<void> {
    if (this.timer) (clearTimeout(this.timer), (this.timer = undefined));
    if (this.inflight || this.queue.length === 0) return this.notifyDrained();
    this.inflight = true;
    const batch = this.take();
    const started = performance.now();
    const span = batchSpan(batch, this.inflightRows);
    try {
      const settled: Settling = { errors: new Map(), refused: new Set() };
      await this.settle(batch, settled);
      const ms = performance.now() - started;
      if (settled.failure === undefined) {
        // Under backlog the time between batches (this thread busy elsewhere) drains nothing either.
        this.measure(this.inflightRows, performance.now() - (this.backloggedSince ?? started));
        this.onBatch?.({ rows: this.inflightRows, entries: batch.length, ms });
      }
      for (const e of batch) {
        const error = settled.errors.get(e);
        if (error) e.reject(error);
        else e.resolve(); // committed, possibly in a part of the batch tried before a failure
      }
      if (settled.failure !== undefined) this.failQueue(settled.failure, span);
      else if (settled.refused.size > 0) this.refuseDependents(settled.refused);
    } catch (cause) {
      for (const e of batch) e.reject(new PersistFailedError('database write failed', { cause }));
      this.failQueue(cause, span);
    } finally {
      span?.end();
      this.inflight = false;
      this.inflightRows = 0;
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
      if (s.failure !== undefined) s.errors.set(e, new PersistFailedError('database write failed', { cause: s.failure }));
      else if (e.conv !== undefined && s.refused.has(e.conv)) s.errors.set(e, dependentError());
      else live.push(e);
    }
    if (live.length === 0) return;
    try {
      const passed = await this.commit(live);
      for (const e of live) if (e.fence && e.writes.length > 0 && !passed.has(fenceKey(e.fence))) s.errors.set(e, new FencedError(e.fence.shard));
    } catch (cause) {
      if (!isRowError(cause)) {
        s.failure = cause;
        for (const e of live) s.errors.set(e, new PersistFailedError('database write failed', { cause }));
      } else if (live.length === 1) {
        s.errors.set(live[0], new RowRefusedError(cause));
        if (live[0].conv !== undefined) s.refused.add(live[0].conv);
      } else {
        const mid = live.length >>> 1;
        await this.settle(live.slice(0, mid), s);
        await this.settle(live.slice(mid), s);
      }
    }
  }

  /** The database failed: every actor reloads, and nothing queued can build on what failed. */
  private failQueue(cause: unknown, span: ReturnType<typeof batchSpan>): void {
    this.hooks.failed();
    const failed = this.queue;
    this.queue = [];
    this.queuedRows = 0;
    const error = new PersistFailedError('database write failed', { cause });
    for (const e of failed) e.reject(error);
    span?.setStatus({ code: 2, message: 'batch failed' });
  }

  /** Entries queued behind a refused row of their conversation build on its seq: refuse them too. */
  private refuseDependents(convs: Set<string>): void {
    for (const conv of convs) this.hooks.refused(conv);
    const keep: Entry[] = [];
    for (const e of this.queue) {
      if (e.conv !== undefined && convs.has(e.conv)) {
        this.queuedRows -= e.writes.length;
        e.reject(dependentError());
      } else keep.push(e);
    }
    this.queue = keep;
  }

  /** Commits the batch in one statement; returns the "shard:epoch" fences that still held. */
  private async commit(batch: Entry[]): Promise<Set<string>> {
    const writes = batch.flatMap((e) => e.writes);
    if (writes.length === 0) return new Set(); // barrier-only batch: everything before it already committed
    const fences = new Map<string, Fence>();
    for (const e of batch) if (e.fence && e.writes.length) for (const w of e.writes) fences.set(w.conv, e.fence);
    const params = buildBatchParams(writes, (conv) => fences.get(conv), this.opts.outbox ?? false);
    const r = await this.pool.query<{ passed: string[] }>(
      this.opts.prepared ? { name: 'persist-batch-v6', text: batchSql, values: params } : { text: batchSql, values: params },
    );
    return new Set(r.rows[0]?.passed ?? []);
  }
}

/**
 * All sub-statements of one statement see the same snapshot, so rows upserted in this batch
 * cannot be updated by it, and no row may be updated twice: the batch is pre-merged here so
 * that each row is written once, and every update is keyed by primary key.
 */
export function buildBatchParams(writes: Write[], fenceOf: (conv: string) => Fence | undefined = () => undefined, outbox = false): string[] {
  const fs = (conv: string) => fenceOf(conv)?.shard ?? null;
  const domainEvents = outbox ? writes.flatMap((w) => domainEvent(w, fs(w.conv))) : [];
  const created = new Map<string, ConversationRow & { lastSeq: number; lastActivity: number }>();
  const messages: MessageRow[] = [];
  const convUpdates = new Map<string, { id: string; last_seq: number; ts_ms: number; fs: number | null }>();
  const members = new Map<string, MemberUpdate>();
  const member = (conv: string, user: string): MemberUpdate => {
    const key = `${conv}\n${user}`;
    let m = members.get(key);
    if (!m) members.set(key, (m = { conv_id: conv, user_id: user, delivered: 0, read: 0, read_at: 0, fs: fs(conv) }));
    return m;
  };
  const events: { id: string; conv_id: string; ts_ms: number; fs: number | null }[] = [];
  const history: { ticket_id: string; seq: number; from_status: string | null; to_status: string; by_user: string; reason: string | null; ts_ms: number; fs: number | null }[] = [];
  for (const w of writes) {
    if (w.kind === 'ticketHistory') {
      history.push({ ticket_id: w.conv, seq: w.seq, from_status: w.from, to_status: w.to, by_user: w.by, reason: w.reason ?? null, ts_ms: w.ts, fs: fs(w.conv) });
    }
    if (w.kind === 'conversation') {
      const prior = created.get(w.conv); // a later change in the same batch wins
      created.set(w.conv, { ...w, lastSeq: prior?.lastSeq ?? 0, lastActivity: prior?.lastActivity ?? w.createdAt });
    } else if (w.kind === 'event') events.push({ id: w.id, conv_id: w.conv, ts_ms: w.ts, fs: fs(w.conv) });
  }
  for (const w of writes) {
    if (w.kind === 'message') {
      messages.push(w);
      const c = created.get(w.conv);
      if (c) (c.lastSeq = Math.max(c.lastSeq, w.seq), (c.lastActivity = Math.max(c.lastActivity, w.ts)));
      else {
        const u = convUpdates.get(w.conv);
        if (!u || u.last_seq < w.seq) convUpdates.set(w.conv, { id: w.conv, last_seq: w.seq, ts_ms: w.ts, fs: fs(w.conv) });
      }
    } else if (w.kind === 'watermark') {
      const m = member(w.conv, w.user); // coalesced: watermarks only grow
      m.delivered = Math.max(m.delivered, w.delivered);
      if (w.read > m.read) (m.read = w.read), (m.read_at = w.readAt);
    }
  }
  const newMembers = [...created.values()].flatMap((c) =>
    c.participants.map((u) => {
      const m = members.get(`${c.conv}\n${u}`);
      members.delete(`${c.conv}\n${u}`);
      return { conv_id: c.conv, user_id: u, delivered: m?.delivered ?? 0, read: m?.read ?? 0, read_at: m?.read_at ?? 0, fs: fs(c.conv) };
    }),
  );
  return [
    JSON.stringify([...created.values()].map((c) => ({
      id: c.conv, kind: c.convKind, state: c.state, participants: c.participants, meta: c.meta ?? {}, last_seq: c.lastSeq, ts_ms: c.lastActivity, created_ms: c.createdAt, fs: fs(c.conv),
    }))),
    JSON.stringify(newMembers),
    JSON.stringify(messages.map((m) => ({ conv_id: m.conv, seq: m.seq, id: m.id, sender: m.from, body: m.body, cmid: m.cmid, ts_ms: m.ts, fs: fs(m.conv) }))),
    JSON.stringify([...convUpdates.values()]),
    JSON.stringify([...members.values()]),
    JSON.stringify(events),
    JSON.stringify(domainEvents),
    JSON.stringify([...new Map(writes.map((w) => [w.conv, fenceOf(w.conv)])).values()].filter((f): f is Fence => f !== undefined)
      .filter((f, i, all) => all.findIndex((g) => g.shard === f.shard && g.epoch === f.epoch) === i)),
    JSON.stringify(history),
  ];
}

/**
 * The domain events a write announces. Ids are derived from what the event describes, so a
 * re-committed row announces the same id (JetStream deduplicates on it).
 */
function domainEvent(w: Write, fs: number | null): { event_id: string; type: string; payload: unknown; created_ms: number; fs: number | null }[] {
  switch (w.kind) {
    case 'message':
      return [{
        event_id: `message.created:${w.id}`, type: 'message.created', created_ms: w.ts, fs,
        payload: { id: w.id, conv: w.conv, seq: w.seq, from: w.from, body: w.body, cmid: w.cmid, ts: w.ts },
      }];
    case 'conversation':
      return [{
        event_id: `conversation.${w.state}:${w.conv}:${createHash('sha1').update(w.participants.join('\n')).digest('hex').slice(0, 12)}`,
        type: `conversation.${w.state}`, created_ms: w.createdAt, fs,
        payload: { conv: w.conv, kind: w.convKind, state: w.state, participants: w.participants },
      }];
    case 'domainEvent':
      return [{ event_id: w.id, type: w.type, payload: w.payload, created_ms: w.ts, fs }];
    default:
      return [];
  }
}

interface MemberUpdate {
  conv_id: string;
  user_id: string;
  delivered: number;
  read: number;
  read_at: number;
  fs: number | null;
}

/**
 * Prepared once per connection (named), so Postgres plans it once instead of per batch.
 * `fs` on each row is its shard when fenced (cluster mode) or null; a fenced row is written
 * only if its shard's epoch in shard_epochs still equals the writer's. FOR SHARE makes a
 * concurrent claim by a new owner wait for this batch, or this batch see the claim.
 */
export const batchSql = `
WITH
fence AS (
  SELECT s.shard, s.epoch FROM shard_epochs s
  JOIN json_to_recordset($8::json) AS f(shard int, epoch bigint) ON s.shard = f.shard AND s.epoch = f.epoch
  FOR SHARE OF s
),
new_convs AS (
  INSERT INTO conversations AS c (id, kind, state, participants, meta, last_seq, last_activity_ms, created_ms)
  SELECT id, kind, state, participants, meta, last_seq, ts_ms, created_ms
  FROM json_to_recordset($1::json) AS x(id text, kind text, state text, participants text[], meta jsonb, last_seq bigint, ts_ms bigint, created_ms bigint, fs int)
  WHERE x.fs IS NULL OR x.fs IN (SELECT shard FROM fence)
  ON CONFLICT (id) DO UPDATE SET
    state = EXCLUDED.state, participants = EXCLUDED.participants, meta = EXCLUDED.meta,
    last_seq = GREATEST(c.last_seq, EXCLUDED.last_seq), last_activity_ms = GREATEST(c.last_activity_ms, EXCLUDED.last_activity_ms)
),
new_outbox AS (
  INSERT INTO outbox (event_id, type, payload, created_ms)
  SELECT event_id, type, payload, created_ms FROM json_to_recordset($7::json) AS x(event_id text, type text, payload jsonb, created_ms bigint, fs int)
  WHERE x.fs IS NULL OR x.fs IN (SELECT shard FROM fence)
  ON CONFLICT (event_id) DO NOTHING
),
new_history AS (
  INSERT INTO ticket_history (ticket_id, seq, from_status, to_status, by_user, reason, ts_ms)
  SELECT ticket_id, seq, from_status, to_status, by_user, reason, ts_ms
  FROM json_to_recordset($9::json) AS x(ticket_id text, seq int, from_status text, to_status text, by_user text, reason text, ts_ms bigint, fs int)
  WHERE x.fs IS NULL OR x.fs IN (SELECT shard FROM fence)
  ON CONFLICT (ticket_id, seq) DO NOTHING
),
new_events AS (
  INSERT INTO processed_events (id, conv_id, ts_ms)
  SELECT id, conv_id, ts_ms FROM json_to_recordset($6::json) AS x(id text, conv_id text, ts_ms bigint, fs int)
  WHERE x.fs IS NULL OR x.fs IN (SELECT shard FROM fence)
  ON CONFLICT (id) DO NOTHING
),
new_members AS (
  INSERT INTO members (conv_id, user_id, delivered_seq, read_seq, read_at_ms)
  SELECT conv_id, user_id, delivered, read, read_at
  FROM json_to_recordset($2::json) AS x(conv_id text, user_id text, delivered bigint, read bigint, read_at bigint, fs int)
  WHERE x.fs IS NULL OR x.fs IN (SELECT shard FROM fence)
  ON CONFLICT (conv_id, user_id) DO NOTHING
),
new_msgs AS (
  INSERT INTO messages (conv_id, seq, id, sender, body, cmid, ts_ms)
  SELECT conv_id, seq, id, sender, body, cmid, ts_ms
  FROM json_to_recordset($3::json) AS x(conv_id text, seq bigint, id text, sender text, body text, cmid text, ts_ms bigint, fs int)
  WHERE x.fs IS NULL OR x.fs IN (SELECT shard FROM fence)
),
conv_up AS (
  UPDATE conversations c SET last_seq = GREATEST(c.last_seq, x.last_seq), last_activity_ms = GREATEST(c.last_activity_ms, x.ts_ms)
  FROM json_to_recordset($4::json) AS x(id text, last_seq bigint, ts_ms bigint, fs int)
  WHERE c.id = x.id AND (x.fs IS NULL OR x.fs IN (SELECT shard FROM fence))
),
member_up AS (
  UPDATE members m SET
    delivered_seq = GREATEST(m.delivered_seq, x.delivered),
    read_seq = GREATEST(m.read_seq, x.read),
    read_at_ms = CASE WHEN x.read > m.read_seq THEN x.read_at ELSE m.read_at_ms END
  FROM json_to_recordset($5::json) AS x(conv_id text, user_id text, delivered bigint, read bigint, read_at bigint, fs int)
  WHERE m.conv_id = x.conv_id AND m.user_id = x.user_id AND (x.fs IS NULL OR x.fs IN (SELECT shard FROM fence))
)
SELECT coalesce(array_agg(shard || ':' || epoch), '{}') AS passed FROM fence`;

/**
 * Claims `shard` for `epoch` (the lease revision a new owner got). True when this epoch is now
 * the shard's; false when a newer epoch already claimed it (our lease is stale).
 */
export async function claimShard(pool: pg.Pool, shard: number, epoch: number, node: string, now: number): Promise<boolean> {
  const r = await pool.query(
    `INSERT INTO shard_epochs AS s (shard, epoch, node, claimed_ms) VALUES ($1, $2, $3, $4)
     ON CONFLICT (shard) DO UPDATE SET epoch = EXCLUDED.epoch, node = EXCLUDED.node, claimed_ms = EXCLUDED.claimed_ms
     WHERE s.epoch < EXCLUDED.epoch`,
    [shard, epoch, node, now]);
  return (r.rowCount ?? 0) > 0;
}
