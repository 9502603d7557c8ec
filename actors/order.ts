/**
 * Order chat rooms (seed 002): opened by `order.accepted` (customer + vendor), joined by the
 * rider on `order.rider_assigned` (a new assignment replaces the rider), read-only for good
 * after `order.delivered` / `order.cancelled`. The conversation id is the order id.
 *
 * Events arrive at least once and possibly out of order; each is applied deterministically:
 * - a repeated event id changes nothing (ids are stored durably with the change they caused);
 * - by natural key: `accepted` for a room that exists changes nothing; a closed room never reopens;
 * - `rider_assigned` before `accepted` creates a `pending` room (read-only, rider recorded) that
 *   `accepted` opens with the rider already in it;
 * - `delivered`/`cancelled` before `accepted` create the room closed, so a late `accepted`
 *   cannot open it;
 * - of two rider assignments the one that occurred later (`occurredAt`, ISO-8601) wins,
 *   whatever order they arrive in (the same instant: the greater rider id, an arbitrary but
 *   fixed choice).
 *
 * The room remembers only its last `orderEventsRememberedMax` event ids. An older id is still a
 * duplicate, without being remembered: the rules above make every event idempotent by itself (the
 * room only moves forward: open → closed, assignment → a later one), so its replay changes
 * nothing and is answered `ok`, and its row is already in processed_events (primary key; the
 * batch inserts ON CONFLICT DO NOTHING).
 */
import { decideChatFrame, err, type FrameCommand, newConversation, stateFrame } from './conversation.ts';
import type { ActorLimits, ConversationState, Decision, Effect, Write } from './types.ts';

export const orderEventTypes = ['order.accepted', 'order.rider_assigned', 'order.delivered', 'order.cancelled'] as const;
export type OrderEventType = (typeof orderEventTypes)[number];

export interface OrderEvent {
  id: string;
  type: OrderEventType;
  occurredAt: string;
  data: { orderId: string; customerId?: string; vendorId?: string; riderId?: string };
}

export type OrderCommand = { t: 'orderEvent'; event: OrderEvent };

export type OrderState = 'pending' | 'open' | 'delivered' | 'cancelled';

/**
 * Event ids an order room remembers; over → the oldest is forgotten (and still a duplicate, see
 * above). Named and explained with the node's bounds as ORDER_EVENTS_REMEMBERED_MAX in
 * src/config.ts; the value is set here because actors sit below config and cannot import it.
 */
export const orderEventsRememberedMax = 16;

/** An order room is writable only while the order is open (accepted and not yet delivered or cancelled). */
export function orderRoomReadOnly(state: string): boolean {
  return state !== 'open';
}

function isClosed(state: string): boolean {
  return state === 'delivered' || state === 'cancelled';
}

/** Participants in role order: customer, vendor, then the current rider; each user once. */
function participantsOf(meta: Record<string, string>): string[] {
  return [...new Set([meta.customerId, meta.vendorId, meta.riderId].filter((p): p is string => Boolean(p)))];
}

interface Next {
  state: OrderState;
  meta: Record<string, string>;
}

/**
 * Whether the assignment (`at`, `riderId`) comes after the one the room holds: by time, then by
 * rider id, then by the time's spelling — a total order, so the room ends with the greatest
 * assignment whatever order they arrive in, and a replay of an applied one is never "after".
 */
function assignmentAfter(at: string, riderId: string, meta: Record<string, string>): boolean {
  const held = meta.riderAssignedAt;
  if (held === undefined) return true; // no assignment yet (or a room stored before times were kept)
  const dt = Date.parse(at) - Date.parse(held);
  if (dt !== 0) return dt > 0;
  const current = meta.riderId ?? '';
  if (riderId !== current) return riderId > current;
  return at > held;
}

/** The room after `event`, or null when the event changes nothing. */
function transition(current: ConversationState | null, event: OrderEvent): Next | null {
  const meta = { ...(current?.meta ?? {}) };
  const state = (current?.state ?? null) as OrderState | null;
  if (state && isClosed(state)) return null; // a closed room never reopens or changes
  const d = event.data;
  switch (event.type) {
    case 'order.accepted':
      if (state === 'open') return null;
      return { state: 'open', meta: { ...meta, customerId: d.customerId!, vendorId: d.vendorId! } };
    case 'order.rider_assigned':
      // An assignment not after the one applied (a late or replayed one) does not win. One of
      // the current rider at a later time only moves the time: a later assignment elsewhere
      // must compare against it, or arrival order would decide.
      if (!assignmentAfter(event.occurredAt, d.riderId!, meta)) return null;
      return { state: state ?? 'pending', meta: { ...meta, riderId: d.riderId!, riderAssignedAt: event.occurredAt } };
    case 'order.delivered':
      return { state: 'delivered', meta };
    case 'order.cancelled':
      return { state: 'cancelled', meta };
  }
}

/** Remembers `id` as applied, forgetting the oldest ids beyond `max` (a Set keeps insertion order). */
function remember(events: Set<string>, id: string, max: number): void {
  events.add(id);
  for (const oldest of events) {
    if (events.size <= max) break;
    events.delete(oldest);
  }
}

/**
 * `rememberedMax`: tests pass a small one. An id forgotten by then is answered as a new one
 * would be, and changes nothing (see the header).
 */
export function decideOrderEvent(
  state: ConversationState | null, convId: string, event: OrderEvent, now: number, rememberedMax: number = orderEventsRememberedMax,
): Decision<ConversationState | null> {
  const eventRow: Write = { kind: 'event', id: event.id, conv: convId, ts: now };
  const ok: Effect = { type: 'reply', frame: { t: 'ok' } };
  if (state?.processedEvents?.has(event.id)) return { state, effects: [{ type: 'persist', writes: [], then: [ok] }] };
  const next = transition(state, event);
  const room = state ?? newConversation({ id: convId, kind: 'order', state: 'pending', readOnly: true, participants: [], createdAt: now });
  room.processedEvents ??= new Set();
  remember(room.processedEvents, event.id, rememberedMax);
  if (!next) return { state: room, effects: [{ type: 'persist', writes: [eventRow], then: [ok] }] };
  const before = room.participants;
  const visible = state === null || next.state !== room.state || !sameList(before, participantsOf(next.meta));
  room.state = next.state;
  room.meta = next.meta;
  room.readOnly = orderRoomReadOnly(next.state);
  room.participants = participantsOf(next.meta);
  const row: Write = {
    kind: 'conversation', conv: convId, convKind: 'order', state: room.state, participants: room.participants, createdAt: room.createdAt, meta: room.meta,
  };
  // Only meta moved (the current rider's assignment time): stored, nothing for anyone to see.
  if (!visible) return { state: room, effects: [{ type: 'persist', writes: [row, eventRow], then: [ok] }] };
  // Everyone who was or is in the room learns of the change (a replaced rider loses access).
  const audience = [...new Set([...before, ...room.participants])];
  return {
    state: room,
    effects: [{ type: 'persist', writes: [row, eventRow], then: [ok, { type: 'fanout', users: audience, frame: stateFrame(room) }] }],
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Chat in an order room: participants write while it is open; the rest as every kind. */
export function decideOrderFrame(state: ConversationState | null, cmd: FrameCommand, now: number, limits: ActorLimits): Decision<ConversationState | null> {
  if (cmd.frame.t === 'open') return { state, effects: [err(400, 'open is for direct messages')] };
  return decideChatFrame(state, cmd, now, limits);
}
