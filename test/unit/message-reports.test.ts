/** Reports and blocks as the DM actor decides them (issue 15). */
import test from 'node:test';
import assert from 'node:assert/strict';
import type { MessageTarget } from '../../actors/types.ts';
import { reportId } from '../../actors/reports.ts';
import { admin, alice, assertErr, bob, commit, convId, mallory, openedDm, replyFrame, sendCommitted, t0, writesOf, type DmRig } from './dm-actor-helpers.ts';
import type { Actor } from '../../actors/types.ts';

const bobSaid: MessageTarget = { kind: 'found', from: 'bob', ts: t0 + 1, body: 'body of seed-1', deleted: false };

function rig(): DmRig {
  const r = openedDm(t0);
  sendCommitted(r, 2, t0);
  return r;
}

function report(r: DmRig, actor: Actor, target: MessageTarget | undefined, seq = 2) {
  return r.run({ t: 'frame', actor, frame: { t: 'report', rid: 9, conv: convId, seq, reason: 'spam' }, target }, t0 + 10);
}

test('a participant reports someone else\'s message: the report and its event are durable before ok', () => {
  const effects = report(rig(), alice, bobSaid);
  const [row, event] = writesOf(effects);
  const id = reportId(convId, 2, 'alice');
  assert.deepEqual(row, { kind: 'report', conv: convId, id, seq: 2, reporter: 'alice', sender: 'bob', reason: 'spam', ts: t0 + 10 });
  assert.equal(event.kind === 'domainEvent' && event.id, `report.created:${id}`);
  assert.deepEqual(replyFrame(commit(effects)), { t: 'ok' });
});

test('the same reporter and message make the same report id; another reporter another', () => {
  assert.equal(reportId(convId, 2, 'alice'), reportId(convId, 2, 'alice'));
  assert.notEqual(reportId(convId, 2, 'alice'), reportId(convId, 2, 'carol'));
  assert.notEqual(reportId(convId, 2, 'alice'), reportId(convId, 12, 'alice'));
});

test('no reporting one\'s own message (400), as a stranger or an observer (403), of a seq never sent (404)', () => {
  assertErr(report(rig(), bob, bobSaid), 400);
  assertErr(report(rig(), mallory, bobSaid), 403);
  assertErr(report(rig(), admin, bobSaid), 403);
  assertErr(report(rig(), alice, { kind: 'missing' }), 404);
  assertErr(report(rig(), alice, undefined, 7), 404);
});

test('a blocked pair: open and send are refused with 403 blocked, and nothing is written', () => {
  const r = rig();
  assertErr(r.send(alice, 'after-block', t0 + 20, { connection: 'blocked' }), 403, 'blocked');
  assertErr(r.open(bob, 'alice', t0 + 20, 'blocked'), 403, 'blocked');
  assert.equal(r.existing.lastSeq, 2);
});
