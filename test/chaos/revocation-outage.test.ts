/**
 * The revocation store goes away under a running node (issue 16, "Sessions"; the decision in
 * docs/protocol.md v1.17): each edge thread holds every revocation (loaded at start, kept by the
 * bus), so with the database down a known user still connects, a revoked token stays refused, and
 * a user never seen is judged too — not revoked — with no read. (Where the full set is not held,
 * past REVOCATIONS_SNAPSHOT_MAX, a user without a cached answer gets 503 {retryMs}: see
 * test/unit/revocation-cache.test.ts.) A revocation made while the database is down cannot be
 * stored: 503, and the user's sockets stay. Uses the real Postgres when DATABASE_URL is set, else
 * a PGlite socket server of its own.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { TestClient } from '../helpers/client.ts';
import { TestNode, token, uid } from '../helpers/node.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { until } from '../helpers/until.ts';

const cacheTtlMs = 300;
let proxy: TcpProxy;
let node: TestNode;
let embedded: { server: PGLiteSocketServer; db: PGlite } | undefined;

before(async () => {
  let target: { host: string; port: number };
  let dbName = 'test';
  if (process.env.DATABASE_URL) {
    const u = new URL(process.env.DATABASE_URL);
    target = { host: u.hostname, port: Number(u.port || 5432) };
    dbName = u.pathname.slice(1) || 'test';
  } else {
    const db = await PGlite.create(join(mkdtempSync(join(tmpdir(), 'pgl-')), 'db'));
    const port = 30000 + Math.floor(Math.random() * 20000);
    const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections: 32 });
    await server.start();
    embedded = { server, db };
    target = { host: '127.0.0.1', port };
    dbName = 'postgres';
  }
  proxy = await new TcpProxy(target).listen();
  node = await new TestNode({
    env: {
      DATABASE_URL: `postgres://postgres@127.0.0.1:${proxy.port}/${dbName}`,
      REVOCATION_CACHE_TTL_MS: String(cacheTtlMs), REVOCATION_DB_TIMEOUT_MS: '500',
      ...(embedded ? { DB_PREPARED_STATEMENTS: 'false' } : {}),
    },
    ...(embedded ? { schema: 'public' } : {}),
  }).start();
});

after(async () => {
  await node.kill('SIGTERM');
  await proxy.close();
  if (embedded) (await embedded.server.stop(), await embedded.db.close());
});

/** The upgrade's answer: 101, or the refusal's status and JSON body. */
function upgrade(jwt: string): Promise<{ status: number; body?: { code: number; message: string; retryMs?: number } }> {
  return new Promise((resolve, reject) => {
    const req = request(`${node.http}/v1/ws?token=${encodeURIComponent(jwt)}`, {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64') },
      timeout: 10_000,
    });
    req.on('upgrade', (_res, socket) => (socket.destroy(), resolve({ status: 101 })));
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer to the upgrade')));
    req.on('error', reject);
    req.end();
  });
}

test('with the database down, every token is still judged from the revocations the edge holds: known, revoked and never-seen users alike', { timeout: 60_000 }, async () => {
  const [known, revoked, stranger] = [uid('known'), uid('revoked'), uid('stranger')];
  assert.equal((await upgrade(await token(known))).status, 101, 'known: answer cached');
  const old = await token(revoked);
  const c = await TestClient.connect(node.url, old);
  const r = await fetch(`${node.http}/api/v1/admin/users/${revoked}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${await token(uid('root'), ['admin'])}` } });
  assert.equal(r.status, 200);
  assert.equal((await c.closed).code, 4003);

  proxy.cut();
  const cutAt = Date.now();
  await until('the cache\'s answers to be older than its TTL', async () => (Date.now() > cutAt + 2 * cacheTtlMs ? true : undefined));
  assert.equal((await upgrade(await token(known))).status, 101, 'a stale "not revoked" stands');
  assert.equal((await upgrade(old)).status, 401, 'a stale revocation stands');
  assert.equal((await upgrade(await token(stranger))).status, 101, 'a user never seen: not among the revocations, no read needed');
  const refused = await fetch(`${node.http}/api/v1/admin/users/${stranger}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${await token(uid('root'), ['admin'])}` } });
  assert.equal(refused.status, 503, 'a revocation cannot be stored while the database is down');
  assert.ok(((await refused.json()) as { retryMs?: number }).retryMs! > 0, 'with retryMs');

  const older = await token(stranger); // issued before the revocation below: refused by it
  proxy.restore();
  await until('the revocation to be stored once the database is back', async () => {
    const r = await fetch(`${node.http}/api/v1/admin/users/${stranger}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${await token(uid('root'), ['admin'])}` } });
    return r.status === 200 ? true : undefined;
  });
  assert.equal((await upgrade(older)).status, 401, 'and it refuses the older tokens at once');
});
