/**
 * Idempotency-Key on the ticket API's POSTs through a real node (issue 17): POST /route and
 * /signature replayed with the same key answer the original response byte for byte and do not act
 * again (shown by replaying after the ticket moved on, where acting again would be refused); the
 * same key with another file → 422; no key → 400.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestNode, token, uid } from '../helpers/node.ts';
import { pngBytes } from '../helpers/images.ts';

const examples = new URL('../../examples/', import.meta.url).pathname;
const node = new TestNode({ env: { PRODUCTS_FILE: `${examples}products.json`, SERVICE_CENTERS_FILE: `${examples}service-centers.json` } });
before(() => node.start());
after(() => node.kill('SIGTERM'));

const api = (path: string) => `${node.http}/api/v1/service-requests${path}`;
async function call(method: string, path: string, user: string, roles: string[], opts: { json?: unknown; form?: FormData; key?: string } = {}) {
  const headers: Record<string, string> = { authorization: `Bearer ${await token(user, roles)}` };
  if (opts.key !== undefined) headers['idempotency-key'] = opts.key;
  let body: BodyInit | undefined = opts.form;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(api(path), { method, headers, body });
  const text = await res.text();
  return { status: res.status, text, body: text ? JSON.parse(text) : undefined };
}
const berlin = { lat: 52.52, lon: 13.405 };
const nowhere = { lat: 0, lon: 0 };
const create = (cust: string, at = berlin) =>
  call('POST', '', cust, ['customer'], { json: { productId: 'tv-1001', brand: 'Acme', location: at, description: 'no picture' }, key: uid('create') });
const move = (id: string, user: string, roles: string[], status: string) => call('PATCH', `/${id}/status`, user, roles, { json: { status } });
const form = (bytes: Buffer) => {
  const f = new FormData();
  f.append('file', new Blob([new Uint8Array(bytes)], { type: 'image/png' }), 'signature.png');
  return f;
};

describe('Idempotency-Key on the ticket API', () => {
  test('POST /route: a replay answers the original response and does not route again; no key → 400', async () => {
    const cust = uid('cust');
    const t = (await create(cust, nowhere)).body;
    assert.equal(t.status, 'created', 'no covering center: stays created');
    assert.equal((await call('POST', `/${t.id}/route`, cust, ['customer'])).status, 400, 'no Idempotency-Key');
    const first = await call('POST', `/${t.id}/route`, cust, ['customer'], { key: 'route-a' });
    assert.deepEqual([first.status, first.body.status], [200, 'created'], first.text);
    // The ticket moves on: routing it now would be refused (409 cancelled).
    assert.equal((await move(t.id, cust, ['customer'], 'cancelled')).status, 200);
    const replay = await call('POST', `/${t.id}/route`, cust, ['customer'], { key: 'route-a' });
    assert.deepEqual([replay.status, replay.text], [first.status, first.text], 'the original answer, byte for byte');
    const fresh = await call('POST', `/${t.id}/route`, cust, ['customer'], { key: 'route-b' });
    assert.deepEqual([fresh.status, fresh.body.state], [409, 'cancelled'], 'a new key acts (and is refused)');
    // A stored refusal is replayed too.
    assert.equal((await call('POST', `/${t.id}/route`, cust, ['customer'], { key: 'route-b' })).text, fresh.text);
  });

  test('POST /signature: a replay answers the original 201 without storing again; another file under the key → 422; no key → 400', async () => {
    const cust = uid('cust');
    const t = (await create(cust)).body;
    assert.equal(t.status, 'assigned', JSON.stringify(t));
    const tech = t.technicianId as string;
    assert.equal((await move(t.id, tech, ['technician'], 'in_progress')).status, 200);
    const png = pngBytes(2, 2);
    assert.equal((await call('POST', `/${t.id}/signature`, tech, ['technician'], { form: form(png) })).status, 400, 'no Idempotency-Key');
    const first = await call('POST', `/${t.id}/signature`, tech, ['technician'], { form: form(png), key: 'sig-a' });
    assert.equal(first.status, 201, first.text);
    const other = await call('POST', `/${t.id}/signature`, tech, ['technician'], { form: form(pngBytes(3, 3)), key: 'sig-a' });
    assert.deepEqual([other.status, other.body.code], [422, 422], 'same key, another file');
    assert.equal((await move(t.id, tech, ['technician'], 'resolved')).status, 200);
    // Acting again now would be refused (signing needs in_progress): the replay is the stored 201.
    const replay = await call('POST', `/${t.id}/signature`, tech, ['technician'], { form: form(png), key: 'sig-a' });
    assert.deepEqual([replay.status, replay.text], [201, first.text]);
    const fresh = await call('POST', `/${t.id}/signature`, tech, ['technician'], { form: form(png), key: 'sig-b' });
    assert.deepEqual([fresh.status, fresh.body.state], [409, 'resolved']);
    const history = (await call('GET', `/${t.id}`, cust, ['customer'])).body.history.map((h: { to: string }) => h.to);
    assert.deepEqual(history, ['created', 'assigned', 'in_progress', 'resolved']);
    const image = await fetch(`${node.http}${first.body.signatureUrl}`, { headers: { authorization: `Bearer ${await token(cust, ['customer'])}` } });
    assert.deepEqual(Buffer.from(await image.arrayBuffer()), png, 'the one signature stored');
  });

  test('keys are per user: another user\'s same key is their own request', async () => {
    const cust = uid('cust');
    const t = (await create(cust, nowhere)).body;
    const mine = await call('POST', `/${t.id}/route`, cust, ['customer'], { key: 'shared' });
    const theirs = await call('POST', `/${t.id}/route`, uid('stranger'), ['customer'], { key: 'shared' });
    assert.deepEqual([mine.status, theirs.status], [200, 403]);
    const admin = await call('POST', `/${t.id}/route`, 'ops', ['admin'], { key: 'shared' });
    assert.equal(admin.status, 200);
  });
});
