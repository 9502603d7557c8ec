/**
 * Notifications' pure logic (issue 16): what a batch hands the job statement (one row per
 * conversation and sender), how a notification coalesces its conversations, the durable retry
 * schedule and the claim's lease.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type MessageInsert, notifyRows } from '../../src/persist/batch-sql.ts';
import { notificationBody, summaryText } from '../../src/notify/body.ts';
import { leaseMs } from '../../src/notify/notifier.ts';
import { retryDelayMs } from '../../src/integrations/resilience.ts';

const msg = (conv: string, seq: number, sender: string, ts: number, deleted = false): MessageInsert => ({
  conv_id: conv, seq, id: `${conv}-${seq}`, sender, body: 'x', cmid: `c${seq}`, ts_ms: ts, edited_ms: null, deleted_ms: deleted ? ts : null, deleted_by: null, fs: null, att: null,
});

test('a batch becomes one job row per conversation and sender, with its seq range, count and first time', () => {
  const rows = notifyRows([msg('c1', 5, 'a', 100), msg('c1', 6, 'a', 105), msg('c1', 7, 'b', 106), msg('c2', 1, 'a', 110), msg('c1', 8, 'a', 120)], 2_000);
  assert.deepEqual(rows, [
    { conv_id: 'c1', sender: 'a', first_seq: 5, last_seq: 8, messages: 3, ts_ms: 100, due_ms: 2_100, fs: null },
    { conv_id: 'c1', sender: 'b', first_seq: 7, last_seq: 7, messages: 1, ts_ms: 106, due_ms: 2_106, fs: null },
    { conv_id: 'c2', sender: 'a', first_seq: 1, last_seq: 1, messages: 1, ts_ms: 110, due_ms: 2_110, fs: null },
  ]);
});

test('a message deleted in its own batch gets no job', () => {
  assert.deepEqual(notifyRows([msg('c1', 1, 'a', 100, true)], 1_000), []);
});

test('a burst over three conversations is one notification counting them all', () => {
  const items = [
    { conv: 'c1', messages: 20, firstSeq: 1, lastSeq: 20, firstAt: 100 },
    { conv: 'c2', messages: 20, firstSeq: 4, lastSeq: 23, firstAt: 300 },
    { conv: 'c3', messages: 10, firstSeq: 1, lastSeq: 10, firstAt: 200 },
  ];
  const b = notificationBody({ key: 'ntf-1', user: 'bob', items, attempts: 0, createdAt: 999 }, 20);
  assert.equal(b.conversations, 3);
  assert.equal(b.messages, 50);
  assert.equal(b.text, '3 conversations, 50 new messages');
  assert.deepEqual(b.items.map((i) => i.conv), ['c2', 'c3', 'c1'], 'most recent first');
  assert.equal(b.id, 'ntf-1');
  assert.equal(b.createdAt, 999);
});

test('the list is cut at its bound; the counts still cover every conversation', () => {
  const items = Array.from({ length: 30 }, (_, i) => ({ conv: `c${i}`, messages: 2, firstSeq: 1, lastSeq: 2, firstAt: i }));
  const b = notificationBody({ key: 'k', user: 'u', items, attempts: 0, createdAt: 0 }, 20);
  assert.equal(b.items.length, 20);
  assert.equal(b.conversations, 30);
  assert.equal(b.messages, 60);
  assert.equal(b.items[0].conv, 'c29');
});

test('summary text agrees in number', () => {
  assert.equal(summaryText({ conversations: 1, messages: 1 }), '1 conversation, 1 new message');
});

test('the durable retry pause doubles from the base, capped, half jittered: [d/2, d)', () => {
  for (let n = 1; n <= 12; n++) {
    const d = Math.min(300_000, 1_000 * 2 ** (n - 1));
    for (let k = 0; k < 50; k++) {
      const p = retryDelayMs(n, 1_000, 300_000);
      assert.ok(p >= d / 2 && p < d, `failure ${n}: ${p} in [${d / 2}, ${d})`);
    }
  }
});

test('the lease outlasts an attempt with every quick retry', () => {
  assert.ok(leaseMs({ timeoutMs: 5_000, retries: 2 }) > 3 * 5_000 + 2 * 1_000);
  assert.ok(leaseMs({ timeoutMs: 100, retries: 0 }) > 100);
});
