/** Direct messages end to end over real sockets against a real node (PROTOCOL.md, seeds 001/003). */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';

async function pair(node: TestNode): Promise<{ a: string; b: string; ca: TestClient; cb: TestClient; conv: string }> {
  const a = uid('alice');
  const b = uid('bob');
  await connectUsers(node, a, b);
  const ca = await TestClient.connect(node.url, await token(a));
  const cb = await TestClient.connect(node.url, await token(b));
  const opened = await ca.request({ t: 'open', with: b });
  assert.equal(opened.t, 'conv', JSON.stringify(opened));
  return { a, b, ca, cb, conv: opened.conv.id };
}

// Both placements of the actors: shard worker threads, and inline in the edge's thread
// (SHARD_THREADS=0, the in-process bus delivering by function call). Every guarantee holds in both.
const placements = [
  { name: 'actors in shard threads', threads: '2' },
  { name: 'actors inline in the edge thread (SHARD_THREADS=0)', threads: '0' },
];

for (const placement of placements) {
  describe(`dm flow, ${placement.name}`, () => {
    const node = new TestNode({ env: { TYPING_TTL_MS: '400', RATE_MSGS_PER_S: '1000', RATE_BURST: '1000', SHARD_THREADS: placement.threads } });
    before(() => node.start());
    after(() => node.kill('SIGTERM'));

    test('hello names the user and the limits', async () => {
      const a = uid('alice');
      const c = await TestClient.connect(node.url, await token(a));
      assert.equal(c.hello.user, a);
      assert.equal(c.hello.limits.maxBodyChars, 2000);
      assert.equal(typeof c.hello.node, 'string');
      assert.equal((await c.request({ t: 'ping' })).t, 'pong');
      c.close();
    });

    test('open is refused with 403 between users who are not connected', async () => {
      const c = await TestClient.connect(node.url, await token(uid('carol')));
      const r = await c.request({ t: 'open', with: uid('stranger') });
      assert.deepEqual([r.t, r.code], ['err', 403]);
      c.close();
    });

    test('open is get-or-create: both sides get the same conversation', async () => {
      const { b, a, cb, ca, conv } = await pair(node);
      const again = await cb.request({ t: 'open', with: a });
      assert.equal(again.conv.id, conv);
      assert.deepEqual(again.conv.participants, [a, b].sort());
      assert.equal(again.conv.kind, 'dm');
      ca.close();
      cb.close();
    });

    test('send is acked, fanned out to the recipient and to the sender\'s other devices (not to the sending socket), with gapless seq', async () => {
      const { a, ca, cb, conv } = await pair(node);
      const ca2 = await TestClient.connect(node.url, await token(a));
      for (let i = 1; i <= 5; i++) {
        const ack = await ca.request({ t: 'send', conv, cmid: `m${i}`, body: `hello ${i}` });
        assert.equal(ack.t, 'ack', JSON.stringify(ack));
        assert.equal(ack.seq, i);
        assert.equal(ack.conv, conv);
      }
      for (const client of [cb, ca2]) {
        const seqs: number[] = [];
        for (let i = 1; i <= 5; i++) {
          const m = await client.waitFor((f) => f.t === 'msg' && f.conv === conv && f.seq === i);
          assert.equal(m.from, a);
          assert.equal(m.body, `hello ${i}`);
          seqs.push(m.seq);
        }
        assert.deepEqual(seqs, [1, 2, 3, 4, 5]);
      }
      // The sending socket gets each ack and no msg of its own (PROTOCOL: it may receive only the
      // ack). A shard reply published after the last fan-out: any echo would be buffered by now.
      assert.equal((await ca.request({ t: 'history', conv })).t, 'page');
      assert.deepEqual(ca.drain((f) => f.t === 'msg'), []);
      ca.close();
      ca2.close();
      cb.close();
    });

    test('a resend with the same cmid returns the original ack and is not fanned out again', async () => {
      const { ca, cb, conv } = await pair(node);
      const first = await ca.request({ t: 'send', conv, cmid: 'dup', body: 'once' });
      const second = await ca.request({ t: 'send', conv, cmid: 'dup', body: 'once' });
      assert.deepEqual([second.seq, second.id, second.ts], [first.seq, first.id, first.ts]);
      await cb.waitFor((f) => f.t === 'msg' && f.cmid === 'dup');
      await ca.request({ t: 'send', conv, cmid: 'after', body: 'x' });
      await cb.waitFor((f) => f.t === 'msg' && f.cmid === 'after');
      assert.equal(cb.drain((f) => f.t === 'msg' && f.cmid === 'dup').length, 0);
      const page = await cb.request({ t: 'history', conv });
      assert.deepEqual(page.msgs.map((m: { cmid: string }) => m.cmid), ['after', 'dup']);
      ca.close();
      cb.close();
    });

    test('recv and read move watermarks and reach the sender as delivered and read receipts', async () => {
      const { a, b, ca, cb, conv } = await pair(node);
      await ca.request({ t: 'send', conv, cmid: 'r1', body: 'one' });
      await ca.request({ t: 'send', conv, cmid: 'r2', body: 'two' });
      cb.send({ t: 'recv', conv, seq: 2 });
      const delivered = await ca.waitFor((f) => f.t === 'delivered');
      assert.deepEqual([delivered.conv, delivered.user, delivered.seq], [conv, b, 2]);
      const ok = await cb.request({ t: 'read', conv, seq: 1 });
      assert.equal(ok.t, 'ok');
      const read = await ca.waitFor((f) => f.t === 'read');
      assert.deepEqual([read.user, read.seq], [b, 1]);
      assert.ok(read.at > 0);
      // Watermarks never move back and never pass the last seq.
      await cb.request({ t: 'read', conv, seq: 99 });
      const read2 = await ca.waitFor((f) => f.t === 'read');
      assert.equal(read2.seq, 2);
      const joined = await ca.request({ t: 'join', conv });
      assert.deepEqual(joined.conv.watermarks[b], { delivered: 2, read: 2, readAt: read2.at });
      void a;
      ca.close();
      cb.close();
    });

    test('typing fans out with an expiry, then clears on its own after TYPING_TTL_MS', async () => {
      const { b, ca, cb, conv } = await pair(node);
      cb.send({ t: 'typing', conv });
      const on = await ca.waitFor((f) => f.t === 'typing');
      assert.equal(on.user, b);
      assert.ok(on.until > Date.now() - 1000);
      const off = await ca.waitFor((f) => f.t === 'typing', 3000);
      assert.equal(off.until, 0);
      ca.close();
      cb.close();
    });

    test('a send clears the sender\'s typing indicator', async () => {
      const { ca, cb, conv } = await pair(node);
      ca.send({ t: 'typing', conv });
      await cb.waitFor((f) => f.t === 'typing' && f.until > 0);
      await ca.request({ t: 'send', conv, cmid: 't1', body: 'done typing' });
      const off = await cb.waitFor((f) => f.t === 'typing', 300);
      assert.equal(off.until, 0);
      ca.close();
      cb.close();
    });

    test('history pages newest first by seq cursor; join since returns what was missed', async () => {
      const { ca, cb, conv } = await pair(node);
      for (let i = 1; i <= 7; i++) await ca.request({ t: 'send', conv, cmid: `h${i}`, body: `b${i}` });
      const p1 = await cb.request({ t: 'history', conv, limit: 3 });
      assert.deepEqual(p1.msgs.map((m: { seq: number }) => m.seq), [7, 6, 5]);
      assert.equal(p1.next, 5);
      const p2 = await cb.request({ t: 'history', conv, before: p1.next, limit: 3 });
      assert.deepEqual(p2.msgs.map((m: { seq: number }) => m.seq), [4, 3, 2]);
      const p3 = await cb.request({ t: 'history', conv, before: p2.next, limit: 3 });
      assert.deepEqual(p3.msgs.map((m: { seq: number }) => m.seq), [1]);
      assert.equal(p3.next, undefined);
      const joined = await cb.request({ t: 'join', conv, since: 4 });
      assert.equal(joined.conv.lastSeq, 7);
      assert.deepEqual(joined.msgs.map((m: { seq: number }) => m.seq), [5, 6, 7]);
      ca.close();
      cb.close();
    });

    test('inbox lists conversations by last activity with the last message and unread count', async () => {
      const me = uid('inbox-owner');
      const x = uid('x');
      const y = uid('y');
      await connectUsers(node, me, x);
      await connectUsers(node, me, y);
      const cme = await TestClient.connect(node.url, await token(me));
      const cx = await TestClient.connect(node.url, await token(x));
      const cy = await TestClient.connect(node.url, await token(y));
      const convX = (await cx.request({ t: 'open', with: me })).conv.id;
      const convY = (await cy.request({ t: 'open', with: me })).conv.id;
      await cx.request({ t: 'send', conv: convX, cmid: '1', body: 'x1' });
      await cx.request({ t: 'send', conv: convX, cmid: '2', body: 'x2' });
      await new Promise((r) => setTimeout(r, 5)); // distinct activity timestamps: ties order by id
      await cy.request({ t: 'send', conv: convY, cmid: '1', body: 'y1' });
      await cme.request({ t: 'send', conv: convY, cmid: 'mine', body: 'my reply' });
      const page = await cme.request({ t: 'inbox' });
      assert.deepEqual(page.convs.map((c: { conv: string }) => c.conv), [convY, convX]);
      assert.equal(page.convs[0].unread, 1);
      assert.equal(page.convs[0].last.body, 'my reply');
      assert.equal(page.convs[1].unread, 2);
      await cme.request({ t: 'read', conv: convX, seq: 2 });
      const firstOnly = await cme.request({ t: 'inbox', limit: 1 });
      assert.equal(firstOnly.convs.length, 1);
      const rest = await cme.request({ t: 'inbox', before: firstOnly.next, limit: 1 });
      assert.equal(rest.convs[0].conv, convX);
      assert.equal(rest.convs[0].unread, 0);
      for (const c of [cme, cx, cy]) c.close();
    });

    test('GET /api/v1/conversations/{id}/messages pages history for participants only', async () => {
      const { a, ca, cb, conv } = await pair(node);
      for (let i = 1; i <= 3; i++) await ca.request({ t: 'send', conv, cmid: `g${i}`, body: `g${i}` });
      const res = await fetch(`${node.http}/api/v1/conversations/${conv}/messages?limit=2`, { headers: { authorization: `Bearer ${await token(a)}` } });
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.deepEqual(body.messages.map((m: { seq: number }) => m.seq), [3, 2]);
      assert.equal(body.next, 2);
      const other = await fetch(`${node.http}/api/v1/conversations/${conv}/messages`, { headers: { authorization: `Bearer ${await token(uid('eve'))}` } });
      assert.equal(other.status, 403);
      const none = await fetch(`${node.http}/api/v1/conversations/${conv}/messages`);
      assert.equal(none.status, 401);
      const missing = await fetch(`${node.http}/api/v1/conversations/nope/messages`, { headers: { authorization: `Bearer ${await token(a)}` } });
      assert.equal(missing.status, 404);
      ca.close();
      cb.close();
    });

    test('a participant who is no longer connected cannot send (403)', async () => {
      const { a, b, ca, cb, conv } = await pair(node);
      const del = await fetch(`${node.http}/api/v1/connections/${a}/${b}`, { method: 'DELETE', headers: { authorization: `Bearer ${await token('ops', ['admin'])}` } });
      assert.equal(del.status, 204);
      const r = await ca.request({ t: 'send', conv, cmid: 'late', body: 'still there?' });
      assert.deepEqual([r.t, r.code], ['err', 403]);
      ca.close();
      cb.close();
    });
  });
}
