/**
 * Order events arrive at least once and possibly out of order (seed 002 notes: "All event consumer
 * logic ... must be designed to be idempotent"). A repeated event id changes nothing; a new id for a
 * change already made records the event only; events before `accepted` build a room that
 * `accepted` opens — unless it was already closed, which is final.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  OrderRig,
  acceptedRoom,
  assertAcked,
  assertErr,
  assertEventOnly,
  beforeCommit,
  commit,
  conversationWrites,
  customer,
  orderId,
  persistOf,
  replyFrame,
  rider,
  riddenRoom,
  stateFanout,
  t0,
  vendor,
} from './order-actor-helpers.ts';

// ---------------------------------------------------------------- duplicate event ids

test('a redelivered accepted (same event id) writes nothing and replies ok after a barrier', () => {
  const rig = acceptedRoom();
  const barrier = persistOf(rig.accepted('ev-accepted', t0 + 1));
  assert.deepEqual(barrier.writes, [], 'a barrier, not even the event row');
  assert.deepEqual(barrier.then, [{ type: 'reply', frame: { t: 'ok' } }]);
});

test('a redelivered accepted leaves the room as it was', () => {
  const rig = acceptedRoom();
  rig.accepted('ev-accepted', t0 + 1, { customerId: 'someone-else', vendorId: 'other-vendor' });
  assert.deepEqual(rig.existing.participants, [customer.userId, vendor.userId]);
  assert.equal(rig.existing.createdAt, t0);
});

test('a redelivered rider_assigned writes nothing and does not fan out again', () => {
  const rig = riddenRoom();
  const barrier = persistOf(rig.riderAssigned('ev-rider-1', rider.userId, t0 + 2));
  assert.deepEqual(barrier.writes, []);
  assert.deepEqual(barrier.then, [{ type: 'reply', frame: { t: 'ok' } }]);
});

test('a redelivered rider_assigned does not undo a later replacement', () => {
  const rig = riddenRoom();
  commit(rig.riderAssigned('ev-rider-2', 'rider-2', t0 + 2));
  const barrier = persistOf(rig.riderAssigned('ev-rider-1', rider.userId, t0 + 3));
  assert.deepEqual(barrier.writes, []);
  assert.deepEqual(rig.existing.participants, [customer.userId, vendor.userId, 'rider-2']);
});

test('a redelivered delivered writes nothing and replies ok', () => {
  const rig = riddenRoom();
  commit(rig.delivered('ev-delivered', t0 + 5));
  const barrier = persistOf(rig.delivered('ev-delivered', t0 + 6));
  assert.deepEqual(barrier.writes, []);
  assert.deepEqual(barrier.then, [{ type: 'reply', frame: { t: 'ok' } }]);
});

test('a redelivered event shows nothing before the barrier', () => {
  const rig = acceptedRoom();
  assert.deepEqual(beforeCommit(rig.accepted('ev-accepted', t0 + 1)), []);
});

// ---------------------------------------------------------------- same natural key, new id

test('a second accepted with a new id for an open room records only the event', () => {
  const rig = acceptedRoom();
  assertEventOnly(rig.accepted('ev-accepted-2', t0 + 1), 'ev-accepted-2', t0 + 1);
});

test('a second accepted with a new id leaves participants, state and meta unchanged', () => {
  const rig = riddenRoom();
  const meta = { ...rig.existing.meta };
  rig.accepted('ev-accepted-2', t0 + 2, { customerId: 'cust-other', vendorId: 'vend-other' });
  assert.equal(rig.existing.state, 'open');
  assert.deepEqual(rig.existing.participants, [customer.userId, vendor.userId, rider.userId]);
  assert.deepEqual(rig.existing.meta, meta);
});

test('an event id recorded as event-only is itself deduplicated on redelivery', () => {
  const rig = acceptedRoom();
  commit(rig.accepted('ev-accepted-2', t0 + 1));
  assert.deepEqual(persistOf(rig.accepted('ev-accepted-2', t0 + 2)).writes, []);
});

// ---------------------------------------------------------------- out of order

test('rider_assigned before accepted creates a pending, read-only room with only the rider', () => {
  const rig = new OrderRig();
  rig.riderAssigned('ev-r', rider.userId, t0);
  const room = rig.existing;
  assert.equal(room.kind, 'order');
  assert.equal(room.state, 'pending');
  assert.equal(room.readOnly, true);
  assert.deepEqual(room.participants, [rider.userId]);
});

test('rider_assigned before accepted persists the pending room and the event, then tells the rider', () => {
  const rig = new OrderRig();
  const effects = rig.riderAssigned('ev-r', rider.userId, t0);
  const [row] = conversationWrites(effects);
  assert.deepEqual(row, {
    kind: 'conversation', conv: orderId, convKind: 'order', state: 'pending', participants: [rider.userId], createdAt: t0, meta: { riderId: rider.userId, riderAssignedAt: new Date(t0).toISOString() },
  });
  const then = commit(effects);
  assert.deepEqual(replyFrame(then), { t: 'ok' });
  assert.deepEqual(stateFanout(then), {
    users: [rider.userId],
    frame: { t: 'state', conv: orderId, state: 'pending', readOnly: true, participants: [rider.userId] },
  });
});

test('the rider of a pending room cannot send yet (409 with state pending)', () => {
  const rig = new OrderRig();
  commit(rig.riderAssigned('ev-r', rider.userId, t0));
  const e = assertErr(rig.send(rider, 'r1', t0 + 1), 409);
  assert.equal(e.state, 'pending');
});

test('accepted after rider_assigned opens the room with customer, vendor and rider', () => {
  const rig = new OrderRig();
  commit(rig.riderAssigned('ev-r', rider.userId, t0));
  const effects = rig.accepted('ev-a', t0 + 1);
  assert.equal(rig.existing.state, 'open');
  assert.equal(rig.existing.readOnly, false);
  assert.deepEqual(rig.existing.participants, [customer.userId, vendor.userId, rider.userId]);
  const [row] = conversationWrites(effects);
  assert.deepEqual(row.meta, { riderId: rider.userId, riderAssignedAt: new Date(t0).toISOString(), customerId: customer.userId, vendorId: vendor.userId });
  assert.deepEqual(stateFanout(commit(effects)), {
    users: [customer.userId, vendor.userId, rider.userId].sort(),
    frame: { t: 'state', conv: orderId, state: 'open', readOnly: false, participants: [customer.userId, vendor.userId, rider.userId] },
  });
});

test('after accepted opens a pending room, all three participants can send', () => {
  const rig = new OrderRig();
  commit(rig.riderAssigned('ev-r', rider.userId, t0));
  commit(rig.accepted('ev-a', t0 + 1));
  assertAcked(rig.send(rider, 'r1', t0 + 2), 1);
  assertAcked(rig.send(customer, 'c1', t0 + 3), 2);
  assertAcked(rig.send(vendor, 'v1', t0 + 4), 3);
});

test('cancelled before accepted creates the room cancelled, read-only, with no participants', () => {
  const rig = new OrderRig();
  const effects = rig.cancelled('ev-c', t0);
  assert.equal(rig.existing.state, 'cancelled');
  assert.equal(rig.existing.readOnly, true);
  assert.deepEqual(rig.existing.participants, []);
  const [row] = conversationWrites(effects);
  assert.equal(row.state, 'cancelled');
  assert.deepEqual(row.participants, []);
  assert.deepEqual(replyFrame(commit(effects)), { t: 'ok' });
});

test('a late accepted for a room cancelled first records only the event and leaves it cancelled', () => {
  const rig = new OrderRig();
  commit(rig.cancelled('ev-c', t0));
  assertEventOnly(rig.accepted('ev-a', t0 + 1), 'ev-a', t0 + 1);
  assert.equal(rig.existing.state, 'cancelled');
  assert.equal(rig.existing.readOnly, true);
  assert.deepEqual(rig.existing.participants, []);
});

test('the customer of a room cancelled before acceptance cannot join or send', () => {
  const rig = new OrderRig();
  commit(rig.cancelled('ev-c', t0));
  commit(rig.accepted('ev-a', t0 + 1));
  assertErr(rig.join(customer, t0 + 2), 403);
  assertErr(rig.send(customer, 'c1', t0 + 3), 403);
});

test('delivered before accepted creates the room closed, so a late accepted cannot open it', () => {
  const rig = new OrderRig();
  commit(rig.delivered('ev-d', t0));
  assertEventOnly(rig.accepted('ev-a', t0 + 1), 'ev-a', t0 + 1);
  assert.equal(rig.existing.state, 'delivered');
  assert.equal(rig.existing.readOnly, true);
});

test('rider_assigned then cancelled, both before accepted, keeps the rider recorded in a closed room', () => {
  const rig = new OrderRig();
  commit(rig.riderAssigned('ev-r', rider.userId, t0));
  commit(rig.cancelled('ev-c', t0 + 1));
  commit(rig.accepted('ev-a', t0 + 2));
  assert.equal(rig.existing.state, 'cancelled');
  assert.deepEqual(rig.existing.participants, [rider.userId]);
});

test('of two rider assignments the one that occurred later wins, whatever order they arrive in', () => {
  const rig = new OrderRig();
  commit(rig.accepted('ev-a', t0));
  const later = { id: 'ev-new', type: 'order.rider_assigned' as const, occurredAt: new Date(t0 + 60_000).toISOString(), data: { orderId, riderId: 'rider-new' } };
  const earlier = { id: 'ev-old', type: 'order.rider_assigned' as const, occurredAt: new Date(t0).toISOString(), data: { orderId, riderId: 'rider-old' } };
  commit(rig.run({ t: 'orderEvent', event: later }, t0 + 2));
  commit(rig.run({ t: 'orderEvent', event: earlier }, t0 + 3));
  assert.ok(rig.state!.participants.includes('rider-new'));
  assert.ok(!rig.state!.participants.includes('rider-old'));
});
