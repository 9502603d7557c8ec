/** Order rooms driven by signed order events; admins observe read-only (seed 002). */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { TestClient } from '../helpers/client.ts';
import { TestNode, token, uid } from '../helpers/node.ts';
import { ORDER_EVENTS_REMEMBERED_MAX } from '../../src/config.ts';

const secret = 'order-events-test-secret';
const node = new TestNode({ env: { EVENTS_HMAC_SECRET: secret, RATE_MSGS_PER_S: '1000', RATE_BURST: '1000' } });
before(() => node.start());
after(() => node.kill('SIGTERM'));

let n = 0;
async function post(event: object, opts: { t?: number; sig?: string; raw?: string } = {}): Promise<Response> {
  const raw = opts.raw ?? JSON.stringify(event);
  const t = opts.t ?? Date.now();
  const sig = opts.sig ?? createHmac('sha256', secret).update(`${t}.${raw}`).digest('hex');
  return fetch(`${node.http}/api/v1/events`, { method: 'POST', body: raw, headers: { 'content-type': 'application/json', 'x-signature': `t=${t},v1=${sig}` } });
}
function ev(type: string, data: Record<string, string>, id = `ev-${process.pid}-${++n}`) {
  return { id, type, occurredAt: new Date().toISOString(), data };
}

