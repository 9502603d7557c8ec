/**
 * DM actor, `join` and `history` (PROTOCOL.md: participants see the room; admins observe any room
 * read-only; `history` pages older messages). The actor answers with the view and lets the host
 * read committed messages from the store (`replyWithMessages`, `replyHistory`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConvView } from '../../protocol/frames.ts';
import { DmRig, admin, alice, assertErr, bob, cmd, commit, convId, limits, mallory, openedDm, sendCommitted, t0 } from './dm-actor-helpers.ts';

const later = t0 + 10_000;

/** An alice–bob DM with 3 committed messages, bob having read up to 2 at `t0 + 500`. */
function busyDm(): DmRig {
  const rig = openedDm();
  sendCommitted(rig, 3, t0 + 1);
  commit(rig.read(bob, 2, t0 + 500));
  return rig;
}

const busyView: ConvView = {
  id: convId,
  kind: 'dm',
  state: 'open',
  participants: ['alice', 'bob'],
  readOnly: false,
  lastSeq: 3,
  watermarks: { bob: { delivered: 2, read: 2, readAt: t0 + 500 } },
};

test('join by a participant replies with the conversation view and the messages after `since`', () => {
  const rig = busyDm();
  assert.deepEqual(rig.join(alice, later, 1), [{ type: 'replyWithMessages', conv: busyView, since: 1 }]);
});

test('join without `since` asks for the latest page (since undefined)', () => {
  const rig = busyDm();
  assert.deepEqual(rig.join(bob, later), [{ type: 'replyWithMessages', conv: busyView, since: undefined }]);
});

test('join changes no state and writes nothing', () => {
  const rig = busyDm();
  const lastSeq = rig.existing.lastSeq;
  const effects = rig.join(alice, later, 0);
  assert.equal(effects.some((e) => e.type === 'persist'), false);
  assert.equal(rig.existing.lastSeq, lastSeq);
});

test('the joined view is a snapshot, not a live reference to the state', () => {
  const rig = busyDm();
  const [effect] = rig.join(alice, later);
  commit(rig.send(alice, 'c-later', later + 1));
  commit(rig.read(alice, 4, later + 2));
  assert.ok(effect.type === 'replyWithMessages');
  assert.deepEqual(effect.conv, busyView);
});

test('join by an admin who is not a participant is allowed, and the view says read-only (observer)', () => {
  const rig = busyDm();
  assert.deepEqual(rig.join(admin, later), [{ type: 'replyWithMessages', conv: { ...busyView, readOnly: true }, since: undefined }]);
});

test('join by a stranger is refused with 403', () => {
  assertErr(busyDm().join(mallory, later), 403);
});

test('join of a conversation that does not exist answers 404', () => {
  const rig = new DmRig();
  assertErr(rig.join(alice, later), 404);
  assert.equal(rig.state, null);
});

test('history without a limit uses limits.historyLimitDefault', () => {
  const rig = busyDm();
  assert.deepEqual(rig.history(alice, later), [{ type: 'replyHistory', before: undefined, limit: limits.historyLimitDefault }]);
});

test('history passes the client cursor and limit through', () => {
  const rig = busyDm();
  assert.deepEqual(rig.history(bob, later, { before: 3, limit: 2 }), [{ type: 'replyHistory', before: 3, limit: 2 }]);
});

test('history by an admin who is not a participant is allowed', () => {
  const rig = busyDm();
  assert.deepEqual(rig.history(admin, later, { limit: 10 }), [{ type: 'replyHistory', before: undefined, limit: 10 }]);
});

test('history by a stranger is refused with 403', () => {
  assertErr(busyDm().history(mallory, later), 403);
});

test('history of a conversation that does not exist answers 404', () => {
  assertErr(new DmRig().history(alice, later), 404);
});

test('frames that are not conversation commands (handled by the edge) are answered 400', () => {
  const rig = busyDm();
  assertErr(rig.run(cmd(alice, { t: 'leave', rid: 9, conv: convId }), later), 400);
  assertErr(rig.run(cmd(alice, { t: 'ping', rid: 9 }), later), 400);
  assertErr(rig.run(cmd(alice, { t: 'inbox', rid: 9 }), later), 400);
});
