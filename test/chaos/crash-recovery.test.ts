/**
 * kill -9 while clients send: after a restart every acknowledged message is in history exactly
 * once with gapless seq, and resending the unacknowledged cmids creates no duplicates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient, type Frame } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';

const env = { RATE_MSGS_PER_S: '100000', RATE_BURST: '100000' };

/** A send as a client makes it: a refusal with retryMs (load shedding, a cold node) is resent after it. */
async function sendUntilAnswered(c: TestClient, frame: Record<string, unknown>): Promise<Frame> {
  for (let attempt = 0; ; attempt++) {
    const r = await c.request(frame);
    if (r.t !== 'err' || r.retryMs === undefined || attempt >= 50) return r;
    await new Promise((done) => setTimeout(done, r.retryMs));
  }
}

async function fullHistory(c: TestClient, conv: string): Promise<Frame[]> {
  const out: Frame[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await c.request({ t: 'history', conv, before, limit: 100 });
    assert.equal(page.t, 'page', JSON.stringify(page));
    out.push(...page.msgs);
    if (page.next === undefined) return out.reverse();
    before = page.next;
  }
}

// Both placements of the actors: shard threads, and inline in the edge's thread (SHARD_THREADS=0).
for (const threads of ['2', '0']) {
  test(`kill -9 mid-stream loses no acknowledged message and resends create no duplicates (SHARD_THREADS=${threads})`, async (t) => {
    const node = await new TestNode({ env: { ...env, SHARD_THREADS: threads } }).start();
    // A failed assertion must not leave the node running: its pipes would keep this file's process alive.
    t.after(() => node.kill('SIGKILL'));
    const pairs = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const a = uid('crash-a');
        const b = uid('crash-b');
        await connectUsers(node, a, b);
        const ca = await TestClient.connect(node.url, await token(a));
        const conv = (await ca.request({ t: 'open', with: b })).conv.id as string;
        return { a, b, ca, conv, acked: new Map<string, number>(), sent: [] as string[] };
      }),
    );

    // Every pair sends continuously; the node is killed while sends are in flight.
    let stop = false;
    const loops = pairs.map(async (p) => {
      for (let i = 0; !stop; i++) {
        const cmid = `c${i}`;
        p.sent.push(cmid);
        try {
          const r = await p.ca.request({ t: 'send', conv: p.conv, cmid, body: `m${i}` }, 2000);
          if (r.t === 'ack') p.acked.set(cmid, r.seq);
        } catch {
          return; // the socket died with the node
        }
      }
    });
    await new Promise((r) => setTimeout(r, 1500));
    await node.kill('SIGKILL');
    stop = true;
    await Promise.all(loops);
    const totalAcked = pairs.reduce((n, p) => n + p.acked.size, 0);
    assert.ok(totalAcked > 20, `enough traffic before the kill (${totalAcked} acked)`);

    await node.start();
    for (const p of pairs) {
      const c = await TestClient.connect(node.url, await token(p.a));
      const history = await fullHistory(c, p.conv);
      const seqs = history.map((m) => m.seq);
      assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), 'gapless seq from 1');
      const byCmid = new Map(history.map((m) => [m.cmid, m.seq]));
      assert.equal(byCmid.size, history.length, 'each cmid stored once');
      for (const [cmid, seq] of p.acked) assert.equal(byCmid.get(cmid), seq, `acked ${cmid} kept at its seq`);

      // The client resends everything it never saw acked (and, for good measure, all of it).
      for (const cmid of p.sent) {
        const r = await sendUntilAnswered(c, { t: 'send', conv: p.conv, cmid, body: `m${cmid.slice(1)}` });
        assert.equal(r.t, 'ack', JSON.stringify(r));
        if (p.acked.has(cmid)) assert.equal(r.seq, p.acked.get(cmid), 'a resend of an acked message returns its original seq');
      }
      const after = await fullHistory(c, p.conv);
      assert.equal(after.length, new Set(p.sent).size, 'exactly one message per cmid');
      assert.deepEqual(after.map((m) => m.seq), Array.from({ length: after.length }, (_, i) => i + 1));
      c.close();
    }
    await node.kill('SIGTERM');
  });
}
