/**
 * Split roles and fencing under a pause: edge-only and shard-only members, an explicit SHARDS
 * list, and an owner that is frozen (SIGSTOP) past its lease: the survivor takes its shards and
 * the frozen node, once thawed, neither commits nor keeps serving them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { until } from '../helpers/until.ts';
import { TestClient, type Frame } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';
import { sharedDatabase, type SharedDatabase } from '../helpers/shared-database.ts';

const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const runId = `cr${process.pid}${Math.random().toString(36).slice(2, 6)}`;
let cluster = 0;
let prefix = runId;
let db: SharedDatabase;
const started: TestNode[] = [];

function member(id: string, extra: Record<string, string>): TestNode {
  const n = new TestNode({
    env: {
      ...db.env, NATS_URL: natsUrl, SUBJECT_PREFIX: prefix, NODE_ID: id, SHARD_COUNT: '8', SHARD_THREADS: '1', LEASE_TTL_MS: '1500',
      RATE_MSGS_PER_S: '10000', RATE_BURST: '10000', ORDER_EVENTS_STREAM: `OE_${prefix}`, ORDER_EVENTS_SUBJECTS: `orders_${prefix}.>`,
      ORDER_EVENTS_CONSUMER: `c_${prefix}`, ...extra,
    },
  });
  started.push(n);
  return n;
}

async function view(node: TestNode): Promise<{ nodes: { id: string; role: string; shards: { shard: number }[] }[] }> {
  return (await fetch(`${node.http}/cluster`, { headers: { authorization: `Bearer ${await token('ops', ['admin'])}` } })).json();
}


before(async () => (db = await sharedDatabase()));
after(async () => {
  for (const n of started) {
    if (!n.child) continue;
    n.child.kill('SIGCONT');
    await n.kill('SIGKILL');
  }
  await db.close();
});

test('an edge-only node serves sockets while shard-only nodes with explicit SHARDS own the actors', async () => {
  prefix = `${runId}x${++cluster}`;
  const s1 = member('shard-1', { ROLE: 'shard', SHARDS: '0-3' });
  const s2 = member('shard-2', { ROLE: 'shard', SHARDS: '4-7' });
  const edge = member('edge-1', { ROLE: 'edge' });
  await Promise.all([s1.start(), s2.start()]);
  await edge.start();
  const v = await until('explicit shards owned', async () => {
    const x = await view(edge);
    const byId = Object.fromEntries(x.nodes.map((n) => [n.id, n.shards.map((s) => s.shard).sort((a, b) => a - b)]));
    return JSON.stringify(byId['shard-1']) === '[0,1,2,3]' && JSON.stringify(byId['shard-2']) === '[4,5,6,7]' && byId['edge-1'] ? x : undefined;
  });
  assert.equal(v.nodes.find((n) => n.id === 'edge-1')?.role, 'edge');
  const a = uid('ra');
  const b = uid('rb');
  await connectUsers(edge, a, b);
  const ca = await TestClient.connect(edge.url, await token(a));
  const cb = await TestClient.connect(edge.url, await token(b));
  const conv = (await ca.request({ t: 'open', with: b })).conv.id;
  assert.equal((await ca.request({ t: 'send', conv, cmid: '1', body: 'via shard nodes' })).t, 'ack');
  await cb.waitFor((f) => f.t === 'msg' && f.cmid === '1');
  ca.close();
  cb.close();
  for (const n of [edge, s1, s2]) await n.kill('SIGTERM');
});

test('a frozen owner loses its shards to a live node and, thawed, cannot commit for them', async () => {
  prefix = `${runId}x${++cluster}`;
  const n1 = member('p1', {});
  const n2 = member('p2', {});
  await n1.start();
  await n2.start();
  await until('both own shards', async () => {
    const x = await view(n1);
    return x.nodes.length === 2 && x.nodes.every((n) => n.shards.length === 4) ? true : undefined;
  });
  // Users whose conversations live on p2's shards, connected to p1.
  const owned2 = new Set((await view(n1)).nodes.find((n) => n.id === 'p2')!.shards.map((s) => s.shard));
  const a = uid('pa');
  const b = uid('pb');
  await connectUsers(n1, a, b);
  const ca = await TestClient.connect(n1.url, await token(a));
  const conv = (await ca.request({ t: 'open', with: b })).conv.id as string;
  assert.equal((await ca.request({ t: 'send', conv, cmid: 'before', body: 'x' })).t, 'ack');

  n2.child.kill('SIGSTOP');
  await until('p1 owns every shard', async () => {
    const x = await view(n1);
    return x.nodes.length === 1 && x.nodes[0].shards.length === 8 ? true : undefined;
  }, 15_000);
  const during = await ca.request({ t: 'send', conv, cmid: 'during', body: 'y' }, 15_000);
  assert.equal(during.t, 'ack');
  n2.child.kill('SIGCONT');
  // Thawed, p2 finds its leases gone and stops serving: p1 keeps every shard.
  await new Promise((r) => setTimeout(r, 2500));
  const x = await view(n1);
  const p2 = x.nodes.find((n) => n.id === 'p2');
  for (const s of p2?.shards ?? []) assert.ok(!owned2.has(s.shard) || x.nodes.find((n) => n.id === 'p1')!.shards.every((t) => t.shard !== s.shard), 'no shard has two owners');
  assert.equal((await ca.request({ t: 'send', conv, cmid: 'after', body: 'z' }, 15_000)).t, 'ack');
  const page: Frame = await ca.request({ t: 'history', conv, limit: 100 });
  assert.deepEqual(page.msgs.map((m: Frame) => m.cmid).reverse(), ['before', 'during', 'after']);
  assert.deepEqual(page.msgs.map((m: Frame) => m.seq).reverse(), [1, 2, 3]);
  ca.close();
});
