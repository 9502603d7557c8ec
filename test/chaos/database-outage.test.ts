/**
 * Postgres goes away under a running node: sends get err 503 (never an ack for an unstored
 * message), and when it returns the node recovers without a restart; nothing acked is lost.
 * Uses the real Postgres when DATABASE_URL is set, else a PGlite socket server of its own.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { TestClient } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

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
      DATABASE_URL: `postgres://postgres@127.0.0.1:${proxy.port}/${dbName}`, RATE_MSGS_PER_S: '1000', RATE_BURST: '1000',
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

test('sends during an outage get 503, acked messages survive, and service resumes without a restart', async () => {
  const a = uid('outage-a');
  const b = uid('outage-b');
  await connectUsers(node, a, b);
  const ca = await TestClient.connect(node.url, await token(a));
  const cb = await TestClient.connect(node.url, await token(b));
  const conv = (await ca.request({ t: 'open', with: b })).conv.id;
  assert.equal((await ca.request({ t: 'send', conv, cmid: 'before', body: 'before the outage' })).t, 'ack');

  proxy.cut();
  const during = await ca.request({ t: 'send', conv, cmid: 'during', body: 'in the outage' }, 15000);
  assert.deepEqual([during.t, during.code], ['err', 503], JSON.stringify(during));
  assert.ok(during.retryMs > 0);
  assert.equal(cb.drain((f) => f.t === 'msg' && f.cmid === 'during').length, 0, 'nothing unstored is fanned out');

  proxy.restore();
  let retried;
  for (let i = 0; i < 50; i++) {
    retried = await ca.request({ t: 'send', conv, cmid: 'during', body: 'in the outage' }, 15000);
    if (retried.t === 'ack') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(retried?.t, 'ack', JSON.stringify(retried));
  assert.equal(retried?.seq, 2, 'the failed send left no gap');
  const after = await ca.request({ t: 'send', conv, cmid: 'after', body: 'after' });
  assert.equal(after.seq, 3);
  const page = await cb.request({ t: 'history', conv });
  assert.deepEqual(page.msgs.map((m: { cmid: string }) => m.cmid), ['after', 'during', 'before']);
  ca.close();
  cb.close();
});
