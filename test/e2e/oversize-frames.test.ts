/**
 * What a client sees for frames the edge will not read (PROTOCOL.md "Close codes"), against a
 * real node with the default MAX_FRAME_BYTES (64 KiB) and WS_PAYLOAD_CUT_BYTES (1 MiB):
 *
 * - over maxFrameBytes, up to WS_PAYLOAD_CUT_BYTES: close 1009 from our check;
 * - over WS_PAYLOAD_CUT_BYTES: uWS itself cuts the TCP connection when it reads the frame
 *   header, before any callback, without a close frame: the client sees 1006 (uWS v20 has no
 *   way to answer 1009 there; see src/config.ts);
 * - a text frame with invalid UTF-8: uWS's own UTF-8 check cuts the connection the same way
 *   (1006) before the frame reaches us, so neither `err 400` nor close 1007 is possible; a text
 *   frame with valid UTF-8 gets `err 400` and the socket stays open.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient } from '../helpers/client.ts';
import { TestNode, token, uid } from '../helpers/node.ts';

const node = new TestNode();
before(() => node.start());
after(() => node.kill('SIGTERM'));

const frameMax = 64 * 1024;
const cut = 1024 * 1024;

async function closeAfterSending(bytes: number): Promise<number> {
  const c = await TestClient.connect(node.url, await token(uid('big')));
  // The node may close while the frame is still being written: that is an EPIPE/ECONNRESET here.
  c.ws.on('error', () => {});
  c.sendRaw(Buffer.alloc(bytes, 0x61));
  return (await c.closed).code;
}

async function nodeStillServes(): Promise<void> {
  const c = await TestClient.connect(node.url, await token(uid('after')));
  assert.equal((await c.request({ t: 'ping' })).t, 'pong');
  c.close();
}

test('a frame of 1.5x maxFrameBytes closes with 1009', async () => {
  assert.equal(await closeAfterSending(Math.floor(frameMax * 1.5)), 1009);
});

test('a frame of 3x maxFrameBytes closes with 1009 (uWS used to cut everything past 2x with 1006)', async () => {
  assert.equal(await closeAfterSending(frameMax * 3), 1009);
});

test('a frame just under WS_PAYLOAD_CUT_BYTES still closes with 1009', async () => {
  assert.equal(await closeAfterSending(cut - 16), 1009);
});

test('a frame of 100x maxFrameBytes, past WS_PAYLOAD_CUT_BYTES, is cut by uWS without a close frame (1006); the node serves on', async () => {
  assert.equal(await closeAfterSending(frameMax * 100), 1006);
  await nodeStillServes();
});

test('a text frame with invalid UTF-8 is cut by uWS (1006) before it reaches us; one with valid UTF-8 gets err 400 and the socket stays open', async () => {
  const valid = await TestClient.connect(node.url, await token(uid('text')));
  valid.sendRaw('{"t":"ping"}', false);
  const err = await valid.waitFor((f) => f.t === 'err');
  assert.equal(err.code, 400);
  assert.equal((await valid.request({ t: 'ping' })).t, 'pong');
  valid.close();

  const invalid = await TestClient.connect(node.url, await token(uid('text')));
  invalid.ws.on('error', () => {});
  invalid.sendRaw(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), false);
  assert.equal((await invalid.closed).code, 1006);
  await nodeStillServes();
});
