/**
 * DM actor, typing (PROTOCOL.md: server `typing {conv, user, until}`, `until` = epoch ms when it
 * lapses, `0` clears it on send or expiry). Typing is ephemeral: nothing is written. A repeat is
 * absorbed while more than half the TTL remains (limits.typingTtlMs = 1000 here).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DmRig, admin, alice, beforeCommit, bob, commit, convId, fanouts, limits, mallory, openedDm, t0 } from './dm-actor-helpers.ts';

const ttl = limits.typingTtlMs;
const start = t0 + 5_000;

function typingFrame(user: string, until: number) {
  return { t: 'typing' as const, conv: convId, user, until };
}

test('typing fans out an expiry of now + typingTtlMs to the other participant', () => {
  const rig = openedDm();
  const effects = rig.typing(bob, start);
  assert.deepEqual(fanouts(effects), [{ users: ['alice'], frame: typingFrame('bob', start + ttl) }]);
});

test('typing schedules a typingExpire for that user at `until`', () => {
  const rig = openedDm();
  const schedules = rig.typing(bob, start).filter((e) => e.type === 'schedule');
  assert.deepEqual(schedules, [{ type: 'schedule', at: start + ttl, command: { t: 'typingExpire', user: 'bob' } }]);
});

test('typing writes nothing', () => {
  const rig = openedDm();
  assert.deepEqual(
    rig.typing(bob, start).filter((e) => e.type === 'persist'),
    [],
  );
});

test('a repeat typing within the first half of the TTL has no effects', () => {
  const rig = openedDm();
  rig.typing(bob, start);
  assert.deepEqual(rig.typing(bob, start + 1), []);
  assert.deepEqual(rig.typing(bob, start + ttl / 2 - 1), []);
});

test('a repeat typing after half the TTL re-broadcasts with a new until and a new timer', () => {
  const rig = openedDm();
  rig.typing(bob, start);
  const now = start + ttl / 2 + 100;
  assert.deepEqual(rig.typing(bob, now), [
    { type: 'fanout', users: ['alice'], frame: typingFrame('bob', now + ttl) },
    { type: 'schedule', at: now + ttl, command: { t: 'typingExpire', user: 'bob' } },
  ]);
});

test('a stale typingExpire (before the current until) does nothing', () => {
  const rig = openedDm();
  rig.typing(bob, start);
  rig.typing(bob, start + 600); // until moves to start + 1600
  assert.deepEqual(rig.typingExpire('bob', start + ttl), [], 'the first timer fires but the user is still typing');
  assert.equal(rig.existing.typingUntil.get('bob'), start + 600 + ttl);
});

test('typingExpire at `until` clears the indicator with until: 0 for the other participant', () => {
  const rig = openedDm();
  rig.typing(bob, start);
  assert.deepEqual(rig.typingExpire('bob', start + ttl), [{ type: 'fanout', users: ['alice'], frame: typingFrame('bob', 0) }]);
  assert.equal(rig.existing.typingUntil.has('bob'), false);
});

test('typingExpire after `until` (a late timer) also clears the indicator', () => {
  const rig = openedDm();
  rig.typing(bob, start);
  assert.deepEqual(fanouts(rig.typingExpire('bob', start + ttl + 250)), [{ users: ['alice'], frame: typingFrame('bob', 0) }]);
});

test('typingExpire fires only once: a second timer for the same user does nothing', () => {
  const rig = openedDm();
  rig.typing(bob, start);
  rig.typingExpire('bob', start + ttl);
  assert.deepEqual(rig.typingExpire('bob', start + ttl + 1), []);
});

test('typing after an expiry broadcasts again at once', () => {
  const rig = openedDm();
  rig.typing(bob, start);
  rig.typingExpire('bob', start + ttl);
  const now = start + ttl + 1;
  assert.deepEqual(fanouts(rig.typing(bob, now)), [{ users: ['alice'], frame: typingFrame('bob', now + ttl) }]);
});

test("one participant's typing does not absorb the other's", () => {
  const rig = openedDm();
  rig.typing(bob, start);
  assert.deepEqual(fanouts(rig.typing(alice, start + 1)), [{ users: ['bob'], frame: typingFrame('alice', start + 1 + ttl) }]);
});

test('a send by the typing user fans out until: 0 in the send\'s `then`, never before the commit', () => {
  const rig = openedDm();
  rig.typing(bob, start);
  const effects = rig.send(bob, 'c1', start + 100);
  assert.deepEqual(beforeCommit(effects), []);
  const cleared = fanouts(commit(effects)).filter((f) => f.frame.t === 'typing');
  assert.deepEqual(cleared, [{ users: ['alice'], frame: typingFrame('bob', 0) }]);
  assert.equal(rig.existing.typingUntil.has('bob'), false);
});

test('the typing timer that fires after a send does nothing', () => {
  const rig = openedDm();
  rig.typing(bob, start);
  commit(rig.send(bob, 'c1', start + 100));
  assert.deepEqual(rig.typingExpire('bob', start + ttl), []);
});

test('a send by a user who is not typing fans out no typing frame', () => {
  const rig = openedDm();
  rig.typing(bob, start);
  const typingFrames = fanouts(commit(rig.send(alice, 'c1', start + 100))).filter((f) => f.frame.t === 'typing');
  assert.deepEqual(typingFrames, []);
  assert.equal(rig.existing.typingUntil.has('bob'), true, "bob's indicator is untouched");
});

test('typing by an observer or a stranger has no effects', () => {
  const rig = openedDm();
  assert.deepEqual(rig.typing(admin, start), []);
  assert.deepEqual(rig.typing(mallory, start), []);
  assert.equal(rig.existing.typingUntil.size, 0);
});

test('typing and typingExpire in a conversation that does not exist have no effects', () => {
  const rig = new DmRig();
  assert.deepEqual(rig.typing(bob, start), []);
  assert.deepEqual(rig.typingExpire('bob', start), []);
  assert.equal(rig.state, null);
});
