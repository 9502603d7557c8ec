/**
 * Load shedding under a tiny persister bound: a burst of sends far beyond what the bound admits
 * gets fast `err 503 {retryMs}` refusals instead of timeouts; every acked send is stored once at
 * its acked seq, seqs stay gapless, refused sends go through when retried with the same cmid,
 * and the node keeps answering. No timing assertions: the bound is small enough that any burst
 * overflows it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient, type Frame } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';

const node = new TestNode({
  env: {
    // One lane of 16 rows, and admission keeps room for a command's rows under it: at most a
    // batch or so is admitted at once, the rest of a burst is refused.
    PERSIST_QUEUE_MAX: '16', PERSIST_BATCH_MAX: '8', PERSIST_LANES: '1', SHARD_THREADS: '1',
    PERSIST_QUEUE_DELAY_MAX_MS: '200', SHED_DELAY_TARGET_MS: '1',
    RATE_MSGS_PER_S: '100000', RATE_BURST: '100000', RATE_FRAMES_PER_S: '100000', MAILBOX_DEPTH_MAX: '100000',
  },
});
before(() => node.start());
after(() => node.kill('SIGTERM'));

const pairs = 3;
const perPair = 100;

async function historyOf(c: TestClient, conv: string): Promise<Frame[]> {
  const out: Frame[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await c.request({ t: 'history', conv, limit: 100, ...(before === undefined ? {} : { before }) });
    out.push(...page.msgs);
    if (page.next === undefined || page.next === null) return out.sort((x, y) => x.seq - y.seq);
    before = page.next;
  }
}

test('a burst past the bound is refused with err 503 {retryMs}; acked sends are durable and gapless; refused ones succeed on retry', async () => {
  const senders: { c: TestClient; conv: string }[] = [];
  for (let i = 0; i < pairs; i++) {
    const a = uid('shed-a');
    const b = uid('shed-b');
    await connectUsers(node, a, b);
    const c = await TestClient.connect(node.url, await token(a));
    // Setup is not under test: on a loaded machine an open may itself be shed; retry as told.
    let opened = await c.request({ t: 'open', with: b });
    for (let tries = 0; opened.t === 'err' && opened.code === 503 && tries < 50; tries++) {
      await new Promise((r) => setTimeout(r, opened.retryMs ?? 100));
      opened = await c.request({ t: 'open', with: b });
    }
    assert.equal(opened.t, 'conv', JSON.stringify(opened));
    senders.push({ c, conv: opened.conv.id });
  }

  const burst = await Promise.all(senders.map(({ c, conv }) =>
    Promise.all(Array.from({ length: perPair }, (_, i) => c.request({ t: 'send', conv, cmid: `m${i}`, body: `b${i}` }, 15_000)))));

  const all = burst.flat();
  const refused = all.filter((r) => r.t === 'err');
  assert.ok(refused.length > 0, 'the burst overflowed the bound');
  assert.ok(all.some((r) => r.t === 'ack'), 'some sends were admitted');
  for (const r of refused) {
    assert.equal(r.code, 503, `refusals are 503, got ${JSON.stringify(r)}`);
    assert.ok(r.retryMs > 0, 'every refusal says when to retry');
  }
  assert.equal((await senders[0].c.request({ t: 'ping' })).t, 'pong', 'the node keeps answering');
  assert.equal((await fetch(`${node.http}/healthz`)).status, 200);

  for (const [k, { c, conv }] of senders.entries()) {
    const acked = new Map<string, number>(); // cmid → seq
    burst[k].forEach((r, i) => r.t === 'ack' && acked.set(`m${i}`, r.seq));
    const stored = await historyOf(c, conv);
    assert.deepEqual(stored.map((m) => m.seq), stored.map((_, i) => i + 1), 'seqs are gapless');
    for (const [cmid, seq] of acked) assert.equal(stored.filter((m) => m.cmid === cmid && m.seq === seq).length, 1, `acked ${cmid} stored once at seq ${seq}`);

    // Refused sends, retried after retryMs with the same cmid (in rounds: each round is a
    // smaller burst), all go through; a resend of an acked cmid would return its original ack.
    let todo = burst[k].flatMap((r, i) => (r.t === 'err' ? [{ i, r }] : []));
    for (let round = 0; todo.length > 0 && round < 100; round++) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(...todo.map(({ r }) => r.retryMs))));
      const again = await Promise.all(todo.map(({ i }) => c.request({ t: 'send', conv, cmid: `m${i}`, body: `b${i}` }, 15_000)));
      for (const r of again) if (r.t === 'err') assert.equal(r.code, 503);
      todo = todo.flatMap(({ i }, j) => (again[j].t === 'err' ? [{ i, r: again[j] }] : []));
    }
    assert.equal(todo.length, 0, 'every refused send was acked on retry');
    const final = await historyOf(c, conv);
    assert.equal(final.length, perPair, 'each message stored exactly once');
    assert.deepEqual(final.map((m) => m.seq), final.map((_, i) => i + 1), 'still gapless');
    assert.deepEqual(new Set(final.map((m) => m.cmid)), new Set(Array.from({ length: perPair }, (_, i) => `m${i}`)));
    c.close();
  }

  const metrics = await (await fetch(`${node.http}/metrics`)).text();
  assert.match(metrics, /chat_sends_shed_total\{where="(edge|shard)"\} [1-9]/, 'refusals are counted');
});
