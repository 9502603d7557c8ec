/** The console's client-side metrics math (web/lib/prom.ts, web/lib/receipts.ts): no browser needed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bucketDelta, buckets, dependencyStates, parseProm, quantile, total } from '../../web/lib/prom.ts';
import { tickFor } from '../../web/lib/receipts.ts';

const text = (n: number, b: number[]) => `# HELP chat_messages_acked_total x
# TYPE chat_messages_acked_total counter
chat_messages_acked_total ${n}
chat_send_ack_seconds_bucket{le="0.001"} ${b[0]}
chat_send_ack_seconds_bucket{le="0.01"} ${b[1]}
chat_send_ack_seconds_bucket{le="0.1"} ${b[2]}
chat_send_ack_seconds_bucket{le="+Inf"} ${b[3]}
chat_actors{thread="0"} 3
chat_actors{thread="1"} 4
chat_dependency_unavailable{dependency="connections"} 1
chat_dependency_breaker_state{dependency="postgres",thread="0"} 0
chat_dependency_breaker_state{dependency="postgres",thread="1"} 1
`;

const near = (a: number | undefined, b: number) => assert.ok(a !== undefined && Math.abs(a - b) < 1e-9, `${a} ≉ ${b}`);

test('parses samples with labels and sums series', () => {
  const s = parseProm(text(10, [1, 2, 3, 4]));
  assert.equal(total(s, 'chat_actors'), 7);
  assert.equal(total(s, 'chat_messages_acked_total'), 10);
  assert.deepEqual(s.find((x) => x.name === 'chat_dependency_unavailable')?.labels, { dependency: 'connections' });
});

test('dependency states: the worst over threads', () => {
  const deps = dependencyStates(parseProm(text(0, [0, 0, 0, 0])));
  assert.deepEqual(deps.get('connections'), { down: true, text: 'unavailable (failing closed)' });
  assert.deepEqual(deps.get('postgres'), { down: true, text: 'breaker half-open' });
});

test('quantiles interpolate within a bucket over the window, and survive a counter reset', () => {
  const before = buckets(parseProm(text(0, [0, 0, 0, 0])), 'chat_send_ack_seconds');
  const after = buckets(parseProm(text(100, [0, 50, 100, 100])), 'chat_send_ack_seconds');
  const d = bucketDelta(after, before);
  near(quantile(0.5, d), 0.01);
  near(quantile(0.99, d), 0.01 + 0.09 * (49 / 50));
  assert.equal(quantile(0.99, bucketDelta(before, before)), undefined, 'no observations');
  const reset = bucketDelta(buckets(parseProm(text(1, [1, 1, 1, 1])), 'chat_send_ack_seconds'), after);
  near(quantile(0.5, reset), 0.0005);
  assert.equal(quantile(0.99, buckets(parseProm(text(1, [0, 0, 0, 5])), 'chat_send_ack_seconds')), 0.1, 'beyond the last bound: that bound');
});

test('ticks: sent → delivered → read, over every other participant', () => {
  const p = ['a', 'b', 'c'];
  assert.equal(tickFor(3, 'a', p, {}), 'sent');
  assert.equal(tickFor(3, 'a', p, { b: { delivered: 3, read: 0 }, c: { delivered: 5, read: 0 } }), 'delivered');
  assert.equal(tickFor(3, 'a', p, { b: { delivered: 3, read: 3 }, c: { delivered: 5, read: 4 } }), 'read');
  assert.equal(tickFor(3, 'a', p, { b: { delivered: 3, read: 3 }, c: { delivered: 2, read: 0 } }), 'sent');
});
