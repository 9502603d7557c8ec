/**
 * DM actor, `send` (PROTOCOL.md "Guarantees": gapless seq, ack and fan-out only after commit,
 * idempotent resends by (conv, from, cmid)). Only participants write; the pair must still be
 * first-degree connections, which the host resolves beforehand into `cmd.connection`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MessageRow } from '../../actors/types.ts';
import {
  DmRig,
  admin,
  alice,
  assertErr,
  beforeCommit,
  bob,
  commit,
  convId,
  fanouts,
  limits,
  mallory,
  openedDm,
  persistOf,
  replyFrame,
  t0,
  writesOf,
} from './dm-actor-helpers.ts';

function ackSeq(effects: ReturnType<DmRig['send']>): number {
  const frame = replyFrame(commit(effects));
  assert.equal(frame.t, 'ack');
  return frame.t === 'ack' ? frame.seq : -1;
}

test('sends get gapless seqs 1..n in arrival order, whoever sends them', () => {
  const rig = openedDm();
  const seqs = [alice, bob, bob, alice, bob].map((who, i) => ackSeq(rig.send(who, `c${i}`, t0 + i)));
  assert.deepEqual(seqs, [1, 2, 3, 4, 5]);
  assert.equal(rig.existing.lastSeq, 5);
});

test('seq is assigned at decision time, so sends still in the persister do not share a seq', () => {
  const rig = openedDm();
  const first = rig.send(alice, 'c1', t0 + 1);
  const second = rig.send(bob, 'c2', t0 + 2);
  assert.deepEqual([ackSeq(first), ackSeq(second)], [1, 2]);
});

test('send writes one message row with the assigned seq, the host-given id and ts = now', () => {
  const rig = openedDm();
  const writes = writesOf(rig.send(alice, 'c1', t0 + 7, { msgId: 'm-xyz', body: 'hi bob' }));
  const row: MessageRow = { kind: 'message', conv: convId, seq: 1, id: 'm-xyz', from: 'alice', body: 'hi bob', cmid: 'c1', ts: t0 + 7 };
  assert.deepEqual(writes, [row]);
});

test('send acks the sender and fans the message out to both participants only after the commit', () => {
  const rig = openedDm();
  const effects = rig.send(alice, 'c1', t0 + 7, { msgId: 'm-1', body: 'hi bob' });
  assert.deepEqual(beforeCommit(effects), [], 'no ack and no msg before the write is durable');
  const then = commit(effects);
  assert.deepEqual(replyFrame(then), { t: 'ack', conv: convId, seq: 1, id: 'm-1', ts: t0 + 7 });
  assert.deepEqual(fanouts(then), [
    { users: ['alice', 'bob'], frame: { t: 'msg', conv: convId, seq: 1, id: 'm-1', from: 'alice', body: 'hi bob', ts: t0 + 7, cmid: 'c1' } },
  ]);
});

test('a resend of the same (from, cmid) acks the original seq, id and ts after a barrier, with no write', () => {
  const rig = openedDm();
  commit(rig.send(alice, 'c1', t0 + 1, { msgId: 'm-original' }));
  const resend = rig.send(alice, 'c1', t0 + 99, { msgId: 'm-new' });
  const barrier = persistOf(resend);
  assert.deepEqual(barrier.writes, []);
  assert.deepEqual(barrier.then, [{ type: 'reply', frame: { t: 'ack', conv: convId, seq: 1, id: 'm-original', ts: t0 + 1 } }]);
});

test('a resend consumes no seq and is not fanned out again', () => {
  const rig = openedDm();
  commit(rig.send(alice, 'c1', t0 + 1));
  const then = commit(rig.send(alice, 'c1', t0 + 2));
  assert.deepEqual(fanouts(then), []);
  assert.equal(rig.existing.lastSeq, 1);
  assert.equal(ackSeq(rig.send(bob, 'c2', t0 + 3)), 2, 'the next new message follows without a gap');
});

test('a resend that arrives before the original commits still waits for a barrier before acking', () => {
  const rig = openedDm();
  rig.send(alice, 'c1', t0 + 1, { msgId: 'm-1' }); // still in the persister
  const resend = rig.send(alice, 'c1', t0 + 2);
  assert.deepEqual(beforeCommit(resend), []);
  assert.deepEqual(writesOf(resend), []);
});

test('the same cmid from the other participant is a different message', () => {
  const rig = openedDm();
  commit(rig.send(alice, 'same', t0 + 1));
  const effects = rig.send(bob, 'same', t0 + 2, { msgId: 'm-bob' });
  assert.equal(writesOf(effects).length, 1);
  assert.deepEqual(replyFrame(commit(effects)), { t: 'ack', conv: convId, seq: 2, id: 'm-bob', ts: t0 + 2 });
});

test('the dedupe window remembers only the last dedupeWindowMax sends', () => {
  const rig = openedDm(t0, { ...limits, dedupeWindowMax: 3 });
  for (const cmid of ['c1', 'c2', 'c3', 'c4']) commit(rig.send(alice, cmid, t0 + 1));
  assert.equal(rig.existing.recentSends.size, 3);
  assert.equal(ackSeq(rig.send(alice, 'c2', t0 + 2)), 2, 'c2 is still inside the window: the original ack');
  assert.equal(ackSeq(rig.send(alice, 'c1', t0 + 3)), 5, 'c1 was forgotten: it becomes a new message');
});

test('send by a stranger is refused with 403 and consumes no seq', () => {
  const rig = openedDm();
  assertErr(rig.send(mallory, 'c1', t0 + 1), 403);
  assert.equal(rig.existing.lastSeq, 0);
  assert.equal(rig.existing.recentSends.size, 0);
});

test('send by an admin observer is refused with 403 "observers cannot send"', () => {
  const rig = openedDm();
  assertErr(rig.send(admin, 'c1', t0 + 1), 403, 'observers cannot send');
  assert.equal(rig.existing.lastSeq, 0);
});

test('send when the participants are no longer connected is refused with 403 and consumes no seq', () => {
  const rig = openedDm();
  assertErr(rig.send(alice, 'c1', t0 + 1, { connection: 'not_connected' }), 403);
  assert.equal(rig.existing.lastSeq, 0);
  assert.equal(ackSeq(rig.send(alice, 'c1', t0 + 2)), 1, 'the refused cmid was not remembered');
});

test('send when the connections authority is unavailable fails closed with 503 + retryMs and consumes no seq', () => {
  const rig = openedDm();
  const e = assertErr(rig.send(alice, 'c1', t0 + 1, { connection: 'unavailable' }), 503);
  assert.ok(typeof e.retryMs === 'number' && e.retryMs > 0);
  assert.equal(rig.existing.lastSeq, 0);
  assert.equal(ackSeq(rig.send(alice, 'c1', t0 + 2)), 1, 'the retry is a first send, not a resend');
});

test('send to a conversation that does not exist answers 404 and creates nothing', () => {
  const rig = new DmRig();
  assertErr(rig.send(alice, 'c1', t0), 404);
  assert.equal(rig.state, null);
});

test(
  'a resend of a committed message is acked even when the connections authority is unavailable',
  () => {
    const rig = openedDm();
    commit(rig.send(alice, 'c1', t0 + 1, { msgId: 'm-1' }));
    const then = commit(rig.send(alice, 'c1', t0 + 2, { connection: 'unavailable' }));
    assert.deepEqual(replyFrame(then), { t: 'ack', conv: convId, seq: 1, id: 'm-1', ts: t0 + 1 });
  },
);
