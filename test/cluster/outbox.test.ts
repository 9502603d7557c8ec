/**
 * Domain events reach JetStream through the outbox: written in the same statement as the state
 * they describe, relayed in order, none lost across a kill -9, duplicates carry the same id.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, DeliverPolicy, type NatsConnection } from 'nats';
import { until } from '../helpers/until.ts';
import { TestClient } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';
import { sharedDatabase, type SharedDatabase } from '../helpers/shared-database.ts';
import { chatEventsStream, clusterEnv, dropStreams, natsUrl, runPrefix } from '../helpers/cluster-env.ts';

const prefix = runPrefix('ob');
const stream = chatEventsStream(prefix);
let db: SharedDatabase;
let nc: NatsConnection;
let node: TestNode;

before(async () => {
  db = await sharedDatabase();
  nc = await connect({ servers: natsUrl });
  node = new TestNode({
    env: {
      ...db.env, ...clusterEnv(prefix), RATE_MSGS_PER_S: '1000', RATE_BURST: '1000',
      EVENTS_STREAM_MAX_AGE_MS: '3600000', EVENTS_STREAM_MAX_BYTES: '67108864',
    },
  });
  await node.start();
});
after(async () => {
  await node.kill('SIGKILL');
  await dropStreams(nc, prefix);
  await nc.close();
  await db.close();
});

async function events(): Promise<{ id: string; type: string; data: Record<string, any> }[]> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info(stream);
  const out = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => undefined);
    if (m) out.push(JSON.parse(new TextDecoder().decode(m.data)));
  }
  void DeliverPolicy;
  return out;
}


test('conversation and message events are relayed to CHAT_EVENTS in order, once, also across a kill -9', async () => {
  const a = uid('oa');
  const b = uid('ob');
  await connectUsers(node, a, b);
  const c = await TestClient.connect(node.url, await token(a));
  const conv = (await c.request({ t: 'open', with: b })).conv.id;
  const acked: string[] = [];
  for (let i = 0; i < 3; i++) acked.push((await c.request({ t: 'send', conv, cmid: `o${i}`, body: `body ${i}` })).id);
  const first = await until('4 events', async () => {
    const e = (await events()).filter((x) => x.data.conv === conv);
    return e.length >= 4 ? e : undefined;
  });
  assert.deepEqual(first.map((e) => e.type), ['conversation.open', 'message.created', 'message.created', 'message.created']);
  assert.deepEqual(first.slice(1).map((e) => e.data.id), acked);
  assert.deepEqual(first.slice(1).map((e) => e.data.seq), [1, 2, 3]);
  c.close();

  // Messages acked just before a kill -9 still reach the stream, each once.
  const c2 = await TestClient.connect(node.url, await token(a));
  const late = (await c2.request({ t: 'send', conv, cmid: 'late', body: 'right before the crash' })).id;
  await node.kill('SIGKILL');
  await node.start();
  const all = await until('the late event', async () => {
    const e = (await events()).filter((x) => x.data.conv === conv);
    return e.some((x) => x.data.id === late) ? e : undefined;
  });
  const ids = all.map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, 'no event twice');
  assert.equal(all.filter((e) => e.type === 'message.created').length, 4);
});

test('moderation is audited in the stream: message.edited, message.deleted (moderation), report.created, report.resolved', async () => {
  const a = uid('ma');
  const b = uid('mb');
  const root = uid('root');
  await connectUsers(node, a, b);
  const ca = await TestClient.connect(node.url, await token(a));
  const cb = await TestClient.connect(node.url, await token(b));
  const conv = (await ca.request({ t: 'open', with: b })).conv.id;
  assert.equal((await cb.request({ t: 'send', conv, cmid: 'm1', body: 'first' })).t, 'ack');
  assert.equal((await cb.request({ t: 'edit', conv, seq: 1, body: 'first, edited' })).t, 'ok');
  assert.equal((await ca.request({ t: 'report', conv, seq: 1, reason: 'rude' })).t, 'ok');
  const headers = { authorization: `Bearer ${await token(root, ['admin'])}`, 'content-type': 'application/json' };
  const queue = await (await fetch(`${node.http}/api/v1/admin/reports?status=open&limit=100`, { headers })).json() as { reports: { id: string; conv: string }[] };
  const report = queue.reports.find((r) => r.conv === conv);
  assert.ok(report, JSON.stringify(queue));
  const r = await fetch(`${node.http}/api/v1/admin/reports/${report.id}/resolve`, { method: 'POST', headers, body: JSON.stringify({ action: 'delete_message' }) });
  assert.equal(r.status, 200, await r.text());
  const got = await until('the moderation events', async () => {
    const e = (await events()).filter((x) => x.data.conv === conv);
    return e.some((x) => x.type === 'report.resolved') && e.some((x) => x.type === 'message.deleted') ? e : undefined;
  });
  const types = got.map((e) => e.type);
  for (const t of ['message.created', 'message.edited', 'report.created', 'message.deleted', 'report.resolved']) assert.ok(types.includes(t), `${t} in ${types}`);
  assert.deepEqual(got.find((e) => e.type === 'message.deleted')!.data, { conv, seq: 1, by: root, sender: b, moderation: true });
  assert.deepEqual(got.find((e) => e.type === 'report.resolved')!.data, { id: report.id, conv, seq: 1, action: 'delete_message', by: root });
  ca.close();
  cb.close();
});

test('the event stream is bounded by EVENTS_STREAM_MAX_AGE_MS and EVENTS_STREAM_MAX_BYTES', async () => {
  const info = await until('the stream', async () => (await nc.jetstreamManager()).streams.info(stream).catch(() => undefined));
  assert.equal(info.config.max_age, 3_600_000 * 1_000_000, 'nanoseconds');
  assert.equal(info.config.max_bytes, 67_108_864);
});
