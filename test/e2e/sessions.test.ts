/**
 * Sessions (issue 16) on one node with two edge threads: a socket closes with 4001 when its
 * token's `exp` passes, unless `auth {token}` brought a fresh token of the same user; a bad,
 * expired or other user's token is `err 401` and the socket keeps its old `exp`. An admin's
 * `POST /api/v1/admin/users/{id}/revoke` closes every socket of the user (on both edge threads)
 * with 4003, refuses the tokens issued until then at the upgrade, on HTTP and on `auth`, lets
 * tokens issued later pass, and is audited.
 *
 * Expiry needs real time: tokens get an `exp` a few seconds ahead (JWT times have 1 s
 * resolution) and the tests wait for the close, or for the clock to pass the `exp`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient } from '../helpers/client.ts';
import { TestNode, token, uid } from '../helpers/node.ts';
import { until } from '../helpers/until.ts';

/** A token's `exp`, in epoch ms. */
const expMsOf = (jwt: string): number => (JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as { exp: number }).exp * 1000;

/** The socket's close, or a failure after `ms`. */
function closedWithin(c: TestClient, ms: number): Promise<{ code: number; reason: string }> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    c.closed,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

describe('sessions', { timeout: 120_000 }, () => {
  const node = new TestNode({ env: { EDGE_THREADS: '2' } });
  before(() => node.start());
  after(() => node.kill('SIGTERM'));

  async function upgradeStatus(jwt: string): Promise<number> {
    try {
      const c = await TestClient.connect(node.url, jwt);
      c.close();
      return 101;
    } catch (e) {
      return (e as { status?: number }).status ?? 0;
    }
  }

  async function httpStatus(jwt: string): Promise<number> {
    const r = await fetch(`${node.http}/api/v1/me/blocks`, { headers: { authorization: `Bearer ${jwt}` } });
    await r.arrayBuffer();
    return r.status;
  }

  async function revoke(user: string, as: string, roles = ['admin']): Promise<{ status: number; json: any }> {
    const r = await fetch(`${node.http}/api/v1/admin/users/${encodeURIComponent(user)}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${await token(as, roles)}` } });
    return { status: r.status, json: await r.json().catch(() => undefined) };
  }

  test('a socket is closed with 4001 once its token\'s exp has passed', async () => {
    const jwt = await token(uid('exp'), ['user'], { expSec: 2 });
    const c = await TestClient.connect(node.url, jwt);
    const closed = await closedWithin(c, 10_000);
    assert.equal(closed.code, 4001);
    assert.ok(Date.now() >= expMsOf(jwt), 'not before the exp');
  });

  test('auth with a fresh token of the same user keeps the socket past the first token\'s exp', async () => {
    const user = uid('refresh');
    const first = await token(user, ['user'], { expSec: 2 });
    const c = await TestClient.connect(node.url, first);
    assert.deepEqual(await c.request({ t: 'auth', token: await token(user, ['user'], { expSec: 60 }) }), { t: 'ok', rid: 1 });
    // Past the first exp by more than one sweep of the edge (1 s).
    await until('the first token\'s exp and a sweep have passed', async () => (Date.now() > expMsOf(first) + 1_500 ? true : undefined));
    assert.equal((await c.request({ t: 'ping' })).t, 'pong', 'still open');
    c.close();
  });

  test('auth with another user\'s, a foreign, an expired or a malformed token is err 401; the socket still closes at its exp', async () => {
    const user = uid('badauth');
    const jwt = await token(user, ['user'], { expSec: 3 });
    const bad = [
      await token(uid('someone-else'), ['user'], { expSec: 60 }),
      await token(user, ['user'], { expSec: 60, secret: 'another-secret-that-is-long-enough-for-hs256' }),
      await token(user, ['user'], { expSec: -5 }),
      'not.a.jwt',
    ];
    // One socket per bad token: a socket may send one `auth` per second.
    const clients = await Promise.all(bad.map(() => TestClient.connect(node.url, jwt)));
    const answers = await Promise.all(clients.map((c, i) => c.request({ t: 'auth', token: bad[i] })));
    for (const a of answers) assert.deepEqual([a.t, a.code], ['err', 401], JSON.stringify(a));
    assert.match(answers[0].msg, /another user/);
    // Sooner than a second after the previous one: 429, nothing verified.
    const again = await clients[0].request({ t: 'auth', token: bad[0] });
    assert.deepEqual([again.t, again.code], ['err', 429]);
    assert.ok(again.retryMs > 0 && again.retryMs <= 1000);
    for (const c of clients) assert.equal((await c.request({ t: 'ping' })).t, 'pong', 'a refused auth leaves the socket open');
    for (const c of clients) assert.equal((await closedWithin(c, 10_000)).code, 4001);
    assert.ok(Date.now() >= expMsOf(jwt));
  });

  test('revoke closes every socket of the user on both edge threads with 4003, refuses older tokens everywhere, lets later ones in, and is audited', async () => {
    const [user, bystander, root] = [uid('revoked'), uid('bystander'), uid('root')];
    const old = await token(user);
    // Twelve sockets: the kernel spreads them over the two edge threads (all on one: p = 2^-11).
    const sockets = await Promise.all(Array.from({ length: 12 }, () => TestClient.connect(node.url, old)));
    const other = await TestClient.connect(node.url, await token(bystander));
    assert.equal(await httpStatus(old), 200);

    assert.equal((await revoke(user, uid('mallory'), ['user'])).status, 403, 'admins only');
    assert.equal((await revoke('bad id', root)).status, 400);
    const startedAt = Date.now();
    const r = await revoke(user, root);
    assert.equal(r.status, 200);
    assert.equal(r.json.user, user);
    assert.ok(r.json.revokedAt >= startedAt - 1000 && r.json.revokedAt <= Date.now());

    for (const c of sockets) assert.equal((await closedWithin(c, 5_000)).code, 4003);
    assert.equal((await other.request({ t: 'ping' })).t, 'pong', 'other users keep their sockets');

    // Both threads have applied it (their sockets closed): the old token is refused on each.
    for (let i = 0; i < 6; i++) assert.equal(await upgradeStatus(old), 401);
    assert.equal(await httpStatus(old), 401);

    // A token issued after the revocation's second passes.
    await until('a second after the revocation', async () => (Math.floor(Date.now() / 1000) > Math.floor(r.json.revokedAt / 1000) ? true : undefined));
    const fresh = await token(user);
    assert.equal(await httpStatus(fresh), 200);
    const back = await TestClient.connect(node.url, fresh);
    assert.equal((await back.request({ t: 'ping' })).t, 'pong');
    // ...and `auth` with the revoked token (not expired) is refused on it.
    const refused = await back.request({ t: 'auth', token: old });
    assert.deepEqual([refused.t, refused.code], ['err', 401]);
    assert.match(refused.msg, /revoked/);

    const trail = await fetch(`${node.http}/api/v1/admin/audit?target=${user}`, { headers: { authorization: `Bearer ${await token(uid('auditor'), ['admin'])}` } });
    const entries = ((await trail.json()) as { entries: Array<{ actor: string; action: string; target: string }> }).entries;
    assert.deepEqual(entries.filter((e) => e.action === 'revoke_user').map((e) => [e.actor, e.target]), [[root, user]]);
    back.close();
    other.close();
  });

  test('revoking again moves the moment forward and closes sockets opened in between', async () => {
    const [user, root] = [uid('twice'), uid('root')];
    const first = await revoke(user, root);
    assert.equal(first.status, 200);
    await until('a second after the first revocation', async () => (Math.floor(Date.now() / 1000) > Math.floor(first.json.revokedAt / 1000) ? true : undefined));
    const between = await token(user);
    const c = await TestClient.connect(node.url, between);
    const second = await revoke(user, root);
    assert.ok(second.json.revokedAt > first.json.revokedAt);
    assert.equal((await closedWithin(c, 5_000)).code, 4003);
    assert.equal(await upgradeStatus(between), 401);
  });
});
