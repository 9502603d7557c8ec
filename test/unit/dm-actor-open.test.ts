/**
 * DM actor, `open` (PROTOCOL.md: "get or create the DM with a user; only between first-degree
 * connections"). The conversation id is derived from the pair, so `open` is get-or-create; the
 * host has already asked the connections authority and passes the answer as `cmd.connection`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dmConversationId, dmIdPrefix } from '../../actors/dm.ts';
import type { ConversationRow } from '../../actors/types.ts';
import { DmRig, alice, assertErr, beforeCommit, bob, commit, convId, openedDm, persistOf, replyFrame, t0, writesOf } from './dm-actor-helpers.ts';

test('open between connected users creates the conversation with sorted participants', () => {
  const rig = new DmRig();
  rig.open(bob, alice.userId, t0);
  const state = rig.existing;
  assert.equal(state.id, convId);
  assert.equal(state.kind, 'dm');
  assert.equal(state.state, 'open');
  assert.equal(state.readOnly, false);
  assert.deepEqual(state.participants, ['alice', 'bob']);
  assert.equal(state.lastSeq, 0);
  assert.equal(state.createdAt, t0);
});

test('open writes one conversation row describing the new DM', () => {
  const rig = new DmRig();
  const writes = writesOf(rig.open(bob, alice.userId, t0));
  const row: ConversationRow = { kind: 'conversation', conv: convId, convKind: 'dm', state: 'open', participants: ['alice', 'bob'], createdAt: t0 };
  assert.deepEqual(writes, [row]);
});

test('open replies `conv` only after the conversation row commits', () => {
  const rig = new DmRig();
  const effects = rig.open(alice, bob.userId, t0);
  assert.deepEqual(beforeCommit(effects), [], 'nothing reaches the client before the commit');
  assert.deepEqual(replyFrame(commit(effects)), {
    t: 'conv',
    conv: { id: convId, kind: 'dm', state: 'open', participants: ['alice', 'bob'], readOnly: false, lastSeq: 0, watermarks: {} },
  });
});

test('open when the users are not connected answers 403 and creates nothing', () => {
  const rig = new DmRig();
  assertErr(rig.open(alice, bob.userId, t0, 'not_connected'), 403);
  assert.equal(rig.state, null);
});

test('open when the connections authority is unavailable answers 503 with retryMs and creates nothing', () => {
  const rig = new DmRig();
  const e = assertErr(rig.open(alice, bob.userId, t0, 'unavailable'), 503);
  assert.ok(typeof e.retryMs === 'number' && e.retryMs > 0, 'a 503 tells the client when to retry');
  assert.equal(rig.state, null);
});

test('open with yourself answers 400 and creates nothing', () => {
  const rig = new DmRig(dmConversationId(alice.userId, alice.userId));
  assertErr(rig.open(alice, alice.userId, t0), 400);
  assert.equal(rig.state, null);
});

test('open of an existing conversation writes nothing and replies its current view after a barrier', () => {
  const rig = openedDm(t0);
  commit(rig.send(alice, 'c1', t0 + 1));
  const effects = rig.open(bob, alice.userId, t0 + 2);
  const barrier = persistOf(effects);
  assert.deepEqual(barrier.writes, [], 'a barrier, not a second conversation row');
  const frame = replyFrame(barrier.then);
  assert.equal(frame.t, 'conv');
  assert.equal(frame.t === 'conv' && frame.conv.lastSeq, 1);
});

test('open of an existing conversation keeps the state it had (no reset of seq or createdAt)', () => {
  const rig = openedDm(t0);
  commit(rig.send(alice, 'c1', t0 + 1));
  const before = rig.existing;
  rig.open(alice, bob.userId, t0 + 5);
  assert.equal(rig.state, before);
  assert.equal(rig.existing.lastSeq, 1);
  assert.equal(rig.existing.createdAt, t0);
});

test('open of an existing conversation is still refused when the users are no longer connected', () => {
  const rig = openedDm(t0);
  assertErr(rig.open(alice, bob.userId, t0 + 1, 'not_connected'), 403);
});

test('the conv reply is a snapshot: later decisions do not change a reply already produced', () => {
  const rig = new DmRig();
  const then = commit(rig.open(alice, bob.userId, t0));
  commit(rig.send(alice, 'c1', t0 + 1));
  const frame = replyFrame(then);
  assert.equal(frame.t === 'conv' && frame.conv.lastSeq, 0);
});

test('dmConversationId does not depend on the order of the pair', () => {
  assert.equal(dmConversationId('alice', 'bob'), dmConversationId('bob', 'alice'));
});

test('dmConversationId differs for different pairs', () => {
  const ids = new Set([
    dmConversationId('alice', 'bob'),
    dmConversationId('alice', 'carol'),
    dmConversationId('bob', 'carol'),
    dmConversationId('ali', 'cebob'),
    dmConversationId('alic', 'ebob'),
  ]);
  assert.equal(ids.size, 5);
});

test('dmConversationId carries the DM prefix', () => {
  assert.ok(dmConversationId('alice', 'bob').startsWith(dmIdPrefix));
});

test(
  'dmConversationId differs for pairs that splice into each other (ids containing separators)',
  () => {
    assert.notEqual(dmConversationId('a|b', 'c'), dmConversationId('a', 'b|c'));
    assert.notEqual(dmConversationId('a\0b', 'c'), dmConversationId('a', 'b\0c'));
  },
);
