/** The SDK's attachments against a real node (issue 15): upload, send with `att`, the own message and the peer's `msg`, download, refusals. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatRequestError, type Message } from '../../sdk/index.ts';
import { pngBytes } from '../helpers/images.ts';
import { TestNode } from '../helpers/node.ts';
import { nodeEnv, sdkPair, until } from './harness.ts';

const node = new TestNode({ env: { ...nodeEnv, ATTACHMENT_BYTES_MAX: '100000' } });
before(() => node.start());
after(() => node.kill('SIGTERM'));

test('upload then send({att}): both sides see the metadata; attachment() answers the bytes', async () => {
  const { ca, cb, conv } = await sdkPair(node);
  await Promise.all([ca.join(conv), cb.join(conv)]);
  const mine: Message[] = [];
  const theirs: Message[] = [];
  ca.on('msg', (m) => mine.push(m));
  cb.on('msg', (m) => theirs.push(m));
  const png = pngBytes(12, 7);
  const meta = await ca.upload(conv, png, 'sdk.png');
  assert.deepEqual({ ...meta, id: '' }, { id: '', name: 'sdk.png', type: 'image/png', size: png.length, width: 12, height: 7 });
  const ack = await ca.send(conv, '', { att: [meta] });
  await until(() => theirs.length === 1 && mine.length === 1, 5000, 'the msg on both sides');
  assert.deepEqual(theirs[0].att, [meta]);
  assert.deepEqual([mine[0].seq, mine[0].att], [ack.seq, [meta]], 'the own message shows what was uploaded');
  const blob = await cb.attachment(meta.id);
  assert.equal(blob.type, 'image/png');
  assert.deepEqual(Buffer.from(await blob.arrayBuffer()), png);
  // A Blob (as a browser File would be) uploads the same way; ids work in send too.
  const text = await ca.upload(conv, new Blob(['plain words']), 'note.txt');
  assert.equal((await ca.send(conv, 'see note', { att: [text.id] })).seq, ack.seq + 1);
  ca.close();
  cb.close();
});

test('refusals reject with ChatRequestError: 413 too large, 415 not an accepted type, 409 sent twice', async () => {
  const { ca, cb, conv } = await sdkPair(node);
  await assert.rejects(ca.upload(conv, new Uint8Array(100_001), 'big.bin'), (e: unknown) => e instanceof ChatRequestError && e.code === 413);
  await assert.rejects(ca.upload(conv, new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0]), 'a.png'), (e: unknown) => e instanceof ChatRequestError && e.code === 415);
  const meta = await ca.upload(conv, pngBytes(), 'once.png');
  await ca.send(conv, 'first', { att: [meta] });
  await assert.rejects(ca.send(conv, 'second', { att: [meta] }), (e: unknown) => e instanceof ChatRequestError && e.code === 409);
  ca.close();
  cb.close();
});
