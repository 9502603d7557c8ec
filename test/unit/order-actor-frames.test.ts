/**
 * Client frames on order rooms (seed 002 business rules: only parties to the order read and write;
 * administrators have read-only access; PROTOCOL.md errors 400/403/404/409), and the send
 * guarantees an order room shares with DMs (gapless seq, ack and fan-out only after commit).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { needsConnectionCheck } from '../../actors/index.ts';
import { decideDm, dmConversationId } from '../../actors/dm.ts';
import type { MessageRow } from '../../actors/types.ts';
import {
  OrderRig,
  acceptedRoom,
  admin,
  assertAcked,
  assertErr,
  beforeCommit,
  commit,
  customer,
  event,
  fanouts,
  frameCmd,
  limits,
  orderId,
  persistOf,
  replyFrame,
  rider,
  riddenRoom,
  stranger,
  t0,
  vendor,
  writesOf,
} from './order-actor-helpers.ts';

const everyone = [customer.userId, vendor.userId, rider.userId];

// ---------------------------------------------------------------- who may do what

test('a non-participant send is refused with 403 not a participant', () => {
  const rig = riddenRoom();
  assertErr(rig.send(stranger, 'x1', t0 + 5), 403, 'not a participant');
  assert.equal(rig.existing.lastSeq, 0);
});

test('a non-participant join is refused with 403', () => {
  assertErr(riddenRoom().join(stranger, t0 + 5), 403);
});

test('a non-participant history request is refused with 403', () => {
  assertErr(riddenRoom().history(stranger, t0 + 5), 403);
});

test('an admin who is not a participant may join as an observer', () => {
  const rig = riddenRoom();
  const effects = rig.join(admin, t0 + 5);
  assert.equal(effects.length, 1);
  const [effect] = effects;
  assert.equal(effect.type, 'replyWithMessages');
  if (effect.type === 'replyWithMessages') {
    assert.equal(effect.conv.id, orderId);
    assert.equal(effect.conv.kind, 'order');
    assert.deepEqual(effect.conv.participants, everyone);
  }
});

test('an admin observer may read history', () => {
  assert.deepEqual(riddenRoom().history(admin, t0 + 5), [{ type: 'replyHistory', before: undefined, limit: limits.historyLimitDefault }]);
});

test('an admin observer cannot send (403 observers cannot send)', () => {
  const rig = riddenRoom();
  assertErr(rig.send(admin, 'a1', t0 + 5), 403, 'observers cannot send');
  assert.equal(rig.existing.lastSeq, 0);
});

test('an `open` frame on an order room answers 400', () => {
  const rig = riddenRoom();
  assertErr(rig.run(frameCmd(customer, { t: 'open', rid: 1, with: vendor.userId }), t0 + 5), 400);
});

test('join of an order that has no room yet (null state) answers 404', () => {
  const rig = new OrderRig('order-unknown');
  assertErr(rig.join(customer, t0), 404);
  assert.equal(rig.state, null);
});

test('an order event for a conversation that is a DM answers 409 and leaves the DM alone', () => {
  const dmId = dmConversationId('alice', 'bob');
  const dm = decideDm(null, dmId, { t: 'frame', actor: { userId: 'alice', roles: ['user'] }, frame: { t: 'open', rid: 1, with: 'bob' }, connection: 'connected' }, t0, limits).state;
  assert.ok(dm);
  const rig = new OrderRig(dmId);
  rig.state = dm;
  assertErr(rig.apply(event('ev-d', 'order.delivered', {}, dmId), t0 + 1), 409);
  assert.equal(rig.existing.kind, 'dm');
  assert.equal(rig.existing.state, 'open');
  assert.equal(rig.existing.readOnly, false);
  assert.deepEqual(rig.existing.participants, ['alice', 'bob']);
});

test('sends in an order room need no connections-authority check', () => {
  const rig = riddenRoom();
  assert.equal(needsConnectionCheck(rig.existing, frameCmd(customer, { t: 'send', rid: 2, conv: orderId, cmid: 'c', body: 'b' }, 'm')), false);
});

// ---------------------------------------------------------------- seq / ack, as for DMs

test('sends in an open order room get gapless seqs 1..n in arrival order, whoever sends them', () => {
  const rig = riddenRoom();
  const seqs = [customer, vendor, rider, rider, customer].map((who, i) => assertAcked(rig.send(who, `c${i}`, t0 + 10 + i), i + 1).seq);
  assert.deepEqual(seqs, [1, 2, 3, 4, 5]);
  assert.equal(rig.existing.lastSeq, 5);
});

test('seq is assigned at decision time, so sends still in the persister do not share a seq', () => {
  const rig = riddenRoom();
  const first = rig.send(customer, 'c1', t0 + 10);
  const second = rig.send(vendor, 'v1', t0 + 11);
  assert.deepEqual([assertAcked(first, 1).seq, assertAcked(second, 2).seq], [1, 2]);
});

test('an order-room send writes one message row with the seq, host-given id and ts = now', () => {
  const rig = riddenRoom();
  const writes = writesOf(rig.send(rider, 'r1', t0 + 10, { msgId: 'm-xyz', body: 'at the door' }));
  const row: MessageRow = { kind: 'message', conv: orderId, seq: 1, id: 'm-xyz', from: rider.userId, body: 'at the door', cmid: 'r1', ts: t0 + 10 };
  assert.deepEqual(writes, [row]);
});

test('an order-room send acks the sender and fans the msg out to all participants only after the commit', () => {
  const rig = riddenRoom();
  const effects = rig.send(vendor, 'v1', t0 + 10, { msgId: 'm-1', body: 'ready' });
  assert.deepEqual(beforeCommit(effects), [], 'no ack and no msg before the write is durable');
  const then = commit(effects);
  assert.deepEqual(replyFrame(then), { t: 'ack', conv: orderId, seq: 1, id: 'm-1', ts: t0 + 10 });
  assert.deepEqual(fanouts(then), [
    { users: everyone, frame: { t: 'msg', conv: orderId, seq: 1, id: 'm-1', from: vendor.userId, body: 'ready', ts: t0 + 10, cmid: 'v1' } },
  ]);
});

test('an order-room resend of the same (from, cmid) acks the original after a barrier and consumes no seq', () => {
  const rig = acceptedRoom();
  commit(rig.send(customer, 'c1', t0 + 1, { msgId: 'm-original' }));
  const barrier = persistOf(rig.send(customer, 'c1', t0 + 9, { msgId: 'm-new' }));
  assert.deepEqual(barrier.writes, []);
  assert.deepEqual(barrier.then, [{ type: 'reply', frame: { t: 'ack', conv: orderId, seq: 1, id: 'm-original', ts: t0 + 1 } }]);
  assert.equal(rig.existing.lastSeq, 1);
});

test('the same cmid from different participants are different messages', () => {
  const rig = acceptedRoom();
  assertAcked(rig.send(customer, 'same', t0 + 1), 1);
  assertAcked(rig.send(vendor, 'same', t0 + 2), 2);
});

test('a rider added later receives the msg fan-out of subsequent sends', () => {
  const rig = acceptedRoom();
  const before = commit(rig.send(customer, 'c1', t0 + 1));
  assert.deepEqual(fanouts(before)[0]?.users, [customer.userId, vendor.userId]);
  commit(rig.riderAssigned('ev-r', rider.userId, t0 + 2));
  const after = commit(rig.send(customer, 'c2', t0 + 3));
  assert.deepEqual(fanouts(after)[0]?.users, everyone);
  assert.equal(assertAcked(rig.send(rider, 'r1', t0 + 4), 3).seq, 3, 'seq continues across the membership change');
});
