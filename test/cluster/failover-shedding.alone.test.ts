/**
 * A takeover does not turn into load shedding: three nodes under a steady load of resending
 * clients, one killed with SIGKILL. Every send is acked within LEASE_TTL_MS + one renew period
 * + 1 s of the kill (or of its first attempt, if later), and sends to the shards that did not
 * move are never refused as "overloaded" meanwhile: the time an edge spent retrying a send while
 * its shard had no owner is not queueing in the new owner, a shard's shed level is its own, and a
 * send the killed node took with it is asked again once its lease has lapsed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as natsConnect } from 'nats';
import { TestClient } from '../helpers/client.ts';
import { clusterEnv, dropStreams, natsUrl, runPrefix } from '../helpers/cluster-env.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';
import { sharedDatabase, type SharedDatabase } from '../helpers/shared-database.ts';
import { until } from '../helpers/until.ts';
import { overloadedMsg, shardOf } from '../../src/rpc/envelope.ts';

const prefix = runPrefix('fs');
const shardCount = 16;
const leaseTtlMs = 3000;
/** The lease manager renews every third of the TTL and looks for free shards twice as often (leases.ts). */
const renewMs = leaseTtlMs / 3;
/** Required: a send is answered within the lease TTL + one renew period + a second. */
const answerBoundMs = leaseTtlMs + renewMs + 1000;
const conversations = 36;
/** Between one conversation's sends: 36 × 6.25/s = 225 sends/s in all. */
const paceMs = 160;

let db: SharedDatabase;
let nodes: TestNode[] = [];

function member(id: string): TestNode {
  return new TestNode({
    env: {
      ...db.env, ...clusterEnv(prefix), NODE_ID: id, SHARD_COUNT: String(shardCount), SHARD_THREADS: '1',
      LEASE_TTL_MS: String(leaseTtlMs), RATE_MSGS_PER_S: '10000', RATE_BURST: '10000', RATE_FRAMES_PER_S: '10000',
      // Three nodes and Postgres on a shared test box: an edge's own event loop lags now and then,
      // and it would shed for that, alike for every shard. What is under test is the shards' word.
      EDGE_LAG_SHED_TARGET_MS: '5000', EDGE_LAG_SHED_MAX_MS: '10000',
    },
  });
}

interface Owners {
  nodes: { id: string; shards: { shard: number }[] }[];
}

async function clusterView(node: TestNode): Promise<Owners> {
  const r = await fetch(`${node.http}/cluster`, { headers: { authorization: `Bearer ${await token('ops', ['admin'])}` } });
  assert.equal(r.status, 200);
  return (await r.json()) as Owners;
}

/** shard → owner, once every shard has exactly one owner among `ids`. */
async function ownedBy(node: TestNode, ids: string[]): Promise<Map<number, string> | undefined> {
  const view = await clusterView(node);
  const owner = new Map<number, string>();
  for (const n of view.nodes) for (const s of n.shards) owner.set(s.shard, n.id);
  const complete = owner.size === shardCount && [...owner.values()].every((id) => ids.includes(id));
  return complete && view.nodes.length === ids.length ? owner : undefined;
}

interface SendRecord {
  /** performance.now() of the first attempt and of the ack. */
  firstAt: number;
  ackAt: number;
  /** The err 503 answers it got before the ack, and when. */
  refusals: { at: number; msg: string }[];
}

/**
 * One conversation's client, open loop like a person typing: a new send every `paceMs` whether or
 * not the previous ones were acked (so sends pile up while a shard has no owner, as in the soak),
 * each resent with its cmid after an err 503 until acked.
 */
class Sender {
  readonly sends: SendRecord[] = [];
  /** When err 503 "overloaded" answers arrived. */
  readonly overloadedAt: number[] = [];
  /** Anything but an ack or an err 503: none expected. */
  readonly otherErrors: string[] = [];
  private stopped = false;
  private readonly inflight = new Set<Promise<void>>();
  private pacing!: Promise<void>;
  constructor(readonly client: TestClient, readonly conv: string, readonly shard: number) {}

  start(): void {
    this.pacing = (async () => {
      for (let i = 0; !this.stopped; i++) {
        const p = this.deliver(`m${i}`).finally(() => this.inflight.delete(p));
        this.inflight.add(p);
        await new Promise((resolve) => setTimeout(resolve, paceMs));
      }
    })();
  }

