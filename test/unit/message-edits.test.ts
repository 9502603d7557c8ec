/**
 * Edit and delete (issue 15) as the actor decides them: who may, when, what becomes durable
 * before anyone is told, and that a repeat changes nothing. The host's read of the addressed
 * message rides in the command as `target` (src/shard/resolvers.ts).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import type { MessageTarget } from '../../actors/types.ts';
import type { ClientFrame } from '../../protocol/frames.ts';
import { admin, alice, assertErr, bob, commit, convId, fanouts, limits, mallory, openedDm, replyFrame, sendCommitted, t0, writesOf, type DmRig } from './dm-actor-helpers.ts';
import type { Actor } from '../../actors/types.ts';

/** alice sent seq 1 at t0 + 0 (sendCommitted alternates alice, bob). */
function aliceSaid(over: Partial<Extract<MessageTarget, { kind: 'found' }>> = {}): MessageTarget {
  return { kind: 'found', from: 'alice', ts: t0, body: 'body of seed-0', deleted: false, ...over };
}

function rig(): DmRig {
  const r = openedDm(t0);
  sendCommitted(r, 2, t0);
  return r;
}

function edit(r: DmRig, actor: Actor, target: MessageTarget | undefined, now: number, body = 'fixed typo', seq = 1) {
  const frame: ClientFrame = { t: 'edit', rid: 7, conv: convId, seq, body };
  return r.run({ t: 'frame', actor, frame, target }, now);
}

function del(r: DmRig, actor: Actor, target: MessageTarget | undefined, now: number, seq = 1) {
  return r.run({ t: 'frame', actor, frame: { t: 'del', rid: 8, conv: convId, seq }, target }, now);
}

test('the sender edits within the window: the edit is durable before ok and the edited fan-out to both users', () => {
  const r = rig();
  const effects = edit(r, alice, aliceSaid(), t0 + 1000);
  const writes = writesOf(effects);
  assert.deepEqual(writes[0], { kind: 'messageEdit', conv: convId, seq: 1, body: 'fixed typo', editedAt: t0 + 1000 });
  assert.equal(writes[1].kind, 'domainEvent');
  const then = commit(effects);
  assert.deepEqual(replyFrame(then), { t: 'ok' });
  assert.deepEqual(fanouts(then), [{ users: ['alice', 'bob'], frame: { t: 'edited', conv: convId, seq: 1, body: 'fixed typo', editedAt: t0 + 1000 } }]);
  const fan = then.find((e) => e.type === 'fanout');
  assert.equal(fan?.type === 'fanout' && fan.toOrigin, true, "the editing socket sees the edit too (its reply is a bare ok)");
});

test('the same edit again changes nothing and is answered ok', () => {
  const r = rig();
  assert.deepEqual(edit(r, alice, aliceSaid({ body: 'fixed typo', editedAt: t0 + 1000 }), t0 + 2000), [{ type: 'reply', frame: { t: 'ok' } }]);
});

test('only the sender may edit; observers and strangers are refused', () => {
  assertErr(edit(rig(), bob, aliceSaid(), t0 + 1), 403, 'only its sender may edit a message');
  assertErr(edit(rig(), admin, aliceSaid(), t0 + 1), 403, 'observers cannot edit');
  assertErr(edit(rig(), mallory, aliceSaid(), t0 + 1), 403, 'not a participant');
});

test('an edit after EDIT_WINDOW_MS is refused with 403, at the window it is accepted', () => {
  assertErr(edit(rig(), alice, aliceSaid(), t0 + limits.editWindowMs + 1), 403);
  assert.equal(writesOf(edit(rig(), alice, aliceSaid(), t0 + limits.editWindowMs))[0].kind, 'messageEdit');
});

test('a deleted message cannot be edited (409); a seq never sent is 404; an unreadable store is 503 with retryMs', () => {
  assertErr(edit(rig(), alice, aliceSaid({ deleted: true, body: '' }), t0 + 1), 409, 'message was deleted');
  assertErr(edit(rig(), alice, { kind: 'missing' }, t0 + 1, 'x', 1), 404);
  assertErr(edit(rig(), alice, undefined, t0 + 1, 'x', 99), 404);
  const e = assertErr(edit(rig(), alice, { kind: 'unavailable' }, t0 + 1), 503);
  assert.ok(e.retryMs && e.retryMs > 0);
});

test('an edit in a read-only room is refused with 409 and its state', () => {
  const r = rig();
  r.existing.readOnly = true;
  r.existing.state = 'closed';
  assert.equal(assertErr(edit(r, alice, aliceSaid(), t0 + 1), 409).state, 'closed');
});

test('the sender deletes at any time: a tombstone write, then ok and deleted to everyone', () => {
  const r = rig();
  const later = t0 + 365 * 24 * 3600_000;
  const effects = del(r, alice, aliceSaid(), later);
  assert.deepEqual(writesOf(effects)[0], { kind: 'messageDelete', conv: convId, seq: 1, by: 'alice', ts: later });
  const then = commit(effects);
  assert.deepEqual(replyFrame(then), { t: 'ok' });
  assert.deepEqual(fanouts(then), [{ users: ['alice', 'bob'], frame: { t: 'deleted', conv: convId, seq: 1, by: 'alice' } }]);
  assert.equal(r.existing.lastSeq, 2, 'a delete assigns no seq and frees none');
});

test('an admin deletes anyone\'s message (moderation, recorded in the domain event); the other participant may not', () => {
  const effects = del(rig(), admin, aliceSaid(), t0 + 5);
  const ev = writesOf(effects).find((w) => w.kind === 'domainEvent');
  assert.ok(ev && ev.kind === 'domainEvent');
  assert.equal(ev.type, 'message.deleted');
  assert.deepEqual(ev.payload, { conv: convId, seq: 1, by: 'root', sender: 'alice', moderation: true });
  assertErr(del(rig(), bob, aliceSaid(), t0 + 5), 403);
  assertErr(del(rig(), mallory, aliceSaid(), t0 + 5), 403, 'not a participant');
});

test('deleting a tombstone again is ok and writes nothing', () => {
  assert.deepEqual(del(rig(), alice, aliceSaid({ deleted: true, body: '' }), t0 + 5), [{ type: 'reply', frame: { t: 'ok' } }]);
});
