/**
 * The group-commit lane against an in-memory commit port: order, database failure, a refused
 * row's isolation, fencing, and its bound (rows and barriers). No database, no sleeps: a batch is
 * held in flight with `MemoryCommit.hold()` while the test queues behind it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MessageRow, Write } from '../../actors/types.ts';
import { FencedError } from '../../src/cluster/fencing.ts';
import { DrainRate, warmupBatches } from '../../src/persist/drain-rate.ts';
import { PersistFailedError, PersisterOverloadedError, PersistLane, type LaneOptions } from '../../src/persist/lane.ts';
import { RowRefusedError } from '../../src/persist/row-errors.ts';
import { MemoryCommit } from '../helpers/memory-commit.ts';

const msg = (conv: string, seq: number, body = `b${seq}`): MessageRow =>
  ({ kind: 'message', conv, seq, id: `${conv}-${seq}`, from: 'u1', body, cmid: `c${seq}`, ts: 1000 + seq });

/** "conv:seq" of message writes, to compare what was committed. */
const names = (writes: readonly Write[]): string[] => writes.flatMap((w) => (w.kind === 'message' ? [`${w.conv}:${w.seq}`] : []));

const statuses = (results: PromiseSettledResult<void>[]): string[] => results.map((r) => r.status);
const reason = (r: PromiseSettledResult<void>): unknown => (r.status === 'rejected' ? r.reason : undefined);

function rig(opts: Partial<LaneOptions> = {}) {
  const db = new MemoryCommit();
  const seen = { failed: 0, refused: [] as string[] };
  const lane = new PersistLane(db, { flushMs: 0, batchMax: 100, queueMax: 1000, ...opts }, {
    failed: () => seen.failed++,
    refused: (conv) => seen.refused.push(conv),
  });
  return { db, lane, seen };
}

test('calls resolve in enqueue order, each only once its rows are committed, across several batches', async () => {
  const { db, lane } = rig({ batchMax: 3 });
  const order: number[] = [];
  await Promise.all(Array.from({ length: 10 }, (_, i) => lane.enqueue([msg('c', i + 1)]).then(() => {
    assert.ok(names(db.committed).includes(`c:${i + 1}`), `call ${i} resolved before its row was committed`);
    order.push(i);
  })));
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(names(db.committed), order.map((i) => `c:${i + 1}`));
  const sizes = db.calls.map((c) => c.reduce((n, e) => n + e.writes.length, 0));
  assert.ok(sizes.length >= 4 && sizes.every((s) => s <= 3), `batches of ${JSON.stringify(sizes)} rows`);
});

test('a database failure fails its batch and every call queued behind it, once, and the lane then goes on', async () => {
  const { db, lane, seen } = rig();
  const held = db.hold();
  db.failCall(1);
  const first = lane.enqueue([msg('a', 1), msg('b', 1)]);
  await held.reached;
  const behind = [lane.enqueue([msg('a', 2)]), lane.enqueue([msg('c', 1)]), lane.enqueue([])];
  held.release();
  const results = await Promise.allSettled([first, ...behind]);
  assert.deepEqual(statuses(results), ['rejected', 'rejected', 'rejected', 'rejected']);
  for (const r of results) assert.ok(reason(r) instanceof PersistFailedError, String(reason(r)));
  assert.equal(seen.failed, 1, 'the failure hook moves once per failed batch');
  assert.equal(db.calls.length, 1, 'nothing queued behind a failed batch is tried');
  assert.deepEqual(db.committed, []);
  assert.equal(lane.depth, 0);
  await lane.enqueue([msg('a', 1)]);
  assert.deepEqual(names(db.committed), ['a:1']);
});

test('when the database fails while a refused row is isolated, what committed resolves and the rest fails', async () => {
  const { db, lane, seen } = rig();
  db.refuse((w) => w.kind === 'message' && w.body === 'bad');
  // [a b c d] refused → [a b] refused → [a] commits → [b] refused alone → [c d] meets the failure.
  db.failCall(5);
  const results = await Promise.allSettled([
    lane.enqueue([msg('a', 1)]), lane.enqueue([msg('b', 1, 'bad')]), lane.enqueue([msg('c', 1)]), lane.enqueue([msg('d', 1)]),
  ]);
  assert.deepEqual(statuses(results), ['fulfilled', 'rejected', 'rejected', 'rejected']);
  assert.ok(reason(results[1]) instanceof RowRefusedError);
  assert.ok(reason(results[2]) instanceof PersistFailedError && reason(results[3]) instanceof PersistFailedError);
  assert.deepEqual(names(db.committed), ['a:1']);
  assert.equal(seen.failed, 1);
  assert.equal(db.calls.length, 5);
});

