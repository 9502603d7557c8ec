/** With CONNECTIONS_URL the node asks that service, caches answers, and fails closed with 503. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { TestClient } from '../helpers/client.ts';
import { TestNode, token, uid } from '../helpers/node.ts';

let mode: 'ok' | 'error' | 'hang' = 'ok';
const connected = new Set<string>();
let calls = 0;
const service = http.createServer((req, res) => {
  calls++;
  const m = /^\/v1\/connections\/([^/]+)\/([^/]+)$/.exec(req.url ?? '');
  if (mode === 'hang') return; // never answers: the node's timeout must fire
  if (mode === 'error' || !m) return void res.writeHead(500).end();
  const [a, b] = [decodeURIComponent(m[1]), decodeURIComponent(m[2])].sort();
  if (!connected.has(`${a}|${b}`)) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ areConnected: true }));
});
let node: TestNode;

before(async () => {
  await new Promise<void>((r) => service.listen(0, '127.0.0.1', () => r()));
  const port = (service.address() as AddressInfo).port;
  node = await new TestNode({ env: { CONNECTIONS_URL: `http://127.0.0.1:${port}`, CONNECTIONS_TIMEOUT_MS: '300', CONNECTIONS_CACHE_TTL_MS: '1', CONNECTIONS_RETRIES: '0', CONNECTIONS_BREAKER_THRESHOLD: '3', CONNECTIONS_BREAKER_HALF_OPEN_MS: '700', SHARD_THREADS: '1' } }).start();
});
after(async () => {
  await node.kill('SIGTERM');
  service.closeAllConnections();
  service.close();
});

function link(a: string, b: string): void {
  connected.add([a, b].sort().join('|'));
}

test('open and send pass when the service says the users are connected; 404 from it means 403', async () => {
  mode = 'ok';
  const a = uid('svc-a');
  const b = uid('svc-b');
  const c = await TestClient.connect(node.url, await token(a));
  const refused = await c.request({ t: 'open', with: b });
  assert.deepEqual([refused.t, refused.code], ['err', 403]);
  link(a, b);
  const opened = await c.request({ t: 'open', with: b });
  assert.equal(opened.t, 'conv');
  assert.equal((await c.request({ t: 'send', conv: opened.conv.id, cmid: '1', body: 'hi' })).t, 'ack');
  c.close();
});

test('a failing or hanging service fails closed: err 503 with retryMs, and no message gets through', async () => {
  mode = 'ok';
  const a = uid('svc-a');
  const b = uid('svc-b');
  link(a, b);
  const ca = await TestClient.connect(node.url, await token(a));
  const cb = await TestClient.connect(node.url, await token(b));
  const conv = (await ca.request({ t: 'open', with: b })).conv.id;
  await new Promise((r) => setTimeout(r, 10)); // let the 1 ms cache entry lapse
  for (const m of ['error', 'hang'] as const) {
    mode = m;
    const before = calls;
    const r = await ca.request({ t: 'send', conv, cmid: `down-${m}`, body: 'should not pass' });
    assert.deepEqual([r.t, r.code], ['err', 503], `${m}: ${JSON.stringify(r)}`);
    assert.ok(r.retryMs > 0);
    assert.ok(calls > before, 'the service was asked');
    const openDown = await ca.request({ t: 'open', with: uid('other') });
    assert.deepEqual([openDown.t, openDown.code], ['err', 503]);
  }
  mode = 'ok';
  await new Promise((r) => setTimeout(r, 800)); // the failures opened the breaker: wait for its probe
  const ok = await ca.request({ t: 'send', conv, cmid: 'back', body: 'service is back' });
  assert.deepEqual([ok.t, ok.seq], ['ack', 1], 'the refused sends consumed no seq');
  const page = await cb.request({ t: 'history', conv });
  assert.deepEqual(page.msgs.map((m: { cmid: string }) => m.cmid), ['back']);
  ca.close();
  cb.close();
});

test('the embedded connections table is not managed here when CONNECTIONS_URL is set (409)', async () => {
  const r = await fetch(`${node.http}/api/v1/connections/x/y`, { method: 'PUT', headers: { authorization: `Bearer ${await token('ops', ['admin'])}` } });
  assert.equal(r.status, 409);
  const forbidden = await fetch(`${node.http}/api/v1/connections/x/y`, { method: 'PUT', headers: { authorization: `Bearer ${await token('joe')}` } });
  assert.equal(forbidden.status, 403);
});

test('the breaker opens while the service fails (failing fast) and closes once it recovers', async () => {
  const a = uid('br-a');
  const b = uid('br-b');
  link(a, b);
  mode = 'ok';
  const c = await TestClient.connect(node.url, await token(a));
  const conv = (await c.request({ t: 'open', with: b })).conv.id;
  const breaker = async () => {
    await new Promise((r) => setTimeout(r, 1200)); // shard threads report once a second
    const text = await (await fetch(`${node.http}/metrics`)).text();
    return Number(/^chat_dependency_breaker_state\{dependency="connections",thread="\d+"\} (\S+)$/m.exec(text)?.[1]);
  };
  mode = 'error';
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 5)); // let the 1 ms cache entry lapse
    assert.equal((await c.request({ t: 'send', conv, cmid: `b${i}`, body: 'x' })).code, 503);
  }
  const before = calls;
  assert.equal((await c.request({ t: 'send', conv, cmid: 'fast', body: 'x' })).code, 503);
  assert.equal(calls, before, 'an open breaker does not call the service');
  assert.equal(await breaker(), 2, 'open');
  mode = 'ok';
  await new Promise((r) => setTimeout(r, 800)); // half-open: the next call is a probe
  assert.equal((await c.request({ t: 'send', conv, cmid: 'probe', body: 'x' })).t, 'ack');
  assert.equal(await breaker(), 0, 'closed again');
  c.close();
});
