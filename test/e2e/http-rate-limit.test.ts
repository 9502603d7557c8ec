/**
 * Rate limits of the REST API (issue 17) on a real node with small HTTP_RATE_* values: per user
 * and per client address, the burst passes, the next request gets 429 with Retry-After and
 * `{code, message, retryMs}`, another user / address is unaffected, health is exempt, and tokens
 * refill (waited for by the answer's own retryMs, not a fixed sleep). Addresses: 127.0.0.x are all
 * loopback on Linux, so each test binds its own source address.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { TestNode, token, uid } from '../helpers/node.ts';

const node = new TestNode({ env: { HTTP_RATE_PER_USER_PER_S: '2', HTTP_RATE_PER_USER_BURST: '3', HTTP_RATE_PER_IP_PER_S: '2', HTTP_RATE_PER_IP_BURST: '8' } });
before(() => node.start());
after(() => node.kill('SIGTERM'));

interface Answer { status: number; retryAfter: string | undefined; body: { code?: number; message?: string; retryMs?: number } }

/** GET `path` from source address `from`, with a bearer token for `user` when given. */
function get(path: string, from: string, user?: string): Promise<Answer> {
  return (user ? token(user) : Promise.resolve(undefined)).then((tok) => new Promise<Answer>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: node.port, path, localAddress: from, agent: false, headers: tok ? { authorization: `Bearer ${tok}` } : {} }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, body: text ? JSON.parse(text) : {} }));
    });
    req.on('error', reject);
    req.end();
  }));
}

/** Retries `f` after each 429's own retryMs until it is answered otherwise; returns that answer and how many 429s came first. */
async function afterRefill(f: () => Promise<Answer>): Promise<{ answer: Answer; refusals: number }> {
  for (let refusals = 0; refusals < 10; refusals++) {
    const answer = await f();
    if (answer.status !== 429) return { answer, refusals };
    await new Promise((r) => setTimeout(r, answer.body.retryMs));
  }
  throw new Error('still 429 after 10 waits');
}

function assert429(a: Answer, what: RegExp): void {
  assert.equal(a.status, 429, JSON.stringify(a));
  assert.equal(a.body.code, 429);
  assert.match(a.body.message ?? '', what);
  assert.ok(typeof a.body.retryMs === 'number' && a.body.retryMs > 0 && a.body.retryMs <= 500, `retryMs ${a.body.retryMs} ≤ one token at 2/s`);
  assert.equal(a.retryAfter, String(Math.ceil(a.body.retryMs! / 1000)), 'Retry-After: seconds, rounded up');
}

test('per user: the burst passes, the next request is 429 with Retry-After; another user is unaffected; tokens refill', async () => {
  const [alice, bob] = [uid('alice'), uid('bob')];
  const from = '127.0.0.3';
  for (let i = 0; i < 3; i++) assert.equal((await get('/api/v1/me/settings', from, alice)).status, 200, `request ${i + 1} of the burst`);
  assert429(await get('/api/v1/me/settings', from, alice), /for this user/);
  assert.equal((await get('/api/v1/me/settings', from, bob)).status, 200, 'another user from the same address');
  const { answer } = await afterRefill(() => get('/api/v1/me/settings', from, alice));
  assert.equal(answer.status, 200, 'refilled');
});

test('per address: the burst passes (even unauthenticated), then 429; another address is unaffected; health is exempt; tokens refill', async () => {
  const from = '127.0.0.2';
  for (let i = 0; i < 8; i++) assert.equal((await get('/api/v1/me/settings', from)).status, 401, `request ${i + 1} of the burst`);
  const refused = await get('/api/v1/me/settings', from, uid('carol'));
  assert429(refused, /from this address/);
  assert.equal((await get('/api/v1/me/settings', '127.0.0.4')).status, 401, 'another address');
  assert.equal((await get('/healthz', from)).status, 200, 'health is not limited');
  assert.equal((await get('/readyz', from)).status, 200);
  const { answer } = await afterRefill(() => get('/api/v1/me/settings', from));
  assert.equal(answer.status, 401, 'refilled: answered again');
});
