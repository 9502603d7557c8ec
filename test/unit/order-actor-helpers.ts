/**
 * Shared fixtures for the order-room actor specifications (order-actor-*.test.ts). No server, no
 * I/O: commands go into `decideConversation` (the single entry point the shard host uses), and
 * effects come out as data.
 *
 * "Committing" a persist effect means handing back its `then` effects — what the host runs once
 * the writes are durable. Anything a client could see before that is in `beforeCommit`.
 */
import assert from 'node:assert/strict';
import type { ClientFrame, ServerFrame } from '../../protocol/frames.ts';
import { decideConversation, type ConversationCommand } from '../../actors/index.ts';
import type { FrameCommand } from '../../actors/conversation.ts';
import type { OrderEvent, OrderEventType } from '../../actors/order.ts';
import type { Actor, ActorLimits, ConversationRow, ConversationState, Effect, EventRow } from '../../actors/types.ts';
import { assertErr, beforeCommit, commit, fanouts, persistOf, replyFrame, writesOf } from './effect-helpers.ts';

export { assertErr, beforeCommit, commit, fanouts, persistOf, replyFrame, writesOf };

export const limits: ActorLimits = { typingTtlMs: 1000, dedupeWindowMax: 1000, historyLimitDefault: 50, editWindowMs: 900_000 };

export const customer: Actor = { userId: 'cust-1', roles: ['customer'] };
export const vendor: Actor = { userId: 'vend-1', roles: ['vendor'] };
export const rider: Actor = { userId: 'rider-1', roles: ['rider'] };
/** A second rider who replaces the first one. */
export const rider2: Actor = { userId: 'rider-2', roles: ['rider'] };
/** Neither a participant nor an admin. */
export const stranger: Actor = { userId: 'mallory', roles: ['customer'] };
/** An admin who is not a participant: may observe, may not write. */
export const admin: Actor = { userId: 'root', roles: ['admin'] };

/** The conversation id of an order room is the order id. */
export const orderId = 'order-42';

/** A fixed epoch so every `now` in the tests is explicit and readable as an offset. */
export const t0 = 1_700_000_000_000;


export function event(id: string, type: OrderEventType, data: Omit<OrderEvent['data'], 'orderId'> = {}, order = orderId): OrderEvent {
  return { id, type, occurredAt: new Date(t0).toISOString(), data: { orderId: order, ...data } };
}

export function frameCmd(actor: Actor, frame: ClientFrame, msgId?: string): FrameCommand {
  return msgId === undefined ? { t: 'frame', actor, frame } : { t: 'frame', actor, frame, msgId };
}

/**
 * An order room actor with its state threaded through successive decisions, as the shard host
 * would hold it. Every method returns the effects of that one decision.
 */
export class OrderRig {
  state: ConversationState | null = null;
  private msgCounter = 0;

  constructor(
    readonly conv: string = orderId,
    readonly lim: ActorLimits = limits,
  ) {}

  run(command: ConversationCommand, now: number): Effect[] {
    const decision = decideConversation(this.state, this.conv, command, now, this.lim);
    this.state = decision.state;
    return decision.effects;
  }

  apply(e: OrderEvent, now: number): Effect[] {
    return this.run({ t: 'orderEvent', event: e }, now);
  }

  accepted(id: string, now: number, who: { customerId?: string; vendorId?: string } = {}): Effect[] {
    const { customerId = customer.userId, vendorId = vendor.userId } = who;
    return this.apply(event(id, 'order.accepted', { customerId, vendorId }), now);
  }

  riderAssigned(id: string, riderId: string, now: number): Effect[] {
    return this.apply(event(id, 'order.rider_assigned', { riderId }), now);
  }

  delivered(id: string, now: number): Effect[] {
    return this.apply(event(id, 'order.delivered'), now);
  }

  cancelled(id: string, now: number): Effect[] {
    return this.apply(event(id, 'order.cancelled'), now);
  }

  /** Sends with a fresh, predictable message id (`msg-1`, `msg-2`, …) unless one is given. */
  send(actor: Actor, cmid: string, now: number, opts: { msgId?: string; body?: string } = {}): Effect[] {
    const { body = `body of ${cmid}`, msgId = `msg-${++this.msgCounter}` } = opts;
    return this.run(frameCmd(actor, { t: 'send', rid: 2, conv: this.conv, cmid, body }, msgId), now);
  }

  join(actor: Actor, now: number, since?: number): Effect[] {
    const frame: ClientFrame = since === undefined ? { t: 'join', rid: 4, conv: this.conv } : { t: 'join', rid: 4, conv: this.conv, since };
    return this.run(frameCmd(actor, frame), now);
  }

  history(actor: Actor, now: number, page: { before?: number; limit?: number } = {}): Effect[] {
    return this.run(frameCmd(actor, { t: 'history', rid: 5, conv: this.conv, ...page }), now);
  }

  typing(actor: Actor, now: number): Effect[] {
    return this.run(frameCmd(actor, { t: 'typing', conv: this.conv }), now);
  }

  /** Asserts there is a state (the room exists) and returns it. */
  get existing(): ConversationState {
    assert.ok(this.state, 'expected the order room to exist');
    return this.state;
  }
}

/** A rig whose order was accepted (customer + vendor), the creation committed. */
export function acceptedRoom(now = t0, lim: ActorLimits = limits): OrderRig {
  const rig = new OrderRig(orderId, lim);
  commit(rig.accepted('ev-accepted', now));
  return rig;
}

/** A rig whose order was accepted and assigned to `rider`, both committed. */
export function riddenRoom(now = t0): OrderRig {
  const rig = acceptedRoom(now);
  commit(rig.riderAssigned('ev-rider-1', rider.userId, now + 1));
  return rig;
}

/** The `conversation` writes among a decision's writes. */
export function conversationWrites(effects: Effect[]): ConversationRow[] {
  return writesOf(effects).filter((w): w is ConversationRow => w.kind === 'conversation');
}

/** The `event` writes among a decision's writes. */
export function eventWrites(effects: Effect[]): EventRow[] {
  return writesOf(effects).filter((w): w is EventRow => w.kind === 'event');
}

/** The only `state` fan-out among these effects, audience sorted for order-free comparison. */
export function stateFanout(effects: Effect[]): { users: string[]; frame: Extract<ServerFrame, { t: 'state' }> } {
  const states = fanouts(effects).filter((f) => f.frame.t === 'state');
  assert.equal(states.length, 1, `expected exactly one state fan-out, got ${JSON.stringify(effects)}`);
  const [f] = states;
  return { users: [...f.users].sort(), frame: f.frame as Extract<ServerFrame, { t: 'state' }> };
}

/** Asserts the decision is an ack for a new message at `seq` (after commit) and returns the frame. */
export function assertAcked(effects: Effect[], seq: number): Extract<ServerFrame, { t: 'ack' }> {
  const frame = replyFrame(commit(effects));
  assert.equal(frame.t, 'ack', `expected an ack, got ${JSON.stringify(frame)}`);
  const ack = frame as Extract<ServerFrame, { t: 'ack' }>;
  assert.equal(ack.seq, seq);
  return ack;
}

/** Asserts the decision is an event-only change: one persist with just this event's row, replying ok. */
export function assertEventOnly(effects: Effect[], eventId: string, now: number, conv = orderId): void {
  const p = persistOf(effects);
  assert.deepEqual(p.writes, [{ kind: 'event', id: eventId, conv, ts: now }], 'only the event is recorded');
  assert.deepEqual(p.then, [{ type: 'reply', frame: { t: 'ok' } }], 'ok and no state fan-out');
}