  /** Stops issuing sends and waits until every send issued so far was answered. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.pacing;
    await Promise.all(this.inflight);
  }

  private async deliver(cmid: string): Promise<void> {
    const firstAt = performance.now();
    const refusals: { at: number; msg: string }[] = [];
    for (let attempt = 0; ; attempt++) {
      let r;
      try {
        r = await this.client.request({ t: 'send', conv: this.conv, cmid, body: 'x' }, 20_000);
      } catch (e) {
        return void this.otherErrors.push(String(e));
      }
      if (r.t === 'ack') {
        this.client.drain((f) => f.t === 'msg'); // the echoes of our own messages
        return void this.sends.push({ firstAt, ackAt: performance.now(), refusals });
      }
      if (r.t !== 'err' || r.code !== 503 || attempt > 200) return void this.otherErrors.push(JSON.stringify(r));
      if (r.msg === overloadedMsg) this.overloadedAt.push(performance.now());
      refusals.push({ at: performance.now(), msg: r.msg });
      await new Promise((resolve) => setTimeout(resolve, r.retryMs ?? 100));
    }
  }

  ackedAfter(t: number): number {
    return this.sends.filter((s) => s.firstAt >= t).length;
  }
}

before(async () => {
  db = await sharedDatabase();
  nodes = [member('n1'), member('n2'), member('n3')];
  await Promise.all(nodes.map((n) => n.start()));
});
after(async () => {
  for (const n of nodes) await n.kill('SIGKILL');
  const nc = await natsConnect({ servers: natsUrl });
  await dropStreams(nc, prefix);
  await nc.close();
  await db.close();
});

test('kill -9 under load: every send is acked within TTL + renew + 1 s, and shards that did not move are not shed', async (t) => {
  const [n1, n2, n3] = nodes;
  await until('three nodes share every shard', () => ownedBy(n1, ['n1', 'n2', 'n3']), 30_000);

  // Clients only on the survivors; conversations hash over all shards, so about a third live on n3.
  const senders = await Promise.all(Array.from({ length: conversations }, async (_, i) => {
    const a = uid('fs-a');
    const b = uid('fs-b');
    const home = i % 2 === 0 ? n1 : n2;
    await connectUsers(home, a, b);
    const client = await TestClient.connect(home.url, await token(a));
    // Setup is not under test: an open refused for a retry is retried as told.
    let opened = await client.request({ t: 'open', with: b }, 10_000);
    for (let tries = 0; opened.t === 'err' && opened.code === 503 && tries < 50; tries++) {
      await new Promise((resolve) => setTimeout(resolve, opened.retryMs ?? 100));
      opened = await client.request({ t: 'open', with: b }, 10_000);
    }
    assert.equal(opened.t, 'conv', JSON.stringify(opened));
    const conv = opened.conv.id as string;
    return new Sender(client, conv, shardOf(conv, shardCount));
  }));

  for (const s of senders) s.start();
  let owners: Map<number, string>;
  let killAt: number;
  let reownedMs: number;
  try {
    await until('every conversation is sending', async () => (senders.every((s) => s.sends.length >= 3) ? true : undefined));
    owners = await until('the owners before the kill', () => ownedBy(n1, ['n1', 'n2', 'n3']));
    killAt = performance.now();
    await n3.kill('SIGKILL');
    await until('the survivors own every shard', () => ownedBy(n1, ['n1', 'n2']), 20_000);
    reownedMs = performance.now() - killAt; // an upper bound: /cluster shows heartbeats, sent every renew period
    // Keep the load on past the bound: the refusals this test is about came after the takeover.
    const settledAt = killAt + answerBoundMs;
    await until('every conversation acked sends issued after the bound', async () => (senders.every((s) => s.ackedAfter(settledAt) >= 3) ? true : undefined), 30_000);
  } finally {
    await Promise.all(senders.map((s) => s.stop()));
    for (const s of senders) s.client.close();
  }

  for (const s of senders) assert.deepEqual(s.otherErrors, [], 'every send is acked or refused with err 503 for a retry');
  const moved = senders.filter((s) => owners.get(s.shard) === 'n3');
  const stayed = senders.filter((s) => owners.get(s.shard) !== 'n3');
  assert.ok(moved.length > 0 && stayed.length > 0, `conversations on both sides (${moved.length} on n3's shards)`);

  // How long each send answered after the kill waited, counted from the kill if it was issued before.
  const answered = senders.flatMap((s) => s.sends.filter((x) => x.ackAt > killAt).map((x) => ({ ...x, wait: x.ackAt - Math.max(x.firstAt, killAt) })));
  answered.sort((x, y) => y.wait - x.wait);
  const overloaded = (group: Sender[]) => group.reduce((n, s) => n + s.overloadedAt.filter((at) => at > killAt).length, 0);
  const summary = {
    conversations: { moved: moved.length, stayed: stayed.length }, sendsAnsweredAfterKill: answered.length,
    worstWaitMs: Math.round(answered[0].wait), boundMs: answerBoundMs, reownedByMs: Math.round(reownedMs),
    overloadedAfterKill: { moved: overloaded(moved), stayed: overloaded(stayed) },
  };
  t.diagnostic(JSON.stringify(summary));
  const slowest = answered.slice(0, 5).map((x) => ({
    issuedMs: Math.round(x.firstAt - killAt), waitMs: Math.round(x.wait), refused: x.refusals.map((r) => `${Math.round(r.at - killAt)} ms: ${r.msg}`),
  }));
  assert.ok(answered[0].wait <= answerBoundMs, `every send acked within ${answerBoundMs} ms of the kill: ${JSON.stringify({ ...summary, slowest })}`);
  // A tiny number may be refused, for a real backlog: the persister lanes of the thread that takes
  // the shards over are shared with its other shards, and the sends the edges held for the moved
  // shards arrive there at once; for about one batch, a healthy shard's writes on those lanes wait
  // behind them (and the lane's drain-rate estimate, learnt on the small batches before, overstates
  // it). Before the fix it was thousands in this test (most of the healthy shards' sends).
  const stayedSends = stayed.reduce((n, s) => n + s.sends.filter((x) => x.ackAt > killAt).length, 0);
  assert.ok(summary.overloadedAfterKill.stayed <= Math.ceil(0.02 * stayedSends), `sends to shards that did not move are (almost) never refused as overloaded: ${JSON.stringify(summary)}`);
});
