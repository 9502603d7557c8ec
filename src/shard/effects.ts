/**
 * Effect execution: the only place actors' decisions touch the world. Replies and fan-out are
 * published at once; writes go to the actor's persister lane, and what depends on them (acks,
 * fan-out of the message) runs once they commit. A write that fails voids what the actor assumed
 * about it: the actor reloads before its next command.
 */
import type { Effect, TimerCommand, Write } from '../../actors/types.ts';
import { type ConvView, defaultLimits, type ServerFrame } from '../../protocol/frames.ts';
import { FencedError } from '../cluster/fencing.ts';
import { RowRefusedError } from '../persist/row-errors.ts';
import { movingMsg, ReplyStatus } from '../rpc/envelope.ts';
import type { Cell, Item, Mailboxes } from './mailbox.ts';
import type { HostStore } from './ports.ts';
import type { Replies } from './replies.ts';
import { ErrorCode, RetryAfterMs } from '../../protocol/errors.ts';

export interface EffectDeps {
  store: HostStore;
  replies: Replies;
  mailboxes: Mailboxes;
  limits: { historyLimitDefault: number };
  /** Cluster mode: the shards this host owns, with their fencing epochs. */
  fences?: Map<number, number>;
  /** Publish domain events on the bus after commit (single node; with an outbox the relay does). */
  publishEvents?: boolean;
  onFenced?: (shard: number) => void;
  onError?: (e: unknown, where: string, cid?: string) => void;
  /** Delivers `command` to actor `id` at `at` (epoch ms). */
  schedule(id: string, at: number, command: TimerCommand): void;
  /** Refuses a write as load shedding does (counted and answered). */
  refuse(item: Item): void;
  /** Gives the router back a pick whose ticket did not commit. */
  releaseRoute?(brand: string, centerId: string): void;
}

/** The answer to a write that did not commit and may pass when sent again. */
function notStored(retryMs: number): ServerFrame {
  return { t: 'err', code: ErrorCode.unavailable, msg: 'not stored, retry with the same cmid', retryMs };
}

export class Effects {
  /** Sends acknowledged (after commit) since start. */
  acked = 0;

  constructor(private readonly deps: EffectDeps) {}

  execute(cell: Cell, item: Item, effects: Effect[]): void {
    const { replies, store } = this.deps;
    for (const effect of effects) {
      switch (effect.type) {
        case 'reply':
          if (effect.frame.t === 'ack') this.acked++;
          replies.reply(item, effect.frame);
          break;
        case 'fanout':
          replies.fanout(cell.id, effect.users, effect.frame, effect.toOrigin ? undefined : item.origin);
          break;
        case 'persist':
          this.persist(cell, item, effect.writes, effect.then, effect.otherwise);
          break;
        case 'releaseRoute':
          this.deps.releaseRoute?.(effect.brand, effect.centerId);
          break;
        case 'schedule':
          this.deps.schedule(cell.id, effect.at, effect.command);
          break;
        case 'replyWithMessages':
          this.replyWithMessages(item, effect.conv, effect.since);
          break;
        case 'replyData':
          replies.replyData(item, effect.data);
          break;
        case 'replyHistory':
          store.history(cell.id, effect.before, effect.limit).then(
            (page) => replies.reply(item, { t: 'page', ...page }),
            (e) => this.failRead(item, e),
          );
          break;
        default:
          throw new Error(`unknown effect ${(effect as { type: string }).type}`);
      }
    }
  }

  /** `otherwise` (compensations, no replies) runs on every path where the writes were not stored. */
  private persist(cell: Cell, item: Item, writes: Write[], then: Effect[], otherwise: Effect[] = []): void {
    if (!cell.lane.fits(writes.length)) {
      // The lane's row bound, reached between admission and decision (rare: admission keeps
      // room). Nothing is queued, but the actor's new state assumed it: reload before the next
      // command (synchronously marked, so no later write can build on the lost one).
      cell.body.invalidate();
      this.execute(cell, item, otherwise);
      return this.deps.refuse(item);
    }
    const { mailboxes, fences } = this.deps;
    mailboxes.writing(cell);
    const epoch = fences?.get(cell.shard);
    cell.lane.enqueue(writes, epoch === undefined ? undefined : { shard: cell.shard, epoch }, item.tp).then(
      () => {
        mailboxes.settled(cell);
        if (this.deps.publishEvents) this.deps.replies.events(writes);
        this.execute(cell, item, then);
      },
      (e: unknown) => {
        mailboxes.settled(cell);
        this.execute(cell, item, otherwise);
        this.failed(cell, item, e);
      },
    );
  }

  private failed(cell: Cell, item: Item, e: unknown): void {
    if (e instanceof FencedError) {
      this.deps.onFenced?.(e.shard);
      this.deps.replies.reply(item, { t: 'err', code: ErrorCode.unavailable, msg: movingMsg, retryMs: RetryAfterMs.moving }, ReplyStatus.moving);
      return;
    }
    cell.body.invalidate(); // whatever this actor assumed about uncommitted rows is void
    if (e instanceof RowRefusedError) return this.refused(cell, item, e);
    this.deps.onError?.(e, 'persist', item.cid);
    this.deps.replies.reply(item, notStored(1000));
  }

  /**
   * The database refused this command's rows (its batch-mates were stored). A send whose
   * (conversation, sender, cmid) is already stored is a late resend: it gets the original ack.
   * A stale key (the actor reloads) can pass on a retry; anything else is permanent.
   */
  private refused(cell: Cell, item: Item, e: RowRefusedError): void {
    const cmd = item.cmd;
    const { replies } = this.deps;
    if (e.duplicateSend && cmd.t === 'frame' && cmd.frame.t === 'send') {
      this.deps.store.sendByCmid(cell.id, cmd.actor.userId, cmd.frame.cmid).then(
        (prior) => replies.reply(item, prior ? { t: 'ack', conv: cell.id, seq: prior.seq, id: prior.id, ts: prior.ts } : notStored(1000)),
        (err) => this.failRead(item, err),
      );
      return;
    }
    if (e.staleState) return replies.reply(item, notStored(100));
    this.deps.onError?.(e, 'persist refused', item.cid);
    replies.reply(item, { t: 'err', code: ErrorCode.unprocessable, msg: `not storable: ${e.message}` });
  }

  private replyWithMessages(item: Item, conv: ConvView, since: number | undefined): void {
    const { store } = this.deps;
    const read = since === undefined
      ? store.history(conv.id, undefined, this.deps.limits.historyLimitDefault).then((p) => ({ msgs: p.msgs.reverse(), retainedFrom: p.retainedFrom }))
      : store.messagesAfter(conv.id, since, defaultLimits.historyLimitMax);
    read.then(
      ({ msgs, retainedFrom }) => this.deps.replies.reply(item, { t: 'conv', conv, msgs, ...(retainedFrom ? { retainedFrom } : {}) }),
      (e) => this.failRead(item, e),
    );
  }

  private failRead(item: Item, e: unknown): void {
    this.deps.onError?.(e, 'read', item.cid);
    this.deps.replies.reply(item, { t: 'err', code: ErrorCode.unavailable, msg: 'database unavailable', retryMs: RetryAfterMs.dependency });
  }
}
