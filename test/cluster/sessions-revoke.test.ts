/**
 * Revocation across two nodes over NATS (issue 16, "Sessions"): an admin's revoke on node 1 closes
 * the user's sockets on node 2 (and node 1) with 4003 at once — the bus message every edge thread
 * of the cluster subscribes to — and node 2 refuses the user's older token from then on (its own
 * cache learnt the moment from that message; the table is the shared database).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'nats';
import { TestClient } from '../helpers/client.ts';
import { clusterEnv, dropStreams, natsUrl, runPrefix } from '../helpers/cluster-env.ts';
import { TestNode, token, uid } from '../helpers/node.ts';
import { sharedDatabase, type SharedDatabase } from '../helpers/shared-database.ts';
import { until } from '../helpers/until.ts';

const prefix = runPrefix('sr');
let db: SharedDatabase;
const nodes: TestNode[] = [];

before(async () => {
  db = await sharedDatabase();
  for (const id of ['sr1', 'sr2']) nodes.push(new TestNode({ env: { ...db.env, ...clusterEnv(prefix), NODE_ID: id } }));
  // One after the other: the first applies the migrations.
  for (const n of nodes) await n.start();
});

after(async () => {
  for (const n of nodes) await n.kill('SIGKILL');
  await db.close();
  const nc = await connect({ servers: natsUrl });
  const jsm = await nc.jetstreamManager();
  for (const bucket of [`${prefix}-presence`, `${prefix}-presence-edges`, `${prefix}-cluster`, `${prefix}-leases`, `${prefix}-nodes`]) await jsm.streams.delete(`KV_${bucket}`).catch(() => {});
  await dropStreams(nc, prefix);
  await nc.close();
});

function closedWithin(c: TestClient, ms: number): Promise<{ code: number; reason: string }> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    c.closed,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

async function upgradeStatus(url: string, jwt: string): Promise<number> {
  try {
    const c = await TestClient.connect(url, jwt);
    c.close();
    return 101;
  } catch (e) {
    return (e as { status?: number }).status ?? 0;
  }
}

test('a revoke on node 1 closes the user\'s socket on node 2 with 4003, and node 2 refuses the older token', { timeout: 60_000 }, async () => {
  const [n1, n2] = nodes;
  const user = uid('sr-user');
  const old = await token(user);
  const on2 = await TestClient.connect(n2.url, old);
  const on1 = await TestClient.connect(n1.url, old);
  const bystander = await TestClient.connect(n2.url, await token(uid('sr-other')));

  const r = await fetch(`${n1.http}/api/v1/admin/users/${user}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${await token(uid('sr-admin'), ['admin'])}` } });
  assert.equal(r.status, 200);
  const { revokedAt } = (await r.json()) as { revokedAt: number };

  assert.equal((await closedWithin(on2, 5_000)).code, 4003, 'closed on the other node');
  assert.equal((await closedWithin(on1, 5_000)).code, 4003);
  assert.equal((await bystander.request({ t: 'ping' })).t, 'pong');
  assert.equal(await upgradeStatus(n2.url, old), 401);
  const http = await fetch(`${n2.http}/api/v1/me/blocks`, { headers: { authorization: `Bearer ${old}` } });
  assert.equal(http.status, 401);

  await until('a second after the revocation', async () => (Math.floor(Date.now() / 1000) > Math.floor(revokedAt / 1000) ? true : undefined));
  const back = await TestClient.connect(n2.url, await token(user));
  assert.equal((await back.request({ t: 'ping' })).t, 'pong', 'a token issued later passes on node 2');
  back.close();
  bystander.close();
});
