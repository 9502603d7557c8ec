/** A consumer that stops reading is closed, never buffered without bound; others are unaffected. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';

const node = new TestNode({ env: { WS_BACKPRESSURE_MAX_BYTES: '65536', RATE_MSGS_PER_S: '1000', RATE_BURST: '1000' } });
before(() => node.start());
after(() => node.kill('SIGTERM'));

test('a socket that does not read is closed (1013) instead of buffering without bound', async () => {
  const a = uid('reader');
  const b = uid('writer');
  await connectUsers(node, a, b);
  const cb = await TestClient.connect(node.url, await token(b));
  const conv = (await cb.request({ t: 'open', with: a })).conv.id;
  await Promise.all(Array.from({ length: 100 }, (_, i) => cb.request({ t: 'send', conv, cmid: `s${i}`, body: 'y'.repeat(1900) })));
  const c = await TestClient.connect(node.url, await token(a));
  // Stop reading: the kernel buffers fill, then the server's buffered amount passes the bound.
  const raw = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  raw.pause();
  const asked = 200; // 200 pages of ~190 KB: far beyond any socket buffer
  for (let i = 0; i < asked; i++) c.send({ t: 'history', conv, limit: 100, rid: i + 1 });
  // Stay paused until the server has closed it as a slow consumer (a fixed pause raced the
  // server's page reads on a loaded machine), then read what reached us.
  const slowCloses = async () => {
    const text = await (await fetch(`${node.http}/metrics`)).text();
    return Number(/^chat_socket_closes_total\{code="1013"\} (\d+)/m.exec(text)?.[1] ?? 0);
  };
  for (let i = 0; i < 100 && (await slowCloses()) === 0; i++) await new Promise((r) => setTimeout(r, 200));
  raw.resume();
  const closed = await Promise.race([c.closed, new Promise<{ code: number }>((r) => setTimeout(() => r({ code: -1 }), 15000))]);
  // uWS queues the 1013 close frame behind the buffered bytes; a peer that cannot read it
  // before uWS's close timer fires sees an abrupt 1006 instead. Either way the server closed
  // it, and the pages it got stop far short of what was asked for.
  assert.ok([1013, 1006].includes(closed.code), `closed with ${closed.code}`);
  assert.ok(c.drain((f) => f.t === 'page').length < asked / 2, 'the server stopped writing to the slow socket');
  assert.equal((await cb.request({ t: 'ping' })).t, 'pong', 'the writer is unaffected');
  cb.close();
});
