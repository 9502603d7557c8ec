/**
 * Dispatcher actions end to end (issue 17) through a real node over HTTP and WebSocket: reassign
 * to another center and technician (the old technician is out of the room at once, the new one
 * in), force-cancel with a reason, reopen within and past TICKET_REOPEN_WINDOW_MS, retry routing
 * once a center appears, an expired warranty accepted as billable, and the audit trail.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { TestClient } from '../helpers/client.ts';
import { TestNode, token, uid } from '../helpers/node.ts';
import { pngBytes } from '../helpers/images.ts';


// --- the outside world: one fake serving the product and the service-center APIs; centers can be added ---
const products: Record<string, { brand: string; valid: boolean }> = {
  'p-acme': { brand: 'Acme', valid: true },
  'p-old': { brand: 'Acme', valid: false },
  'p-later': { brand: 'Later', valid: true },
};
const [agentA, techA, agentB, techB, techB2] = [uid('agentA'), uid('techA'), uid('agentB'), uid('techB'), uid('techB2')];
interface Center { id: string; name: string; lat: number; lon: number; radiusKm: number; brands: string[]; agents: string[]; technicians: string[] }
const centers: Center[] = [
  { id: 'center-a', name: 'A', lat: 10, lon: 10, radiusKm: 30, brands: ['Acme'], agents: [agentA], technicians: [techA] },
  { id: 'center-b', name: 'B', lat: 10.1, lon: 10.1, radiusKm: 30, brands: ['Other'], agents: [agentB], technicians: [techB, techB2] },
];
const fake: Server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const json = (status: number, body?: unknown) => void res.writeHead(status, { 'content-type': 'application/json' }).end(body === undefined ? '' : JSON.stringify(body));
  const product = /^\/products\/([^/]+)\/warranty-status$/.exec(url.pathname);
  if (product) {
    const p = products[decodeURIComponent(product[1])];
    return p ? json(200, { valid: p.valid, brand: p.brand }) : json(404);
  }
  if (url.pathname === '/service-centers/candidates') {
    const brand = (url.searchParams.get('brand') ?? '').toLowerCase();
    return json(200, centers.filter((c) => c.brands.some((b) => b.toLowerCase() === brand)));
  }
  const one = /^\/service-centers\/([^/]+)$/.exec(url.pathname);
  if (one) {
    const c = centers.find((x) => x.id === decodeURIComponent(one[1]));
    return c ? json(200, c) : json(404);
  }
  json(404);
});

const windowMs = 1500;
const dispatcherId = uid('disp');
let node: TestNode;

before(async () => {
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(fake.address() as { port: number }).port}`;
  node = new TestNode({ env: { PRODUCTS_URL: url, SERVICE_CENTERS_URL: url, TICKET_REOPEN_WINDOW_MS: String(windowMs), TICKET_DEPS_RETRIES: '0' } });
  await node.start();
});
after(async () => {
  await node.kill('SIGTERM');
  fake.close();
});

const api = (path: string) => `${node.http}/api/v1/service-requests${path}`;
async function call(method: string, path: string, user: string, roles: string[], body?: unknown) {
  // Every POST carries an Idempotency-Key (the ticket API's POSTs take one).
  const headers: Record<string, string> = { authorization: `Bearer ${await token(user, roles)}`, 'idempotency-key': randomUUID() };
  const init: RequestInit = { method, headers };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(api(path), init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
const create = (customer: string, productId = 'p-acme', brand = 'Acme') =>
  call('POST', '', customer, ['customer'], { productId, brand, location: { lat: 10.01, lon: 10.02 }, description: 'it hums' });
const dispatch = (id: string, action: string, body?: unknown, as = dispatcherId, roles = ['dispatcher']) => call('POST', `/${id}/${action}`, as, roles, body);
const move = (id: string, user: string, roles: string[], status: string) => call('PATCH', `/${id}/status`, user, roles, { status });

async function uploadSignature(id: string, user: string) {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(pngBytes())], { type: 'image/png' }), 'signature.png');
  const res = await fetch(api(`/${id}/signature`), { method: 'POST', body: form, headers: { authorization: `Bearer ${await token(user, ['technician'])}`, 'idempotency-key': randomUUID() } });
  return res.status;
}

/** A ticket of center-a taken through to `closed`. */
async function closedTicket(cust: string) {
  const t = (await create(cust)).body;
  assert.equal((await move(t.id, techA, ['technician'], 'in_progress')).status, 200);
  assert.equal(await uploadSignature(t.id, techA), 201);
  assert.equal((await move(t.id, techA, ['technician'], 'resolved')).status, 200);
  assert.equal((await move(t.id, cust, ['customer'], 'closed')).status, 200);
  return t;
}

