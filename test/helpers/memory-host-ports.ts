/**
 * In-memory ports that drive a ShardHost without Postgres or a bus (see src/shard/ports.ts): a
 * store of committed rows, a persister whose lanes commit into it (or fail a batch, refuse a row,
 * hold commits, when a test says so), a connections authority whose answers a test can hold back,
 * a bus and timers the test reads and fires. The bus and the lanes write to one shared log, so a
 * test can tell in which order the host decided things.
 */
import { readOnlyState } from '../../actors/rebuild.ts';
import type { ConnectionCheck, ConversationState, MessageRow, WatermarkRow, Write } from '../../actors/types.ts';
import type { MsgView } from '../../protocol/frames.ts';
import type { Bus, BusHandler, Subscription } from '../../src/bus/bus.ts';
import { RowRefusedError } from '../../src/persist/row-errors.ts';
import type { HostConnections, HostLane, HostPersister, HostStore, StoredMessage, StoredSend, TimerPort, WriteFence } from '../../src/shard/ports.ts';

/** What the host did, in order: published on the bus, or handed writes to a lane. */
export type Logged =
  | { kind: 'publish'; subject: string; data: Uint8Array }
  | { kind: 'enqueue'; conv: string; writes: Write[] };

/** A gate that callers wait at while it is held. */
class Gate {
  private waiters: (() => void)[] | undefined;
  hold(): void {
    this.waiters ??= [];
  }
  get waiting(): number {
    return this.waiters?.length ?? 0;
  }
  release(): void {
    const w = this.waiters ?? [];
    this.waiters = undefined;
    for (const r of w) r();
  }
  pass(): Promise<void> {
    return this.waiters ? new Promise((r) => this.waiters!.push(r)) : Promise.resolve();
  }
}

export class MemoryBus implements Bus {
  /** The last message published on each subject (replies are one per subject). */
  readonly last = new Map<string, Uint8Array>();
  constructor(private readonly log: Logged[]) {}
  publish(subject: string, data: Uint8Array): void {
    this.last.set(subject, data);
    this.log.push({ kind: 'publish', subject, data });
  }
  subscribe(_subject: string, _handler: BusHandler): Subscription {
    return { unsubscribe() {} };
  }
  request(): Promise<Uint8Array> {
    return Promise.reject(new Error('no requests in memory'));
  }
  async close(): Promise<void> {}
}

/** Committed rows of conversations, messages and watermarks, read back as Store reads them. */
export class MemoryStore implements HostStore {
  readonly conversations = new Map<string, Extract<Write, { kind: 'conversation' }>>();
  readonly messages = new Map<string, StoredRow[]>();
  private readonly watermarks = new Map<string, Map<string, WatermarkRow>>();
  /** Rehydrations per conversation. */
  readonly loads = new Map<string, number>();
  private readonly gates = new Map<string, Gate>();

  /** Writes of one committed batch; a duplicate key throws as Postgres does (SQLSTATE 23505). */
  commit(writes: Write[]): void {
    for (const w of writes) {
      if (w.kind === 'message') {
        const rows = this.messages.get(w.conv) ?? [];
        if (rows.some((r) => r.seq === w.seq)) throw Object.assign(new Error('duplicate seq'), { code: '23505', constraint: 'messages_pkey' });
        this.messages.set(w.conv, [...rows, w].sort((x, y) => x.seq - y.seq));
      } else if (w.kind === 'messageEdit' || w.kind === 'messageDelete') {
        const row = this.messages.get(w.conv)?.find((r) => r.seq === w.seq);
        if (row && w.kind === 'messageEdit') (row.body = w.body), (row.editedAt = w.editedAt);
        if (row && w.kind === 'messageDelete') (row.body = ''), (row.deleted = true);
      } else if (w.kind === 'conversation') {
        const prior = this.conversations.get(w.conv);
        this.conversations.set(w.conv, { ...w, createdAt: prior?.createdAt ?? w.createdAt });
      } else if (w.kind === 'watermark') {
        let m = this.watermarks.get(w.conv);
        if (!m) this.watermarks.set(w.conv, (m = new Map()));
        m.set(w.user, w);
      }
    }
  }

  /** Rehydrations of `conv` wait until `release` (the test sees them pending with `loading`). */
  hold(conv: string): void {
    this.gate(conv).hold();
  }
  loading(conv: string): boolean {
    return this.gate(conv).waiting > 0;
  }
  release(conv: string): void {
    this.gate(conv).release();
  }
  private gate(conv: string): Gate {
    let g = this.gates.get(conv);
    if (!g) this.gates.set(conv, (g = new Gate()));
    return g;
  }

  async loadConversation(id: string, dedupeWindowMax: number): Promise<ConversationState | null> {
    this.loads.set(id, (this.loads.get(id) ?? 0) + 1);
    await this.gate(id).pass();
    const c = this.conversations.get(id);
    if (!c) return null;
    const msgs = this.messages.get(id) ?? [];
    const state: ConversationState = {
      id, kind: c.convKind, state: c.state, readOnly: readOnlyState(c.convKind, c.state), participants: [...c.participants],
      lastSeq: msgs.at(-1)?.seq ?? 0, watermarks: new Map(), recentSends: new Map(), typingUntil: new Map(), createdAt: c.createdAt,
      meta: c.meta && { ...c.meta }, processedEvents: c.convKind === 'order' ? new Set() : undefined,
    };
    for (const w of this.watermarks.get(id)?.values() ?? []) state.watermarks.set(w.user, { delivered: w.delivered, read: w.read, readAt: w.readAt || undefined });
    for (const m of msgs.slice(-dedupeWindowMax)) state.recentSends.set(`${m.from}\n${m.cmid}`, { seq: m.seq, id: m.id, ts: m.ts });
    return state;
  }

