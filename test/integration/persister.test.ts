/** The write-behind persister against a real database: group commit, atomicity, failure. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MessageRow, Write } from '../../actors/types.ts';
import { claimShard, FencedError } from '../../src/cluster/fencing.ts';
import { pgCommit } from '../../src/persist/batch-sql.ts';
import { PersistLane, PersistFailedError, PersisterOverloadedError, type LaneOptions } from '../../src/persist/lane.ts';
import { Persister } from '../../src/persist/persister.ts';
import { RowRefusedError } from '../../src/persist/row-errors.ts';
import { Store } from '../../src/persist/store.ts';
import { testDatabase, type TestDatabase } from '../helpers/database.ts';

let db: TestDatabase;
before(async () => (db = await testDatabase()));
after(() => db.close());

let n = 0;
function conv(): string {
  return `it-conv-${process.pid}-${++n}`;
}
const created = (id: string, participants = ['u1', 'u2']): Write => ({ kind: 'conversation', conv: id, convKind: 'dm', state: 'open', participants, createdAt: 1000 });
/** One lane committing to `pool` (the Persister's lanes, without its bookkeeping). */
const pgLane = (pool: typeof db.pool, opts: LaneOptions): PersistLane => new PersistLane(pgCommit(pool), opts);
const message = (id: string, seq: number, from = 'u1', ts = 1000 + seq): MessageRow => ({ kind: 'message', conv: id, seq, id: `${id}-${seq}`, from, body: `b${seq}`, cmid: `c${seq}`, ts });

