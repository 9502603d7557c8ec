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
import {
  decodeEnvelope, encodeReply, movingMsg, overloadedMsg, ReplyStatus, type ReplyStatusValue, type RoutePickRequest, routerActorId, shardOf, shedRetryMs,
} from '../rpc/envelope.ts';
import { ShardWaits, shedLevelOf } from './shed.ts';
import { FencedError, type PersistLane } from '../persist/persister.ts';
import { RowRefusedError } from '../persist/row-errors.ts';
import { encode } from '../../protocol/codec.ts';
import { newRouterState, pickRoute, type Location, type RoutePick, type RouterState, type ServiceCenter } from '../../actors/routing.ts';
import { productAccepts, ticketNeeds, type RoutingOutcome, type TicketCommand } from '../../actors/ticket.ts';
import type { TicketPorts } from '../tickets/ports.ts';
import { startSpan, traceparentOf } from '../tracing.ts';

export interface HostLimits extends ActorLimits {
  actorIdleMs: number;
  actorsPerThreadMax: number;
  mailboxDepthMax: number;
  /** Estimated persister drain time beyond which writes are refused (err 503). */
  persistQueueDelayMaxMs: number;
  /** Estimated drain time above which edges are asked to refuse a growing share of sends. */
  shedDelayTargetMs: number;
  /** Largest share (%) of sends edges are asked to refuse. */
  shedShareMaxPct: number;
}

/** The router actor's one command: pick a center (and technician) among candidates. */
interface RoutePickCommand extends RoutePickRequest {
  t: 'routePick';
}

interface Item {
  cmd: ConversationCommand | RoutePickCommand;
  reply?: string;
  rid?: number;
  /** The edge's traceparent for this command (tracing on). */
  tp?: string;
  /** Correlation id carried from the edge, for logs. */
  cid?: string;
  /**
   * When this host received it (`now()`): its wait until the decision is queueing in front of
   * this shard's actors. Not the edge's send time: an edge retrying while the shard had no owner
   * (a failover) did not queue here, and another node's clock is not ours.
   */
  received?: number;
  /** The actor it was delivered to: whose shard and lane a reply's shed level describes. */
  cell?: Cell;
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
  /** The persister lane of this conversation's writes (computed once, like `shard`). */
  lane: PersistLane;
  /** The router actor's counters (only on the router's cell). */
  router?: RouterState;
  /** Waiting for `inflight` to reach 0 (a reload must see every write this actor issued). */
  idle?: (() => void)[];
}

/** Commands handled per actor before yielding, so one hot conversation cannot starve others. */
const turnMax = 64;

/**
 * Rows one command may add to the persister (a send: its message; an open: the conversation
 * and its members). Admission keeps this much room under PERSIST_QUEUE_MAX, so the lane's own
 * bound is a backstop that admitted commands do not reach.
 */
const commandRowsMax = 8;

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
  tickets?: TicketPorts;
  /** Publish domain events on the bus after commit (single node; with an outbox the relay does). */
  publishEvents?: boolean;
  /**
   * How long commands currently wait to reach this thread through the bus (its inbound port or
   * socket: the queue that grows when this thread's CPU is the bottleneck), see probe.ts.
   */
  inboundDelayMs?: () => number;
}

