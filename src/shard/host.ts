/**
 * Shard host: gives actors a body. One mailbox per conversation, processed one command at a
 * time; effects executed here and nowhere else. Actors are kept in an LRU (passivated when
 * idle) and rehydrated from Postgres on their next command.
 */
import { LRUCache } from 'lru-cache';
import { randomUUID } from 'node:crypto';
import { decideConversation, needsConnectionCheck, type ConversationCommand } from '../../actors/index.ts';
import type { ActorLimits, ConversationState, Effect, TimerCommand, Write } from '../../actors/types.ts';
import { encodeFrame } from '../../protocol/codec.ts';
import { type ConvView, defaultLimits, type ServerFrame } from '../../protocol/frames.ts';
import type { Bus, Subjects } from '../bus/bus.ts';
import type { CachedConnections } from '../integrations/connections.ts';
import type { Persister } from '../persist/persister.ts';
import type { Store } from '../persist/store.ts';
import { decodeEnvelope, encodeReply, movingMsg, overloadedMsg, ReplyStatus, type ReplyStatusValue, shardOf } from './envelope.ts';
import { FencedError } from '../persist/persister.ts';
import { startSpan, traceparentOf } from '../tracing.ts';

export interface HostLimits extends ActorLimits {
  actorIdleMs: number;
  actorsPerThreadMax: number;
  mailboxDepthMax: number;
  persistQueueMax: number;
}

interface Item {
  cmd: ConversationCommand;
  reply?: string;
  rid?: number;
  /** The edge's traceparent for this command (tracing on). */
  tp?: string;
  /** Correlation id carried from the edge, for logs. */
  cid?: string;
}

interface Cell {
  id: string;
  /** The shard the conversation hashes to (computed once). */
  shard: number;
  state: ConversationState | null;
  /** Persister failure epoch this state was loaded at; stale after any failed batch. */
  loadedEpoch: number;
  queue: Item[];
  running: boolean;
  inflight: number;
}

/** Commands handled per actor before yielding, so one hot conversation cannot starve others. */
const turnMax = 64;

export interface HostDeps {
  bus: Bus;
  subjects: Subjects;
  store: Store;
  persister: Persister;
  connections: CachedConnections;
  limits: HostLimits;
  now?: () => number;
  onError?: (e: unknown, where: string, cid?: string) => void;
  /** Cluster mode: the shards this host owns, with their fencing epochs (mutated by the worker). */
  fences?: Map<number, number>;
  shardCount: number;
  /** A write was refused because another node now owns the shard. */
  onFenced?: (shard: number) => void;
}

export class ShardHost {
  private cells: LRUCache<string, Cell>;
  /** Evicted while busy: kept until their in-flight writes settle, then dropped. */
  private draining = new Map<string, Cell>();
  private readonly now: () => number;
  commandsHandled = 0;
  /** Sends acknowledged (after commit) since start. */
  acked = 0;

  constructor(private readonly deps: HostDeps) {
    this.now = deps.now ?? Date.now;
    this.cells = new LRUCache<string, Cell>({
      max: deps.limits.actorsPerThreadMax,
      ttl: deps.limits.actorIdleMs,
      ttlAutopurge: true,
      updateAgeOnGet: true,
      dispose: (cell, _key, reason) => {
        if (reason !== 'set' && reason !== 'delete' && (cell.running || cell.inflight > 0)) this.draining.set(cell.id, cell);
      },
    });
  }

  get fences(): Map<number, number> | undefined {
    return this.deps.fences;
  }

  /** Forgets every actor of a shard this host no longer owns. */
  dropShard(shard: number): void {
    for (const cell of [...this.cells.values()]) if (cell.shard === shard) this.cells.delete(cell.id);
    for (const cell of [...this.draining.values()]) if (cell.shard === shard) this.draining.delete(cell.id);
  }

  actorsByShard(): Record<number, number> {
    const out: Record<number, number> = {};
    for (const cell of this.cells.values()) out[cell.shard] = (out[cell.shard] ?? 0) + 1;
    return out;
  }

  get actorCount(): number {
    return this.cells.size + this.draining.size;
  }

  /** Commands queued in all mailboxes. */
  get mailboxDepth(): number {
    let n = 0;
    for (const cell of this.cells.values()) n += cell.queue.length;
    for (const cell of this.draining.values()) n += cell.queue.length;
    return n;
  }

