/**
 * Presence of DM peers on one node (issue 15): `presence` when the peer's first socket opens and
 * after the grace once the last one closed, no flap for a reconnect within the grace, the peer's
 * presence on `open`/`join` replies, and the hide setting (reciprocal) through
 * `PUT /api/v1/me/settings`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Frame, TestClient } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';

const graceMs = 700;

async function settings(node: TestNode, user: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; json: any }> {
  const r = await fetch(`${node.http}/api/v1/me/settings`, {
    method: body === undefined ? 'GET' : 'PUT',
    headers: { authorization: `Bearer ${await token(user)}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: r.status, json: await r.json() };
}

const presenceOf = (user: string) => (f: Frame) => f.t === 'presence' && f.user === user;

for (const edgeThreads of ['1', '2']) {
  describe(`presence on one node (EDGE_THREADS=${edgeThreads})`, () => {
    const node = new TestNode({ env: { PRESENCE_GRACE_MS: String(graceMs), EDGE_THREADS: edgeThreads } });
    before(() => node.start());
    after(() => node.kill('SIGTERM'));

    /** a is connected with an open DM to b; b is not connected yet. */
    async function dm(): Promise<{ a: string; b: string; ca: TestClient }> {
      const a = uid('pa');
      const b = uid('pb');
      await connectUsers(node, a, b);
      const ca = await TestClient.connect(node.url, await token(a));
      const opened = await ca.request({ t: 'open', with: b });
      assert.equal(opened.t, 'conv');
      assert.deepEqual(opened.presence, { user: b, online: false }, 'never seen: offline without lastSeen');
      return { a, b, ca };
    }

    /**
     * Another DM peer of `a`, online: closing it together with a socket under test, its offline
     * (one grace later) marks the moment by which a flap would have been sent — a condition to
     * wait for instead of a sleep.
     */
    async function marker(a: string, ca: TestClient): Promise<{ m: string; close(): Promise<void> }> {
      const m = uid('pm');
      await connectUsers(node, a, m);
      assert.equal((await ca.request({ t: 'open', with: m })).t, 'conv');
      const cm = await TestClient.connect(node.url, await token(m));
      await ca.waitFor((f) => presenceOf(m)(f) && f.online);
      return {
        m,
        close: async () => {
          cm.close();
          await cm.closed;
          assert.equal((await ca.waitFor(presenceOf(m), graceMs + 5_000)).online, false);
        },
      };
    }

    test('the peer sees online at the first socket, offline with lastSeen after the grace of the last close; open and join carry it', async () => {
      const { a, b, ca } = await dm();
      const cb = await TestClient.connect(node.url, await token(b));
      assert.deepEqual(await ca.waitFor(presenceOf(b)), { t: 'presence', user: b, online: true });
      const reopened = await ca.request({ t: 'open', with: b });
      assert.deepEqual(reopened.presence, { user: b, online: true });
      const joined = await ca.request({ t: 'join', conv: reopened.conv.id });
      assert.deepEqual(joined.presence, { user: b, online: true });
      // b's side: a is online.
      const fromB = await cb.request({ t: 'open', with: a });
      assert.deepEqual(fromB.presence, { user: a, online: true });

      const cb2 = await TestClient.connect(node.url, await token(b));
      cb.close();
      await cb.closed;
      const closedAt = Date.now();
      cb2.close();
      await cb2.closed;
      const offline = await ca.waitFor(presenceOf(b), graceMs + 5_000);
      const seenAt = Date.now();
      assert.equal(offline.online, false);
      assert.ok(seenAt - closedAt >= graceMs - 50, `offline only after the grace (${seenAt - closedAt} ms)`);
      assert.ok(Math.abs(offline.lastSeen - closedAt) < 1_000, 'lastSeen is when the last socket closed');
      assert.deepEqual(ca.drain(presenceOf(b)), [], 'one socket closing while another is open is no change');
      const later = await ca.request({ t: 'open', with: b });
      assert.deepEqual(later.presence, { user: b, online: false, lastSeen: offline.lastSeen });
      ca.close();
    });

    test('a reconnect within the grace sends no offline/online pair', async () => {
      const { a, b, ca } = await dm();
      const cb = await TestClient.connect(node.url, await token(b));
      await ca.waitFor(presenceOf(b));
      const mark = await marker(a, ca);
      cb.close();
      await cb.closed;
      const back = await TestClient.connect(node.url, await token(b));
      await mark.close();
      assert.deepEqual(ca.drain(presenceOf(b)), [], 'nothing for the first close');
      back.close();
      assert.equal((await ca.waitFor(presenceOf(b), graceMs + 5_000)).online, false, 'the final close is announced');
      ca.close();
    });

    test('many sockets of one user (spread over the edge threads) are one user: one online, still online while one is open', async () => {
      const { a, b, ca } = await dm();
      const sockets = await Promise.all(Array.from({ length: 8 }, async () => TestClient.connect(node.url, await token(b))));
      await ca.waitFor(presenceOf(b));
      const mark = await marker(a, ca);
      for (const s of sockets.slice(1)) s.close();
      await Promise.all(sockets.slice(1).map((s) => s.closed));
      await mark.close();
      assert.deepEqual(ca.drain(presenceOf(b)), [], 'one online for eight sockets, and no offline while one is open');
      sockets[0].close();
      assert.equal((await ca.waitFor(presenceOf(b), graceMs + 5_000)).online, false);
      ca.close();
    });

    test('a hidden user reads as offline without lastSeen, is never announced, and sees no one (reciprocal); showing again announces', async () => {
      const { a, b, ca } = await dm();
      assert.deepEqual((await settings(node, b)).json, { presence: true }, 'shown by default');
      const cb = await TestClient.connect(node.url, await token(b));
      await ca.waitFor(presenceOf(b));
      assert.deepEqual(await settings(node, b, { presence: false }), { status: 200, json: { presence: false } });
      assert.deepEqual(await ca.waitFor(presenceOf(b)), { t: 'presence', user: b, online: false }, 'hiding reads as offline, no lastSeen');
      assert.deepEqual((await settings(node, b)).json, { presence: false }, 'stored');
      assert.deepEqual((await ca.request({ t: 'open', with: b })).presence, { user: b, online: false });
      const fromB = await cb.request({ t: 'open', with: a });
      assert.equal(fromB.t, 'conv');
      assert.equal(fromB.presence, undefined, 'a hidden user gets no one\'s presence');

      // b's last close is not announced.
      const mark = await marker(a, ca);
      cb.close();
      await cb.closed;
      await mark.close();
      assert.deepEqual(ca.drain(presenceOf(b)), [], 'b was never announced while hidden');

      // Reciprocal: n, a DM peer of both, sees a go offline; b, hidden, does not.
      const cb2 = await TestClient.connect(node.url, await token(b));
      const n = uid('pn');
      await connectUsers(node, n, a);
      await connectUsers(node, n, b);
      const cn = await TestClient.connect(node.url, await token(n));
      await cn.request({ t: 'open', with: a });
      await cn.request({ t: 'open', with: b });
      ca.close();
      await ca.closed;
      assert.equal((await cn.waitFor((f) => presenceOf(a)(f) && !f.online, graceMs + 5_000)).online, false);
      assert.deepEqual(cb2.drain(presenceOf(a)), [], 'b got nothing while hidden');

      const ca2 = await TestClient.connect(node.url, await token(a));
      assert.deepEqual(await settings(node, b, { presence: true }), { status: 200, json: { presence: true } });
      assert.deepEqual(await ca2.waitFor(presenceOf(b)), { t: 'presence', user: b, online: true }, 'shown again: the current state');
      ca2.close();
      cb2.close();
      cn.close();
    });

    test('settings: bad bodies are refused with the error table\'s codes', async () => {
      const u = uid('ps');
      assert.equal((await settings(node, u, { presence: 'no' })).status, 400);
      assert.equal((await settings(node, u, { colour: 'red' })).status, 400);
      assert.equal((await settings(node, u, '{')).status, 400);
      assert.equal((await settings(node, u, { presence: false }, 'text/plain')).status, 415);
      assert.equal((await settings(node, u, 'x'.repeat(4096))).status, 413);
      const r = await fetch(`${node.http}/api/v1/me/settings`);
      assert.equal(r.status, 401);
    });
  });
}
