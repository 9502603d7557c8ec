/**
 * GET /api/v1/service-requests end to end (issue 17), through a real node: each role sees
 * exactly its tickets (several roles: the union), cursors page without gaps or repeats, every
 * filter, full-text search over descriptions and ticket chat (sent over the WebSocket), never
 * across customers, admin lists audited, bad inputs refused with 400.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestClient } from '../helpers/client.ts';
import { TestNode, token, uid } from '../helpers/node.ts';

const [agentA, agentB, techA, techB, cust1, cust2] = [uid('agentA'), uid('agentB'), uid('techA'), uid('techB'), uid('cust1'), uid('cust2')];
const admin = uid('admin');
const dispatcher = uid('dispatcher');
const centers = [
  { id: 'center-a', name: 'A', lat: 10, lon: 10, radiusKm: 50, brands: ['Acme'], agents: [agentA], technicians: [techA] },
  // techA is also an agent of center B: with both roles they see the union.
  { id: 'center-b', name: 'B', lat: 10, lon: 10, radiusKm: 50, brands: ['Bolt'], agents: [agentB, techA], technicians: [techB] },
];
const products = [
  { id: 'p-acme', brand: 'Acme', warrantyUntil: '2099-01-01' },
  { id: 'p-bolt', brand: 'Bolt', warrantyUntil: '2099-01-01' },
  { id: 'p-lost', brand: 'Lost', warrantyUntil: '2099-01-01' },
];

const dir = mkdtempSync(join(tmpdir(), 'ticket-lists-test-'));
writeFileSync(join(dir, 'centers.json'), JSON.stringify(centers));
writeFileSync(join(dir, 'products.json'), JSON.stringify(products));
let node: TestNode;

interface Ticket { id: string; status: string; customerId: string; serviceCenterId: string | null; technicianId?: string; description: string; createdAt: string }
/** Every ticket created, in creation order. */
const all: Ticket[] = [];

