/**
 * Service-request tickets end to end (seed 000): HTTP lifecycle with idempotency, warranty
 * check through a remote product service, routing over the embedded service-center table,
 * a real PNG signature, and the ticket's chat over the WebSocket protocol.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestClient } from '../helpers/client.ts';
import { TestNode, token, uid } from '../helpers/node.ts';
import { pngBytes } from '../helpers/images.ts';


// --- the outside world: a product service we can break, and a table of service centers ---
const products: Record<string, { brand: string; valid: boolean }> = {
  'p-acme': { brand: 'Acme', valid: true },
  'p-old': { brand: 'Acme', valid: false },
  'p-even': { brand: 'Evenly', valid: true },
  'p-nowhere': { brand: 'Nowhere', valid: true },
  'p-restart': { brand: 'Restart', valid: true },
};
let productsDown = false;
const productsServer: Server = createServer((req, res) => {
  if (productsDown) return void res.writeHead(500).end('down');
  const m = /^\/products\/([^/]+)\/warranty-status$/.exec(req.url ?? '');
  const p = m && products[decodeURIComponent(m[1])];
  if (!p) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ valid: p.valid, brand: p.brand }));
});

const [agentA, techA1, techA2, agentB, techB] = [uid('agentA'), uid('techA1'), uid('techA2'), uid('agentB'), uid('techB')];
const evenCenters = ['even-1', 'even-2', 'even-3'];
const centers = [
  // Both cover (10, 10); the brand filter leaves only A for Acme.
  { id: 'center-a', name: 'A', lat: 10.0, lon: 10.0, radiusKm: 30, brands: ['Acme'], agents: [agentA], technicians: [techA1, techA2] },
  { id: 'center-b', name: 'B', lat: 10.1, lon: 10.1, radiusKm: 30, brands: ['Other'], agents: [agentB], technicians: [techB] },
  // Serves Acme but is 1000+ km away.
  { id: 'center-far', name: 'Far', lat: 20.0, lon: 20.0, radiusKm: 50, brands: ['Acme'], agents: [uid('agentF')], technicians: [] },
  // Two candidates for the restart test: an odd number of picks before the restart tells a
  // recovered counter (next: restart-2) from one starting over (next: restart-1).
  ...['restart-1', 'restart-2'].map((id) => ({ id, name: id, lat: 45, lon: -70, radiusKm: 10, brands: ['Restart'], agents: [uid(`agent-${id}`)], technicians: [] })),
  ...evenCenters.map((id) => ({ id, name: id, lat: -30, lon: 150, radiusKm: 10, brands: ['Evenly'], agents: [uid(`agent-${id}`)], technicians: [uid(`t1-${id}`), uid(`t2-${id}`)] })),
];

const dir = mkdtempSync(join(tmpdir(), 'tickets-test-'));
writeFileSync(join(dir, 'centers.json'), JSON.stringify(centers));
let node: TestNode;

before(async () => {
  await new Promise<void>((r) => productsServer.listen(0, '127.0.0.1', r));
  const port = (productsServer.address() as { port: number }).port;
  node = new TestNode({
    env: {
      PRODUCTS_URL: `http://127.0.0.1:${port}`, SERVICE_CENTERS_FILE: join(dir, 'centers.json'),
      TICKET_DEPS_TIMEOUT_MS: '500', TICKET_DEPS_RETRIES: '1', TICKET_DEPS_BREAKER_THRESHOLD: '3', TICKET_DEPS_BREAKER_HALF_OPEN_MS: '300',
      RATE_MSGS_PER_S: '1000', RATE_BURST: '1000',
    },
  });
  await node.start();
});
after(async () => {
  await node.kill('SIGTERM');
  productsServer.close();
});

const api = (path: string) => `${node.http}/api/v1/service-requests${path}`;
async function call(method: string, path: string, user: string, roles: string[], body?: unknown, headers: Record<string, string> = {}) {
  const init: RequestInit = { method, headers: { authorization: `Bearer ${await token(user, roles)}`, ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const res = await fetch(api(path), init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
const request = (productId = 'p-acme', brand = 'Acme', at = { lat: 10.01, lon: 10.02 }) => ({ productId, brand, location: at, description: 'the screen flickers' });
const create = (customer: string, key: string, body: unknown = request()) => call('POST', '', customer, ['customer'], body, { 'idempotency-key': key });
const move = (id: string, user: string, roles: string[], status: string, reason?: string) => call('PATCH', `/${id}/status`, user, roles, { status, reason });

async function uploadSignature(id: string, user: string, roles: string[], bytes: Buffer, type = 'image/png') {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(bytes)], { type }), 'signature.png');
  const res = await fetch(api(`/${id}/signature`), { method: 'POST', body: form, headers: { authorization: `Bearer ${await token(user, roles)}`, 'idempotency-key': uid('sig') } });
  return { status: res.status, body: await res.json() };
}

describe('service-request tickets', () => {
  test('create twice with one Idempotency-Key → one ticket, routed to the covering center of the brand', async () => {
    const cust = uid('cust');
    const first = await create(cust, 'k1');
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.status, 'assigned');
    assert.equal(first.body.serviceCenterId, 'center-a');
    assert.ok([techA1, techA2].includes(first.body.technicianId));
    const again = await create(cust, 'k1');
    assert.equal(again.status, 201);
    assert.deepEqual(again.body, first.body, 'the original response');
    const other = await create(cust, 'k1', { ...request(), description: 'something else' });
    assert.deepEqual([other.status, other.body.code], [422, 422], 'same key, different body');
    const list = await fetch(`${node.http}/api/v1/admin/conversations?kind=ticket&participant=${cust}`, { headers: { authorization: `Bearer ${await token('ops', ['admin'])}` } });
    assert.equal((await list.json()).conversations.length, 1, 'one ticket');
    // Keys are scoped per user: another customer's k1 is another ticket.
    const theirs = await create(uid('cust'), 'k1');
    assert.equal(theirs.status, 201);
    assert.notEqual(theirs.body.id, first.body.id);
  });

  test('full lifecycle with a PNG signature; the chat follows the status and is read-only once closed', async () => {
    const cust = uid('cust');
    const t = (await create(cust, 'life')).body;
    const tech = t.technicianId as string;
    const cc = await TestClient.connect(node.url, await token(cust, ['customer']));
    const ct = await TestClient.connect(node.url, await token(tech, ['technician']));
    const ca = await TestClient.connect(node.url, await token(agentA, ['agent']));
    const admin = await TestClient.connect(node.url, await token('ops', ['admin']));
    const joined = await cc.request({ t: 'join', conv: t.id });
    assert.deepEqual([joined.conv.kind, joined.conv.state, joined.conv.readOnly], ['ticket', 'assigned', false]);
    assert.deepEqual([...joined.conv.participants].sort(), [cust, agentA, tech].sort());
    for (const c of [ct, ca]) assert.equal((await c.request({ t: 'join', conv: t.id })).t, 'conv');
    assert.equal((await admin.request({ t: 'join', conv: t.id })).conv.readOnly, true, 'admins observe read-only');
    assert.equal((await cc.request({ t: 'send', conv: t.id, cmid: 'c1', body: 'when can you come?' })).t, 'ack');
    await ct.waitFor((f) => f.t === 'msg' && f.cmid === 'c1');
    await admin.waitFor((f) => f.t === 'msg' && f.cmid === 'c1');
    const observerSend = await admin.request({ t: 'send', conv: t.id, cmid: 'a1', body: 'hi' });
    assert.deepEqual([observerSend.t, observerSend.code], ['err', 403]);

    assert.equal((await move(t.id, tech, ['technician'], 'in_progress')).status, 200);
    const st = await cc.waitFor((f) => f.t === 'state' && f.conv === t.id && f.state === 'in_progress');
    assert.equal(st.readOnly, false);
    const unsigned = await move(t.id, tech, ['technician'], 'resolved');
    assert.deepEqual([unsigned.status, unsigned.body.state], [409, 'in_progress'], 'resolution needs a signature');
    const sig = await uploadSignature(t.id, tech, ['technician'], pngBytes());
    assert.equal(sig.status, 201, JSON.stringify(sig.body));
    assert.equal((await move(t.id, agentA, ['agent'], 'resolved')).status, 200);
    const got = await call('GET', `/${t.id}`, cust, ['customer']);
    assert.equal(got.body.signatureUrl, sig.body.signatureUrl);
    assert.deepEqual(got.body.history.map((h: { to: string }) => h.to), ['created', 'assigned', 'in_progress', 'resolved']);
    const image = await fetch(`${node.http}${sig.body.signatureUrl}`, { headers: { authorization: `Bearer ${await token(cust, ['customer'])}` } });
    assert.equal(image.headers.get('content-type'), 'image/png');
    assert.deepEqual(Buffer.from(await image.arrayBuffer()), pngBytes());
    const stranger = await fetch(`${node.http}${sig.body.signatureUrl}`, { headers: { authorization: `Bearer ${await token(uid('x'), ['customer'])}` } });
    assert.equal(stranger.status, 403);

    const closed = await move(t.id, cust, ['customer'], 'closed', 'fixed, thanks');
    assert.deepEqual([closed.status, closed.body.status], [200, 'closed']);
    const final = await ct.waitFor((f) => f.t === 'state' && f.state === 'closed');
    assert.equal(final.readOnly, true);
    const late = await cc.request({ t: 'send', conv: t.id, cmid: 'c2', body: 'one more thing' });
    assert.deepEqual([late.t, late.code], ['err', 409], 'chat is read-only after close');
    const history = await cc.request({ t: 'history', conv: t.id });
    assert.deepEqual(history.msgs.map((m: { cmid: string }) => m.cmid), ['c1'], 'the chat stays readable');
    for (const c of [cc, ct, ca, admin]) c.close();
  });

  test('wrong role → 403 (even when also invalid); invalid transition → 409; both with the current state', async () => {
    const cust = uid('cust');
    const t = (await create(cust, 'roles')).body;
    const wrong = await move(t.id, cust, ['customer'], 'in_progress');
    assert.deepEqual([wrong.status, wrong.body.state], [403, 'assigned']);
    const stranger = await move(t.id, techB, ['technician'], 'in_progress');
    assert.equal(stranger.status, 403, 'a technician of another center');
    const both = await move(t.id, t.technicianId, ['technician'], 'closed');
    assert.equal(both.status, 403, 'wrong role and invalid: 403 wins');
    const invalid = await move(t.id, cust, ['customer'], 'closed');
    assert.deepEqual([invalid.status, invalid.body.state], [409, 'assigned']);
    const routingOnly = await move(t.id, 'ops', ['admin'], 'assigned');
    assert.equal(routingOnly.status, 403);
    assert.equal((await move(t.id, cust, ['customer'], 'cancelled')).status, 200);
    const afterCancel = await move(t.id, t.technicianId, ['technician'], 'in_progress');
    assert.deepEqual([afterCancel.status, afterCancel.body.state], [409, 'cancelled']);
    const unknown = await move(t.id, cust, ['customer'], 'reopened');
    assert.equal(unknown.status, 400);
  });

  test('dispute sends a resolved ticket back to in_progress', async () => {
    const cust = uid('cust');
    const t = (await create(cust, 'dispute')).body;
    assert.equal((await move(t.id, t.technicianId, ['technician'], 'in_progress')).status, 200);
    assert.equal((await uploadSignature(t.id, t.technicianId, ['technician'], pngBytes())).status, 201);
    assert.equal((await move(t.id, t.technicianId, ['technician'], 'resolved')).status, 200);
    assert.equal((await move(t.id, cust, ['customer'], 'disputed', 'still flickers')).status, 200);
    assert.equal((await move(t.id, agentA, ['agent'], 'in_progress')).status, 200);
    const got = await call('GET', `/${t.id}`, cust, ['customer']);
    assert.deepEqual(got.body.history.map((h: { to: string }) => h.to), ['created', 'assigned', 'in_progress', 'resolved', 'disputed', 'in_progress']);
    assert.equal(got.body.history[4].reason, 'still flickers');
  });

  test('round-robin spreads a brand evenly over its candidates and each center over its technicians', async () => {
    const picks: { center: string; tech: string }[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await create(uid('cust'), `even-${i}`, request('p-even', 'Evenly', { lat: -30.01, lon: 150.01 }));
      assert.equal(r.status, 201);
      picks.push({ center: r.body.serviceCenterId, tech: r.body.technicianId });
    }
    assert.deepEqual(picks.map((p) => p.center), [...evenCenters, ...evenCenters], 'candidate counter mod n, in id order');
    for (const c of evenCenters) {
      const techs = picks.filter((p) => p.center === c).map((p) => p.tech);
      assert.equal(new Set(techs).size, 2, `${c} alternates its two technicians`);
    }
  });

  test('after a restart the router resumes its round-robin from the tickets already routed', async () => {
    const at = { lat: 45.01, lon: -70.01 };
    const first = await create(uid('cust'), 'r1', request('p-restart', 'Restart', at));
    assert.equal(first.body.serviceCenterId, 'restart-1');
    await node.kill('SIGTERM');
    await node.start();
    const second = await create(uid('cust'), 'r2', request('p-restart', 'Restart', at));
    assert.equal(second.status, 201, JSON.stringify(second.body));
    assert.equal(second.body.serviceCenterId, 'restart-2', 'the counter was recovered, not reset');
  });

  test('no covering center: the ticket stays created with a reason, and re-routing is for the customer or an admin', async () => {
    const cust = uid('cust');
    const r = await create(cust, 'nowhere', request('p-nowhere', 'Nowhere'));
    assert.equal(r.status, 201);
    assert.deepEqual([r.body.status, r.body.serviceCenterId], ['created', null]);
    assert.match(r.body.routingReason, /no service center/);
    assert.equal((await call('POST', `/${r.body.id}/route`, uid('x'), ['customer'], undefined, { 'idempotency-key': 'route-1' })).status, 403);
    const retry = await call('POST', `/${r.body.id}/route`, cust, ['customer'], undefined, { 'idempotency-key': 'route-1' });
    assert.deepEqual([retry.status, retry.body.status], [200, 'created']);
  });

  test('unknown product, brand and input errors are refused with 4xx and create nothing; an expired warranty is billable', async () => {
    const cust = uid('cust');
    // Issue 17: past its warranty a product is still serviced, as a billable ticket.
    const expired = await create(uid('cust'), 'e1', request('p-old'));
    assert.deepEqual([expired.status, expired.body.billable], [201, true], JSON.stringify(expired.body));
    assert.equal((await create(cust, 'e1b', request('p-old', 'Other'))).status, 422, 'brand mismatch past the warranty');
    assert.equal((await create(cust, 'e2', request('p-missing'))).status, 422);
    assert.equal((await create(cust, 'e3', request('p-acme', 'Other'))).status, 422, 'brand mismatch');
    assert.equal((await call('POST', '', cust, ['customer'], request())).status, 400, 'no Idempotency-Key');
    assert.equal((await call('POST', '', cust, ['customer'], '{"productId": ', { 'idempotency-key': 'm' })).status, 400, 'malformed JSON');
    assert.equal((await create(cust, 'e4', { ...request(), location: { lat: 91, lon: 0 } })).status, 400);
    assert.equal((await create(cust, 'e5', { productId: 'p-acme' })).status, 400);
    assert.equal((await call('POST', '', cust, ['technician'], request(), { 'idempotency-key': 'e6' })).status, 403);
    assert.equal((await fetch(api(''), { method: 'POST', body: JSON.stringify(request()) })).status, 401);
    const list = await fetch(`${node.http}/api/v1/admin/conversations?kind=ticket&participant=${cust}`, { headers: { authorization: `Bearer ${await token('ops', ['admin'])}` } });
    assert.equal((await list.json()).conversations.length, 0);
  });

  test('signature uploads: non-PNG, wrong role, wrong status and missing field are refused', async () => {
    const cust = uid('cust');
    const t = (await create(cust, 'sig')).body;
    const early = await uploadSignature(t.id, t.technicianId, ['technician'], pngBytes());
    assert.deepEqual([early.status, early.body.state], [409, 'assigned'], 'only while in_progress');
    await move(t.id, t.technicianId, ['technician'], 'in_progress');
    assert.equal((await uploadSignature(t.id, t.technicianId, ['technician'], Buffer.from('GIF89a not a png'), 'image/png')).status, 415);
    assert.equal((await uploadSignature(t.id, cust, ['customer'], pngBytes())).status, 403, 'the customer does not upload');
    const form = new FormData();
    form.append('other', 'x');
    const missing = await fetch(api(`/${t.id}/signature`), { method: 'POST', body: form, headers: { authorization: `Bearer ${await token(t.technicianId, ['technician'])}`, 'idempotency-key': uid('sig') } });
    assert.equal(missing.status, 400);
    const json = await call('POST', `/${t.id}/signature`, t.technicianId, ['technician'], { file: 'x' }, { 'idempotency-key': uid('sig') });
    assert.equal(json.status, 415, 'not multipart');
  });

  test('product service down → 503 and nothing created; it recovers once the service does', async () => {
    const cust = uid('cust');
    productsDown = true;
    try {
      const down = await create(cust, 'down');
      assert.equal(down.status, 503, JSON.stringify(down.body));
      const list = await fetch(`${node.http}/api/v1/admin/conversations?kind=ticket&participant=${cust}`, { headers: { authorization: `Bearer ${await token('ops', ['admin'])}` } });
      assert.equal((await list.json()).conversations.length, 0, 'nothing half-created');
    } finally {
      productsDown = false;
    }
    // The breaker half-opens after TICKET_DEPS_BREAKER_HALF_OPEN_MS and closes on the first success.
    let status = 0;
    for (let i = 0; i < 50 && status !== 201; i++) {
      status = (await create(cust, 'down')).status;
      if (status !== 201) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 201);
  });

  test('the OpenAPI document describes the service-request routes and the issue-15/16 routes', async () => {
    const doc = await (await fetch(`${node.http}/api/v1/openapi.json`)).json();
    assert.equal(doc.openapi, '3.1.0');
    for (const p of [
      '/api/v1/service-requests', '/api/v1/service-requests/{id}', '/api/v1/service-requests/{id}/status', '/api/v1/service-requests/{id}/signature',
      '/api/v1/conversations/{id}/attachments', '/api/v1/me/blocks/{user}', '/api/v1/admin/reports/{id}/resolve', '/api/v1/me/settings',
      '/api/v1/me/conversations/{id}/mute', '/api/v1/me/push-subscriptions', '/api/v1/admin/notifications/dead-letters/replay',
      '/api/v1/admin/users/{id}/revoke', '/api/v1/admin/users/{id}/export', '/api/v1/admin/users/{id}/erase', '/api/v1/admin/audit',
    ]) {
      assert.ok(doc.paths[p], p);
    }
  });
});
