/**
 * An order room remembers only its last ORDER_EVENTS_REMEMBERED_MAX event ids (src/config.ts).
 * An older id must still be a duplicate: answered `ok`, and the room unchanged — which holds
 * because every event is idempotent by itself (the room only moves forward), while its row is
 * already in processed_events (primary key, inserted ON CONFLICT DO NOTHING).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ORDER_EVENTS_REMEMBERED_MAX } from '../../src/config.ts';
import { decideOrderEvent, type OrderEvent } from '../../actors/order.ts';
import type { ConversationState } from '../../actors/types.ts';
import {
  OrderRig, commit, conversationWrites, customer, fanouts, orderId, persistOf, replyFrame, rider, rider2, t0, vendor,
} from './order-actor-helpers.ts';

const at = (offsetMs: number) => new Date(t0 + offsetMs).toISOString();

function ev(id: string, type: OrderEvent['type'], occurredAtMs: number, data: Omit<OrderEvent['data'], 'orderId'> = {}): OrderEvent {
  return { id, type, occurredAt: at(occurredAtMs), data: { orderId, ...data } };
}

const accepted = (id: string, t = 0) => ev(id, 'order.accepted', t, { customerId: customer.userId, vendorId: vendor.userId });
const assigned = (id: string, riderId: string, t: number) => ev(id, 'order.rider_assigned', t, { riderId });

/** Events that change nothing in an open room, each with a new id: they push older ids out of the window. */
function pushOutOfWindow(rig: OrderRig, from: number, count = ORDER_EVENTS_REMEMBERED_MAX): void {
  for (let i = 0; i < count; i++) commit(rig.apply(accepted(`ev-filler-${from + i}`), t0 + 1000 + from + i));
}

/** The room as a client or the database could see it (meta by key: its insertion order is no fact). */
function view(s: ConversationState | null) {
  return s && { state: s.state, readOnly: s.readOnly, participants: [...s.participants], meta: Object.fromEntries(Object.entries(s.meta ?? {}).sort()) };
}

test('the room remembers at most ORDER_EVENTS_REMEMBERED_MAX event ids, the newest', () => {
  const rig = new OrderRig();
  commit(rig.apply(accepted('ev-a'), t0));
  pushOutOfWindow(rig, 0, ORDER_EVENTS_REMEMBERED_MAX + 5);
  const ids = [...rig.existing.processedEvents!];
  assert.equal(ids.length, ORDER_EVENTS_REMEMBERED_MAX);
  assert.equal(ids.at(-1), `ev-filler-${ORDER_EVENTS_REMEMBERED_MAX + 4}`, 'the newest is kept');
  assert.ok(!ids.includes('ev-a') && !ids.includes('ev-filler-0'), 'the oldest are forgotten');
});

test('the window is a parameter of decideOrderEvent, forgetting the oldest first', () => {
  let s: ConversationState | null = null;
  for (const [i, id] of ['e1', 'e2', 'e3', 'e4'].entries()) s = decideOrderEvent(s, orderId, accepted(id), t0 + i, 2).state;
  assert.deepEqual([...s!.processedEvents!], ['e3', 'e4']);
});

test('a replaced rider\'s assignment replayed past the window is answered ok and changes nothing', () => {
  const rig = new OrderRig();
  commit(rig.apply(accepted('ev-a'), t0));
  commit(rig.apply(assigned('ev-r1', rider.userId, 1), t0 + 1));
  commit(rig.apply(assigned('ev-r2', rider2.userId, 2), t0 + 2));
  pushOutOfWindow(rig, 0);
  assert.ok(!rig.existing.processedEvents!.has('ev-r1'), 'ev-r1 is out of the window');
  const before = view(rig.state);
  const effects = rig.apply(assigned('ev-r1', rider.userId, 1), t0 + 5000);
  assert.deepEqual(conversationWrites(effects), [], 'no change to the room is written');
  assert.deepEqual(persistOf(effects).writes, [{ kind: 'event', id: 'ev-r1', conv: orderId, ts: t0 + 5000 }], 'only the event row: a no-op against its primary key');
  const then = commit(effects);
  assert.deepEqual(replyFrame(then), { t: 'ok' }, 'answered as a duplicate is');
  assert.deepEqual(fanouts(then), [], 'nobody is told of a change');
  assert.deepEqual(view(rig.state), before);
  assert.deepEqual(rig.existing.participants, [customer.userId, vendor.userId, rider2.userId]);
});

