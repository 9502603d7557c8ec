/** Retention's SQL against a real database (issue 16): only an expired prefix goes, in bounded statements. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MessageRow, Write } from '../../actors/types.ts';
import { pgCommit } from '../../src/persist/batch-sql.ts';
import { PersistLane } from '../../src/persist/lane.ts';
import { RetentionTable } from '../../src/persist/retention.ts';
import { Store } from '../../src/persist/store.ts';
import { testDatabase, type TestDatabase } from '../helpers/database.ts';

let db: TestDatabase;
before(async () => (db = await testDatabase()));
after(() => db.close());

let n = 0;
const conv = () => `ret-${process.pid}-${++n}`;
const created = (id: string): Write => ({ kind: 'conversation', conv: id, convKind: 'dm', state: 'open', participants: ['u1', 'u2'], createdAt: 1000 });
const message = (id: string, seq: number, ts: number): MessageRow => ({ kind: 'message', conv: id, seq, id: `${id}-${seq}`, from: 'u1', body: `b${seq}`, cmid: `c${seq}`, ts });

async function seed(id: string, stamps: number[]): Promise<void> {
  const lane = new PersistLane(pgCommit(db.pool), { flushMs: 1, batchMax: 1000, queueMax: 10_000 });
  await lane.enqueue([created(id), ...stamps.map((ts, i) => message(id, i + 1, ts))]);
}

test('only the expired prefix goes, even when a later message carries an older clock; history starts at retainedFrom', async () => {
  const id = conv();
  // seq 4 has an older timestamp than seq 3 (a clock step between nodes): it stays, as everything after the first kept message.
  await seed(id, [100, 200, 5_000, 300, 6_000]);
  const table = new RetentionTable(db.pool);
  const removed = await table.sweepKind('dm', 1_000, 20, 500);
  assert.ok(removed >= 2);
  const page = await new Store(db.pool).history(id, undefined, 10);
  assert.deepEqual(page.msgs.map((m) => m.seq), [5, 4, 3]);
  assert.equal(page.retainedFrom, 3);
  const after = await new Store(db.pool).messagesAfter(id, 0, 10);
  assert.deepEqual([after.retainedFrom, after.msgs.map((m) => m.seq)], [3, [3, 4, 5]]);
});

test('statements are bounded per conversation: a long expired history goes over several, leaving no hole', async () => {
  const id = conv();
  await seed(id, Array.from({ length: 25 }, (_, i) => 10 + i));
  const table = new RetentionTable(db.pool);
  await table.sweep('dm', 1_000, '', 1_000, 7);
  const partway = await new Store(db.pool).history(id, undefined, 100);
  assert.deepEqual([partway.retainedFrom, partway.msgs.at(-1)?.seq], [8, 8], 'one statement: 7 messages of this conversation');
  await table.sweepKind('dm', 1_000, 3, 7);
  const page = await new Store(db.pool).history(id, undefined, 10);
  assert.deepEqual([page.msgs.length, page.retainedFrom], [0, 26]);
  // Another kind's period does not touch DMs.
  const other = conv();
  await seed(other, [1, 2]);
  await table.sweepKind('order', 1_000, 20, 500);
  assert.equal((await new Store(db.pool).history(other, undefined, 10)).msgs.length, 2);
});
