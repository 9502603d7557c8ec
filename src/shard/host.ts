/**
 * Shard host: gives actors a body. It composes the seams of src/shard/:
 *   mailbox.ts    one mailbox per actor (control commands first), turns, passivation
 *   admission.ts  load shedding at the actor's door, and the shed level replies carry
 *   kinds.ts      the actor kinds (conversations, the router): loading, staleness, decision
 *   resolvers.ts  outside answers a command needs before its pure decision
 *   effects.ts    executing decisions (writes, replies, fan-out, timers), and nowhere else
 *   replies.ts    what goes out on the bus
 * Here: envelopes from the bus become commands; an actor is rehydrated before its next command
 * whenever its state may be ahead of the database.
 */
import type { ActorCommand } from '../../actors/index.ts';
import type { ActorLimits, TimerCommand } from '../../actors/types.ts';
import type { Bus, Subjects } from '../bus/bus.ts';
import { decodeEnvelope, movingMsg, ReplyStatus, routerActorId, shardOf } from '../rpc/envelope.ts';
import type { TicketPorts } from './ticket-ports.ts';
import { startSpan, traceparentOf } from '../tracing.ts';
import { Admission } from './admission.ts';
import { Effects } from './effects.ts';
import { type ActorBody, ConversationBody, RouterBody } from './kinds.ts';
import { type Cell, type Item, type MailboxLimits, Mailboxes } from './mailbox.ts';
import { type HostConnections, type HostPersister, type HostStore, nodeTimers, type TimerPort } from './ports.ts';
import { Replies } from './replies.ts';
import type { ShedLimits } from './shed.ts';
import { ErrorCode, RetryAfterMs } from '../../protocol/errors.ts';

export type { Item } from './mailbox.ts';

export interface HostLimits extends ActorLimits, MailboxLimits, ShedLimits {}

export interface HostDeps {
  bus: Bus;
  subjects: Subjects;
  store: HostStore;
  persister: HostPersister;
  connections: HostConnections;
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
  /** Runs the actors' timers; Node's by default (tests fire them by hand). */
  timers?: TimerPort;
}

export class ShardHost {
  commandsHandled = 0;
  private readonly now: () => number;
  private readonly timers: TimerPort;
  private readonly admission: Admission;
  private readonly replies: Replies;
  private readonly mailboxes: Mailboxes;
  private readonly effects: Effects;

  constructor(private readonly deps: HostDeps) {
    this.now = deps.now ?? Date.now;
    this.timers = deps.timers ?? nodeTimers;
    this.admission = new Admission(deps.limits, this.now, () => deps.inboundDelayMs?.() ?? 0);
    this.replies = new Replies(deps.bus, deps.subjects, (cell) => this.admission.levelOf(cell));
    this.mailboxes = new Mailboxes(deps.limits, (id) => this.newCell(id), {
      load: (cell) => this.load(cell),
      step: (cell, item) => this.step(cell, item),
      crashed: (cell, e) => this.crashed(cell, e),
    });
    this.effects = new Effects({
      store: deps.store, replies: this.replies, mailboxes: this.mailboxes, limits: deps.limits, fences: deps.fences,
      publishEvents: deps.publishEvents, onFenced: deps.onFenced, onError: deps.onError,
      schedule: (id, at, command) => this.schedule(id, at, command),
      refuse: (item) => this.refuse(item),
      releaseRoute: (brand, centerId) => this.releaseRoute(brand, centerId),
    });
  }

  get fences(): Map<number, number> | undefined {
    return this.deps.fences;
  }

  /** Sends acknowledged (after commit) since start. */
  get acked(): number {
    return this.effects.acked;
  }

  /** Writes refused by load shedding since start. */
  get shedCount(): number {
    return this.admission.shedCount;
  }

  /** Forgets every actor of a shard this host no longer owns. */
  dropShard(shard: number): void {
    this.admission.forget(shard);
    this.mailboxes.dropShard(shard);
  }

  actorsByShard(): Record<number, number> {
    return this.mailboxes.byShard();
  }

  get actorCount(): number {
    return this.mailboxes.count;
  }

