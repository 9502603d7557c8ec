/**
 * Several nodes share the shard space over NATS: fair shares, DMs across nodes, takeover of a
 * killed node's shards with nothing acknowledged lost, graceful exit, SHARD_COUNT agreement.
 * Needs NATS (NATS_URL); the nodes share DATABASE_URL's Postgres or a PGlite server of the test.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { until } from '../helpers/until.ts';
import { TestClient, type Frame } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';
import { sharedDatabase, type SharedDatabase } from '../helpers/shared-database.ts';

const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const prefix = `cl${process.pid}${Math.random().toString(36).slice(2, 6)}`;
let db: SharedDatabase;
let nodes: TestNode[] = [];

function member(id: string, extra: Record<string, string> = {}): TestNode {
  return new TestNode({
    env: {
      ...db.env, NATS_URL: natsUrl, SUBJECT_PREFIX: prefix, NODE_ID: id, SHARD_COUNT: '16', SHARD_THREADS: '1',
      LEASE_TTL_MS: '1500', RATE_MSGS_PER_S: '10000', RATE_BURST: '10000',
      ORDER_EVENTS_STREAM: `OE_${prefix}`, ORDER_EVENTS_SUBJECTS: `orders_${prefix}.>`, ORDER_EVENTS_CONSUMER: `c_${prefix}`, ...extra,
    },
  });
}

async function clusterView(node: TestNode): Promise<{ shardCount: number; nodes: { id: string; shards: { shard: number; epoch: number }[] }[] }> {
  const r = await fetch(`${node.http}/cluster`, { headers: { authorization: `Bearer ${await token('ops', ['admin'])}` } });
  assert.equal(r.status, 200);
  return r.json();
}


before(async () => {
  db = await sharedDatabase();
  nodes = [member('n1'), member('n2')];
  await nodes[0].start();
  await nodes[1].start();
});
after(async () => {
  for (const n of nodes) await n.kill('SIGKILL');
  await db.close();
});

test('two nodes split the shards fairly, each shard owned once, and hello names the node', async () => {
  const view = await until('a fair split', async () => {
    const v = await clusterView(nodes[0]);
    const counts = v.nodes.map((n) => n.shards.length);
    return v.nodes.length === 2 && counts.every((c) => c === 8) ? v : undefined;
  });
  const owned = view.nodes.flatMap((n) => n.shards.map((s) => s.shard)).sort((a, b) => a - b);
  assert.deepEqual(owned, Array.from({ length: 16 }, (_, i) => i));
  const c = await TestClient.connect(nodes[1].url, await token(uid('h')));
  assert.equal(c.hello.node, 'n2');
  c.close();
});

test('a DM between users on different nodes works both ways', async () => {
  const a = uid('xa');
  const b = uid('xb');
  await connectUsers(nodes[0], a, b);
  const ca = await TestClient.connect(nodes[0].url, await token(a));
  const cb = await TestClient.connect(nodes[1].url, await token(b));
  const conv = (await ca.request({ t: 'open', with: b })).conv.id;
  assert.equal((await ca.request({ t: 'send', conv, cmid: '1', body: 'from n1' })).t, 'ack');
  assert.equal((await cb.waitFor((f) => f.t === 'msg' && f.cmid === '1')).body, 'from n1');
  assert.equal((await cb.request({ t: 'send', conv, cmid: '2', body: 'from n2' })).t, 'ack');
  await ca.waitFor((f) => f.t === 'msg' && f.cmid === '2');
  ca.close();
  cb.close();
});

test('kill -9 of a node: its shards are taken over, acked messages survive, sends keep working', async () => {
  const pairs = await Promise.all(
    Array.from({ length: 6 }, async () => {
      const a = uid('fa');
      const b = uid('fb');
      await connectUsers(nodes[0], a, b);
      const c = await TestClient.connect(nodes[0].url, await token(a)); // clients stay on the survivor
      const conv = (await c.request({ t: 'open', with: b })).conv.id as string;
      const acked: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await c.request({ t: 'send', conv, cmid: `pre${i}`, body: 'x' });
        if (r.t === 'ack') acked.push(`pre${i}`);
      }
      return { c, conv, acked };
    }),
  );
  await nodes[1].kill('SIGKILL');
  // During the takeover, sends are retried by the edge and answered once a new owner serves.
  const during = await Promise.all(pairs.map((p) => p.c.request({ t: 'send', conv: p.conv, cmid: 'during', body: 'y' }, 20_000)));
  for (const r of during) {
    if (r.t === 'ack') continue;
    assert.deepEqual([r.t, r.code], ['err', 503], 'a send may be refused for retry, never lost silently');
  }
  const view = await until('n1 owns every shard', async () => {
    const v = await clusterView(nodes[0]);
    return v.nodes.length === 1 && v.nodes[0].shards.length === 16 ? v : undefined;
  });
  assert.equal(view.nodes[0].id, 'n1');
  for (const p of pairs) {
    const retry = await p.c.request({ t: 'send', conv: p.conv, cmid: 'during', body: 'y' });
    assert.equal(retry.t, 'ack');
    const page: Frame = await p.c.request({ t: 'history', conv: p.conv, limit: 100 });
    const cmids = page.msgs.map((m: Frame) => m.cmid).reverse();
    assert.deepEqual(cmids, [...p.acked, 'during'], 'every acked message once, in order, then the retried one');
    assert.deepEqual(page.msgs.map((m: Frame) => m.seq).reverse(), cmids.map((_: string, i: number) => i + 1));
    p.c.close();
  }
});

test('a restarted node takes back a fair share by orderly handoff', async () => {
  await nodes[1].start();
  await until('a fair split again', async () => {
    const v = await clusterView(nodes[0]);
    return v.nodes.length === 2 && v.nodes.every((n) => n.shards.length === 8) ? v : undefined;
  }, 30_000);
});

test('SIGTERM drains: sockets close with 1012, the process exits 0, the survivor takes over', async () => {
  const c = await TestClient.connect(nodes[1].url, await token(uid('t')));
  await nodes[1].kill('SIGTERM');
  assert.equal((await c.closed).code, 1012);
  assert.deepEqual(await nodes[1].exited(), { code: 0, signal: null });
  await until('n1 owns every shard', async () => {
    const v = await clusterView(nodes[0]);
    return v.nodes.length === 1 && v.nodes[0].shards.length === 16 ? true : undefined;
  }, 10_000);
});

// The bound only keeps a hung node from hanging the run; it is not a guess at start-up time.
test('a node started with another SHARD_COUNT refuses to join', { timeout: 180_000 }, async () => {
  const odd = member('odd', { SHARD_COUNT: '8' });
  // Waits for the refusal itself (the process ends), however slowly a loaded machine starts it:
  // a readiness deadline would fail a correct node that merely took long to reach the check.
  const starting = odd.start(Infinity);
  // 'close', not 'exit': by then stdout and stderr are drained into odd.log.
  const ended = new Promise<{ code: number | null; signal: string | null }>((resolve) => odd.child.once('close', (code, signal) => resolve({ code, signal })));
  try {
    const outcome = await Promise.race([ended, starting.then(() => 'ready' as const, () => ended)]);
    assert.notEqual(outcome, 'ready', 'a node with another SHARD_COUNT must never become ready');
    assert.deepEqual(outcome, { code: 78, signal: null }, odd.log);
    assert.match(odd.log, /SHARD_COUNT=8 but the cluster "[^"]+" runs with 16: refusing to join/);
  } finally {
    await odd.kill('SIGKILL');
  }
});