  /** Bus handler for `chat.shard.<k>`. */
  handle = (data: Uint8Array, reply: string | undefined): void => {
    let env;
    try {
      env = decodeEnvelope(data);
    } catch (e) {
      this.deps.onError?.(e, 'decode envelope');
      return;
    }
    if (this.deps.fences && !this.deps.fences.has(shardOf(env.c, this.deps.shardCount))) {
      // The shard moved away between the edge's request and now: the edge retries elsewhere.
      this.publishReply(reply, env.f?.rid, { t: 'err', code: 503, msg: movingMsg, retryMs: 100 }, ReplyStatus.moving);
      return;
    }
    if (env.e) return this.deliver(env.c, { cmd: { t: 'orderEvent', event: env.e }, reply, tp: env.tp });
    if (!env.f) return;
    const cmd: ConversationCommand = { t: 'frame', actor: { userId: env.u, roles: env.r }, frame: env.f };
    this.deliver(env.c, { cmd, reply, rid: env.f.rid, tp: env.tp, cid: env.cid });
  };

  private cell(id: string): Cell {
    let cell = this.cells.get(id);
    if (cell) return cell;
    cell = this.draining.get(id);
    if (cell) this.draining.delete(id);
    else cell = { id, shard: shardOf(id, this.deps.shardCount), state: null, loadedEpoch: -1, queue: [], running: false, inflight: 0 };
    this.cells.set(id, cell);
    return cell;
  }

  deliver(id: string, item: Item): void {
    const cell = this.cell(id);
    if (cell.queue.length >= this.deps.limits.mailboxDepthMax) {
      this.reply(item, { t: 'err', code: 503, msg: 'conversation busy, retry', retryMs: 100 });
      return;
    }
    cell.queue.push(item);
    if (!cell.running) void this.run(cell);
  }

  private async run(cell: Cell): Promise<void> {
    cell.running = true;
    try {
      let turn = 0;
      while (cell.queue.length > 0) {
        if (cell.loadedEpoch !== this.deps.persister.failureEpoch && !(await this.load(cell))) break;
        const item = cell.queue.shift()!;
        if (this.shed(item)) continue;
        await this.resolveConnection(cell, item.cmd);
        this.decide(cell, item);
        if (++turn >= turnMax) {
          turn = 0;
          await new Promise<void>((r) => setImmediate(r));
        }
      }
    } catch (e) {
      this.deps.onError?.(e, 'actor loop');
      for (const item of cell.queue.splice(0)) this.reply(item, { t: 'err', code: 500, msg: 'internal error' });
      cell.loadedEpoch = -1;
    } finally {
      cell.running = false;
    }
  }

  private async load(cell: Cell): Promise<boolean> {
    const epoch = this.deps.persister.failureEpoch;
    try {
      cell.state = await this.deps.store.loadConversation(cell.id, this.deps.limits.dedupeWindowMax);
      cell.loadedEpoch = epoch;
      return true;
    } catch (e) {
      this.deps.onError?.(e, 'rehydrate');
      for (const item of cell.queue.splice(0)) this.reply(item, { t: 'err', code: 503, msg: 'database unavailable', retryMs: 1000 });
      return false;
    }
  }

  /** Load shedding: refuse writes up front while the persister queue is full. */
  private shed(item: Item): boolean {
    if (item.cmd.t !== 'frame') return false;
    const t = item.cmd.frame.t;
    if (t !== 'send' && t !== 'open' && t !== 'read' && t !== 'recv') return false;
    if (this.deps.persister.depth < this.deps.limits.persistQueueMax) return false;
    this.reply(item, { t: 'err', code: 503, msg: overloadedMsg, retryMs: 200 }, ReplyStatus.overloaded);
    return true;
  }

  private async resolveConnection(cell: Cell, cmd: ConversationCommand): Promise<void> {
    if (cmd.t !== 'frame') return;
    if (cmd.frame.t === 'send') cmd.msgId = randomUUID();
    if (!needsConnectionCheck(cell.state, cmd)) return;
    const me = cmd.actor.userId;
    let other: string | undefined;
    if (cmd.frame.t === 'open') other = cmd.frame.with;
    else if (cell.state?.kind === 'dm' && cell.state.participants.includes(me)) other = cell.state.participants.find((p) => p !== me);
    if (other === undefined || other === me) return;
    cmd.connection = this.deps.connections.peek(me, other) ?? (await this.deps.connections.check(me, other));
  }

