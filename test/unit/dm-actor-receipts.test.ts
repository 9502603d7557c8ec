/**
 * DM actor, receipts (PROTOCOL.md: `recv` = delivered watermark, `read` = read watermark;
 * server frames `delivered {conv, user, seq}` and `read {conv, user, seq, at}` go to the *other*
 * participant). Watermarks only grow, never pass the last assigned seq, and read implies delivered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WatermarkRow } from '../../actors/types.ts';
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
  mallory,
  openedDm,
  replyFrame,
  sendCommitted,
  t0,
  writesOf,
} from './dm-actor-helpers.ts';

/** An alice–bob DM holding `n` committed messages (seq 1..n). */
function dmWith(n: number): DmRig {
  const rig = openedDm();
  sendCommitted(rig, n, t0 + 1);
  return rig;
}

const later = t0 + 10_000;

test('recv moves the delivered watermark and writes it', () => {
  const rig = dmWith(3);
  const writes = writesOf(rig.recv(bob, 2, later));
  const row: WatermarkRow = { kind: 'watermark', conv: convId, user: 'bob', delivered: 2, read: 0, readAt: 0 };
  assert.deepEqual(writes, [row]);
  assert.deepEqual(rig.existing.watermarks.get('bob'), { delivered: 2, read: 0 });
});

test('recv fans out `delivered` to the other participant only, after the commit', () => {
  const rig = dmWith(3);
  const effects = rig.recv(bob, 2, later);
  assert.deepEqual(beforeCommit(effects), []);
  const then = commit(effects);
  assert.deepEqual(then, [{ type: 'fanout', users: ['alice'], frame: { t: 'delivered', conv: convId, user: 'bob', seq: 2 } }]);
});

test('read moves both read and delivered and records readAt = now', () => {
  const rig = dmWith(3);
  const writes = writesOf(rig.read(bob, 3, later));
  assert.deepEqual(writes, [{ kind: 'watermark', conv: convId, user: 'bob', delivered: 3, read: 3, readAt: later }]);
  assert.deepEqual(rig.existing.watermarks.get('bob'), { delivered: 3, read: 3, readAt: later });
});

test('read replies ok and fans out `read` with at = now to the other participant, after the commit', () => {
  const rig = dmWith(3);
  commit(rig.recv(bob, 3, later - 1));
  const effects = rig.read(bob, 3, later);
  assert.deepEqual(beforeCommit(effects), [], 'neither the ok nor the receipt precedes the commit');
  const then = commit(effects);
  assert.deepEqual(replyFrame(then), { t: 'ok' });
  assert.deepEqual(fanouts(then), [{ users: ['alice'], frame: { t: 'read', conv: convId, user: 'bob', seq: 3, at: later } }]);
});

test('a read past the delivered watermark also fans out `delivered`', () => {
  const rig = dmWith(3);
  const then = commit(rig.read(bob, 2, later));
  assert.deepEqual(
    fanouts(then).map((f) => f.frame),
    [
      { t: 'delivered', conv: convId, user: 'bob', seq: 2 },
      { t: 'read', conv: convId, user: 'bob', seq: 2, at: later },
    ],
  );
});

test('a recv at or below the delivered watermark has no effects and leaves it unchanged', () => {
  const rig = dmWith(3);
  commit(rig.recv(bob, 3, later));
  assert.deepEqual(rig.recv(bob, 2, later + 1), []);
  assert.deepEqual(rig.recv(bob, 3, later + 2), []);
  assert.deepEqual(rig.existing.watermarks.get('bob'), { delivered: 3, read: 0 });
});

test('a read at or below the read watermark writes nothing but still replies ok', () => {
  const rig = dmWith(3);
  commit(rig.read(bob, 3, later));
  assert.deepEqual(rig.read(bob, 1, later + 1), [{ type: 'reply', frame: { t: 'ok' } }]);
  assert.deepEqual(rig.existing.watermarks.get('bob'), { delivered: 3, read: 3, readAt: later }, 'readAt is not refreshed either');
});

test('watermarks are clamped to the last assigned seq', () => {
  const rig = dmWith(3);
  const then = commit(rig.read(bob, 1_000, later));
  assert.deepEqual(rig.existing.watermarks.get('bob'), { delivered: 3, read: 3, readAt: later });
  assert.deepEqual(
    fanouts(then).map((f) => f.frame),
    [
      { t: 'delivered', conv: convId, user: 'bob', seq: 3 },
      { t: 'read', conv: convId, user: 'bob', seq: 3, at: later },
    ],
  );
});

test('a read in an empty conversation replies ok and moves nothing', () => {
  const rig = openedDm();
  assert.deepEqual(rig.read(bob, 5, later), [{ type: 'reply', frame: { t: 'ok' } }]);
});

test('each watermark row carries the latest delivered, read and readAt together', () => {
  const rig = dmWith(5);
  commit(rig.recv(bob, 4, later));
  assert.deepEqual(writesOf(rig.read(bob, 2, later + 1)), [
    { kind: 'watermark', conv: convId, user: 'bob', delivered: 4, read: 2, readAt: later + 1 },
  ]);
  assert.deepEqual(writesOf(rig.recv(bob, 5, later + 2)), [
    { kind: 'watermark', conv: convId, user: 'bob', delivered: 5, read: 2, readAt: later + 1 },
  ]);
});

test('each participant has a watermark of their own', () => {
  const rig = dmWith(3);
  commit(rig.read(bob, 3, later));
  commit(rig.recv(alice, 1, later + 1));
  assert.deepEqual(rig.existing.watermarks.get('bob'), { delivered: 3, read: 3, readAt: later });
  assert.deepEqual(rig.existing.watermarks.get('alice'), { delivered: 1, read: 0 });
});

test('read by an admin observer is refused with 403 and moves nothing', () => {
  const rig = dmWith(3);
  assertErr(rig.read(admin, 3, later), 403);
  assert.equal(rig.existing.watermarks.has(admin.userId), false);
});

test('read by a stranger is refused with 403', () => {
  const rig = dmWith(3);
  assertErr(rig.read(mallory, 3, later), 403);
});

test('recv by an observer or a stranger is silently ignored', () => {
  const rig = dmWith(3);
  assert.deepEqual(rig.recv(admin, 3, later), []);
  assert.deepEqual(rig.recv(mallory, 3, later), []);
  assert.equal(rig.existing.watermarks.size, 0);
});

test('read of a conversation that does not exist answers 404', () => {
  assertErr(new DmRig().read(bob, 1, later), 404);
});

test('recv of a conversation that does not exist is silently ignored', () => {
  const rig = new DmRig();
  assert.deepEqual(rig.recv(bob, 1, later), []);
  assert.equal(rig.state, null);
});
