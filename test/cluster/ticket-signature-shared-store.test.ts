/**
 * Ticket signatures across a cluster (issue 17): two nodes share one Postgres, NATS and one blob
 * store, Azure Blob Storage on Microsoft's azurite emulator. The technician uploads the
 * signature through node 1; the customer reads it, byte-identical, from node 2. Refused uploads
 * leave the shared container as it was, and no blob lands on either node's disk.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { connect, type NatsConnection } from 'nats';
import { pngBytes } from '../helpers/images.ts';
import { TestNode, token, uid } from '../helpers/node.ts';
import { sharedDatabase, type SharedDatabase } from '../helpers/shared-database.ts';
import { clusterEnv, dropStreams, natsUrl, runPrefix } from '../helpers/cluster-env.ts';
import { startAzurite, type Azurite } from '../helpers/azurite.ts';

const prefix = runPrefix('sig');
const container = `c-${prefix.toLowerCase()}`;
const [agent, tech] = [uid('agent'), uid('tech')];
const dir = mkdtempSync(join(tmpdir(), 'sig-cluster-'));
writeFileSync(join(dir, 'centers.json'), JSON.stringify([{ id: 'sig-c', name: 'S', lat: 10, lon: 10, radiusKm: 30, brands: ['Acme'], agents: [agent], technicians: [tech] }]));
const products: Server = createServer((req, res) => {
  if (!/^\/products\/p-acme\/warranty-status$/.test(req.url ?? '')) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ valid: true, brand: 'Acme' }));
});

let db: SharedDatabase;
let nc: NatsConnection;
let azurite: Azurite;
const nodes: TestNode[] = [];

before(async () => {
  [db, azurite] = await Promise.all([sharedDatabase(), startAzurite(), new Promise<void>((r) => products.listen(0, '127.0.0.1', r))]);
  nc = await connect({ servers: natsUrl });
  for (const id of ['sig-1', 'sig-2']) {
    nodes.push(new TestNode({
      env: {
        ...db.env, ...clusterEnv(prefix), NODE_ID: `${prefix}-${id}`, RATE_MSGS_PER_S: '1000', RATE_BURST: '1000',
        PRODUCTS_URL: `http://127.0.0.1:${(products.address() as { port: number }).port}`, SERVICE_CENTERS_FILE: join(dir, 'centers.json'),
        BLOB_STORE: 'azure', AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString, AZURE_BLOB_CONTAINER: container,
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
  products.close();
});

/** The names of the blobs in the shared container (none when it does not exist yet). */
async function listing(): Promise<string[]> {
  const c = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(container);
  if (!(await c.exists())) return [];
  const names: string[] = [];
  for await (const b of c.listBlobsFlat()) names.push(b.name);
  return names.sort();
}

async function call(node: TestNode, method: string, path: string, user: string, roles: string[], body?: unknown, headers: Record<string, string> = {}) {
  const init: RequestInit = { method, headers: { authorization: `Bearer ${await token(user, roles)}`, ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const res = await fetch(`${node.http}/api/v1/service-requests${path}`, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function upload(node: TestNode, id: string, user: string, roles: string[], bytes: Buffer) {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(bytes)], { type: 'image/png' }), 'signature.png');
  const res = await fetch(`${node.http}/api/v1/service-requests/${id}/signature`, { method: 'POST', body: form, headers: { authorization: `Bearer ${await token(user, roles)}`, 'idempotency-key': uid('sig') } });
  return { status: res.status, body: await res.json() };
}

test('signature uploaded on node 1 is read byte-identical on node 2 from the shared Azure store', async () => {
  const [n1, n2] = nodes;
  const cust = uid('cust');
  const created = await call(n1, 'POST', '', cust, ['customer'], { productId: 'p-acme', brand: 'Acme', location: { lat: 10.01, lon: 10.01 }, description: 'broken' }, { 'idempotency-key': 'k1' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.id as string;
  assert.equal(created.body.technicianId, tech);

  // Refused before any byte is stored: wrong status, then (in_progress) wrong role and not a PNG.
  const before = await listing();
  assert.equal((await upload(n1, id, tech, ['technician'], pngBytes(7, 7))).status, 409, 'not in_progress yet');
  assert.equal((await call(n1, 'PATCH', `/${id}/status`, tech, ['technician'], { status: 'in_progress' })).status, 200);
  assert.equal((await upload(n1, id, cust, ['customer'], pngBytes(8, 8))).status, 403);
  assert.equal((await upload(n2, id, tech, ['technician'], Buffer.from('not a png'))).status, 415);
  assert.deepEqual(await listing(), before, 'refused uploads leave the container as it was');

  const png = pngBytes(48, 16);
  const sig = await upload(n1, id, tech, ['technician'], png);
  assert.equal(sig.status, 201, JSON.stringify(sig.body));
  assert.equal((await listing()).length, before.length + 1, 'one blob in the shared container');

  const res = await fetch(`${n2.http}${sig.body.signatureUrl}`, { headers: { authorization: `Bearer ${await token(cust, ['customer'])}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/png');
  assert.equal(res.headers.get('content-length'), String(png.length));
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), png);
  for (const n of nodes) assert.equal(existsSync(join(n.dataDir, 'blobs')), false, 'no blob on a node\'s disk');
});
