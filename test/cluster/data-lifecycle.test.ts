/**
 * Export and erase on a cluster (issue 16): two nodes share one database and NATS. A user on
 * node A, a peer on node B; the conversation's actor lives on whichever node owns its shard. An
 * export through B holds what A's user sent; an erase through B reloads the actor wherever it
 * lives (the erased user can no longer write through A), and the peer reads tombstones through A.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from 'nats';
import { TestClient } from '../helpers/client.ts';
import { until } from '../helpers/until.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';
import { sharedDatabase, type SharedDatabase } from '../helpers/shared-database.ts';
import { clusterEnv, dropStreams, natsUrl, runPrefix } from '../helpers/cluster-env.ts';

const prefix = runPrefix('dl');
let db: SharedDatabase;
let nc: NatsConnection;
const nodes: TestNode[] = [];

before(async () => {
  db = await sharedDatabase();
  nc = await connect({ servers: natsUrl });
  for (const id of ['dl-a', 'dl-b']) {
    nodes.push(new TestNode({ env: { ...db.env, ...clusterEnv(prefix), NODE_ID: `${prefix}-${id}`, RATE_MSGS_PER_S: '1000', RATE_BURST: '1000' } }));
  }
  // One after the other: the first applies the migrations, the second finds them applied.
  for (const n of nodes) await n.start();
});
after(async () => {
  for (const n of nodes) await n.kill('SIGKILL');
  await dropStreams(nc, prefix);
  await nc.close();
  await db.close();
});

async function admin(node: TestNode, method: string, path: string): Promise<{ status: number; json: any }> {
  const r = await fetch(`${node.http}${path}`, { method, headers: { authorization: `Bearer ${await token('root', ['admin'])}` } });
  return { status: r.status, json: await r.json() };
}

test('export and erase through node B; the actor reloads wherever it lives; the peer reads tombstones through node A', async () => {
  const [na, nb] = nodes;
  const [alice, bob] = [uid('alice'), uid('bob')];
  await connectUsers(na, alice, bob);
  const ca = await TestClient.connect(na.url, await token(alice));
  const cb = await TestClient.connect(nb.url, await token(bob));
  const conv = (await ca.request({ t: 'open', with: bob })).conv.id as string;
  for (let i = 1; i <= 3; i++) assert.equal((await ca.request({ t: 'send', conv, cmid: `c${i}`, body: `from alice ${i}` })).t, 'ack');
  assert.equal((await cb.request({ t: 'send', conv, cmid: 'b1', body: 'from bob' })).t, 'ack');

  const exported = await admin(nb, 'GET', `/api/v1/admin/users/${alice}/export`);
  assert.equal(exported.status, 200);
  assert.deepEqual(exported.json.conversations[0].messages.map((m: { seq: number }) => m.seq), [1, 2, 3]);

  const erased = await admin(nb, 'POST', `/api/v1/admin/users/${alice}/erase`);
  assert.equal(erased.status, 200, JSON.stringify(erased.json));
  assert.equal(erased.json.changed.messages, 3);
  // Her sessions were revoked first, on every node: her socket on A is closed (4003).
  assert.equal((await ca.closed).code, 4003, 'the revocation reached node A');
  // With a token newer than the revocation she connects to A again, and cannot write there.
  const back = await until('a token newer than the revocation', async () => TestClient.connect(na.url, await token(alice)).catch(() => undefined));
  const refused = await back.request({ t: 'send', conv, cmid: 'c4', body: 'after the erase' });
  assert.deepEqual([refused.t, refused.code], ['err', 403], 'the actor reloaded: alice is no participant');
  back.close();

  const bobOnA = await TestClient.connect(na.url, await token(bob));
  const page = await bobOnA.request({ t: 'history', conv });
  assert.deepEqual(page.msgs.map((m: any) => [m.seq, m.from === erased.json.tombstone, m.body]), [[4, false, 'from bob'], [3, true, ''], [2, true, ''], [1, true, '']]);
  assert.equal((await bobOnA.request({ t: 'send', conv, cmid: 'b2', body: 'still here' })).code, 403, 'a DM with an erased user takes no more messages');
  const again = await admin(na, 'POST', `/api/v1/admin/users/${alice}/erase`);
  assert.equal(again.json.tombstone, erased.json.tombstone);
  assert.equal(again.json.changed.messages, 0);
  for (const c of [ca, cb, bobOnA]) c.close();
});
