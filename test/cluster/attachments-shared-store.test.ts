/**
 * Attachments across a cluster (issue 15): two nodes share one Postgres and one blob store,
 * Azure Blob Storage on Microsoft's azurite emulator. An image uploaded through node A is sent
 * by a client of node A and downloaded, with a range, by a client of node B; the bytes are in
 * the shared container, never on either node's disk.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { TestClient } from '../helpers/client.ts';
import { pngBytes } from '../helpers/images.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';
import { sharedDatabase, type SharedDatabase } from '../helpers/shared-database.ts';
import { clusterEnv, dropStreams, natsUrl, runPrefix } from '../helpers/cluster-env.ts';
import { startAzurite, type Azurite } from '../helpers/azurite.ts';

const prefix = runPrefix('att');
let db: SharedDatabase;
let nc: NatsConnection;
let azurite: Azurite;
const nodes: TestNode[] = [];

before(async () => {
  [db, azurite] = await Promise.all([sharedDatabase(), startAzurite()]);
  nc = await connect({ servers: natsUrl });
  for (const id of ['att-a', 'att-b']) {
    nodes.push(new TestNode({
      env: {
        ...db.env, ...clusterEnv(prefix), NODE_ID: `${prefix}-${id}`, RATE_MSGS_PER_S: '1000', RATE_BURST: '1000',
        BLOB_STORE: 'azure', AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString, AZURE_BLOB_CONTAINER: `c-${prefix.toLowerCase()}`,
      },
    }));
  }
  // One after the other: the first applies the migrations, the second finds them applied.
  for (const n of nodes) await n.start();
});
after(async () => {
  for (const n of nodes) await n.kill('SIGKILL');
  await dropStreams(nc, prefix);
  await nc.close();
  await azurite.stop();
  await db.close();
});

test('uploaded on node A, sent, and downloaded on node B from the shared Azure store', async () => {
  const [a, b] = nodes;
  const [alice, bob] = [uid('alice'), uid('bob')];
  await connectUsers(a, alice, bob);
  const ca = await TestClient.connect(a.url, await token(alice));
  const cb = await TestClient.connect(b.url, await token(bob));
  const conv = (await ca.request({ t: 'open', with: bob })).conv.id as string;

  const png = pngBytes(64, 48);
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(png)]), 'shared.png');
  const up = await fetch(`${a.http}/api/v1/conversations/${conv}/attachments`, { method: 'POST', body: form, headers: { authorization: `Bearer ${await token(alice)}` } });
  const meta = await up.json();
  assert.equal(up.status, 201, JSON.stringify(meta));
  assert.deepEqual([meta.type, meta.width, meta.height], ['image/png', 64, 48]);

  const ack = await ca.request({ t: 'send', conv, cmid: 'x1', body: '', att: [meta.id] });
  assert.equal(ack.t, 'ack', JSON.stringify(ack));
  const msg = await cb.waitFor((f) => f.t === 'msg' && f.seq === ack.seq, 10_000);
  assert.deepEqual(msg.att, [meta]);

  const auth = { authorization: `Bearer ${await token(bob)}` };
  const whole = await fetch(`${b.http}/api/v1/attachments/${meta.id}`, { headers: auth });
  assert.equal(whole.status, 200);
  assert.deepEqual(Buffer.from(await whole.arrayBuffer()), png);
  const part = await fetch(`${b.http}/api/v1/attachments/${meta.id}`, { headers: { ...auth, range: 'bytes=8-15' } });
  assert.equal(part.status, 206);
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), png.subarray(8, 16));
  for (const n of nodes) assert.equal(existsSync(join(n.dataDir, 'blobs')), false, 'no blob on a node\'s disk');
  ca.close();
  cb.close();
});