test('a refused row fails only its call and its conversation\'s later calls; other conversations commit', async () => {
  const { db, lane, seen } = rig();
  db.refuse((w) => w.kind === 'message' && w.body === 'bad', '22P05');
  const held = db.hold();
  const batch = [
    lane.enqueue([msg('x', 1)]), lane.enqueue([msg('y', 2, 'bad')]), lane.enqueue([msg('z', 1)]), lane.enqueue([msg('y', 3)]),
  ];
  await held.reached;
  const behind = [lane.enqueue([msg('y', 4)]), lane.enqueue([msg('z', 2)])];
  held.release();
  const results = await Promise.allSettled([...batch, ...behind]);
  assert.deepEqual(statuses(results), ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'rejected', 'fulfilled']);
  const refused = reason(results[1]);
  assert.ok(refused instanceof RowRefusedError && refused.sqlState === '22P05', String(refused));
  assert.ok(reason(results[3]) instanceof PersistFailedError, 'y:3 in the same batch builds on the refused row');
  assert.ok(reason(results[4]) instanceof PersistFailedError, 'y:4 queued behind builds on it too');
  assert.deepEqual(names(db.committed), ['x:1', 'z:1', 'z:2']);
  assert.deepEqual(seen.refused, ['y']);
  assert.equal(seen.failed, 0, 'no thread-wide reload for one refused row');
});

test('a call whose fence went stale is rejected with FencedError and writes nothing; its batch-mates commit', async () => {
  const { db, lane } = rig();
  db.claim(7, 2);
  const results = await Promise.allSettled([
    lane.enqueue([msg('a', 1)], { shard: 7, epoch: 1 }),
    lane.enqueue([msg('b', 1)], { shard: 7, epoch: 2 }),
    lane.enqueue([msg('c', 1)]),
  ]);
  assert.equal(db.calls.length, 1, 'one batch');
  assert.deepEqual(statuses(results), ['rejected', 'fulfilled', 'fulfilled']);
  const fenced = reason(results[0]);
  assert.ok(fenced instanceof FencedError && fenced.shard === 7, String(fenced));
  assert.deepEqual(names(db.committed), ['b:1', 'c:1']);
});

test('a full lane refuses a call at once with PersisterOverloadedError, and admits again once drained', async () => {
  const { db, lane } = rig({ batchMax: 2, queueMax: 4 });
  const held = db.hold();
  const inflight = lane.enqueue([msg('a', 1), msg('a', 2)]);
  await held.reached;
  const queued = lane.enqueue([msg('b', 1), msg('b', 2)]);
  assert.equal(lane.depth, 4);
  assert.equal(lane.fits(1), false);
  await assert.rejects(lane.enqueue([msg('c', 1)]), PersisterOverloadedError);
  assert.equal(db.calls.length, 1, 'refused while the batch was still in flight');
  held.release();
  await Promise.all([inflight, queued]);
  assert.equal(lane.depth, 0);
  assert.equal(lane.fits(4), true);
  await lane.enqueue([msg('c', 1)]);
  assert.deepEqual(names(db.committed), ['a:1', 'a:2', 'b:1', 'b:2', 'c:1']);
});

test('barriers count in the bound, resolve only after the rows before them, and never reach the database alone', async () => {
  const { db, lane } = rig({ queueMax: 3 });
  const held = db.hold();
  const row = lane.enqueue([msg('a', 1)]);
  await held.reached;
  const barriers = [lane.enqueue([]), lane.enqueue([])].map((p) => p.then(() => {
    assert.ok(names(db.committed).includes('a:1'), 'a barrier resolved before the row ahead of it committed');
  }));
  assert.equal(lane.depth, 3, 'one row and two barriers');
  assert.equal(lane.fits(0), false);
  await assert.rejects(lane.enqueue([]), PersisterOverloadedError);
  await assert.rejects(lane.enqueue([msg('b', 1)]), PersisterOverloadedError);
  held.release();
  await Promise.all([row, ...barriers]);
  assert.equal(db.calls.length, 1, 'the barriers-only batch made no call');
  assert.equal(lane.depth, 0);
});

test('flushAll resolves once everything enqueued has settled, failures included', async () => {
  const { db, lane } = rig();
  const held = db.hold();
  db.failCall(1);
  const settled: string[] = [];
  void lane.enqueue([msg('a', 1)]).catch(() => settled.push('a'));
  void lane.enqueue([msg('b', 1)]).catch(() => settled.push('b'));
  await held.reached;
  const flushed = lane.flushAll().then(() => settled.length);
  held.release();
  assert.equal(await flushed, 2);
});

test('the drain estimate waits for the warm-up batches and starts from their median, not a cold first batch', () => {
  const rate = new DrainRate();
  rate.sample(10, 200); // a cold first batch: connect + prepare, 0.05 rows/ms
  for (let i = 1; i < warmupBatches - 1; i++) rate.sample(10, 1);
  assert.equal(rate.drainMs(100), 0, 'no estimate during warm-up');
  rate.sample(0, 50); // a batch of barriers tells nothing about throughput
  assert.equal(rate.drainMs(100), 0);
  rate.sample(10, 1);
  assert.equal(rate.drainMs(100), 10, 'median of the warm-up samples: 10 rows/ms');
  rate.sample(20, 1); // then a moving average
  assert.ok(rate.drainMs(100) < 10 && rate.drainMs(100) > 5, String(rate.drainMs(100)));
});