describe('persister', () => {
  test('a conversation and its first messages in one batch are all stored, with last_seq and activity', async () => {
    const p = pgLane(db.pool, { flushMs: 1, batchMax: 100, queueMax: 1000 });
    const id = conv();
    await Promise.all([p.enqueue([created(id)]), p.enqueue([message(id, 1)]), p.enqueue([message(id, 2)])]);
    const c = await db.pool.query('SELECT last_seq, last_activity_ms FROM conversations WHERE id = $1', [id]);
    assert.deepEqual(c.rows[0], { last_seq: 2, last_activity_ms: 1002 });
    const m = await db.pool.query('SELECT user_id FROM members WHERE conv_id = $1 ORDER BY user_id', [id]);
    assert.deepEqual(m.rows, [{ user_id: 'u1' }, { user_id: 'u2' }]);
  });

  test('rows enqueued while a batch is in flight are group-committed together in the next batch', async () => {
    const p = pgLane(db.pool, { flushMs: 0, batchMax: 1000, queueMax: 10000 });
    const batches: number[] = [];
    p.onBatch = (s) => batches.push(s.rows);
    const id = conv();
    await p.enqueue([created(id)]);
    batches.length = 0;
    await Promise.all(Array.from({ length: 300 }, (_, i) => p.enqueue([message(id, i + 1)])));
    assert.equal(batches.reduce((a, b) => a + b, 0), 300);
    assert.ok(batches.length < 30, `300 rows went out in ${batches.length} batches`);
    const store = new Store(db.pool);
    const state = await store.loadConversation(id, 1000);
    assert.equal(state?.lastSeq, 300);
  });

  test('edits and deletes update the stored row: body, editedAt, tombstone; in the insert\'s own batch too', async () => {
    const p = pgLane(db.pool, { flushMs: 1, batchMax: 100, queueMax: 1000 });
    const id = conv();
    await p.enqueue([created(id), message(id, 1), message(id, 2)]);
    await Promise.all([
      p.enqueue([{ kind: 'messageEdit', conv: id, seq: 1, body: 'edited', editedAt: 5000 }]),
      p.enqueue([{ kind: 'messageDelete', conv: id, seq: 2, by: 'u1', ts: 5001 }]),
    ]);
    // One batch holding a message, its edit and then its delete (one statement cannot update its own insert).
    await p.enqueue([message(id, 3), { kind: 'messageEdit', conv: id, seq: 3, body: 'x', editedAt: 6000 }, { kind: 'messageDelete', conv: id, seq: 3, by: 'admin', ts: 6001 }]);
    const store = new Store(db.pool);
    const page = await store.history(id, undefined, 10);
    assert.deepEqual(page.msgs.map((m) => [m.seq, m.body, m.editedAt, m.deleted]), [[3, '', undefined, true], [2, '', undefined, true], [1, 'edited', 5000, undefined]]);
    assert.deepEqual(await store.message(id, 1), { from: 'u1', ts: 1001, body: 'edited', editedAt: 5000, deleted: false });
    const row = await db.pool.query('SELECT deleted_by, deleted_ms FROM messages WHERE conv_id = $1 AND seq = 3', [id]);
    assert.deepEqual(row.rows[0], { deleted_by: 'admin', deleted_ms: 6001 });
    assert.equal(await store.message(id, 9), null);
  });

  test('batches never exceed PERSIST_BATCH_MAX rows', async () => {
    const p = pgLane(db.pool, { flushMs: 5, batchMax: 7, queueMax: 1000 });
    const sizes: number[] = [];
    p.onBatch = (s) => sizes.push(s.rows);
    const id = conv();
    await p.enqueue([created(id)]);
    await Promise.all(Array.from({ length: 50 }, (_, i) => p.enqueue([message(id, i + 1)])));
    assert.ok(sizes.every((s) => s <= 7), JSON.stringify(sizes));
  });

  test('watermarks are coalesced per (conversation, user): the latest value wins and never moves back', async () => {
    const p = pgLane(db.pool, { flushMs: 5, batchMax: 100, queueMax: 1000 });
    const id = conv();
    await p.enqueue([created(id), message(id, 1), message(id, 2), message(id, 3)]);
    await Promise.all([
      p.enqueue([{ kind: 'watermark', conv: id, user: 'u2', delivered: 1, read: 0, readAt: 0 }]),
      p.enqueue([{ kind: 'watermark', conv: id, user: 'u2', delivered: 3, read: 2, readAt: 5000 }]),
    ]);
    await p.enqueue([{ kind: 'watermark', conv: id, user: 'u2', delivered: 1, read: 1, readAt: 6000 }]);
    const r = await db.pool.query('SELECT delivered_seq, read_seq, read_at_ms FROM members WHERE conv_id = $1 AND user_id = $2', [id, 'u2']);
    assert.deepEqual(r.rows[0], { delivered_seq: 3, read_seq: 2, read_at_ms: 5000 });
  });

  test('a refused row fails only its own call and its conversation\'s calls behind it; the rest of the batch commits', async () => {
    const p = new Persister(db.pool, { flushMs: 5, batchMax: 100, queueMax: 1000, lanes: 1 });
    const id = conv();
    const other = conv();
    await p.enqueue(id, [created(id), message(id, 1)]);
    await p.enqueue(other, [created(other)]);
    const epoch = p.failureEpoch;
    // seq 1 again breaks the primary key: the statement fails, and the lane isolates the row.
    const results = await Promise.allSettled([
      p.enqueue(id, [message(id, 2)]), p.enqueue(other, [message(other, 1)]), p.enqueue(id, [message(id, 1)]),
      p.enqueue(other, [message(other, 2)]), p.enqueue(id, [message(id, 3)]),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'rejected']);
    const refused = (results[2] as PromiseRejectedResult).reason;
    assert.ok(refused instanceof RowRefusedError && refused.staleState, String(refused));
    assert.ok((results[4] as PromiseRejectedResult).reason instanceof PersistFailedError, 'seq 3 builds on the refused row');
    assert.equal(p.failureEpoch, epoch, 'no thread-wide reload for one refused row');
    assert.equal(p.mustReload(id), true);
    assert.equal(p.mustReload(other), false);
    const r = await db.pool.query('SELECT conv_id, seq FROM messages WHERE conv_id = ANY($1) ORDER BY conv_id = $2, seq', [[id, other], id]);
    assert.deepEqual(r.rows.map((x) => `${x.conv_id === id ? 'id' : 'other'}:${x.seq}`), ['other:1', 'other:2', 'id:1', 'id:2']);
    p.reloaded(id);
    assert.equal(p.mustReload(id), false);
    await p.enqueue(id, [message(id, 3)]); // and it keeps working afterwards
  });

  test('a value only the database refuses (NUL in text) is refused alone: every bystander in its batch is stored', async () => {
    const p = new Persister(db.pool, { flushMs: 5, batchMax: 1000, queueMax: 10000, lanes: 1 });
    const ids = Array.from({ length: 40 }, () => conv());
    await Promise.all(ids.map((id) => p.enqueue(id, [created(id)])));
    const poisoned = ids[17];
    const results = await Promise.allSettled(ids.map((id) =>
      p.enqueue(id, [{ ...message(id, 1), body: id === poisoned ? 'bad\u0000body' : 'fine' }])));
    const refused = results.flatMap((r, i) => (r.status === 'rejected' ? [[ids[i], r.reason]] : []));
    assert.equal(refused.length, 1, `refused: ${refused.map(([i]) => i)}`);
    assert.equal(refused[0][0], poisoned);
    assert.ok(refused[0][1] instanceof RowRefusedError && !refused[0][1].staleState, String(refused[0][1]));
    assert.match(refused[0][1].sqlState, /^22/);
    const r = await db.pool.query('SELECT count(*)::int AS n FROM messages WHERE conv_id = ANY($1)', [ids]);
    assert.equal(r.rows[0].n, 39);
  });

  test('a send whose (conversation, sender, cmid) is stored is refused as a duplicate send, however many came between', async () => {
    const p = pgLane(db.pool, { flushMs: 1, batchMax: 100, queueMax: 1000 });
    const id = conv();
    await p.enqueue([created(id), message(id, 1)]);
    await p.enqueue(Array.from({ length: 50 }, (_, i) => message(id, i + 2)));
    const late = { ...message(id, 52), cmid: 'c1' };
    const e = await p.enqueue([late]).then(() => undefined, (x: unknown) => x);
    assert.ok(e instanceof RowRefusedError && e.duplicateSend, String(e));
    const r = await db.pool.query(`SELECT count(*)::int AS n FROM messages WHERE conv_id = $1 AND cmid = 'c1'`, [id]);
    assert.equal(r.rows[0].n, 1);
    assert.deepEqual(await new Store(db.pool).sendByCmid(id, 'u1', 'c1'), { seq: 1, id: `${id}-1`, ts: 1001 });
  });

  test('when the database fails while a refused row is being isolated, what committed is resolved and the rest fails whole', async () => {
    let queries = 0;
    // The fifth statement (the second half, [c, d], after [a, b] was split) meets a dropped connection.
    const flaky = {
      query: (...args: Parameters<typeof db.pool.query>) => (++queries === 5
        ? Promise.reject(Object.assign(new Error('connection terminated'), { code: '08006' }))
        : (db.pool.query as (...a: unknown[]) => Promise<unknown>)(...args)),
    } as unknown as typeof db.pool;
    const p = new Persister(flaky, { flushMs: 5, batchMax: 100, queueMax: 1000, lanes: 1 });
    const [a, b, c, d] = [conv(), conv(), conv(), conv()];
    const epoch = p.failureEpoch;
    const results = await Promise.allSettled([
      p.enqueue(a, [created(a)]), p.enqueue(b, [created(b), { ...message(b, 1), body: '\u0000' }]), p.enqueue(c, [created(c)]), p.enqueue(d, [created(d)]),
    ]);
    // [a, b] then [c, d]: the first half fails on b's row, so it is split again ([a] commits,
    // [b] is refused); then [c, d] meets the dropped connection.
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'rejected', 'rejected']);
    assert.equal(p.failureEpoch, epoch + 1, 'a database failure still reloads every actor');
    const r = await db.pool.query('SELECT id FROM conversations WHERE id = ANY($1)', [[a, b, c, d]]);
    assert.deepEqual(r.rows.map((x) => x.id), [a]);
  });

  test('lanes commit in parallel while each conversation keeps its order, and a refused row fails only its own conversation', async () => {
    const p = new Persister(db.pool, { flushMs: 1, batchMax: 100, queueMax: 10000, lanes: 3 });
    const ids = Array.from({ length: 12 }, () => conv());
    await Promise.all(ids.map((id) => p.enqueue(id, [created(id)])));
    const writes = ids.flatMap((id) => Array.from({ length: 20 }, (_, i) => p.enqueue(id, [message(id, i + 1)])));
    await Promise.all(writes);
    for (const id of ids) {
      const r = await db.pool.query('SELECT max(seq)::int AS max, count(*)::int AS n FROM messages WHERE conv_id = $1', [id]);
      assert.deepEqual(r.rows[0], { max: 20, n: 20 });
    }
    // A duplicate seq in one conversation fails that conversation's call only.
    const results = await Promise.allSettled(ids.map((id, i) => p.enqueue(id, [message(id, i === 0 ? 1 : 21)])));
    assert.deepEqual(results.map((r) => r.status), ids.map((_, i) => (i === 0 ? 'rejected' : 'fulfilled')));
  });

  test('a cold first batch does not seed the drain estimate: a few queued rows do not look like seconds of work', async () => {
    let queries = 0;
    let release: (() => void) | undefined;
    const slowFirst = {
      query: async (...args: unknown[]) => {
        queries++;
        if (queries === 1) await new Promise((r) => setTimeout(r, 200)); // connect + prepare on a cold node
        if (queries === 2) await new Promise<void>((r) => (release = r)); // hold the second batch in flight
        return (db.pool.query as (...a: unknown[]) => Promise<unknown>)(...args);
      },
    } as unknown as typeof db.pool;
    const p = pgLane(slowFirst, { flushMs: 1, batchMax: 1000, queueMax: 10000 });
    const id = conv();
    await p.enqueue([created(id), message(id, 1)]);
    const inflight = p.enqueue([message(id, 2)]);
    while (!release) await new Promise((r) => setImmediate(r));
    const queued = Array.from({ length: 10 }, (_, i) => p.enqueue([message(id, i + 3)]));
    assert.ok(p.delayMs < 100, `12 rows estimated at ${p.delayMs.toFixed(0)} ms after one cold batch`);
    release();
    await Promise.all([inflight, ...queued]);
  });

  test('a full queue rejects at once with PersisterOverloadedError instead of growing', async () => {
    const p = pgLane(db.pool, { flushMs: 50, batchMax: 2, queueMax: 3 });
    const id = conv();
    const first = p.enqueue([created(id), message(id, 1), message(id, 2)]);
    await assert.rejects(p.enqueue([message(id, 3)]), PersisterOverloadedError);
    await first;
  });

  test('flushAll resolves once everything enqueued has settled', async () => {
    const p = pgLane(db.pool, { flushMs: 20, batchMax: 100, queueMax: 1000 });
    const id = conv();
    let done = false;
    void p.enqueue([created(id), message(id, 1)]).then(() => (done = true));
    await p.flushAll();
    assert.equal(done, true);
  });

  test('fencing: a writer whose epoch was superseded cannot commit, the current owner can, and claims only move forward', async () => {
    const p = new Persister(db.pool, { flushMs: 1, batchMax: 100, queueMax: 1000, lanes: 2 });
    const shard = 100_000 + (process.pid % 1000);
    const id = conv();
    assert.equal(await claimShard(db.pool, shard, 10, 'node-a', 1), true);
    await p.enqueue(id, [created(id), message(id, 1)], { shard, epoch: 10 });
    assert.equal(await claimShard(db.pool, shard, 20, 'node-b', 2), true, 'a newer epoch takes over');
    assert.equal(await claimShard(db.pool, shard, 15, 'node-c', 3), false, 'an older epoch cannot claim back');
    await assert.rejects(p.enqueue(id, [message(id, 2)], { shard, epoch: 10 }), (e: unknown) => e instanceof FencedError && e.shard === shard);
    const other = conv();
    // In one batch, the stale writer's rows are dropped while unfenced and current rows commit.
    const results = await Promise.allSettled([
      p.enqueue(id, [message(id, 2)], { shard, epoch: 10 }),
      p.enqueue(other, [created(other), message(other, 1)]),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'fulfilled']);
    let r = await db.pool.query('SELECT seq FROM messages WHERE conv_id = $1 ORDER BY seq', [id]);
    assert.deepEqual(r.rows.map((x) => x.seq), [1], 'nothing from the stale epoch was stored');
    await p.enqueue(id, [message(id, 2)], { shard, epoch: 20 });
    r = await db.pool.query('SELECT seq FROM messages WHERE conv_id = $1 ORDER BY seq', [id]);
    assert.deepEqual(r.rows.map((x) => x.seq), [1, 2]);
  });
});