  async history(conv: string, before: number | undefined, limit: number): Promise<{ msgs: MsgView[]; next?: number }> {
    const older = (this.messages.get(conv) ?? []).filter((m) => m.seq < (before ?? Infinity)).reverse();
    const msgs = older.slice(0, limit).map(view);
    return older.length > limit && msgs.length > 0 ? { msgs, next: msgs[msgs.length - 1].seq } : { msgs };
  }

  async messagesAfter(conv: string, since: number, limit: number): Promise<{ msgs: MsgView[] }> {
    return { msgs: (this.messages.get(conv) ?? []).filter((m) => m.seq > since).slice(0, limit).map(view) };
  }

  async sendByCmid(conv: string, sender: string, cmid: string): Promise<StoredSend | null> {
    const m = (this.messages.get(conv) ?? []).find((r) => r.from === sender && r.cmid === cmid);
    return m ? { seq: m.seq, id: m.id, ts: m.ts } : null;
  }

  async message(conv: string, seq: number): Promise<StoredMessage | null> {
    const m = (this.messages.get(conv) ?? []).find((r) => r.seq === seq);
    return m ? { from: m.from, ts: m.ts, body: m.body, deleted: m.deleted === true, ...(m.editedAt === undefined ? {} : { editedAt: m.editedAt }) } : null;
  }
}

/** A committed message with what edits and deletes did to it. */
type StoredRow = MessageRow & { editedAt?: number; deleted?: boolean };

function view(m: StoredRow): MsgView {
  const v: MsgView = { conv: m.conv, seq: m.seq, id: m.id, from: m.from, body: m.body, ts: m.ts, cmid: m.cmid };
  if (m.deleted) v.deleted = true;
  else if (m.editedAt !== undefined) v.editedAt = m.editedAt;
  return v;
}

/** How a lane settles its next batch of rows (barriers without rows always pass). */
export type Outcome = 'commit' | 'fail' | { refuse: string };

/** One conversation's lane: commits into the store a microtask after it is handed rows. */
export class MemoryLane implements HostLane {
  delayMs = 0;
  /** Rows beyond which `fits` says no. */
  rowsMax = Infinity;
  /** Outcomes of the next batches, in order; then every batch commits. */
  readonly outcomes: Outcome[] = [];
  private readonly gate = new Gate();
  private depth = 0;

  constructor(private readonly persister: MemoryPersister, private readonly conv: string) {}

  fits(rows: number): boolean {
    return this.depth + rows <= this.rowsMax;
  }

  /** Commits wait until `release`. */
  hold(): void {
    this.gate.hold();
  }
  release(): void {
    this.gate.release();
  }

  async enqueue(writes: Write[], _fence?: WriteFence, _tp?: string): Promise<void> {
    this.persister.log.push({ kind: 'enqueue', conv: this.conv, writes });
    this.depth += writes.length;
    try {
      await this.gate.pass();
      if (writes.length > 0) this.settle(writes, this.outcomes.shift() ?? 'commit');
    } finally {
      this.depth -= writes.length;
    }
  }

  /** As PersistLane does: a failed batch advances the failure epoch; a refused row marks its conversation. */
  private settle(writes: Write[], outcome: Outcome): void {
    if (outcome === 'fail') {
      this.persister.failureEpoch++;
      throw new Error('database write failed (memory lane told to fail)');
    }
    try {
      if (outcome !== 'commit') throw Object.assign(new Error('row refused (memory lane told to)'), { code: outcome.refuse });
      this.persister.store.commit(writes);
    } catch (cause) {
      this.persister.refused.add(this.conv);
      throw new RowRefusedError(cause);
    }
  }
}

export class MemoryPersister implements HostPersister {
  failureEpoch = 0;
  readonly refused = new Set<string>();
  private readonly lanes = new Map<string, MemoryLane>();

  constructor(readonly store: MemoryStore, readonly log: Logged[]) {}

  mustReload(conv: string): boolean {
    return this.refused.has(conv);
  }
  reloaded(conv: string): void {
    this.refused.delete(conv);
  }
  lane(conv: string): MemoryLane {
    let lane = this.lanes.get(conv);
    if (!lane) this.lanes.set(conv, (lane = new MemoryLane(this, conv)));
    return lane;
  }
}

/** Answers `answer` for every pair; with `cached` false, only checks answer, and `hold` keeps them waiting. */
export class MemoryConnections implements HostConnections {
  answer: ConnectionCheck = 'connected';
  cached = true;
  private readonly gate = new Gate();
  peek(): ConnectionCheck | undefined {
    return this.cached ? this.answer : undefined;
  }
  async check(): Promise<ConnectionCheck> {
    await this.gate.pass();
    return this.answer;
  }
  hold(): void {
    this.gate.hold();
  }
  get waiting(): number {
    return this.gate.waiting;
  }
  release(): void {
    this.gate.release();
  }
}

/** Timers that fire only when the test says (`pending` shows what the host scheduled). */
export class ManualTimers implements TimerPort {
  readonly pending: { ms: number; fire: () => void }[] = [];
  after(ms: number, fire: () => void): void {
    this.pending.push({ ms, fire });
  }
  fireAll(): void {
    for (const t of this.pending.splice(0)) t.fire();
  }
}

/**
 * Lets the host's promise chains and yields run until `done()` holds: event-loop turns, no
 * sleeps; fails after `turnsMax` turns rather than waiting out a clock.
 */
export async function untilTurns(what: string, done: () => boolean, turnsMax = 10_000): Promise<void> {
  for (let turns = 0; !done(); turns++) {
    if (turns > turnsMax) throw new Error(`not reached: ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}