describe('dispatcher actions', () => {
  test('reassign to another center and technician: the old technician is told and can no longer send, the new one can', async () => {
    const cust = uid('cust');
    const t = (await create(cust)).body;
    assert.deepEqual([t.status, t.serviceCenterId, t.technicianId], ['assigned', 'center-a', techA]);
    const old = await TestClient.connect(node.url, await token(techA, ['technician']));
    const neu = await TestClient.connect(node.url, await token(techB, ['technician']));
    assert.equal((await old.request({ t: 'join', conv: t.id })).t, 'conv');
    assert.equal((await old.request({ t: 'send', conv: t.id, cmid: 'o1', body: 'on my way' })).t, 'ack');
    assert.equal((await neu.request({ t: 'join', conv: t.id })).code, 403, 'not yet in the room');

    assert.equal((await dispatch(t.id, 'reassign', { centerId: 'center-b', technicianId: techB }, cust, ['customer'])).status, 403);
    const foreignTech = await dispatch(t.id, 'reassign', { centerId: 'center-b', technicianId: techA });
    assert.deepEqual([foreignTech.status, foreignTech.body.state], [422, 'assigned'], 'a technician of another center');
    assert.equal((await dispatch(t.id, 'reassign', { centerId: 'center-nope' })).status, 422, 'unknown center');
    assert.equal((await dispatch(t.id, 'reassign', {})).status, 400);

    const r = await dispatch(t.id, 'reassign', { centerId: 'center-b', technicianId: techB, reason: 'closer to the customer' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual([r.body.status, r.body.serviceCenterId, r.body.technicianId], ['assigned', 'center-b', techB]);
    const told = await old.waitFor((f) => f.t === 'state' && f.conv === t.id && !(f.participants as string[]).includes(techA));
    assert.deepEqual([...told.participants].sort(), [cust, agentB, techB].sort());
    const refused = await old.request({ t: 'send', conv: t.id, cmid: 'o2', body: 'still here?' });
    assert.deepEqual([refused.t, refused.code], ['err', 403], 'the old technician is out at once');
    await neu.waitFor((f) => f.t === 'state' && f.conv === t.id);
    assert.equal((await neu.request({ t: 'join', conv: t.id })).t, 'conv');
    assert.equal((await neu.request({ t: 'send', conv: t.id, cmid: 'n1', body: 'I take it from here' })).t, 'ack');
    // The new technician works it; the old one may not.
    assert.equal((await move(t.id, techA, ['technician'], 'in_progress')).status, 403);
    assert.equal((await move(t.id, techB, ['technician'], 'in_progress')).status, 200);
    // A reassign is not a status change: no history row for it.
    const got = await call('GET', `/${t.id}`, cust, ['customer']);
    assert.deepEqual(got.body.history.map((h: { to: string }) => h.to), ['created', 'assigned', 'in_progress']);
    // Only the technician, within center-b, while in_progress; an admin may too.
    const swap = await dispatch(t.id, 'reassign', { technicianId: techB2 }, uid('ops'), ['admin']);
    assert.deepEqual([swap.status, swap.body.technicianId, swap.body.status], [200, techB2, 'in_progress']);
    old.close();
    neu.close();
  });

  test('force-cancel from any open status needs a reason; the room is told and read-only', async () => {
    const cust = uid('cust');
    const t = (await create(cust)).body;
    assert.equal((await move(t.id, techA, ['technician'], 'in_progress')).status, 200);
    const cc = await TestClient.connect(node.url, await token(cust, ['customer']));
    assert.equal((await cc.request({ t: 'join', conv: t.id })).t, 'conv');
    assert.equal((await dispatch(t.id, 'cancel', {})).status, 400, 'reason required');
    assert.equal((await dispatch(t.id, 'cancel', { reason: 'x' }, cust, ['customer'])).status, 403, 'the customer cancels with PATCH status, before work starts');
    const r = await dispatch(t.id, 'cancel', { reason: 'duplicate of another request' });
    assert.deepEqual([r.status, r.body.status], [200, 'cancelled']);
    const st = await cc.waitFor((f) => f.t === 'state' && f.conv === t.id && f.state === 'cancelled');
    assert.equal(st.readOnly, true);
    const again = await dispatch(t.id, 'cancel', { reason: 'again' });
    assert.deepEqual([again.status, again.body.state], [409, 'cancelled']);
    const got = await call('GET', `/${t.id}`, cust, ['customer']);
    assert.deepEqual(got.body.history.at(-1), { ...got.body.history.at(-1), from: 'in_progress', to: 'cancelled', by: dispatcherId, reason: 'duplicate of another request' });
    cc.close();
  });

  test('reopen within TICKET_REOPEN_WINDOW_MS → in_progress and writable again; past it → 409', async () => {
    const cust = uid('cust');
    const t = await closedTicket(cust);
    const cc = await TestClient.connect(node.url, await token(cust, ['customer']));
    assert.equal((await cc.request({ t: 'join', conv: t.id })).t, 'conv');
    assert.equal((await dispatch(t.id, 'reopen', undefined, cust, ['customer'])).status, 403);
    const r = await dispatch(t.id, 'reopen', { reason: 'it hums again' });
    assert.deepEqual([r.status, r.body.status], [200, 'in_progress'], JSON.stringify(r.body));
    const st = await cc.waitFor((f) => f.t === 'state' && f.conv === t.id && f.state === 'in_progress');
    assert.equal(st.readOnly, false);
    assert.equal((await cc.request({ t: 'send', conv: t.id, cmid: 'c1', body: 'thanks' })).t, 'ack');
    assert.equal((await dispatch(t.id, 'reopen')).status, 409, 'not closed');

    // Resolved again (the signature stays) and closed; then the window passes.
    assert.equal((await move(t.id, techA, ['technician'], 'resolved')).status, 200);
    assert.equal((await move(t.id, cust, ['customer'], 'closed')).status, 200);
    await new Promise((res) => setTimeout(res, windowMs + 200));
    const late = await dispatch(t.id, 'reopen', undefined, uid('ops'), ['admin']);
    assert.deepEqual([late.status, late.body.state], [409, 'closed']);
    assert.match(late.body.message, /window/);
    cc.close();
  });

  test('retry routing: still created while no center covers it; assigned once one appears', async () => {
    const cust = uid('cust');
    const t = (await create(cust, 'p-later', 'Later')).body;
    assert.deepEqual([t.status, t.serviceCenterId], ['created', null]);
    const none = await dispatch(t.id, 'route');
    assert.deepEqual([none.status, none.body.status], [200, 'created']);
    assert.equal((await dispatch(t.id, 'route', undefined, uid('tech'), ['technician'])).status, 403);
    const agentL = uid('agentL');
    centers.push({ id: 'center-later', name: 'L', lat: 10, lon: 10, radiusKm: 30, brands: ['Later'], agents: [agentL], technicians: [] });
    const routed = await dispatch(t.id, 'route');
    assert.deepEqual([routed.status, routed.body.status, routed.body.serviceCenterId], [200, 'assigned', 'center-later']);
  });

  test('an expired warranty is accepted as billable; an unknown product stays 422', async () => {
    const cust = uid('cust');
    const r = await create(cust, 'p-old');
    assert.deepEqual([r.status, r.body.billable, r.body.status], [201, true, 'assigned'], JSON.stringify(r.body));
    assert.equal((await create(cust)).body.billable, false);
    assert.equal((await create(cust, 'p-missing')).status, 422);
    assert.equal((await create(cust, 'p-old', 'Other')).status, 422, 'brand mismatch past the warranty too');
  });

  test('a dispatcher reads any ticket and observes its room read-only; a DM stays closed to them', async () => {
    const cust = uid('cust');
    const t = (await create(cust)).body;
    const read = await call('GET', `/${t.id}`, dispatcherId, ['dispatcher']);
    assert.equal(read.status, 200);
    assert.equal(read.body.id, t.id);
    const d = await TestClient.connect(node.url, await token(dispatcherId, ['dispatcher']));
    const joined = await d.requestRetrying({ t: 'join', conv: t.id });
    assert.equal(joined.t, 'conv');
    assert.equal(joined.conv.readOnly, true, 'an observer');
    assert.equal((await d.request({ t: 'send', conv: t.id, cmid: 'd1', body: 'hi' })).code, 403, 'observers do not write');
    const customer = await TestClient.connect(node.url, await token(cust, ['customer']));
    await customer.requestRetrying({ t: 'join', conv: t.id });
    assert.equal((await customer.requestRetrying({ t: 'send', conv: t.id, cmid: 'c1', body: 'any news?' })).t, 'ack');
    assert.equal((await d.waitFor((f) => f.t === 'msg' && f.cmid === 'c1')).body, 'any news?', 'the observer sees the chat live');
    customer.close();
    d.close();
    const ordinary = await call('GET', `/${t.id}`, uid('stranger'), ['technician']);
    assert.equal(ordinary.status, 403);
  });

  test('the OpenAPI document describes the dispatcher routes', async () => {
    const doc = await (await fetch(`${node.http}/api/v1/openapi.json`)).json();
    for (const a of ['reassign', 'cancel', 'reopen', 'route']) assert.ok(doc.paths[`/api/v1/service-requests/{id}/${a}`]?.post, a);
    assert.equal(doc.components.schemas.ServiceRequest.properties.billable.type, 'boolean');
  });

  test('the audit trail shows the dispatcher actions', async () => {
    const r = await fetch(`${node.http}/api/v1/admin/audit?actor=${dispatcherId}&limit=100`, { headers: { authorization: `Bearer ${await token(uid('auditor'), ['admin'])}` } });
    assert.equal(r.status, 200);
    const entries = (await r.json()).entries as { action: string; target: string; detail: Record<string, unknown> }[];
    const actions = new Set(entries.map((e) => e.action));
    for (const a of ['reassign_ticket', 'cancel_ticket', 'reopen_ticket', 'route_ticket']) assert.ok(actions.has(a), `${a} in ${[...actions]}`);
    const reassign = entries.find((e) => e.action === 'reassign_ticket' && e.detail.reason === 'closer to the customer');
    assert.ok(reassign && reassign.target.startsWith('sr_'));
    assert.deepEqual([reassign.detail.centerId, reassign.detail.technicianId], ['center-b', techB]);
  });
});