  /** Commands queued in all mailboxes. */
  get mailboxDepth(): number {
    return this.mailboxes.depth;
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
      this.replies.publish(reply, env.f?.rid, { t: 'err', code: ErrorCode.unavailable, msg: movingMsg, retryMs: RetryAfterMs.moving }, ReplyStatus.moving);
      return;
    }
    if (env.e) return this.deliver(env.c, { cmd: { t: 'orderEvent', event: env.e }, reply, tp: env.tp });
    if (env.tk) return this.deliver(env.c, { cmd: { t: 'ticket', actor: { userId: env.u, roles: env.r }, op: env.tk }, reply, tp: env.tp, cid: env.cid });
    if (env.rt && env.c === routerActorId) {
      const cmd: ActorCommand = 'release' in env.rt ? { t: 'routeRelease', ...env.rt.release } : { t: 'routePick', ...env.rt };
      return this.deliver(env.c, { cmd, reply, tp: env.tp });
    }
    if (!env.f) return;
    const cmd: ActorCommand = { t: 'frame', actor: { userId: env.u, roles: env.r }, frame: env.f };
    this.deliver(env.c, { cmd, reply, rid: env.f.rid, tp: env.tp, cid: env.cid, origin: env.o });
  };

  /** A command from the bus to actor `id`; answered "busy, retry" when its mailbox is full. */
  deliver(id: string, item: Item): void {
    item.received ??= this.now();
    const cell = this.mailboxes.cell(id);
    item.cell = cell;
    if (!this.mailboxes.post(cell, item)) this.replies.reply(item, { t: 'err', code: ErrorCode.unavailable, msg: 'conversation busy, retry', retryMs: RetryAfterMs.busy });
  }

  /** A timer the actor scheduled fired: its command goes to the control queue. */
  private schedule(id: string, at: number, command: TimerCommand): void {
    this.timers.after(Math.max(0, at - this.now()), () => {
      // Timers run on the monotonic clock, `at` is wall-clock time: fired before it (a clock
      // step, rounding), the actor would see it early and drop it — wait for the rest instead.
      if (this.now() < at) return this.schedule(id, at, command);
      const cell = this.mailboxes.cell(id);
      if (!this.mailboxes.postControl(cell, { cmd: command, received: this.now(), cell })) {
        this.deps.onError?.(new Error(`control queue of ${JSON.stringify(id)} full: ${command.t} dropped`), 'timer');
      }
    });
  }

  private newCell(id: string): Cell {
    const shard = shardOf(id, this.deps.shardCount);
    return { id, shard, lane: this.deps.persister.lane(id), body: this.bodyFor(id), control: [], queue: [], running: false, inflight: 0 };
  }

  /** The kind of an actor follows from its id: the router's is reserved (see envelope.ts). */
  private bodyFor(id: string): ActorBody {
    if (id === routerActorId) return new RouterBody(this.deps.tickets);
    const { store, persister, connections, tickets, limits } = this.deps;
    return new ConversationBody(id, { store, persister, connections, tickets, limits });
  }

  /** Rehydration: false when the store could not be read (every queued command is answered 503). */
  private async load(cell: Cell): Promise<boolean> {
    // Writes of this actor still queued would be missing from what we read (their seqs reused).
    await this.mailboxes.whenIdle(cell);
    try {
      await cell.body.load();
      return true;
    } catch (e) {
      this.deps.onError?.(e, cell.body.loadLabel);
      for (const item of this.mailboxes.drain(cell)) this.replies.reply(item, { t: 'err', code: ErrorCode.unavailable, msg: 'database unavailable', retryMs: RetryAfterMs.dependency });
      return false;
    }
  }

  /** One command: admission, outside answers, the decision and its effects. */
  private async step(cell: Cell, item: Item): Promise<boolean> {
    if (!this.admission.admits(cell, item)) {
      this.refuse(item);
      return false;
    }
    await cell.body.prepare(item.cmd, () => this.mailboxes.whenIdle(cell));
    this.decide(cell, item);
    return true;
  }

  private decide(cell: Cell, item: Item): void {
    this.commandsHandled++;
    const cmd = item.cmd;
    const span = item.tp ? startSpan(`actor ${cmd.t === 'frame' ? cmd.frame.t : cmd.t}`, item.tp, { 'chat.conv': cell.id }) : undefined;
    if (span) item.tp = traceparentOf(span) ?? item.tp; // the persister batch links to the actor's span
    const effects = cell.body.decide(cmd, this.now());
    this.effects.execute(cell, item, effects);
    span?.setAttribute('chat.effects', effects.length);
    span?.end();
  }

  private crashed(cell: Cell, e: unknown): void {
    this.deps.onError?.(e, 'actor loop');
    for (const item of this.mailboxes.drain(cell)) this.replies.reply(item, { t: 'err', code: ErrorCode.internal, msg: 'internal error' });
    cell.body.invalidate();
  }

  /** The creation saga's compensation, asked of the router wherever it lives; a failure is logged. */
  private releaseRoute(brand: string, centerId: string): void {
    this.deps.tickets?.release({ brand, centerId }).catch((e: unknown) => this.deps.onError?.(e, 'route release'));
  }

  private refuse(item: Item): void {
    this.replies.reply(item, this.admission.refusal(), ReplyStatus.overloaded);
  }
}
