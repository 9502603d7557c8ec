/** The REST API's token buckets (issue 17): per user and per address, retryMs, off at rate 0, bounded by an LRU. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatError } from '../../protocol/errors.ts';
import { HttpRateLimiter } from '../../src/http/rate-limit.ts';

const limits = { perUserPerS: 2, perUserBurst: 2, perIpPerS: 0, perIpBurst: 1, bucketsMax: 2 };

test('a burst, then 429 with the ms until the next token; refilled with time; rate 0 is off', () => {
  let now = 0;
  const l = new HttpRateLimiter(limits, () => now);
  l.takeUser('a');
  l.takeUser('a');
  assert.throws(() => l.takeUser('a'), (e: ChatError) => e.code === 429 && e.extra.retryMs === 500);
  l.takeUser('b');
  now += 500;
  l.takeUser('a');
  for (let i = 0; i < 100; i++) l.takeIp('10.0.0.1');
  assert.deepEqual(l.bucketCounts, { users: 2, ips: 0 });
});

test('past HTTP_RATE_BUCKETS_MAX the least recently used bucket is dropped: that client starts full again', () => {
  const l = new HttpRateLimiter(limits, () => 0);
  l.takeUser('a');
  l.takeUser('a');
  assert.throws(() => l.takeUser('a'));
  l.takeUser('b');
  l.takeUser('c'); // a is dropped
  assert.equal(l.bucketCounts.users, 2);
  l.takeUser('a');
});