describe('order rooms', () => {
  test('accepted opens a room for customer and vendor; the rider joins on assignment; delivered closes it for good', async () => {
    const [order, cust, vend, rider] = [uid('order'), uid('cust'), uid('vend'), uid('rider')];
    assert.equal((await post(ev('order.accepted', { orderId: order, customerId: cust, vendorId: vend }))).status, 202);
    const cc = await TestClient.connect(node.url, await token(cust, ['customer']));
    const cv = await TestClient.connect(node.url, await token(vend, ['vendor']));
    const joined = await cc.request({ t: 'join', conv: order });
    assert.deepEqual([joined.conv.kind, joined.conv.state, joined.conv.readOnly], ['order', 'open', false]);
    assert.deepEqual(joined.conv.participants, [cust, vend]);
    assert.equal((await cc.request({ t: 'send', conv: order, cmid: 'c1', body: 'where is my food?' })).t, 'ack');
    await cv.waitFor((f) => f.t === 'msg' && f.cmid === 'c1');

    const cr = await TestClient.connect(node.url, await token(rider, ['rider']));
    const before = await cr.request({ t: 'join', conv: order });
    assert.deepEqual([before.t, before.code], ['err', 403], 'not yet a participant');
    assert.equal((await post(ev('order.rider_assigned', { orderId: order, riderId: rider }))).status, 202);
    const st = await cc.waitFor((f) => f.t === 'state' && f.conv === order);
    assert.deepEqual(st.participants, [cust, vend, rider]);
    assert.equal((await cr.request({ t: 'send', conv: order, cmid: 'r1', body: 'on my way' })).t, 'ack');

    assert.equal((await post(ev('order.delivered', { orderId: order }))).status, 202);
    const closed = await cv.waitFor((f) => f.t === 'state' && f.state === 'delivered');
    assert.equal(closed.readOnly, true);
    const late = await cc.request({ t: 'send', conv: order, cmid: 'c2', body: 'thanks' });
    assert.deepEqual([late.t, late.code], ['err', 409]);
    // A closed room never reopens, even for a fresh accepted event.
    assert.equal((await post(ev('order.accepted', { orderId: order, customerId: cust, vendorId: vend }))).status, 202);
    const again = await cc.request({ t: 'join', conv: order });
    assert.equal(again.conv.state, 'delivered');
    assert.deepEqual(again.msgs.map((m: { cmid: string }) => m.cmid), ['c1', 'r1']);
    for (const c of [cc, cv, cr]) c.close();
  });

  test('a second rider replaces the first, who loses write access', async () => {
    const [order, cust, vend, r1, r2] = [uid('order'), uid('cust'), uid('vend'), uid('rider'), uid('rider')];
    await post(ev('order.accepted', { orderId: order, customerId: cust, vendorId: vend }));
    await post(ev('order.rider_assigned', { orderId: order, riderId: r1 }));
    await post(ev('order.rider_assigned', { orderId: order, riderId: r2 }));
    const c1 = await TestClient.connect(node.url, await token(r1, ['rider']));
    const r = await c1.request({ t: 'send', conv: order, cmid: 'x', body: 'still here?' });
    assert.deepEqual([r.t, r.code], ['err', 403]);
    const c2 = await TestClient.connect(node.url, await token(r2, ['rider']));
    assert.equal((await c2.request({ t: 'send', conv: order, cmid: 'y', body: 'taking over' })).t, 'ack');
    c1.close();
    c2.close();
  });

  test('redelivered events change nothing; out-of-order rider_assigned before accepted is kept', async () => {
    const [order, cust, vend, rider] = [uid('order'), uid('cust'), uid('vend'), uid('rider')];
    const assign = ev('order.rider_assigned', { orderId: order, riderId: rider });
    assert.equal((await post(assign)).status, 202);
    assert.equal((await post(assign)).status, 202, 'duplicate id accepted, no change');
    const accepted = ev('order.accepted', { orderId: order, customerId: cust, vendorId: vend });
    await post(accepted);
    await post(accepted);
    const c = await TestClient.connect(node.url, await token(cust, ['customer']));
    const joined = await c.request({ t: 'join', conv: order });
    assert.deepEqual([joined.conv.state, joined.conv.participants], ['open', [cust, vend, rider]]);
    // Cancelled before accepted: the room is created closed and a later accepted cannot open it.
    const order2 = uid('order');
    await post(ev('order.cancelled', { orderId: order2 }));
    await post(ev('order.accepted', { orderId: order2, customerId: cust, vendorId: vend }));
    const j2 = await c.request({ t: 'join', conv: order2 });
    assert.deepEqual([j2.t, j2.code], ['err', 403], 'the customer never became a participant of a room that never opened');
    c.close();
  });

  test('bad signatures, stale timestamps and malformed events are refused', async () => {
    const e = ev('order.accepted', { orderId: uid('order'), customerId: 'a', vendorId: 'b' });
    assert.equal((await post(e, { sig: '00'.repeat(32) })).status, 401);
    assert.equal((await post(e, { t: Date.now() - 10 * 60_000 })).status, 401);
    const noSig = await fetch(`${node.http}/api/v1/events`, { method: 'POST', body: JSON.stringify(e) });
    assert.equal(noSig.status, 401);
    assert.equal((await post({}, { raw: '{not json' })).status, 400);
    const bad = await post({ id: 'x', type: 'order.exploded', occurredAt: new Date().toISOString(), data: { orderId: 'o' } });
    assert.equal(bad.status, 400);
    assert.deepEqual(Object.keys(await bad.json()).sort(), ['code', 'message']);
    assert.equal((await post(ev('order.accepted', { orderId: 'o-missing-ids' }))).status, 400);
  });

  test('admins observe any room read-only, page any log over HTTP, and list conversations', async () => {
    const [order, cust, vend, admin] = [uid('order'), uid('cust'), uid('vend'), uid('admin')];
    await post(ev('order.accepted', { orderId: order, customerId: cust, vendorId: vend }));
    const ca = await TestClient.connect(node.url, await token(admin, ['admin']));
    const joined = await ca.request({ t: 'join', conv: order });
    assert.equal(joined.t, 'conv');
    const cc = await TestClient.connect(node.url, await token(cust, ['customer']));
    await cc.request({ t: 'send', conv: order, cmid: 'live', body: 'hello?' });
    const live = await ca.waitFor((f) => f.t === 'msg' && f.cmid === 'live');
    assert.equal(live.from, cust);
    const denied = await ca.request({ t: 'send', conv: order, cmid: 'adm', body: 'I am admin' });
    assert.deepEqual([denied.t, denied.code], ['err', 403]);

    const hdr = { authorization: `Bearer ${await token(admin, ['admin'])}` };
    const page = await fetch(`${node.http}/api/v1/admin/conversations/${order}/messages?limit=10`, { headers: hdr });
    assert.equal(page.status, 200);
    assert.deepEqual((await page.json()).messages.map((m: { cmid: string }) => m.cmid), ['live']);
    const list = await fetch(`${node.http}/api/v1/admin/conversations?kind=order&participant=${cust}`, { headers: hdr });
    assert.deepEqual((await list.json()).conversations.map((c: { id: string }) => c.id), [order]);
    const notAdmin = await fetch(`${node.http}/api/v1/admin/conversations`, { headers: { authorization: `Bearer ${await token(cust)}` } });
    assert.equal(notAdmin.status, 403);
    assert.match(node.log, /"audit":true/);
    ca.close();
    cc.close();
  });

  // Last: it restarts the node, so the room is rehydrated with only its last event ids.
  test('an event replayed after more than ORDER_EVENTS_REMEMBERED_MAX newer ones is still a duplicate, live and after a restart', async () => {
    const [order, cust, vend, r1, r2] = [uid('order'), uid('cust'), uid('vend'), uid('rider'), uid('rider')];
    const first = ev('order.rider_assigned', { orderId: order, riderId: r1 });
    assert.equal((await post(ev('order.accepted', { orderId: order, customerId: cust, vendorId: vend }))).status, 202);
    assert.equal((await post(first)).status, 202);
    assert.equal((await post(ev('order.rider_assigned', { orderId: order, riderId: r2 }))).status, 202);
    // Redeliveries under new ids change nothing, and push `first` out of the room's window.
    for (let i = 0; i < ORDER_EVENTS_REMEMBERED_MAX + 2; i++) {
      assert.equal((await post(ev('order.accepted', { orderId: order, customerId: cust, vendorId: vend }))).status, 202);
    }
    const riders = async (): Promise<{ r1: string; r2: string; participants: string[] }> => {
      const c1 = await TestClient.connect(node.url, await token(r1, ['rider']));
      const c2 = await TestClient.connect(node.url, await token(r2, ['rider']));
      const cc = await TestClient.connect(node.url, await token(cust, ['customer']));
      const s1 = await c1.request({ t: 'send', conv: order, cmid: `x-${Date.now()}`, body: 'me?' });
      const s2 = await c2.request({ t: 'send', conv: order, cmid: `y-${Date.now()}`, body: 'me.' });
      const joined = await cc.request({ t: 'join', conv: order });
      for (const c of [c1, c2, cc]) c.close();
      return { r1: s1.t === 'err' ? `err ${s1.code}` : s1.t, r2: s2.t, participants: joined.conv.participants };
    };
    const expected = { r1: 'err 403', r2: 'ack', participants: [cust, vend, r2] };
    assert.deepEqual(await riders(), expected);

    assert.equal((await post(first)).status, 202, 'the replay is accepted as a duplicate');
    assert.deepEqual(await riders(), expected, 'and the replaced rider stays replaced');

    await node.kill('SIGTERM');
    await node.start();
    assert.equal((await post(first)).status, 202, 'after a restart the room knows only its last ids; the database and the rules know the rest');
    assert.deepEqual(await riders(), expected);
  });
});