/** A life with every kind of event, including a reassignment back to the first rider. */
const life: OrderEvent[] = [
  assigned('ev-r1', 'rider-a', 10),
  accepted('ev-acc', 5),
  assigned('ev-r2', 'rider-b', 20),
  assigned('ev-r3', 'rider-a', 30),
  ev('ev-del', 'order.delivered', 40),
];

test('every event of a life replayed past the window is answered ok and leaves the room as it was', () => {
  const rig = new OrderRig();
  life.forEach((e, i) => commit(rig.apply(e, t0 + i)));
  // The room is closed now, and closed rooms record events without change: still fills the window.
  pushOutOfWindow(rig, 0);
  const before = view(rig.state);
  for (const e of life) {
    assert.ok(!rig.existing.processedEvents!.has(e.id), `${e.id} is out of the window`);
    const effects = rig.apply(e, t0 + 9000);
    assert.deepEqual(conversationWrites(effects), [], `${e.id}: no room write`);
    assert.deepEqual(replyFrame(commit(effects)), { t: 'ok' });
    assert.deepEqual(view(rig.state), before, `${e.id}: the room is unchanged`);
  }
});

/** Every ordering of `events`. */
function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((x, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [x, ...rest]));
}

test('whatever order a life arrives in, the room ends the same, and a replay of any event after it changes nothing', () => {
  // Without delivered, so the rider rules stay in play to the end.
  const open = life.filter((e) => e.type !== 'order.delivered');
  const ends = new Set<string>();
  for (const order of permutations(open)) {
    let s: ConversationState | null = null;
    order.forEach((e, i) => (s = decideOrderEvent(s, orderId, e, t0 + i, 1).state));
    const end = JSON.stringify(view(s));
    ends.add(end);
    for (const e of open) {
      // A window of one: every replay but the last event's is judged on the rules alone.
      s = decideOrderEvent(s, orderId, e, t0 + 100, 1).state;
      assert.equal(JSON.stringify(view(s)), end, `replaying ${e.id} after ${order.map((x) => x.id).join(',')}`);
    }
  }
  assert.deepEqual([...ends].map((x) => JSON.parse(x).participants), [[customer.userId, vendor.userId, 'rider-a']]);
});

test('two assignments at the same instant: the same rider wins whatever the arrival order', () => {
  const winners = new Set<string>();
  for (const order of [[assigned('x1', 'rider-b', 10), assigned('x2', 'rider-a', 10)], [assigned('x2', 'rider-a', 10), assigned('x1', 'rider-b', 10)]]) {
    const rig = new OrderRig();
    commit(rig.apply(accepted('ev-a'), t0));
    for (const e of order) commit(rig.apply(e, t0 + 1));
    winners.add(rig.existing.meta!.riderId);
  }
  assert.deepEqual([...winners], ['rider-b']);
});

test('the current rider assigned again later moves only the time: stored, no state fan-out, and a between assignment arriving late loses', () => {
  const rig = new OrderRig();
  commit(rig.apply(accepted('ev-a'), t0));
  commit(rig.apply(assigned('ev-1', 'rider-a', 10), t0 + 1));
  const again = rig.apply(assigned('ev-3', 'rider-a', 30), t0 + 2);
  const [row] = conversationWrites(again);
  assert.equal(row.meta?.riderAssignedAt, at(30));
  assert.deepEqual(row.participants, [customer.userId, vendor.userId, 'rider-a']);
  const then = commit(again);
  assert.deepEqual(replyFrame(then), { t: 'ok' });
  assert.deepEqual(fanouts(then), [], 'nothing a client sees has changed');
  commit(rig.apply(assigned('ev-2', 'rider-b', 20), t0 + 3));
  assert.equal(rig.existing.meta!.riderId, 'rider-a', 'rider-b was assigned before rider-a\'s latest assignment');
});