async function call(path: string, user: string, roles: string[], init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${node.http}${path}`, { ...init, headers: { authorization: `Bearer ${await token(user, roles)}`, ...(init.headers ?? {}) } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
const list = (user: string, roles: string[], query = '') => call(`/api/v1/service-requests${query ? `?${query}` : ''}`, user, roles);

/** Every page of a list, following `next`; fails on a repeat. */
async function listAll(user: string, roles: string[], query = '', limit = 20): Promise<Ticket[]> {
  const out: Ticket[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const q = new URLSearchParams(query);
    q.set('limit', String(limit));
    if (cursor) q.set('cursor', cursor);
    const r = await list(user, roles, q.toString());
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.ok(r.body.items.length <= limit);
    out.push(...r.body.items);
    cursor = r.body.next;
    if (!cursor) break;
  }
  assert.equal(new Set(out.map((t) => t.id)).size, out.length, 'no ticket twice');
  return out;
}
const ids = (ts: Ticket[]) => ts.map((t) => t.id);
/** Newest first, as the list orders. */
const newest = (ts: Ticket[]) => [...ts].sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));

async function create(customer: string, productId: string, brand: string, description: string): Promise<Ticket> {
  const r = await call('/api/v1/service-requests', customer, ['customer'], {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': uid('k') },
    body: JSON.stringify({ productId, brand, location: { lat: 10, lon: 10 }, description }),
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  all.push(r.body);
  return r.body;
}

before(async () => {
  node = new TestNode({
    env: {
      PRODUCTS_FILE: join(dir, 'products.json'), SERVICE_CENTERS_FILE: join(dir, 'centers.json'),
      RATE_MSGS_PER_S: '1000', RATE_BURST: '1000',
    },
  });
  await node.start();
  // Apart in time, so the createdFrom/createdTo filters have boundaries to cut between.
  const plan: [string, string, string][] = [
    [cust1, 'p-acme', 'Acme'], [cust1, 'p-bolt', 'Bolt'], [cust2, 'p-acme', 'Acme'], [cust1, 'p-acme', 'Acme'],
    [cust2, 'p-bolt', 'Bolt'], [cust1, 'p-lost', 'Lost'], [cust2, 'p-acme', 'Acme'], [cust1, 'p-bolt', 'Bolt'],
  ];
  for (const [i, [customer, product, brand]] of plan.entries()) {
    await create(customer, product, brand, `my ${brand} device is broken, reference zebra${i}`);
    await new Promise((r) => setTimeout(r, 5));
  }
});
after(async () => {
  await node?.kill('SIGTERM');
});

describe('ticket lists', () => {
  test('routing happened as planned (the fixture)', () => {
    assert.deepEqual(all.map((t) => t.serviceCenterId), ['center-a', 'center-b', 'center-a', 'center-a', 'center-b', null, 'center-a', 'center-b']);
    assert.deepEqual(all.map((t) => t.technicianId ?? null), [techA, techB, techA, techA, techB, null, techA, techB]);
  });

  test('each role sees exactly its tickets, newest first; several roles see the union', async () => {
    const expect = (pred: (t: Ticket) => boolean) => ids(newest(all.filter(pred)));
    assert.deepEqual(ids(await listAll(cust1, ['customer'])), expect((t) => t.customerId === cust1));
    assert.deepEqual(ids(await listAll(cust2, ['user'])), expect((t) => t.customerId === cust2));
    assert.deepEqual(ids(await listAll(agentA, ['agent'])), expect((t) => t.serviceCenterId === 'center-a'));
    assert.deepEqual(ids(await listAll(agentB, ['agent'])), expect((t) => t.serviceCenterId === 'center-b'));
    assert.deepEqual(ids(await listAll(techB, ['technician'])), expect((t) => t.technicianId === techB));
    assert.deepEqual(ids(await listAll(techA, ['technician'])), expect((t) => t.technicianId === techA));
    assert.deepEqual(ids(await listAll(techA, ['technician', 'agent'])), expect((t) => t.serviceCenterId !== null), 'assignments ∪ center B');
    assert.deepEqual(ids(await listAll(agentA, ['agent', 'customer'])), expect((t) => t.serviceCenterId === 'center-a'), 'no tickets of their own');
    assert.deepEqual(ids(await listAll(admin, ['admin'])), expect(() => true));
    assert.deepEqual(ids(await listAll(dispatcher, ['dispatcher'])), expect(() => true));
    assert.deepEqual(ids(await listAll(uid('nobody'), ['customer'])), []);
    assert.equal((await list(uid('rider'), ['rider'])).status, 403);
    const anonymous = await fetch(`${node.http}/api/v1/service-requests`);
    assert.equal(anonymous.status, 401);
  });

  test('cursors page through without gaps or repeats, whatever the page size', async () => {
    const whole = ids(newest(all));
    for (const limit of [1, 2, 3, 7, 100]) assert.deepEqual(ids(await listAll(admin, ['admin'], '', limit)), whole, `limit ${limit}`);
    const first = await list(admin, ['admin'], 'limit=3');
    assert.equal(first.body.items.length, 3);
    assert.match(first.body.next, /^[A-Za-z0-9_-]+$/);
    const last = await list(admin, ['admin'], `limit=${all.length}`);
    assert.equal(last.body.next, undefined, 'no next when the page holds the rest');
    assert.equal((await list(admin, ['admin'])).body.items.length, all.length, 'default limit 20 holds them all');
  });

  test('filters: status, center, technician, createdFrom/createdTo (ISO or ms), combined with the role', async () => {
    const cancelled = all[0];
    const moved = await call(`/api/v1/service-requests/${cancelled.id}/status`, cust1, ['customer'], {
      method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'cancelled' }),
    });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    cancelled.status = 'cancelled';
    const expect = (pred: (t: Ticket) => boolean) => ids(newest(all.filter(pred)));
    assert.deepEqual(ids(await listAll(admin, ['admin'], 'status=cancelled')), [cancelled.id]);
    assert.deepEqual(ids(await listAll(admin, ['admin'], 'status=assigned')), expect((t) => t.status === 'assigned'));
    assert.deepEqual(ids(await listAll(admin, ['admin'], 'status=created')), expect((t) => t.serviceCenterId === null));
    assert.deepEqual(ids(await listAll(admin, ['admin'], 'center=center-b')), expect((t) => t.serviceCenterId === 'center-b'));
    assert.deepEqual(ids(await listAll(admin, ['admin'], `technician=${techA}`)), expect((t) => t.technicianId === techA));
    assert.deepEqual(ids(await listAll(cust1, ['customer'], 'center=center-a')), expect((t) => t.customerId === cust1 && t.serviceCenterId === 'center-a'));
    assert.deepEqual(ids(await listAll(cust2, ['customer'], 'center=center-a&status=assigned')), expect((t) => t.customerId === cust2 && t.serviceCenterId === 'center-a' && t.status === 'assigned'));

    const from = all[3].createdAt;
    const to = all[6].createdAt;
    const ms = (iso: string) => Date.parse(iso);
    assert.deepEqual(ids(await listAll(admin, ['admin'], `createdFrom=${encodeURIComponent(from)}`)), expect((t) => ms(t.createdAt) >= ms(from)));
    assert.deepEqual(ids(await listAll(admin, ['admin'], `createdTo=${ms(to)}`)), expect((t) => ms(t.createdAt) < ms(to)));
    assert.deepEqual(
      ids(await listAll(admin, ['admin'], `createdFrom=${ms(from)}&createdTo=${encodeURIComponent(to)}`)),
      expect((t) => ms(t.createdAt) >= ms(from) && ms(t.createdAt) < ms(to)),
    );
    assert.ok(expect((t) => ms(t.createdAt) >= ms(from) && ms(t.createdAt) < ms(to)).length >= 3);
    assert.deepEqual(ids(await listAll(admin, ['admin'], 'createdFrom=2000-01-01&createdTo=2000-01-02')), []);
  });

  test('q matches description words and chat words, only in tickets the caller may see, never a deleted message', async () => {
    const mine = all[3]; // cust1's, center A, techA
    const theirs = all[2]; // cust2's
    const cc = await TestClient.connect(node.url, await token(cust1, ['customer']));
    const ct = await TestClient.connect(node.url, await token(techA, ['technician']));
    try {
      assert.equal((await cc.request({ t: 'join', conv: mine.id })).t, 'conv');
      assert.equal((await ct.request({ t: 'join', conv: mine.id })).t, 'conv');
      assert.equal((await cc.request({ t: 'send', conv: mine.id, cmid: 'q1', body: 'the Compressor rattles at night' })).t, 'ack');
      assert.equal((await ct.request({ t: 'send', conv: mine.id, cmid: 'q2', body: 'bringing a spare gasket' })).t, 'ack');
      const gone = await cc.request({ t: 'send', conv: mine.id, cmid: 'q3', body: 'my phone number is platypus' });
      assert.equal(gone.t, 'ack');
      assert.equal((await cc.request({ t: 'del', conv: mine.id, seq: gone.seq })).t, 'ok');
    } finally {
      cc.close();
      ct.close();
    }
    const search = async (user: string, roles: string[], q: string) => ids(await listAll(user, roles, `q=${encodeURIComponent(q)}`));
    assert.deepEqual(await search(cust1, ['customer'], 'compressor'), [mine.id], 'a chat word (case-insensitive)');
    assert.deepEqual(await search(cust1, ['customer'], 'gasket'), [mine.id], 'another participant\'s chat word');
    assert.deepEqual(await search(techA, ['technician'], 'compressor'), [mine.id]);
    assert.deepEqual(await search(admin, ['admin'], 'compressor'), [mine.id]);
    assert.deepEqual(await search(cust2, ['customer'], 'compressor'), [], 'another customer\'s chat never leaks');
    assert.deepEqual(await search(agentB, ['agent'], 'compressor'), [], 'another center\'s agent neither');
    assert.deepEqual(await search(cust1, ['customer'], 'zebra3'), [mine.id], 'a description word');
    assert.deepEqual(await search(cust1, ['customer'], 'zebra2'), [], 'another customer\'s description never leaks');
    assert.deepEqual(await search(cust2, ['customer'], 'zebra2'), [theirs.id]);
    assert.deepEqual(await search(admin, ['admin'], 'platypus'), [], 'a deleted message does not match');
    assert.deepEqual(await search(cust1, ['customer'], 'broken Acme'), ids(newest(all.filter((t) => t.customerId === cust1 && t.description.includes('Acme')))));
    assert.deepEqual(await search(admin, ['admin'], '"rattles at night"'), [mine.id], 'a phrase');
    assert.deepEqual(ids(await listAll(cust1, ['customer'], 'q=compressor&status=cancelled')), [], 'q with a filter');
  });

  test('an admin\'s list of tickets they do not take part in is audited, once per call', async () => {
    const audit = async () => (await call(`/api/v1/admin/audit?actor=${admin}&limit=100`, uid('auditor'), ['admin'])).body.entries
      .filter((e: { action: string }) => e.action === 'list_tickets').length;
    const before = await audit();
    assert.equal((await list(admin, ['admin'], 'limit=2&status=assigned')).status, 200);
    assert.equal(await audit(), before + 1);
    const cust = await audit();
    await list(cust1, ['customer']);
    assert.equal(await audit(), cust, 'a customer\'s own list is not an admin read');
  });

  test('the OpenAPI document describes the list with its parameters', async () => {
    const doc = await (await fetch(`${node.http}/api/v1/openapi.json`)).json();
    const names = doc.paths['/api/v1/service-requests'].get.parameters.map((x: { name: string }) => x.name);
    assert.deepEqual(names.sort(), ['center', 'createdFrom', 'createdTo', 'cursor', 'limit', 'q', 'status', 'technician']);
  });

  test('bad inputs → 400 naming the parameter', async () => {
    const bad = async (query: string, name: string) => {
      const r = await list(admin, ['admin'], query);
      assert.equal(r.status, 400, `${query}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.message, new RegExp(name), query);
    };
    await bad('status=done', 'status');
    await bad('center=a%20b', 'center');
    await bad(`technician=${'x'.repeat(129)}`, 'technician');
    await bad('createdFrom=yesterday', 'createdFrom');
    await bad('createdTo=2026-13-45', 'createdTo');
    await bad('createdTo=2026-01-01T10:00', 'createdTo');
    await bad('createdFrom=2026-02-01&createdTo=2026-01-01', 'createdFrom');
    await bad('limit=0', 'limit');
    await bad('limit=101', 'limit');
    await bad('limit=ten', 'limit');
    await bad('cursor=!!', 'cursor');
    await bad(`cursor=${Buffer.from('soon:sr_x').toString('base64url')}`, 'cursor');
    await bad(`cursor=${Buffer.from('12:a b').toString('base64url')}`, 'cursor');
    await bad('q=%20%20', 'q');
    await bad(`q=${'w'.repeat(201)}`, 'q');
    await bad('q=a%00b', 'q');
  });
});