  private decide(cell: Cell, item: Item): void {
    this.commandsHandled++;
    const span = item.tp ? startSpan(`actor ${item.cmd.t === 'frame' ? item.cmd.frame.t : item.cmd.t}`, item.tp, { 'chat.conv': cell.id }) : undefined;
    if (span) item.tp = traceparentOf(span) ?? item.tp; // the persister batch links to the actor's span
    const { state, effects } = decideConversation(cell.state, cell.id, item.cmd, this.now(), this.deps.limits);
    cell.state = state;
    this.execute(cell, item, effects);
    span?.setAttribute('chat.effects', effects.length);
    span?.end();
  }

  private execute(cell: Cell, item: Item, effects: Effect[]): void {
    for (const effect of effects) {
      switch (effect.type) {
        case 'reply':
          if (effect.frame.t === 'ack') this.acked++;
          this.reply(item, effect.frame);
          break;
        case 'fanout':
          this.fanout(cell.id, effect.users, effect.frame);
          break;
        case 'persist':
          this.persist(cell, item, effect.writes, effect.then);
          break;
        case 'schedule':
          this.schedule(cell.id, effect.at, effect.command);
          break;
        case 'replyWithMessages':
          this.replyWithMessages(item, effect.conv, effect.since);
          break;
        case 'replyHistory':
          this.deps.store.history(cell.id, effect.before, effect.limit).then(
            (page) => this.reply(item, { t: 'page', ...page }),
            (e) => this.failRead(item, e),
          );
          break;
        default:
          throw new Error(`unknown effect ${(effect as { type: string }).type}`);
      }
    }
  }

  private persist(cell: Cell, item: Item, writes: Write[], then: Effect[]): void {
    cell.inflight++;
    const epoch = this.deps.fences?.get(cell.shard);
    this.deps.persister.enqueue(cell.id, writes, epoch === undefined ? undefined : { shard: cell.shard, epoch }, item.tp).then(
      () => {
        this.settled(cell);
        this.execute(cell, item, then);
      },
      (e: unknown) => {
        this.settled(cell);
        if (e instanceof FencedError) {
          this.deps.onFenced?.(e.shard);
          this.reply(item, { t: 'err', code: 503, msg: movingMsg, retryMs: 100 }, ReplyStatus.moving);
          return;
        }
        this.deps.onError?.(e, 'persist', item.cid);
        cell.loadedEpoch = -1; // whatever this actor assumed about uncommitted rows is void
        this.reply(item, { t: 'err', code: 503, msg: 'not stored, retry with the same cmid', retryMs: 1000 });
      },
    );
  }

  private settled(cell: Cell): void {
    cell.inflight--;
    if (cell.inflight === 0 && !cell.running && this.draining.get(cell.id) === cell) this.draining.delete(cell.id);
  }

  private schedule(id: string, at: number, command: TimerCommand): void {
    const t = setTimeout(() => this.deliver(id, { cmd: command }), Math.max(0, at - this.now()));
    t.unref();
  }

  private replyWithMessages(item: Item, conv: ConvView, since: number | undefined): void {
    const page = this.deps.limits.historyLimitDefault;
    const read = since === undefined
      ? this.deps.store.history(conv.id, undefined, page).then((p) => p.msgs.reverse())
      : this.deps.store.messagesAfter(conv.id, since, defaultLimits.historyLimitMax);
    read.then(
      (msgs) => this.reply(item, { t: 'conv', conv, msgs }),
      (e) => this.failRead(item, e),
    );
  }

  private failRead(item: Item, e: unknown): void {
    this.deps.onError?.(e, 'read', item.cid);
    this.reply(item, { t: 'err', code: 503, msg: 'database unavailable', retryMs: 1000 });
  }

  private reply(item: Item, frame: ServerFrame, status: ReplyStatusValue = ReplyStatus.forward): void {
    this.publishReply(item.reply, item.rid, frame, status);
  }

  private publishReply(to: string | undefined, rid: number | undefined, frame: ServerFrame, status: ReplyStatusValue): void {
    if (to === undefined) return;
    this.deps.bus.publish(to, encodeReply(status, encodeFrame(rid === undefined ? frame : ({ ...frame, rid } as ServerFrame))));
  }

  private fanout(conv: string, users: string[], frame: ServerFrame): void {
    const bytes = encodeFrame(frame);
    for (const u of users) this.deps.bus.publish(this.deps.subjects.user(u), bytes);
    this.deps.bus.publish(this.deps.subjects.room(conv), bytes);
  }
}
