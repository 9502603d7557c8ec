/** A shard's reply: a status byte the edge acts on, then the client frame forwarded untouched. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encodeFrame } from '../../protocol/codec.ts';
import { encodeReply, replyFrame, ReplyStatus, replyStatus } from '../../src/rpc/envelope.ts';

test('status and frame round-trip, and the frame is a view (no copy) the edge can forward', () => {
  const frame = encodeFrame({ t: 'ack', rid: 7, conv: 'c', seq: 3, id: 'x', ts: 1 });
  for (const status of Object.values(ReplyStatus)) {
    const reply = encodeReply(status, frame);
    assert.equal(replyStatus(reply), status);
    assert.deepEqual(decode(replyFrame(reply)), { t: 'ack', rid: 7, conv: 'c', seq: 3, id: 'x', ts: 1 });
    assert.equal(replyFrame(reply).buffer, reply.buffer);
  }
});
