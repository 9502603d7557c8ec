/** The shed level rides in the high bits of a shard reply's status byte without disturbing the status. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrame } from '../../protocol/codec.ts';
import { encodeReply, replyFrame, ReplyStatus, replyStatus, shedLevelMax, shedRetryMs, shedShareOf } from '../../src/rpc/envelope.ts';

test('every status keeps its meaning at every shed level, and the level reads back as a share 0…1', () => {
  const frame = encodeFrame({ t: 'ok', rid: 1 });
  for (const status of Object.values(ReplyStatus)) {
    for (let level = 0; level <= shedLevelMax; level++) {
      const reply = encodeReply(status, frame, level);
      assert.equal(replyStatus(reply), status);
      assert.equal(shedShareOf(reply), level / shedLevelMax);
      assert.deepEqual([...replyFrame(reply)], [...frame]);
    }
  }
});

test('levels out of range are clamped, fractional ones rounded', () => {
  const frame = encodeFrame({ t: 'ok' });
  assert.equal(shedShareOf(encodeReply(ReplyStatus.forward, frame, 1000)), 1);
  assert.equal(shedShareOf(encodeReply(ReplyStatus.forward, frame, -3)), 0);
  assert.equal(shedShareOf(encodeReply(ReplyStatus.overloaded, frame, 31.6)), 32 / shedLevelMax);
  assert.equal(replyStatus(encodeReply(ReplyStatus.moving, frame)), ReplyStatus.moving);
});

test('retryMs is jittered around the delay bound (×0.5–1.5) and never 0', () => {
  for (let i = 0; i < 200; i++) {
    const r = shedRetryMs(500);
    assert.ok(r >= 250 && r <= 750, String(r));
  }
  assert.ok(shedRetryMs(0) >= 1);
});
