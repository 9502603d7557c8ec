/**
 * The boundary refuses what the inside cannot hold (issue 12): ids outside the id rule
 * (protocol/ids.ts) in tokens, frames, routes and bodies; text with U+0000 or lone surrogates
 * (protocol/text.ts); JSON routes given anything but JSON. Each is a 4xx naming the field, never
 * a 503 from deep inside.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import WebSocket from 'ws';
import { TestClient } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';

const secret = 'boundary-events-secret';
const node = new TestNode({ env: { EVENTS_HMAC_SECRET: secret } });
before(() => node.start());
after(() => node.kill('SIGTERM'));

/** The HTTP answer to an upgrade attempt: 101, or the status and JSON body it got instead. */
function upgrade(tok: string): Promise<{ status: number; body?: { code: number; message: string } }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${node.url}?token=${encodeURIComponent(tok)}`);
    ws.once('open', () => (ws.close(), resolve({ status: 101 })));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    ws.once('error', reject);
  });
}

async function get(path: string, tok: string, init: RequestInit = {}): Promise<{ status: number; body: { code?: number; message?: string } }> {
  const res = await fetch(`${node.http}${path}`, { ...init, headers: { authorization: `Bearer ${tok}`, ...(init.headers as Record<string, string>) } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}

/** `contentType` null sends none. */
function postEvent(raw: string, contentType: string | null = 'application/json'): Promise<Response> {
  const t = Date.now();
  const sig = createHmac('sha256', secret).update(`${t}.${raw}`).digest('hex');
  const headers: Record<string, string> = { 'x-signature': `t=${t},v1=${sig}` };
  if (contentType !== null) headers['content-type'] = contentType;
  // A Uint8Array body, so that fetch adds no content type of its own.
  return fetch(`${node.http}/api/v1/events`, { method: 'POST', body: new TextEncoder().encode(raw), headers });
}

const acceptedEvent = (data: Record<string, unknown>, id: unknown = uid('ev')) =>
  JSON.stringify({ id, type: 'order.accepted', occurredAt: new Date().toISOString(), data: { orderId: uid('order'), customerId: uid('c'), vendorId: uid('v'), ...data } });

describe('token subjects (sub) outside the id rule', () => {
  const badSubs = ['>', '*', 'a\nb', 'a\u0000b', 'a b', 'ünï', 'x'.repeat(129)];

  test('are refused at the upgrade with 401 and a reason naming sub', async () => {
    for (const sub of badSubs) {
      const r = await upgrade(await token(sub));
      assert.equal(r.status, 401, JSON.stringify(sub));
      assert.match(r.body?.message ?? '', /^sub: /, JSON.stringify(sub));
    }
    assert.equal((await upgrade(await token(`${uid('ok')}.b`))).status, 101, 'a sub inside the rule passes');
  });

  test('are refused on HTTP with 401 naming sub', async () => {
    for (const sub of badSubs) {
      const r = await get('/api/v1/conversations/d_x/messages', await token(sub));
      assert.equal(r.status, 401, JSON.stringify(sub));
      assert.match(r.body.message ?? '', /^sub: /);
    }
  });
});

test('users a, a.b and a.c see only their own messages (ids with dots stay one subject token)', async () => {
  const a = uid('a');
  const [ab, ac, peer] = [`${a}.b`, `${a}.c`, uid('peer')];
  for (const u of [a, ab, ac]) await connectUsers(node, u, peer);
  const [ca, cab, cac, cp] = await Promise.all([a, ab, ac, peer].map(async (u) => TestClient.connect(node.url, await token(u))));
  const convs = new Map<string, string>();
  for (const [u, c] of [[a, ca], [ab, cab], [ac, cac]] as const) {
    const opened = await c.request({ t: 'open', with: peer });
    assert.equal(opened.t, 'conv', JSON.stringify(opened));
    convs.set(u, opened.conv.id);
  }
  // The peer writes to each of them; each must get exactly the message meant for it.
  for (const u of [a, ab, ac]) assert.equal((await cp.request({ t: 'send', conv: convs.get(u), cmid: `to-${u}`, body: `for ${u}` })).t, 'ack');
  for (const [u, c] of [[a, ca], [ab, cab], [ac, cac]] as const) {
    const m = await c.waitFor((f) => f.t === 'msg');
    assert.equal(m.body, `for ${u}`);
  }
  // A last message to `a`, sent after the others were delivered: once it arrives, any stray copy
  // of the earlier ones would have arrived too.
  assert.equal((await cp.request({ t: 'send', conv: convs.get(a), cmid: 'fence', body: 'fence' })).t, 'ack');
  await ca.waitFor((f) => f.t === 'msg' && f.cmid === 'fence');
  for (const c of [ca, cab, cac]) assert.deepEqual(c.drain((f) => f.t === 'msg'), [], 'no message of another user');
  for (const c of [ca, cab, cac, cp]) c.close();
});

test('a send whose body or cmid holds U+0000 is err 400 naming the field; multi-line bodies are delivered as sent', async () => {
  const [u, v] = [uid('nul'), uid('nul')];
  await connectUsers(node, u, v);
  const [cu, cv] = await Promise.all([u, v].map(async (x) => TestClient.connect(node.url, await token(x))));
  const conv = (await cu.request({ t: 'open', with: v })).conv.id;
  const body = await cu.request({ t: 'send', conv, cmid: 'm1', body: 'hello\u0000world' });
  assert.deepEqual([body.t, body.code], ['err', 400]);
  assert.match(body.msg, /^body: /);
  const cmid = await cu.request({ t: 'send', conv, cmid: 'm\u00002', body: 'hi' });
  assert.deepEqual([cmid.t, cmid.code], ['err', 400]);
  assert.match(cmid.msg, /^cmid: /);
  const text = 'line one\n\tline two 👋';
  assert.equal((await cu.request({ t: 'send', conv, cmid: 'm3', body: text })).t, 'ack');
  assert.equal((await cv.waitFor((f) => f.t === 'msg' && f.cmid === 'm3')).body, text);
  cu.close();
  cv.close();
});

describe('HTTP route ids', () => {
  test('with NUL, control characters or outside the id rule answer 400 with the JSON error body, not 503', async () => {
    const user = await token(uid('router'));
    const admin = await token('ops', ['admin']);
    const cases: Array<[string, string, string, RequestInit?]> = [
      ['/api/v1/conversations/%00/messages', user, 'id'],
      ['/api/v1/conversations/a%0Ab/messages', user, 'id'],
      ['/api/v1/conversations/a%09b/messages', user, 'id'],
      ['/api/v1/conversations/%3E/messages', user, 'id'],
      ['/api/v1/conversations/a%20b/messages', user, 'id'],
      ['/api/v1/conversations/%C3%BC/messages', user, 'id'],
      ['/api/v1/admin/conversations/%00/messages', admin, 'id'],
      ['/api/v1/admin/conversations?participant=%00', admin, 'participant'],
      ['/api/v1/admin/conversations?kind=a%00', admin, 'kind'],
      ['/api/v1/service-requests/%00', user, 'id'],
      ['/api/v1/service-requests/%00/signature', user, 'id'],
      ['/api/v1/service-requests/%00/route', user, 'id', { method: 'POST' }],
      ['/api/v1/service-requests/%00/status', user, 'id', { method: 'PATCH', body: '{"status":"closed"}', headers: { 'content-type': 'application/json' } }],
      ['/api/v1/connections/%00/bob', admin, 'a', { method: 'PUT' }],
      ['/api/v1/connections/alice/%3E', admin, 'b', { method: 'DELETE' }],
    ];
    for (const [path, tok, field, init] of cases) {
      const r = await get(path, tok, init);
      assert.equal(r.status, 400, `${init?.method ?? 'GET'} ${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.code, 400);
      assert.match(r.body.message ?? '', new RegExp(`^${field}: `), path);
    }
    assert.doesNotMatch(node.log, /http handler failed/);
  });
});

