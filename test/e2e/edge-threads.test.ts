/** EDGE_THREADS: several uWS apps on one port; connections spread, everything still connects. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';

const node = new TestNode({ env: { EDGE_THREADS: '3', RATE_MSGS_PER_S: '1000', RATE_BURST: '1000' } });
before(() => node.start());
after(() => node.kill('SIGKILL'));

test('users whose sockets land on different edge threads chat, and the node answers /readyz and /metrics from any thread', async () => {
  const pairs = await Promise.all(
    Array.from({ length: 6 }, async (_, i) => {
      const a = uid(`et-a${i}`);
      const b = uid(`et-b${i}`);
      await connectUsers(node, a, b);
      return { ca: await TestClient.connect(node.url, await token(a)), cb: await TestClient.connect(node.url, await token(b)), b };
    }),
  );
  for (const [i, p] of pairs.entries()) {
    const conv = (await p.ca.request({ t: 'open', with: p.b })).conv.id;
    assert.equal((await p.ca.request({ t: 'send', conv, cmid: `c${i}`, body: 'across threads' })).t, 'ack');
    assert.equal((await p.cb.waitFor((f) => f.t === 'msg' && f.cmid === `c${i}`)).body, 'across threads');
  }
  await new Promise((r) => setTimeout(r, 1200)); // edge threads report their metrics once a second
  for (let i = 0; i < 6; i++) {
    const r = await fetch(`${node.http}/readyz`, { headers: { connection: 'close' } });
    assert.equal(r.status, 200);
    const m = await fetch(`${node.http}/metrics`, { headers: { connection: 'close' } });
    assert.equal(m.status, 200);
    const sockets = Number(/^chat_sockets_open (\S+)$/m.exec(await m.text())?.[1]);
    assert.equal(sockets, 12, 'the node-wide socket gauge, summed over edge threads');
  }
  for (const p of pairs) (p.ca.close(), p.cb.close());
});

test('SIGTERM closes the sockets of every edge thread with 1012 and exits 0', async () => {
  const clients = await Promise.all(Array.from({ length: 6 }, async () => TestClient.connect(node.url, await token(uid('et-t')))));
  await node.kill('SIGTERM');
  for (const c of clients) assert.equal((await c.closed).code, 1012);
  assert.deepEqual(await node.exited(), { code: 0, signal: null });
});
