/** Per-conversation ordering: seq order, no duplicates, gaps held until filled, bounded. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Message, Sequencer } from '../../sdk/index.ts';

const m = (seq: number): Message => ({ conv: 'c', seq, id: `i${seq}`, from: 'u', body: `b${seq}`, ts: seq, cmid: `m${seq}` });
const seqs = (ms: Message[]) => ms.map((x) => x.seq);

test('before the baseline everything is held; the baseline releases what follows it', () => {
  const s = new Sequencer(10);
  assert.deepEqual(s.offer(m(6)), []);
  assert.deepEqual(s.offer(m(4)), []);
  assert.deepEqual(seqs(s.setBaseline(4)), [], '4 is at the baseline, 6 is beyond a gap');
  assert.ok(s.hasGap);
  assert.deepEqual(seqs(s.offer(m(5))), [5, 6]);
  assert.equal(s.hasGap, false);
});

test('duplicates and old messages are dropped; consecutive ones pass in order', () => {
  const s = new Sequencer(10);
  s.setBaseline(0);
  assert.deepEqual(seqs(s.offer(m(1))), [1]);
  assert.deepEqual(seqs(s.offer(m(1))), []);
  assert.deepEqual(seqs(s.offer(m(2))), [2]);
  assert.deepEqual(seqs(s.offer(m(1))), []);
  assert.equal(s.lastSeen, 2);
});

test('messages beyond a gap are held, and released in order when the gap is filled, whatever the arrival order', () => {
  const s = new Sequencer(10);
  s.setBaseline(0);
  const out: number[] = [];
  for (const seq of [3, 5, 1, 4, 4, 2, 6, 2]) out.push(...seqs(s.offer(m(seq))));
  assert.deepEqual(out, [1, 2, 3, 4, 5, 6]);
});

test('the hold is bounded: beyond heldMax, messages are dropped (to be refetched), not queued', () => {
  const s = new Sequencer(2);
  s.setBaseline(0);
  s.offer(m(3));
  s.offer(m(4));
  assert.deepEqual(seqs(s.offer(m(5))), []); // no room: dropped
  assert.deepEqual(seqs(s.offer(m(1))), [1]);
  assert.deepEqual(seqs(s.offer(m(2))), [2, 3, 4], '5 was not kept');
  assert.equal(s.hasGap, false);
  assert.deepEqual(seqs(s.offer(m(5))), [5], 'the refetched 5 passes');
});

test('the baseline never moves back', () => {
  const s = new Sequencer(10);
  s.setBaseline(5);
  s.setBaseline(3);
  assert.equal(s.lastSeen, 5);
});
