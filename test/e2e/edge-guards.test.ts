/** The edge's guards: auth before upgrade, bad frames, size and rate bounds, slow consumers. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import { TestClient } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';

const packr = new Packr({ useRecords: false });
const node = new TestNode({ env: { RATE_MSGS_PER_S: '5', RATE_BURST: '5', BAD_FRAMES_MAX: '5' } });
before(() => node.start());
after(() => node.kill('SIGTERM'));

/** Opens a raw socket with headers; resolves 101 on upgrade, or the HTTP status it got instead. */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => (ws.close(), resolve(101)));
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', reject);
  });
}

describe('authentication at upgrade', () => {
  test('no token → 401 and no socket', async () => {
    await assert.rejects(TestClient.connect(node.url), (e: { status?: number }) => e.status === 401);
  });
  test('a token signed with another secret → 401', async () => {
    await assert.rejects(TestClient.connect(node.url, await token('mallory', ['user'], { secret: 'another-secret-another-secret-xx' })), (e: { status?: number }) => e.status === 401);
  });
  test('an expired token → 401', async () => {
    await assert.rejects(TestClient.connect(node.url, await token('late', ['user'], { expSec: -60 })), (e: { status?: number }) => e.status === 401);
  });
  test('alg none is never accepted', async () => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const forged = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'root', roles: ['admin'], exp: 9999999999 })}.`;
    await assert.rejects(TestClient.connect(node.url, forged), (e: { status?: number }) => e.status === 401);
  });
  test('a bearer header works as well as the query parameter', async () => {
    assert.equal(await upgradeStatus(node.url, { authorization: `Bearer ${await token('hdr')}` }), 101);
    assert.equal(await upgradeStatus(node.url, { authorization: 'Bearer not-a-jwt' }), 401);
  });
});

describe('bad input gets an error and loses nothing', () => {
  test('text frames, non-msgpack, non-map, unknown t and mistyped fields → err 400, the socket stays usable', async () => {
    const c = await TestClient.connect(node.url, await token(uid('fuzzy')));
    c.sendRaw('{"t":"ping"}', false);
    assert.equal((await c.waitFor((f) => f.t === 'err')).code, 400);
    c.sendRaw(Buffer.from([0xc1, 0xff, 0x00]));
    assert.equal((await c.waitFor((f) => f.t === 'err')).code, 400);
    c.sendRaw(packr.pack([1, 2, 3]));
    assert.equal((await c.waitFor((f) => f.t === 'err')).code, 400);
    const unknown = await c.request({ t: 'launch' });
    assert.deepEqual([unknown.t, unknown.code], ['err', 400]);
    const mistyped = await c.request({ t: 'history', conv: 42 });
    assert.deepEqual([mistyped.t, mistyped.code], ['err', 400]);
    assert.equal((await c.request({ t: 'ping' })).t, 'pong');
    c.close();
  });

  test('a body over 2000 chars → 413 and a cmid over 64 chars → 400', async () => {
    const c = await TestClient.connect(node.url, await token(uid('big')));
    const big = await c.request({ t: 'send', conv: 'd_x', cmid: 'c', body: 'x'.repeat(2001) });
    assert.deepEqual([big.t, big.code], ['err', 413]);
    const cmid = await c.request({ t: 'send', conv: 'd_x', cmid: 'c'.repeat(65), body: 'hi' });
    assert.deepEqual([cmid.t, cmid.code], ['err', 400]);
    c.close();
  });

  test('a frame over maxFrameBytes closes the socket with 1009', async () => {
    const c = await TestClient.connect(node.url, await token(uid('huge')));
    c.sendRaw(Buffer.alloc(70 * 1024, 0x61));
    assert.equal((await c.closed).code, 1009);
  });

  test('sustained garbage closes the socket with 1008', async () => {
    const c = await TestClient.connect(node.url, await token(uid('spammer')));
    for (let i = 0; i < 10; i++) c.sendRaw(Buffer.from([0xc1]));
    assert.equal((await c.closed).code, 1008);
  });

  test('one bad client does not affect another', async () => {
    const a = uid('calm');
    const b = uid('calm');
    await connectUsers(node, a, b);
    const good = await TestClient.connect(node.url, await token(a));
    const bad = await TestClient.connect(node.url, await token(a));
    for (let i = 0; i < 10; i++) bad.sendRaw(Buffer.from([0xc1]));
    await bad.closed;
    const opened = await good.request({ t: 'open', with: b });
    assert.equal(opened.t, 'conv');
    good.close();
  });
});

describe('rate limits', () => {
  test('sends past the per-user token bucket → err 429 with retryMs, and nothing is stored for them', async () => {
    const a = uid('fast');
    const b = uid('fast');
    await connectUsers(node, a, b);
    const c = await TestClient.connect(node.url, await token(a));
    const conv = (await c.request({ t: 'open', with: b })).conv.id;
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => c.request({ t: 'send', conv, cmid: `r${i}`, body: 'x' })));
    const acks = replies.filter((r) => r.t === 'ack');
    const limited = replies.filter((r) => r.t === 'err' && r.code === 429);
    assert.equal(acks.length, 5);
    assert.equal(limited.length, 3);
    assert.ok(limited.every((r) => r.retryMs > 0));
    const page = await c.request({ t: 'history', conv });
    assert.equal(page.msgs.length, 5);
    c.close();
  });
});
