/**
 * Rows the database refuses past validation fail only their own command (issue: one NUL made
 * every batch-mate 503), and idempotency outlives the actor's dedupe window (a unique key).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { createPool } from '../../src/persist/db.ts';
import { type Frame, TestClient } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';

const dedupeWindow = 10;
const node = new TestNode({ env: { DEDUPE_WINDOW_MAX: String(dedupeWindow), RATE_MSGS_PER_S: '10000', RATE_BURST: '10000' } });
let db: pg.Pool;

before(async () => {
  await node.start();
  // The node's own database: its schema on DATABASE_URL, or its embedded PGlite's socket.
  db = process.env.DATABASE_URL
    ? createPool({ url: process.env.DATABASE_URL, schema: node.schema }, 1, 'test')
    : createPool({ socketDir: node.dataDir, schema: 'public' }, 1, 'test');
  // A rule only the database knows: the protocol accepts this body, storage refuses it.
  await db.query(`ALTER TABLE messages ADD CONSTRAINT poison_for_test CHECK (position('POISON' in body) = 0)`);
});
after(async () => {
  await db?.end();
  await node.kill('SIGTERM');
});

async function pair(): Promise<{ a: string; b: string; ca: TestClient; cb: TestClient; conv: string }> {
  const a = uid('alice');
  const b = uid('bob');
  await connectUsers(node, a, b);
  const ca = await TestClient.connect(node.url, await token(a));
  const cb = await TestClient.connect(node.url, await token(b));
  const opened = await ca.request({ t: 'open', with: b });
  assert.equal(opened.t, 'conv', JSON.stringify(opened));
  return { a, b, ca, cb, conv: opened.conv.id };
}

/**
 * Sends, resending after load shedding ('overloaded': this box's load, which a test shares with
 * others, not the poisoned row) as the protocol says; any other refusal is returned.
 */
async function sendShedAware(c: TestClient, frame: Record<string, unknown>): Promise<Frame> {
  for (;;) {
    const r = await c.request(frame);
    if (!(r.t === 'err' && r.code === 503 && r.msg === 'overloaded, retry')) return r;
    await new Promise((done) => setTimeout(done, r.retryMs));
  }
}

describe('refused rows and late resends', () => {
  test('a row the database refuses is answered 422 without retryMs while every bystander send is acked', async () => {
    const bystanders = await Promise.all(Array.from({ length: 12 }, () => pair()));
    const victim = await pair();
    const perClient = 25;
    const bystanderReplies: Frame[] = [];
    const poisonReplies: Frame[] = [];
    await Promise.all([
      ...bystanders.map(async (p, i) => {
        for (let k = 0; k < perClient; k++) bystanderReplies.push(await sendShedAware(p.ca, { t: 'send', conv: p.conv, cmid: `b${i}-${k}`, body: `hello ${k}` }));
      }),
      (async () => {
        for (let k = 0; k < perClient; k++) poisonReplies.push(await sendShedAware(victim.ca, { t: 'send', conv: victim.conv, cmid: `p${k}`, body: `POISON ${k}` }));
      })(),
    ]);
    const notAcked = bystanderReplies.filter((f) => f.t !== 'ack');
    assert.deepEqual(notAcked, [], 'no bystander send was refused');
    assert.equal(bystanderReplies.length, bystanders.length * perClient);
    for (const f of poisonReplies) {
      assert.deepEqual([f.t, f.code, 'retryMs' in f], ['err', 422, false], JSON.stringify(f));
    }
    // The refused conversation goes on gapless: its next message is seq 1.
    const next = await sendShedAware(victim.ca, { t: 'send', conv: victim.conv, cmid: 'after', body: 'fine now' });
    assert.deepEqual([next.t, next.seq], ['ack', 1], JSON.stringify(next));
    const msg = await victim.cb.waitFor((f) => f.t === 'msg' && f.conv === victim.conv);
    assert.equal(msg.cmid, 'after', 'the recipient never saw a refused message');
    for (const p of [...bystanders, victim]) (p.ca.close(), p.cb.close());
  });

  test('a resend after the dedupe window gets the original ack, is stored once, and is not fanned out again', async () => {
    const { ca, cb, conv } = await pair();
    const first = await ca.request({ t: 'send', conv, cmid: 'c1', body: 'first' });
    assert.equal(first.t, 'ack');
    for (let k = 0; k < dedupeWindow + 5; k++) {
      const r = await ca.request({ t: 'send', conv, cmid: `m${k}`, body: `m${k}` });
      assert.equal(r.t, 'ack', JSON.stringify(r));
    }
    const again = await ca.request({ t: 'send', conv, cmid: 'c1', body: 'first' });
    assert.deepEqual({ t: again.t, seq: again.seq, id: again.id, ts: again.ts }, { t: 'ack', seq: first.seq, id: first.id, ts: first.ts });
    const stored = await db.query(`SELECT count(*)::int AS n FROM messages WHERE conv_id = $1 AND cmid = 'c1'`, [conv]);
    assert.equal(stored.rows[0].n, 1);
    // The seq the refused resend took is given back: the next message follows without a gap.
    const next = await ca.request({ t: 'send', conv, cmid: 'next', body: 'next' });
    assert.equal(next.seq, first.seq + dedupeWindow + 6);
    const last = await cb.waitFor((f) => f.t === 'msg' && f.cmid === 'next');
    assert.equal(last.seq, next.seq);
    const history = await ca.request({ t: 'history', conv, limit: 50 });
    const seqs = (history.msgs as Frame[]).map((m) => m.seq).sort((x, y) => x - y);
    assert.deepEqual(seqs, Array.from({ length: next.seq }, (_, i) => i + 1), 'gapless, each once');
    ca.close();
    cb.close();
  });
});