export class ShardHost {
  private cells: LRUCache<string, Cell>;
  /** Evicted while busy: kept until their in-flight writes settle, then dropped. */
  private draining = new Map<string, Cell>();
  private readonly now: () => number;
  commandsHandled = 0;
  /** Sends acknowledged (after commit) since start. */
  acked = 0;
  /** Writes refused by load shedding since start. */
  shedCount = 0;
  /**
   * Per shard, how long commands stand in front of its actors (receipt → decision: mailboxes,
   * rehydration) — with the inbound delay and the lane's drain time, what the persister's backlog
   * alone does not show.
   */
  private readonly waits = new ShardWaits();

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
    this.waits.forget(shard);
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
    if (env.tk) return this.deliver(env.c, { cmd: { t: 'ticket', actor: { userId: env.u, roles: env.r }, op: env.tk }, reply, tp: env.tp, cid: env.cid });
    if (env.rt && env.c === routerActorId) return this.deliver(env.c, { cmd: { t: 'routePick', ...env.rt }, reply, tp: env.tp });
    if (!env.f) return;
    const cmd: ConversationCommand = { t: 'frame', actor: { userId: env.u, roles: env.r }, frame: env.f };
    this.deliver(env.c, { cmd, reply, rid: env.f.rid, tp: env.tp, cid: env.cid });
  };

  private cell(id: string): Cell {
    let cell = this.cells.get(id);
    if (cell) return cell;
    cell = this.draining.get(id);
    if (cell) this.draining.delete(id);
    else cell = { id, shard: shardOf(id, this.deps.shardCount), lane: this.deps.persister.lane(id), state: null, loadedEpoch: -1, queue: [], running: false, inflight: 0 };
    this.cells.set(id, cell);
    return cell;
  }

  deliver(id: string, item: Item): void {
    item.received ??= this.now();
    const cell = this.cell(id);
    item.cell = cell;
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
        if (this.stale(cell) && !(await this.load(cell))) break;
        const item = cell.queue.shift()!;
        if (item.cmd.t === 'routePick') {
          await this.routePick(cell, item, item.cmd);
          continue;
        }
        if (this.shed(cell, item)) continue;
        await this.resolveConnection(cell, item.cmd);
        if (item.cmd.t === 'ticket') await this.resolveTicket(cell, item.cmd);
        this.decide(cell, item as Item & { cmd: ConversationCommand });
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

  /** Loaded before a failed batch, or a row of it was refused since: its state may be ahead of the database. */
  private stale(cell: Cell): boolean {
    return cell.loadedEpoch !== this.deps.persister.failureEpoch || this.deps.persister.mustReload(cell.id);
  }

  private async load(cell: Cell): Promise<boolean> {
    // Writes of this actor still queued would be missing from what we read (their seqs reused).
    if (cell.inflight > 0) await new Promise<void>((r) => (cell.idle ??= []).push(r));
    const epoch = this.deps.persister.failureEpoch;
    try {
      this.deps.persister.reloaded(cell.id); // before the read: a refusal after it marks the cell again
      cell.state = await this.deps.store.loadConversation(cell.id, this.deps.limits.dedupeWindowMax);
      cell.loadedEpoch = epoch;
      return true;
    } catch (e) {
      this.deps.onError?.(e, 'rehydrate');
      for (const item of cell.queue.splice(0)) this.reply(item, { t: 'err', code: 503, msg: 'database unavailable', retryMs: 1000 });
      return false;
    }
  }

  /**
   * Load shedding: refuse a write up front when the time it already waited (to reach this thread,
   * then in this host) plus its batch's wait (estimated from the lane's backlog and commit rate)
   * exceeds PERSIST_QUEUE_DELAY_MAX_MS, or the lane is near its row bound. Edges refuse most of
   * the excess before the bus hop (`shedLevel`); this is the exact bound behind them.
   */
  private shed(cell: Cell, item: Item): boolean {
    if (item.cmd.t !== 'frame') return false;
    const now = this.now();
    const waited = item.received === undefined ? 0 : Math.max(0, now - item.received);
    this.waits.observe(cell.shard, waited, now);
    const t = item.cmd.frame.t;
    if (t !== 'send' && t !== 'open' && t !== 'read' && t !== 'recv') return false;
    const lane = cell.lane;
    if (this.inboundMs() + waited + lane.delayMs <= this.deps.limits.persistQueueDelayMaxMs && lane.fits(commandRowsMax)) return false;
    this.refuse(item);
    return true;
  }

  private inboundMs(): number {
    return this.deps.inboundDelayMs?.() ?? 0;
  }

  private refuse(item: Item): void {
    this.shedCount++;
    this.reply(item, { t: 'err', code: 503, msg: overloadedMsg, retryMs: shedRetryMs(this.deps.limits.persistQueueDelayMaxMs) }, ReplyStatus.overloaded);
  }

  /**
   * The share of sends edges should refuse for the replying actor's shard, in shed levels (RED on
   * the delay a send to it would see now: reaching this thread, standing in front of the shard's
   * actors, its lane's drain time; see shed.ts). Recomputed from current state on every reply, so
   * it falls as soon as the backlog does, whether or not edges let sends through meanwhile; and it
   * is this shard's, so edges apply it to this shard only (a thread's other shards do not inherit it).
   */
  private shedLevel(cell: Cell | undefined): number {
    if (!cell) return 0;
    return shedLevelOf(this.inboundMs() + this.waits.standingMs(cell.shard, this.now()) + cell.lane.delayMs, this.deps.limits);
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

  /** The router actor: counters recovered once, then advanced in memory, one pick at a time. */
  private async routePick(cell: Cell, item: Item, cmd: RoutePickCommand): Promise<void> {
    try {
      cell.router ??= this.deps.tickets ? await this.deps.tickets.loadRouterState() : newRouterState();
    } catch (e) {
      this.deps.onError?.(e, 'router load');
      return this.replyData(item, { t: 'err', code: 503, msg: 'database unavailable', retryMs: 1000 });
    }
    this.replyData(item, { t: 'routed', pick: pickRoute(cell.router, cmd.brand, cmd.candidates) });
  }

  /**
   * Ticket creation and re-routing call outside services (product warranty, service centers,
   * the router actor) before the pure decision; the answers ride in the command. Failures
   * become `unavailable` outcomes, never exceptions: the actor answers 503 and creates nothing.
   */
  private async resolveTicket(cell: Cell, cmd: TicketCommand): Promise<void> {
    const need = ticketNeeds(cell.state, cmd);
    if (!need) return;
    const ports = this.deps.tickets;
    const op = cmd.op;
    if (op.op === 'create') {
      op.product = ports ? await ports.products.check(op.request.productId) : { kind: 'unavailable', detail: 'tickets are not served here' };
      if (!productAccepts(op.request, op.product)) return;
      op.routing = await this.routeFor(op.request.brand, op.request.location);
    } else if (op.op === 'route' && cell.state?.meta) {
      const m = cell.state.meta;
      op.routing = await this.routeFor(m.brand, { lat: Number(m.lat), lon: Number(m.lon) });
    }
  }

  private async routeFor(brand: string, at: Location): Promise<RoutingOutcome> {
    const ports = this.deps.tickets;
    if (!ports) return { kind: 'unavailable', detail: 'tickets are not served here' };
    let centers: ServiceCenter[];
    try {
      centers = await ports.centers.candidates(at, brand);
    } catch (e) {
      return { kind: 'unavailable', detail: e instanceof Error ? e.message : String(e) };
    }
    if (centers.length === 0) return { kind: 'none', reason: `no service center serving ${brand} covers (${at.lat}, ${at.lon})` };
    let pick: RoutePick | null;
    try {
      pick = await ports.pick({ brand, candidates: centers.map((c) => ({ id: c.id, technicians: c.technicians })) });
    } catch (e) {
      return { kind: 'unavailable', detail: `router: ${e instanceof Error ? e.message : String(e)}` };
    }
    const center = pick && centers.find((c) => c.id === pick.centerId);
    if (!pick || !center) return { kind: 'none', reason: 'no candidate' };
    return { kind: 'assigned', centerId: center.id, agents: center.agents, technicianId: pick.technicianId };
  }

  private decide(cell: Cell, item: Item & { cmd: ConversationCommand }): void {
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
        case 'replyData':
          this.replyData(item, effect.data);
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
    if (!cell.lane.fits(writes.length)) {
      // The lane's row bound, reached between admission and decision (rare: admission keeps
      // room). Nothing is queued, but the actor's new state assumed it: reload before the next
      // command (synchronously marked, so no later write can build on the lost one).
      cell.loadedEpoch = -1;
      return this.refuse(item);
    }
    cell.inflight++;
    const epoch = this.deps.fences?.get(cell.shard);
    cell.lane.enqueue(writes, epoch === undefined ? undefined : { shard: cell.shard, epoch }, item.tp).then(
      () => {
        this.settled(cell);
        if (this.deps.publishEvents) this.publishEvents(writes);
        this.execute(cell, item, then);
      },
      (e: unknown) => {
        this.settled(cell);
        if (e instanceof FencedError) {
          this.deps.onFenced?.(e.shard);
          this.reply(item, { t: 'err', code: 503, msg: movingMsg, retryMs: 100 }, ReplyStatus.moving);
          return;
        }
        cell.loadedEpoch = -1; // whatever this actor assumed about uncommitted rows is void
        if (e instanceof RowRefusedError) return this.refused(cell, item, e);
        this.deps.onError?.(e, 'persist', item.cid);
        this.reply(item, { t: 'err', code: 503, msg: 'not stored, retry with the same cmid', retryMs: 1000 });
      },
    );
  }

  /**
   * The database refused this command's rows (its batch-mates were stored). A send whose
   * (conversation, sender, cmid) is already stored is a late resend: it gets the original ack.
   * A stale key (the actor reloads) can pass on a retry; anything else is permanent.
   */
  private refused(cell: Cell, item: Item, e: RowRefusedError): void {
    const cmd = item.cmd;
    if (e.duplicateSend && cmd.t === 'frame' && cmd.frame.t === 'send') {
      const { cmid } = cmd.frame;
      this.deps.store.sendByCmid(cell.id, cmd.actor.userId, cmid).then(
        (prior) => prior
          ? this.reply(item, { t: 'ack', conv: cell.id, seq: prior.seq, id: prior.id, ts: prior.ts })
          : this.reply(item, { t: 'err', code: 503, msg: 'not stored, retry with the same cmid', retryMs: 1000 }),
        (err) => this.failRead(item, err),
      );
      return;
    }
    if (e.staleState) return this.reply(item, { t: 'err', code: 503, msg: 'not stored, retry with the same cmid', retryMs: 100 });
    this.deps.onError?.(e, 'persist refused', item.cid);
    this.reply(item, { t: 'err', code: 422, msg: `not storable: ${e.message}` });
  }

  private publishEvents(writes: Write[]): void {
    for (const w of writes) {
      if (w.kind === 'domainEvent') this.deps.bus.publish(this.deps.subjects.event(w.type), encode({ id: w.id, type: w.type, payload: w.payload, ts: w.ts }));
    }
  }

  private settled(cell: Cell): void {
    cell.inflight--;
    if (cell.inflight === 0 && cell.idle) for (const r of cell.idle.splice(0)) r();
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

  /** Replies to an internal request (HTTP API, router) with plain data. */
  private replyData(item: Item, data: Record<string, unknown>): void {
    if (item.reply !== undefined) this.deps.bus.publish(item.reply, encodeReply(ReplyStatus.forward, encode(data)));
  }

  private reply(item: Item, frame: ServerFrame, status: ReplyStatusValue = ReplyStatus.forward): void {
    this.publishReply(item.reply, item.rid, frame, status, item.cell);
  }

  private publishReply(to: string | undefined, rid: number | undefined, frame: ServerFrame, status: ReplyStatusValue, cell?: Cell): void {
    if (to === undefined) return;
    this.deps.bus.publish(to, encodeReply(status, encodeFrame(rid === undefined ? frame : ({ ...frame, rid } as ServerFrame)), this.shedLevel(cell)));
  }

  private fanout(conv: string, users: string[], frame: ServerFrame): void {
    const bytes = encodeFrame(frame);
    for (const u of users) this.deps.bus.publish(this.deps.subjects.user(u), bytes);
    this.deps.bus.publish(this.deps.subjects.room(conv), bytes);
  }
}
