/** A flooded conversation's bounded mailbox answers 503 instead of growing; nothing acked is lost. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient, type Frame } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';

const node = new TestNode({ env: { MAILBOX_DEPTH_MAX: '4', ACTOR_IDLE_MS: '200', RATE_MSGS_PER_S: '100000', RATE_BURST: '100000', RATE_FRAMES_PER_S: '100000' } });
before(() => node.start());
after(() => node.kill('SIGTERM'));

test('mailbox overflow yields err 503 (not a crash, not unbounded memory), and every acked send is stored once', async () => {
  const a = uid('ov-a');
  const b = uid('ov-b');
  await connectUsers(node, a, b);
  const c = await TestClient.connect(node.url, await token(a));
  const conv = (await c.request({ t: 'open', with: b })).conv.id;
  await new Promise((r) => setTimeout(r, 1500)); // the actor is passivated: the next command must rehydrate
  const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => c.request({ t: 'send', conv, cmid: `f${i}`, body: 'flood' }, 15_000)));
  const busy = replies.filter((r) => r.t === 'err' && r.code === 503);
  const acked = replies.filter((r) => r.t === 'ack');
  assert.ok(busy.length > 0, 'some sends were refused while the mailbox was full');
  assert.ok(busy.every((r) => r.retryMs > 0));
  assert.equal(acked.length + busy.length, 100, 'every send got a defined answer');
  const page: Frame = await c.request({ t: 'history', conv, limit: 100 });
  assert.deepEqual(page.msgs.map((m: Frame) => m.cmid).sort(), acked.map((r) => `f${replies.indexOf(r)}`).sort());
  assert.equal((await fetch(`${node.http}/healthz`)).status, 200);
  c.close();
});
