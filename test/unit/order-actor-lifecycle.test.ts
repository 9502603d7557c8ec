/**
 * Order room lifecycle (seed 002): `order.accepted` creates the room for customer + vendor,
 * `order.rider_assigned` adds (or replaces) the rider, `order.delivered` / `order.cancelled` make
 * it read-only for good. Every change is persisted with the event id and announced with a `state`
 * frame only after the commit (PROTOCOL.md: `state` — "the conversation changed").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConversationRow } from '../../actors/types.ts';
import {
  OrderRig,
  acceptedRoom,
  admin,
  assertAcked,
  assertErr,
  assertEventOnly,
  beforeCommit,
  commit,
  conversationWrites,
  fanouts,
  customer,
  orderId,
  persistOf,
  replyFrame,
  rider,
  rider2,
  riddenRoom,
  stateFanout,
  t0,
  vendor,
  writesOf,
} from './order-actor-helpers.ts';

// ---------------------------------------------------------------- accepted

test('accepted creates an open, writable order room whose id is the order id', () => {
  const rig = new OrderRig();
  rig.accepted('ev-1', t0);
  const room = rig.existing;
  assert.equal(room.id, orderId);
  assert.equal(room.kind, 'order');
  assert.equal(room.state, 'open');
  assert.equal(room.readOnly, false);
  assert.equal(room.lastSeq, 0);
  assert.equal(room.createdAt, t0);
});

test('accepted makes the customer and the vendor the participants, in that order', () => {
  const rig = new OrderRig();
  rig.accepted('ev-1', t0);
  assert.deepEqual(rig.existing.participants, [customer.userId, vendor.userId]);
});

test('accepted persists a conversation row (convKind order, meta customerId/vendorId) and the event row', () => {
  const rig = new OrderRig();
  const writes = writesOf(rig.accepted('ev-1', t0 + 5));
  const row: ConversationRow = {
    kind: 'conversation',
    conv: orderId,
    convKind: 'order',
    state: 'open',
    participants: [customer.userId, vendor.userId],
    createdAt: t0 + 5,
    meta: { customerId: customer.userId, vendorId: vendor.userId },
  };
  assert.deepEqual(writes, [row, { kind: 'event', id: 'ev-1', conv: orderId, ts: t0 + 5 }]);
});

test('accepted shows nothing to anyone before its writes commit', () => {
  const rig = new OrderRig();
  assert.deepEqual(beforeCommit(rig.accepted('ev-1', t0)), []);
});

test('accepted, once committed, replies ok and fans a state frame out to the participants', () => {
  const rig = new OrderRig();
  const then = commit(rig.accepted('ev-1', t0));
  assert.deepEqual(replyFrame(then), { t: 'ok' });
  assert.deepEqual(stateFanout(then), {
    users: [customer.userId, vendor.userId].sort(),
    frame: { t: 'state', conv: orderId, state: 'open', readOnly: false, participants: [customer.userId, vendor.userId] },
  });
});

test('the customer and the vendor can send in a freshly accepted room', () => {
  const rig = acceptedRoom();
  assertAcked(rig.send(customer, 'c1', t0 + 1), 1);
  assertAcked(rig.send(vendor, 'v1', t0 + 2), 2);
});

// ---------------------------------------------------------------- rider_assigned

test('rider_assigned adds the rider after the customer and the vendor', () => {
  const rig = acceptedRoom();
  rig.riderAssigned('ev-r', rider.userId, t0 + 1);
  assert.deepEqual(rig.existing.participants, [customer.userId, vendor.userId, rider.userId]);
  assert.equal(rig.existing.state, 'open');
  assert.equal(rig.existing.readOnly, false);
});

test('rider_assigned persists the conversation row with riderId in meta, plus the event row', () => {
  const rig = acceptedRoom();
  const writes = writesOf(rig.riderAssigned('ev-r', rider.userId, t0 + 1));
  const row: ConversationRow = {
    kind: 'conversation',
    conv: orderId,
    convKind: 'order',
    state: 'open',
    participants: [customer.userId, vendor.userId, rider.userId],
    createdAt: t0,
    meta: { customerId: customer.userId, vendorId: vendor.userId, riderId: rider.userId, riderAssignedAt: new Date(t0).toISOString() },
  };
  assert.deepEqual(writes, [row, { kind: 'event', id: 'ev-r', conv: orderId, ts: t0 + 1 }]);
});

test('rider_assigned, once committed, replies ok and tells all three participants', () => {
  const rig = acceptedRoom();
  const effects = rig.riderAssigned('ev-r', rider.userId, t0 + 1);
  assert.deepEqual(beforeCommit(effects), []);
  const then = commit(effects);
  assert.deepEqual(replyFrame(then), { t: 'ok' });
  assert.deepEqual(stateFanout(then), {
    users: [customer.userId, vendor.userId, rider.userId].sort(),
    frame: { t: 'state', conv: orderId, state: 'open', readOnly: false, participants: [customer.userId, vendor.userId, rider.userId] },
  });
});

test('the assigned rider can send', () => {
  assertAcked(riddenRoom().send(rider, 'r1', t0 + 10), 1);
});

test('a second rider assignment replaces the first rider', () => {
  const rig = riddenRoom();
  rig.riderAssigned('ev-rider-2', rider2.userId, t0 + 2);
  assert.deepEqual(rig.existing.participants, [customer.userId, vendor.userId, rider2.userId]);
  assert.equal(rig.existing.meta?.riderId, rider2.userId);
});

test('the state fan-out of a replacement also reaches the replaced rider', () => {
  const rig = riddenRoom();
  const then = commit(rig.riderAssigned('ev-rider-2', rider2.userId, t0 + 2));
  const f = stateFanout(then);
  assert.deepEqual(f.users, [customer.userId, vendor.userId, rider.userId, rider2.userId].sort());
  assert.deepEqual(f.frame.participants, [customer.userId, vendor.userId, rider2.userId], 'the frame itself lists the new rider only');
});

test('the replaced rider gets 403 on send', () => {
  const rig = riddenRoom();
  commit(rig.riderAssigned('ev-rider-2', rider2.userId, t0 + 2));
  assertErr(rig.send(rider, 'r-late', t0 + 3), 403);
});

test('the replaced rider can no longer join the room', () => {
  const rig = riddenRoom();
  commit(rig.riderAssigned('ev-rider-2', rider2.userId, t0 + 2));
  assertErr(rig.join(rider, t0 + 3), 403);
});

test('the new rider can send after a replacement', () => {
  const rig = riddenRoom();
  commit(rig.riderAssigned('ev-rider-2', rider2.userId, t0 + 2));
  assertAcked(rig.send(rider2, 'r2-1', t0 + 3), 1);
});

test('re-assigning the current rider under a new event id records only the event', () => {
  const rig = riddenRoom();
  const effects = rig.riderAssigned('ev-rider-again', rider.userId, t0 + 2);
  assertEventOnly(effects, 'ev-rider-again', t0 + 2);
  assert.deepEqual(rig.existing.participants, [customer.userId, vendor.userId, rider.userId]);
});

// ---------------------------------------------------------------- delivered / cancelled

for (const [closing, state] of [
  ['delivered', 'delivered'],
  ['cancelled', 'cancelled'],
] as const) {
  const close = (rig: OrderRig, id: string, now: number) => (closing === 'delivered' ? rig.delivered(id, now) : rig.cancelled(id, now));

  test(`${closing} makes the room read-only in state '${state}', keeping its participants`, () => {
    const rig = riddenRoom();
    close(rig, 'ev-close', t0 + 5);
    assert.equal(rig.existing.state, state);
    assert.equal(rig.existing.readOnly, true);
    assert.deepEqual(rig.existing.participants, [customer.userId, vendor.userId, rider.userId]);
  });

  test(`${closing} persists the closed conversation row and the event row`, () => {
    const rig = riddenRoom();
    const effects = close(rig, 'ev-close', t0 + 5);
    const [row] = conversationWrites(effects);
    assert.equal(row.state, state);
    assert.deepEqual(row.participants, [customer.userId, vendor.userId, rider.userId]);
    assert.deepEqual(writesOf(effects).at(-1), { kind: 'event', id: 'ev-close', conv: orderId, ts: t0 + 5 });
  });

  test(`${closing}, once committed, replies ok and fans out a state frame with readOnly true`, () => {
    const rig = riddenRoom();
    const effects = close(rig, 'ev-close', t0 + 5);
    assert.deepEqual(beforeCommit(effects), []);
    const then = commit(effects);
    assert.deepEqual(replyFrame(then), { t: 'ok' });
    assert.deepEqual(stateFanout(then), {
      users: [customer.userId, vendor.userId, rider.userId].sort(),
      frame: { t: 'state', conv: orderId, state, readOnly: true, participants: [customer.userId, vendor.userId, rider.userId] },
    });
  });

  test(`a send after ${closing} is refused with 409 carrying the state '${state}'`, () => {
    const rig = riddenRoom();
    commit(close(rig, 'ev-close', t0 + 5));
    for (const who of [customer, vendor, rider]) {
      const e = assertErr(rig.send(who, `late-${who.userId}`, t0 + 6), 409);
      assert.equal(e.state, state);
    }
    assert.equal(rig.existing.lastSeq, 0, 'no seq is consumed');
  });

  test(`participants may still join the room after ${closing}`, () => {
    const rig = riddenRoom();
    commit(rig.send(customer, 'c1', t0 + 2));
    commit(close(rig, 'ev-close', t0 + 5));
    const [effect] = rig.join(vendor, t0 + 6, 0);
    assert.equal(effect.type, 'replyWithMessages');
    if (effect.type === 'replyWithMessages') {
      assert.equal(effect.conv.readOnly, true);
      assert.equal(effect.conv.state, state);
      assert.equal(effect.conv.lastSeq, 1);
      assert.equal(effect.since, 0);
    }
  });

  test(`participants may still read history after ${closing}`, () => {
    const rig = riddenRoom();
    commit(close(rig, 'ev-close', t0 + 5));
    assert.deepEqual(rig.history(rider, t0 + 6, { limit: 10 }), [{ type: 'replyHistory', before: undefined, limit: 10 }]);
  });

  test(`an admin may still observe the room after ${closing}`, () => {
    const rig = riddenRoom();
    commit(close(rig, 'ev-close', t0 + 5));
    assert.equal(rig.join(admin, t0 + 6)[0]?.type, 'replyWithMessages');
  });

  test(`a later accepted after ${closing} records only the event and does not reopen the room`, () => {
    const rig = riddenRoom();
    commit(close(rig, 'ev-close', t0 + 5));
    assertEventOnly(rig.accepted('ev-accepted-late', t0 + 6), 'ev-accepted-late', t0 + 6);
    assert.equal(rig.existing.state, state);
    assert.equal(rig.existing.readOnly, true);
  });

  test(`a later rider_assigned after ${closing} records only the event and changes no participant`, () => {
    const rig = riddenRoom();
    commit(close(rig, 'ev-close', t0 + 5));
    assertEventOnly(rig.riderAssigned('ev-rider-late', rider2.userId, t0 + 6), 'ev-rider-late', t0 + 6);
    assert.deepEqual(rig.existing.participants, [customer.userId, vendor.userId, rider.userId]);
    assertErr(rig.send(rider2, 'r2', t0 + 7), 403);
  });

  test(`typing in a room closed by ${closing} is ignored`, () => {
    const rig = riddenRoom();
    commit(close(rig, 'ev-close', t0 + 5));
    assert.deepEqual(rig.typing(customer, t0 + 6), []);
  });
}

test('cancelled after delivered keeps the room delivered and records only the event', () => {
  const rig = riddenRoom();
  commit(rig.delivered('ev-delivered', t0 + 5));
  assertEventOnly(rig.cancelled('ev-cancelled', t0 + 6), 'ev-cancelled', t0 + 6);
  assert.equal(rig.existing.state, 'delivered');
});

test('a resend of a message acked before the room closed still gets its original ack', () => {
  const rig = riddenRoom();
  commit(rig.send(customer, 'c1', t0 + 2, { msgId: 'm-orig' }));
  commit(rig.delivered('ev-delivered', t0 + 5));
  const barrier = persistOf(rig.send(customer, 'c1', t0 + 6, { msgId: 'm-new' }));
  assert.deepEqual(barrier.writes, []);
  assert.deepEqual(barrier.then, [{ type: 'reply', frame: { t: 'ack', conv: orderId, seq: 1, id: 'm-orig', ts: t0 + 2 } }]);
});

// ---------------------------------------------------------------- a party who is also the rider

// Seed 002, step 9: "Idempotent consumer logic adds rider to participants array only if not
// already present." A vendor delivering their own order is assigned as its rider.
test(
  'a rider who is already a participant (vendor self-delivering) is not listed twice',
  () => {
    const rig = acceptedRoom();
    rig.riderAssigned('ev-r', vendor.userId, t0 + 1);
    assert.deepEqual(rig.existing.participants, [customer.userId, vendor.userId]);
  },
);

test(
  'a msg in a room where the vendor is also the rider is fanned out to the vendor once',
  () => {
    const rig = acceptedRoom();
    commit(rig.riderAssigned('ev-r', vendor.userId, t0 + 1));
    const [f] = fanouts(commit(rig.send(customer, 'c1', t0 + 2)));
    assert.deepEqual(f?.users, [customer.userId, vendor.userId]);
  },
);
