/**
 * The ticket signature through the blob-store port (issue 17), on one node:
 * - an upload is checked (role, status, PNG bytes, size) before any byte is stored: a refused
 *   upload leaves no file under the node's blob directory;
 * - the GET streams the blob with content-type image/png and its content-length;
 * - a store that accepts connections and never answers (BLOB_STORE=azure at a silent port)
 *   makes the upload answer 503 {retryMs} within BLOB_TIMEOUT_MS, and nothing is recorded.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { mkdtempSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pngBytes } from '../helpers/images.ts';
import { TestNode, token, uid } from '../helpers/node.ts';

const [agent, tech] = [uid('agent'), uid('tech')];
const centers = [{ id: 'sig-center', name: 'S', lat: 10, lon: 10, radiusKm: 30, brands: ['Acme'], agents: [agent], technicians: [tech] }];
const dir = mkdtempSync(join(tmpdir(), 'sig-store-test-'));
writeFileSync(join(dir, 'centers.json'), JSON.stringify(centers));

const productsServer: HttpServer = createHttpServer((req, res) => {
  if (!/^\/products\/p-acme\/warranty-status$/.test(req.url ?? '')) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ valid: true, brand: 'Acme' }));
});
// Accepts connections and never answers: a blob store that hangs.
const held = new Set<Socket>();
const silent: Server = createServer((socket) => (held.add(socket), socket.on('error', () => {})));

const BLOB_TIMEOUT_MS = 600;
let fileNode: TestNode;
let hungNode: TestNode;

before(async () => {
  await Promise.all([
    new Promise<void>((r) => productsServer.listen(0, '127.0.0.1', r)),
    new Promise<void>((r) => silent.listen(0, '127.0.0.1', r)),
  ]);
  const common = {
    PRODUCTS_URL: `http://127.0.0.1:${(productsServer.address() as { port: number }).port}`, SERVICE_CENTERS_FILE: join(dir, 'centers.json'),
    RATE_MSGS_PER_S: '1000', RATE_BURST: '1000', SIGNATURE_MAX_BYTES: '2048',
  };
  const silentPort = (silent.address() as { port: number }).port;
  fileNode = new TestNode({ env: common });
  hungNode = new TestNode({
    env: {
      ...common, BLOB_STORE: 'azure', BLOB_TIMEOUT_MS: String(BLOB_TIMEOUT_MS), BLOB_RETRIES: '1', AZURE_BLOB_CONTAINER: 'silent',
      AZURE_STORAGE_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${Buffer.from('k').toString('base64')};BlobEndpoint=http://127.0.0.1:${silentPort}/devstoreaccount1;`,
    },
  });
  await Promise.all([fileNode.start(), hungNode.start()]);
});
after(async () => {
  await Promise.all([fileNode.kill('SIGTERM'), hungNode.kill('SIGTERM')]);
  for (const s of held) s.destroy();
  await new Promise<void>((r) => silent.close(() => r()));
  productsServer.close();
});

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

/** A ticket of a fresh customer, assigned to `tech` (and moved to in_progress unless told not to). */
async function ticket(node: TestNode, start = true): Promise<{ id: string; cust: string }> {
  const cust = uid('cust');
  const created = await call(node, 'POST', '', cust, ['customer'], { productId: 'p-acme', brand: 'Acme', location: { lat: 10.01, lon: 10.01 }, description: 'broken' }, { 'idempotency-key': uid('k') });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.technicianId, tech);
  if (start) assert.equal((await call(node, 'PATCH', `/${created.body.id}/status`, tech, ['technician'], { status: 'in_progress' })).status, 200);
  return { id: created.body.id, cust };
}

async function upload(node: TestNode, id: string, user: string, roles: string[], bytes: Buffer) {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(bytes)], { type: 'image/png' }), 'signature.png');
  const res = await fetch(`${node.http}/api/v1/service-requests/${id}/signature`, { method: 'POST', body: form, headers: { authorization: `Bearer ${await token(user, roles)}`, 'idempotency-key': uid('sig') } });
  return { status: res.status, body: await res.json() };
}

