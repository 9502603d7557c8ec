/** Metrics, readiness JSON and connection limits. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { TestClient } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';

const node = new TestNode({ env: { MAX_CONNS_PER_USER: '2', RATE_MSGS_PER_S: '1000', RATE_BURST: '1000' } });
before(() => node.start());
after(() => node.kill('SIGTERM'));

test('GET /readyz answers JSON with a status per component', async () => {
  const r = await fetch(`${node.http}/readyz`);
  assert.equal(r.status, 200);
  const body = await r.json();
  assert.equal(body.status, 'ok');
  assert.equal(body.checks.database.status, 'ok');
  assert.equal(body.checks.shards.status, 'ok');
  assert.equal((await fetch(`${node.http}/healthz`)).status, 200);
});

test('GET /metrics counts frames, acked messages, ack latency and persister batches', async () => {
  const a = uid('m-a');
  const b = uid('m-b');
  await connectUsers(node, a, b);
  const c = await TestClient.connect(node.url, await token(a));
  const conv = (await c.request({ t: 'open', with: b })).conv.id;
  for (let i = 0; i < 3; i++) await c.request({ t: 'send', conv, cmid: `m${i}`, body: 'x' });
  await c.request({ t: 'launch' }); // an unknown frame type: rejected with 400
  await new Promise((r) => setTimeout(r, 1500)); // shard threads report once a second
  const text = await (await fetch(`${node.http}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  assert.ok(value('chat_messages_acked_total') >= 3, 'acked');
  assert.ok(value('chat_frames_in_total\\{type="send"\\}') >= 3, 'frames in by type');
  assert.ok(value('chat_frames_rejected_total\\{code="400"\\}') >= 1, 'rejected by code');
  assert.ok(value('chat_send_ack_seconds_count') >= 3, 'ack latency histogram');
  assert.ok(value('chat_persist_batch_rows_count') >= 1, 'batch sizes');
  assert.equal(value('chat_sockets_open'), 1);
  assert.match(text, /chat_actors\{thread="0"\}/);
  c.close();
});

test('more than MAX_CONNS_PER_USER sockets for one user are refused with 429 at upgrade', async () => {
  const u = uid('greedy');
  const t = await token(u);
  const c1 = await TestClient.connect(node.url, t);
  const c2 = await TestClient.connect(node.url, t);
  const status = await new Promise<number>((resolve) => {
    const ws = new WebSocket(`${node.url}?token=${t}`);
    ws.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => (ws.close(), resolve(101)));
  });
  assert.equal(status, 429);
  c1.close();
  await c1.closed;
  await new Promise((r) => setTimeout(r, 100));
  const c3 = await TestClient.connect(node.url, t);
  c2.close();
  c3.close();
});
