/**
 * Notification jobs written by the batch statement, and the notification tables' steps, against
 * a real database (PGlite, or DATABASE_URL's Postgres): jobs per recipient in the message's own
 * statement (a new conversation's participants too), coalesced over batches, none for the sender
 * or a muted conversation; a notification formed once, claimed by one claimer at a time, retried,
 * dead-lettered and replayed under the same key.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MessageRow, Write } from '../../actors/types.ts';
import { pgCommit } from '../../src/persist/batch-sql.ts';
import { PersistLane } from '../../src/persist/lane.ts';
import { NotificationsTable } from '../../src/persist/notifications.ts';
import { testDatabase, type TestDatabase } from '../helpers/database.ts';

let db: TestDatabase;
before(async () => (db = await testDatabase()));
after(() => db.close());

let n = 0;
const conv = (): string => `nt-conv-${process.pid}-${++n}`;
const created = (id: string, participants: string[]): Write => ({ kind: 'conversation', conv: id, convKind: 'dm', state: 'open', participants, createdAt: 1000 });
const message = (id: string, seq: number, from: string, ts = 1000 + seq): MessageRow => ({ kind: 'message', conv: id, seq, id: `${id}-${seq}`, from, body: `b${seq}`, cmid: `c${seq}`, ts });

async function jobs(id: string): Promise<Record<string, unknown>[]> {
  const r = await db.pool.query('SELECT user_id, first_seq, last_seq, messages, first_ms, due_ms, stage FROM notify_jobs WHERE conv_id = $1 ORDER BY user_id', [id]);
  return r.rows.map((x) => ({ ...x, first_seq: Number(x.first_seq), last_seq: Number(x.last_seq), first_ms: Number(x.first_ms), due_ms: Number(x.due_ms) }));
}

test('jobs: one per recipient in the message\'s statement, coalesced over batches, none for the sender nor a muted conversation', async () => {
  const lane = new PersistLane(pgCommit(db.pool, { notifyAfterMs: 500 }), { flushMs: 1, batchMax: 100, queueMax: 1000 });
  const id = conv();
  // The conversation is new in this very batch: its participants come from the batch.
  await lane.enqueue([created(id, ['u1', 'u2', 'u3']), message(id, 1, 'u1'), message(id, 2, 'u1'), message(id, 3, 'u2')]);
  assert.deepEqual(await jobs(id), [
    { user_id: 'u1', first_seq: 3, last_seq: 3, messages: 1, first_ms: 1003, due_ms: 1503, stage: 0 },
    { user_id: 'u2', first_seq: 1, last_seq: 2, messages: 2, first_ms: 1001, due_ms: 1501, stage: 0 },
    { user_id: 'u3', first_seq: 1, last_seq: 3, messages: 3, first_ms: 1001, due_ms: 1501, stage: 0 },
  ]);
  const table = new NotificationsTable(db.pool);
  await table.mute('u3', id, 2000);
  assert.equal((await jobs(id)).some((j) => j.user_id === 'u3'), false, 'muting drops the pending job');
  await lane.enqueue([message(id, 4, 'u1')]);
  const after4 = await jobs(id);
  assert.deepEqual(after4.find((j) => j.user_id === 'u2'), { user_id: 'u2', first_seq: 1, last_seq: 4, messages: 3, first_ms: 1001, due_ms: 1501, stage: 0 });
  assert.equal(after4.some((j) => j.user_id === 'u3'), false, 'no job for a muted conversation');
  await table.unmute('u3', id);

  const off = new PersistLane(pgCommit(db.pool, {}), { flushMs: 1, batchMax: 100, queueMax: 1000 });
  const quiet = conv();
  await off.enqueue([created(quiet, ['u1', 'u2']), message(quiet, 1, 'u1')]);
  assert.deepEqual(await jobs(quiet), [], 'notifications off: no jobs');
});

test('a notification is formed once, leaves out what a device received, is claimed by one claimer, and keeps its key through dead letter and replay', async () => {
  const lane = new PersistLane(pgCommit(db.pool, { notifyAfterMs: 500 }), { flushMs: 1, batchMax: 100, queueMax: 1000 });
  const table = new NotificationsTable(db.pool);
  const [a, b] = [conv(), conv()];
  const user = `rcpt-${process.pid}-${n}`;
  await lane.enqueue([created(a, ['s', user]), created(b, ['s', user]), message(a, 1, 's'), message(a, 2, 's'), message(b, 1, 's')]);
  // The user's device received a's first message.
  await lane.enqueue([{ kind: 'watermark', conv: a, user, delivered: 1, read: 0, readAt: 0 }]);

  assert.deepEqual(await table.dueUsers(1000, 10).then((d) => d.filter((x) => x.user === user)), [], 'not due yet');
  assert.deepEqual((await table.dueUsers(1501, 1000)).filter((x) => x.user === user), [{ user, unchecked: true }]);
  await table.awaitDelivery(user, 1501, 3000);
  assert.equal(await table.form(user, false, 1501), undefined, 'waiting for the watermark until first message + delay');
  const key = await table.form(user, false, 4001);
  assert.match(key ?? '', /^ntf-[0-9a-f]{32}$/);
  assert.equal(await table.form(user, true, 4001), undefined, 'the jobs were taken once');

  const claimed = (await table.claim(4001, 10_000, 1000)).filter((d) => d.key === key);
  assert.equal(claimed.length, 1);
  assert.deepEqual(claimed[0].items.sort((x, y) => (x.conv < y.conv ? -1 : 1)), [
    { conv: a, messages: 1, firstSeq: 2, lastSeq: 2, firstAt: 1001 },
    { conv: b, messages: 1, firstSeq: 1, lastSeq: 1, firstAt: 1001 },
  ].sort((x, y) => (x.conv < y.conv ? -1 : 1)));
  assert.equal((await table.claim(5000, 10_000, 1000)).some((d) => d.key === key), false, 'leased: no second claimer');
  await table.failed(key!, 1, 6000, 'webhook answered 503');
  assert.equal((await table.claim(5999, 10_000, 1000)).some((d) => d.key === key), false);
  const again = (await table.claim(6000, 10_000, 1000)).find((d) => d.key === key);
  assert.equal(again?.attempts, 1);

  await table.deadLetter(key!, 3, 7000, 'webhook answered 503');
  const page = await table.deadLetters(undefined, 1000);
  const dead = page.deadLetters.find((d) => d.key === key);
  assert.deepEqual([dead?.attempts, dead?.lastError, dead?.failedAt], [3, 'webhook answered 503', 7000]);
  assert.deepEqual(await table.replay([key!], 1000, 8000), { replayed: 1, more: false });
  const replayed = (await table.claim(8000, 10_000, 1000)).find((d) => d.key === key);
  assert.equal(replayed?.attempts, 0, 'replayed with its attempts reset, under the same key');
  await table.delivered(key!);
  assert.equal((await table.claim(1e12, 10_000, 1000)).some((d) => d.key === key), false);
});
