/**
 * Notifications in a cluster (issue 16): two nodes over NATS and one database, both running the
 * notifier against one real webhook receiver that answers slowly (deliveries of both nodes in
 * flight at once). Every notification reaches the receiver exactly once — one node claims each
 * (FOR UPDATE SKIP LOCKED with a lease) — and a recipient online on the other node than the
 * sender, whose device acknowledges, is not notified (the presence directory is cluster-wide).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'nats';
import { type Frame, TestClient } from '../helpers/client.ts';
import { clusterEnv, dropStreams, natsUrl, runPrefix } from '../helpers/cluster-env.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';
import { sharedDatabase, type SharedDatabase } from '../helpers/shared-database.ts';
import { until } from '../helpers/until.ts';
import { WebhookReceiver } from '../helpers/webhook-receiver.ts';

const prefix = runPrefix('nt');
const receiver = new WebhookReceiver();
let db: SharedDatabase;
const nodes: TestNode[] = [];

before(async () => {
  db = await sharedDatabase();
  await receiver.start();
  receiver.answerDelayMs = 300;
  for (const id of ['nt1', 'nt2']) {
    nodes.push(new TestNode({
      env: {
        ...db.env, ...clusterEnv(prefix), NODE_ID: id, PRESENCE_GRACE_MS: '300',
        NOTIFY_WEBHOOK_URL: receiver.url, NOTIFY_WEBHOOK_SECRET: receiver.secret,
        NOTIFY_COALESCE_MS: '1000', NOTIFY_DELAY_MS: '2500', NOTIFY_POLL_MS: '50', NOTIFY_RETRY_BASE_MS: '200', NOTIFY_RETRY_MAX_MS: '400',
      },
    }));
  }
  await Promise.all(nodes.map((n) => n.start()));
});

after(async () => {
  for (const n of nodes) await n.kill('SIGKILL');
  await receiver.stop();
  await db.close();
  const nc = await connect({ servers: natsUrl });
  const jsm = await nc.jetstreamManager();
  for (const bucket of [`${prefix}-presence`, `${prefix}-presence-edges`, `${prefix}-cluster`, `${prefix}-leases`, `${prefix}-nodes`]) await jsm.streams.delete(`KV_${bucket}`).catch(() => {});
  await dropStreams(nc, prefix);
  await nc.close();
});

/** A request answered; a transient 503 (a loaded machine: shedding, a shard not yet owned) is retried after its retryMs. */
async function ask(c: TestClient, frame: Record<string, unknown>): Promise<Frame> {
  for (let i = 0; ; i++) {
    const r = await c.request(frame, 10_000);
    if (r.t !== 'err' || r.code !== 503 || i >= 20) return r;
    await new Promise((res) => setTimeout(res, r.retryMs ?? 100));
  }
}

async function send(c: TestClient, conv: string, body: string): Promise<number> {
  const ack = await ask(c, { t: 'send', conv, cmid: `m-${Math.random().toString(36).slice(2)}`, body }); // the same cmid when retried
  assert.equal(ack.t, 'ack', JSON.stringify(ack));
  return ack.seq as number;
}

test('two notifiers, one receiver: every notification arrives once; an online recipient on the other node who acknowledged gets none', async () => {
  const [n1, n2] = nodes;
  // The acknowledging recipient: online on node 2, its sender on node 1.
  const on = uid('online');
  const onSender = uid('s');
  await connectUsers(n1, onSender, on);
  const cs = await TestClient.connect(n1.url, await token(onSender));
  const opened = await ask(cs, { t: 'open', with: on });
  assert.equal(opened.t, 'conv', JSON.stringify(opened));
  const onConv = opened.conv.id as string;
  const con = await TestClient.connect(n2.url, await token(on));
  con.ws.on('message', () => {
    for (const f of con.drain((x) => x.t === 'msg')) con.send({ t: 'recv', conv: f.conv, seq: f.seq });
  });
  assert.equal((await ask(con, { t: 'join', conv: onConv })).t, 'conv');
  await send(cs, onConv, 'seen live');

  // Twelve offline recipients, their senders on either node.
  const offline = Array.from({ length: 12 }, () => uid('away'));
  const senders: TestClient[] = [];
  await Promise.all(offline.map(async (to, i) => {
    const node = nodes[i % 2];
    const from = uid('s');
    await connectUsers(node, from, to);
    const c = await TestClient.connect(node.url, await token(from));
    senders.push(c);
    const o = await ask(c, { t: 'open', with: to });
    assert.equal(o.t, 'conv', JSON.stringify(o));
    await send(c, o.conv.id as string, 'one');
    await send(c, o.conv.id as string, 'two');
  }));
  await until('every offline recipient notified', async () => (offline.every((u) => receiver.accepted(u).length > 0) ? true : undefined), 30_000);
  for (const u of offline) assert.deepEqual(receiver.of(u).map((r) => [r.body.conversations, r.body.messages, r.status]), [[1, 2, 200]], u);

  // The online one goes offline; its next message is its first notification, covering only it.
  con.close();
  await con.closed;
  const seq = await send(cs, onConv, 'now away');
  const n = await until('the formerly online recipient notified', async () => receiver.accepted(on)[0], 30_000);
  assert.deepEqual([n.body.messages, n.body.items[0].firstSeq], [1, seq]);
  assert.equal(receiver.of(on).length, 1);

  const keys = receiver.got.map((g) => g.key);
  assert.equal(new Set(keys).size, keys.length, 'no notification was delivered twice');
  assert.deepEqual(receiver.badSignatures, []);
  cs.close();
  for (const c of senders) c.close();
});
