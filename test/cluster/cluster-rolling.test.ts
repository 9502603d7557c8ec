/**
 * Three nodes under continuous load: DMs between users on different nodes deliver in order; a
 * rolling restart of all three (SIGTERM, start again), then a kill -9 mid-stream, lose no
 * acknowledged message: every acked cmid is in history exactly once, seq gapless.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient, type Frame } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';
import { sharedDatabase, type SharedDatabase } from '../helpers/shared-database.ts';

const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const prefix = `rr${process.pid}${Math.random().toString(36).slice(2, 6)}`;
let db: SharedDatabase;
const nodes: TestNode[] = [];

function member(id: string): TestNode {
  return new TestNode({
    env: {
      ...db.env, NATS_URL: natsUrl, SUBJECT_PREFIX: prefix, NODE_ID: id, SHARD_COUNT: '12', SHARD_THREADS: '1', LEASE_TTL_MS: '1500',
      RATE_MSGS_PER_S: '10000', RATE_BURST: '10000', ORDER_EVENTS_STREAM: `OE_${prefix}`, ORDER_EVENTS_SUBJECTS: `orders_${prefix}.>`,
      ORDER_EVENTS_CONSUMER: `c_${prefix}`, SHUTDOWN_TIMEOUT_MS: '8000',
    },
  });
}

async function owners(): Promise<Record<string, number>> {
  for (const n of nodes) {
    try {
      const r = await fetch(`${n.http}/cluster`, { headers: { authorization: `Bearer ${await token('ops', ['admin'])}` } });
      const v = (await r.json()) as { nodes: { id: string; shards: unknown[] }[] };
      return Object.fromEntries(v.nodes.map((x) => [x.id, x.shards.length]));
    } catch {
      /* that node is down: ask another */
    }
  }
  return {};
}

async function until(what: string, f: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await f().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const fairSplit = async () => {
  const o = await owners();
  return Object.keys(o).length === 3 && Object.values(o).every((c) => c === 4);
};

/** A sender that survives its node going away: reconnects to any node, resends unacked cmids. */
class Sender {
  client: TestClient | undefined;
  acked = new Map<string, number>();
  next = 0;
  stopped = false;
  constructor(readonly user: string, readonly conv: string, private home: number) {}

  private async connect(): Promise<TestClient> {
    for (let attempt = 0; ; attempt++) {
      const n = nodes[(this.home + attempt) % nodes.length];
      try {
        this.client = await TestClient.connect(n.url, await token(this.user));
        return this.client;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async run(): Promise<void> {
    while (!this.stopped) {
      const cmid = `m${this.next}`;
      try {
        const c = this.client ?? (await this.connect());
        const r = await c.request({ t: 'send', conv: this.conv, cmid, body: 'x' }, 10_000);
        if (r.t === 'ack') {
          this.acked.set(cmid, r.seq);
          this.next++;
        } else await new Promise((res) => setTimeout(res, r.retryMs ?? 100)); // 503: retry the same cmid
      } catch {
        this.client = undefined; // socket gone (1012 or kill): reconnect and resend the same cmid
      }
      await new Promise((res) => setTimeout(res, 20));
    }
  }
}

before(async () => {
  db = await sharedDatabase();
  nodes.push(member('r1'), member('r2'), member('r3'));
  for (const n of nodes) await n.start();
  await until('a fair split over three nodes', fairSplit);
});
after(async () => {
  for (const n of nodes) await n.kill('SIGKILL');
  await db.close();
});

test('rolling restart of all three nodes and a kill -9 under load lose no acknowledged message', { timeout: 240_000 }, async () => {
  const senders: Sender[] = [];
  for (let i = 0; i < 6; i++) {
    const a = uid('ra');
    const b = uid('rb');
    await connectUsers(nodes[0], a, b);
    const ca = await TestClient.connect(nodes[i % 3].url, await token(a));
    const cb = await TestClient.connect(nodes[(i + 1) % 3].url, await token(b)); // across nodes
    const conv = (await ca.requestRetrying({ t: 'open', with: b })).conv.id as string;
    assert.equal((await ca.requestRetrying({ t: 'send', conv, cmid: 'hello', body: 'first' })).t, 'ack');
    assert.equal((await cb.waitFor((f) => f.t === 'msg' && f.cmid === 'hello')).seq, 1, 'delivered across nodes');
    ca.close();
    cb.close();
    const s = new Sender(a, conv, i % 3);
    s.acked.set('hello', 1);
    senders.push(s);
  }
  const loops = senders.map((s) => s.run());
  await new Promise((r) => setTimeout(r, 1500));

  for (const n of nodes) {
    await n.kill('SIGTERM');
    await n.exited();
    await n.start();
    await until('a fair split after restarting one node', fairSplit);
  }
  await new Promise((r) => setTimeout(r, 1000));
  await nodes[1].kill('SIGKILL'); // mid-stream
  await new Promise((r) => setTimeout(r, 2500));
  await nodes[1].start();
  await until('a fair split after the kill', fairSplit);
  await new Promise((r) => setTimeout(r, 1000));
  for (const s of senders) s.stopped = true;
  await Promise.all(loops);

  const reader = await TestClient.connect(nodes[0].url, await token(senders[0].user));
  for (const s of senders) {
    const c = s.user === senders[0].user ? reader : await TestClient.connect(nodes[0].url, await token(s.user));
    const msgs: Frame[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await c.request({ t: 'history', conv: s.conv, before, limit: 100 });
      msgs.push(...page.msgs);
      if (page.next === undefined) break;
      before = page.next;
    }
    msgs.reverse();
    assert.deepEqual(msgs.map((m) => m.seq), msgs.map((_, i) => i + 1), 'gapless seq');
    const byCmid = new Map(msgs.map((m) => [m.cmid, m.seq]));
    assert.equal(byCmid.size, msgs.length, 'every cmid once');
    for (const [cmid, seq] of s.acked) assert.equal(byCmid.get(cmid), seq, `acked ${cmid} kept at seq ${seq}`);
    assert.ok(s.acked.size > 10, `the sender kept sending through the restarts (${s.acked.size} acked)`);
    c.close();
  }
});