/** Every file under the node's blob directory. */
function storedFiles(node: TestNode): string[] {
  const root = join(node.dataDir, 'blobs');
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name)).sort();
}

describe('ticket signature and the blob store', () => {
  test('refused uploads (wrong role, wrong status, not a PNG, too big) store nothing', async () => {
    const early = await ticket(fileNode, false);
    const t = await ticket(fileNode);
    const before = storedFiles(fileNode);
    const big = Buffer.concat([pngBytes(), Buffer.alloc(3000, 1)]); // PNG magic, past SIGNATURE_MAX_BYTES=2048
    const refusals: [string, Promise<{ status: number; body: { state?: string } }>, number][] = [
      ['wrong role: the customer', upload(fileNode, t.id, t.cust, ['customer'], pngBytes(3, 3)), 403],
      ['wrong role: a technician of no such assignment', upload(fileNode, t.id, uid('tech'), ['technician'], pngBytes(4, 4)), 403],
      ['wrong status: assigned', upload(fileNode, early.id, tech, ['technician'], pngBytes(5, 5)), 409],
      ['not a PNG', upload(fileNode, t.id, tech, ['technician'], Buffer.from('GIF89a not a png at all')), 415],
      ['too big', upload(fileNode, t.id, tech, ['technician'], big), 413],
    ];
    for (const [what, pending, status] of refusals) {
      const r = await pending;
      assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
    }
    assert.deepEqual(storedFiles(fileNode), before, 'no blob left behind by a refused upload');
    const wrongState = await upload(fileNode, early.id, tech, ['technician'], pngBytes(5, 5));
    assert.equal(wrongState.body.state, 'assigned', 'the refusal names the current status');
    assert.equal((await call(fileNode, 'GET', `/${early.id}`, early.cust, ['customer'])).body.signatureUrl, undefined);
  });

  test('the GET streams the stored signature: image/png with its content-length', async () => {
    const t = await ticket(fileNode);
    const png = pngBytes(20, 10);
    const before = storedFiles(fileNode).length;
    const sig = await upload(fileNode, t.id, tech, ['technician'], png);
    assert.equal(sig.status, 201, JSON.stringify(sig.body));
    assert.equal(storedFiles(fileNode).length, before + 1);
    const res = await fetch(`${fileNode.http}${sig.body.signatureUrl}`, { headers: { authorization: `Bearer ${await token(t.cust, ['customer'])}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.equal(res.headers.get('content-length'), String(png.length));
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), png);
    const none = await ticket(fileNode);
    const missing = await fetch(`${fileNode.http}/api/v1/service-requests/${none.id}/signature`, { headers: { authorization: `Bearer ${await token(none.cust, ['customer'])}` } });
    assert.equal(missing.status, 404);
    const stranger = await fetch(`${fileNode.http}${sig.body.signatureUrl}`, { headers: { authorization: `Bearer ${await token(uid('x'), ['customer'])}` } });
    assert.equal(stranger.status, 403);
  });

  test('a store that never answers: 503 {retryMs} within BLOB_TIMEOUT_MS, nothing recorded on the ticket', async () => {
    const t = await ticket(hungNode);
    const t0 = Date.now();
    const r = await upload(hungNode, t.id, tech, ['technician'], pngBytes(2, 2));
    const took = Date.now() - t0;
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(typeof r.body.retryMs, 'number');
    // The deadline, one backoff pause (≤ 1 s) and the request's own work.
    // The store call is cut at BLOB_TIMEOUT_MS; the rest (auth, the ticket read, a loaded CI box) gets a
    // generous margin: a hang would take until the test times out.
    assert.ok(took < BLOB_TIMEOUT_MS + 5_000, `took ${took} ms`);
    const got = await call(hungNode, 'GET', `/${t.id}`, t.cust, ['customer']);
    assert.equal(got.status, 200);
    assert.equal(got.body.signatureUrl, undefined, 'nothing recorded');
    assert.equal(got.body.status, 'in_progress');
    assert.ok(held.size > 0, 'the store was called (and held)');
  });
});