describe('HTTP bodies', () => {
  const customer = () => token(uid('cust'), ['customer']);
  const createTicket = async (body: string | Uint8Array<ArrayBuffer>, contentType = 'application/json') =>
    fetch(`${node.http}/api/v1/service-requests`, {
      method: 'POST', body: typeof body === 'string' ? new TextEncoder().encode(body) : body,
      headers: { authorization: `Bearer ${await customer()}`, 'idempotency-key': uid('k'), 'content-type': contentType },
    });
  const ticket = (fields: Record<string, unknown>) =>
    JSON.stringify({ productId: 'tv-1001', brand: 'Acme', location: { lat: 1, lon: 1 }, description: 'flickers', ...fields });

  test('a ticket create or status change with U+0000, a lone surrogate or a line break in a single-line field is 400 naming the field', async () => {
    const cases: Array<[string, string]> = [
      [ticket({ description: 'a\u0000b' }), 'description'],
      [ticket({ productId: '\u0000' }), 'productId'],
      [ticket({ brand: 'Ac\u0000me' }), 'brand'],
      [ticket({ description: 'x' }).replace('"x"', '"x\\ud800"'), 'description'],
      [ticket({ description: 'x' }).replace('"x"', '"\\udc00x"'), 'description'],
      [ticket({ extra: { note: 'n\u0000' } }), 'extra.note'],
      [ticket({ brand: 'Ac\nme' }), 'brand'],
    ];
    for (const [body, field] of cases) {
      const res = await createTicket(body);
      const json = (await res.json()) as { code: number; message: string };
      assert.equal(res.status, 400, `${body}: ${JSON.stringify(json)}`);
      assert.match(json.message, new RegExp(`^${field.replace('.', '\\.')}`), body);
    }
    for (const [fields, field] of [[{ status: 'closed', reason: 'a\u0000b' }, 'reason'], [{ status: 'closed', reason: 'two\nlines' }, 'reason'], [{ status: 'clo\u0000sed' }, 'status']] as const) {
      const patch = await fetch(`${node.http}/api/v1/service-requests/sr_x/status`, {
        method: 'PATCH', body: JSON.stringify(fields), headers: { authorization: `Bearer ${await customer()}`, 'content-type': 'application/json' },
      });
      assert.equal(patch.status, 400, JSON.stringify(fields));
      assert.match(((await patch.json()) as { message: string }).message, new RegExp(`^${field}: `));
    }
    const notUtf8 = await createTicket(new Uint8Array(Buffer.concat([Buffer.from('{"description":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')])));
    assert.equal(notUtf8.status, 400);
  });

  test('an order event with U+0000, a lone surrogate or an id outside the rule is 400 naming the field', async () => {
    const cases: Array<[string, string]> = [
      [acceptedEvent({ orderId: 'o\u0000' }), 'data.orderId'],
      [acceptedEvent({ orderId: 'x' }).replace('"orderId":"x"', '"orderId":"x\\ud800"'), 'data.orderId'],
      [acceptedEvent({ orderId: '>' }), 'data.orderId'],
      [acceptedEvent({ orderId: 'a b' }), 'data.orderId'],
      [acceptedEvent({ customerId: '*' }), 'data.customerId'],
      [acceptedEvent({ vendorId: 'v\nw' }), 'data.vendorId'],
      [acceptedEvent({}, 'ev\u0000'), 'id'],
    ];
    for (const [raw, field] of cases) {
      const res = await postEvent(raw);
      const json = (await res.json()) as { code: number; message: string };
      assert.equal(res.status, 400, `${raw}: ${JSON.stringify(json)}`);
      assert.match(json.message, new RegExp(`^${field.replace('.', '\\.')}: `), raw);
    }
    assert.equal((await postEvent(acceptedEvent({ orderId: `${uid('order')}.v2:eu` }))).status, 202, 'an order id inside the rule is accepted');
  });

  test('JSON routes answer 415 to anything but application/json (a UTF-8 charset parameter is fine)', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx', 'application/json; charset=latin1', '']) {
      assert.equal((await createTicket(ticket({}), type)).status, 415, `create with ${JSON.stringify(type)}`);
      assert.equal((await postEvent(acceptedEvent({}), type)).status, 415, `event with ${JSON.stringify(type)}`);
    }
    assert.equal((await postEvent(acceptedEvent({}), null)).status, 415, 'event without a content type');
    const patch = await fetch(`${node.http}/api/v1/service-requests/sr_x/status`, {
      method: 'PATCH', body: '{"status":"closed"}', headers: { authorization: `Bearer ${await customer()}`, 'content-type': 'text/plain' },
    });
    assert.equal(patch.status, 415);
    assert.deepEqual(Object.keys(await patch.json()).sort(), ['code', 'message']);
    assert.equal((await postEvent(acceptedEvent({}), 'application/json; charset=UTF-8')).status, 202);
    assert.equal((await postEvent(acceptedEvent({}), 'Application/JSON')).status, 202);
    // Past the content type, a JSON create goes on to be judged on its content.
    assert.equal((await createTicket(ticket({ description: '' }), 'application/json;charset=utf-8')).status, 400);
  });
});
