/**
 * What a shard counts as queueing when it sheds load, and whom its shed level concerns: a shard
 * host with a fake bus, store and persister, and a clock the test moves. Before the fix the host
 * counted the time since the edge's stamp (including the edge's retries while the shard had no
 * owner) and folded it into one thread-wide average that every reply carried.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode } from '../../protocol/codec.ts';
import type { ClientFrame } from '../../protocol/frames.ts';
import { dmConversationId } from '../../actors/dm.ts';
import type { ConversationState, Write } from '../../actors/types.ts';
import type { Bus, BusHandler } from '../../src/bus/bus.ts';
import { Subjects } from '../../src/bus/bus.ts';
import type { CachedConnections } from '../../src/integrations/connections.ts';
import type { PersistLane } from '../../src/persist/lane.ts';
import type { Persister } from '../../src/persist/persister.ts';
import type { Store } from '../../src/persist/store.ts';
import { replyFrame, ReplyStatus, replyStatus, shardOf, shedLevelMax, shedShareOf } from '../../src/rpc/envelope.ts';
import { ShardHost, type HostLimits } from '../../src/shard/host.ts';

const t0 = 1_700_000_000_000;
const shardCount = 64;
const limits: HostLimits = {
  typingTtlMs: 1000, dedupeWindowMax: 1000, historyLimitDefault: 50, editWindowMs: 900_000, actorIdleMs: 60_000, actorsPerThreadMax: 1000, mailboxDepthMax: 1000,
  persistQueueDelayMaxMs: 500, shedDelayTargetMs: 100, shedShareMaxPct: 95,
};

/** A lane whose drain time the test sets, and whose commits it may hold back. */
class FakeLane {
  delayMs = 0;
  depth = 0;
  hold = false;
  private held: (() => void)[] = [];
  fits(): boolean {
    return true;
  }
  enqueue(_writes: Write[]): Promise<void> {
    return new Promise((resolve) => (this.hold ? this.held.push(resolve) : resolve()));
  }
  get pending(): number {
    return this.held.length;
  }
  release(n = Infinity): void {
    for (const r of this.held.splice(0, n)) r();
  }
}

class Rig {
  now = t0;
  /** The thread's inbound delay (probe.ts) as the host sees it. */
  inbound = 0;
  readonly replies = new Map<string, Uint8Array>();
  readonly lanes = new Map<string, FakeLane>();
  /** Conversations whose rehydration waits until the test resolves it. */
  readonly loads = new Map<string, () => void>();
  readonly stalled = new Set<string>();
  readonly host: ShardHost;
  private rid = 0;

  constructor() {
    const bus: Bus = {
      publish: (subject, data) => void this.replies.set(subject, data),
      subscribe: (_s: string, _h: BusHandler) => ({ unsubscribe() {} }),
      request: () => Promise.reject(new Error('no requests here')),
      close: async () => {},
    };
    const store = {
      loadConversation: (id: string) => new Promise<ConversationState>((resolve) => {
        const state = dm(id);
        if (this.stalled.has(id)) this.loads.set(id, () => resolve(state));
        else resolve(state);
      }),
    } as unknown as Store;
    const persister = {
      failureEpoch: 0,
      delayMsMax: 0,
      mustReload: () => false,
      reloaded: () => {},
      lane: (conv: string) => this.lane(conv) as unknown as PersistLane,
    } as unknown as Persister;
    const connections = { peek: () => 'connected' } as unknown as CachedConnections;
    this.host = new ShardHost({ bus, subjects: new Subjects('t'), store, persister, connections, limits, now: () => this.now, shardCount, inboundDelayMs: () => this.inbound });
  }

  lane(conv: string): FakeLane {
    let lane = this.lanes.get(conv);
    if (!lane) this.lanes.set(conv, (lane = new FakeLane()));
    return lane;
  }

  /**
   * A send from alice as an edge puts it on the bus; `at` is the stamp edges used to add (the
   * time of their first attempt), which a shard must not count.
   */
  send(conv: string, cmid: string, at?: number): string {
    const to = `reply.${++this.rid}`;
    const frame: ClientFrame = { t: 'send', rid: this.rid, conv, cmid, body: 'hi' };
    this.host.handle(encode({ c: conv, u: 'alice', r: ['user'], f: frame, ...(at === undefined ? {} : { at }) }), to);
    return to;
  }

  async reply(to: string): Promise<Uint8Array> {
    await until(() => this.replies.has(to));
    return this.replies.get(to)!;
  }
}

/** DM id → alice's peer in it. */
const peers = new Map<string, string>();

function dm(id: string): ConversationState {
  return {
    id, kind: 'dm', state: 'open', readOnly: false, participants: ['alice', peers.get(id)!], lastSeq: 0,
    watermarks: new Map(), recentSends: new Map(), typingUntil: new Map(), createdAt: t0,
  };
}

/** Lets the host's promise chains run until `done()` holds (event-loop turns, no timers). */
async function until(done: () => boolean): Promise<void> {
  for (let turns = 0; !done(); turns++) {
    if (turns > 1000) throw new Error('condition not reached');
    await new Promise((r) => setImmediate(r));
  }
}

function frameOf(reply: Uint8Array): { t: string; code?: number } {
  return decode(replyFrame(reply)) as { t: string; code?: number };
}

/** Two DMs of alice's that live on different shards. */
function twoShards(): [string, string] {
  const a = dmConversationId('alice', 'bob');
  peers.set(a, 'bob');
  for (let i = 0; ; i++) {
    const b = dmConversationId('alice', `carol${i}`);
    if (shardOf(b, shardCount) === shardOf(a, shardCount)) continue;
    peers.set(b, `carol${i}`);
    return [a, b];
  }
}

test('a send whose edge stamp is seconds old but which waited 0 ms in the shard is admitted, and the level stays 0', async () => {
  const rig = new Rig();
  const [conv] = twoShards();
  // The edge retried for 4 s while the shard had no owner (failover); this host just got it.
  const reply = await rig.reply(rig.send(conv, 'm1', rig.now - 4000));
  assert.equal(replyStatus(reply), ReplyStatus.forward);
  assert.equal(frameOf(reply).t, 'ack');
  assert.equal(shedShareOf(reply), 0);
  // Many such sends (every conversation of a shard that moved) change nothing either.
  const more = Array.from({ length: 200 }, (_, i) => rig.send(conv, `r${i}`, rig.now - 4000));
  for (const to of more) assert.equal(frameOf(await rig.reply(to)).t, 'ack');
  const after = await rig.reply(rig.send(conv, 'fresh'));
  assert.equal(shedShareOf(after), 0, 'no shed level learned from retry time');
});

test("a backlog in one shard's mailboxes raises that shard's level only, and the level falls back with no send admitted", async () => {
  const rig = new Rig();
  const [a, b] = twoShards();
  assert.equal(frameOf(await rig.reply(rig.send(b, 'warm'))).t, 'ack');

  // Shard A's actor rehydrates slowly while 100 sends queue behind it (stamped when sent, as
  // edges used to: the stamps agree with the wait here).
  rig.stalled.add(a);
  const sent = rig.now;
  const queued = Array.from({ length: 100 }, (_, i) => rig.send(a, `q${i}`, sent));
  await until(() => rig.loads.has(a));
  rig.now += 400;
  rig.lane(a).hold = true; // their acks come after commits the test releases
  rig.loads.get(a)!();
  await until(() => rig.lane(a).pending === 100);

  // B did not wait: its reply asks edges for nothing.
  const other = await rig.reply(rig.send(b, 'meanwhile', rig.now));
  assert.equal(frameOf(other).t, 'ack');
  assert.equal(shedShareOf(other), 0, "shard B's level is not raised by shard A's backlog");

  // A's own replies do ask to shed: its commands stood 400 ms (RED between 100 and 500 ms).
  rig.lane(a).release(1);
  const first = await rig.reply(queued[0]);
  assert.equal(frameOf(first).t, 'ack');
  const expected = Math.round(((400 - 100) / (500 - 100)) * 0.95 * shedLevelMax) / shedLevelMax;
  assert.equal(shedShareOf(first), expected);

  // Edges refuse most sends to A now, so none is decided; the backlog is gone all the same, and
  // the next replies (the acks of the held commits) say so.
  rig.now += 250;
  rig.lane(a).release();
  for (const to of queued.slice(1)) assert.equal(shedShareOf(await rig.reply(to)), 0);
});

test("the lane's drain time and the thread's inbound delay count beside the shard's own wait", async () => {
  const rig = new Rig();
  const [a] = twoShards();
  rig.lane(a).delayMs = 300;
  const r = await rig.reply(rig.send(a, 'm1'));
  assert.equal(frameOf(r).t, 'ack');
  assert.equal(shedShareOf(r), Math.round(((300 - 100) / 400) * 0.95 * shedLevelMax) / shedLevelMax);
  rig.lane(a).delayMs = 600; // past the bound: the shard refuses the write itself
  const refused = await rig.reply(rig.send(a, 'm2'));
  assert.equal(replyStatus(refused), ReplyStatus.overloaded);
  assert.deepEqual([frameOf(refused).t, frameOf(refused).code], ['err', 503]);

  // Commands queueing on their way into this thread (its CPU the bottleneck) count the same way.
  rig.lane(a).delayMs = 0;
  rig.inbound = 300;
  assert.equal(shedShareOf(await rig.reply(rig.send(a, 'm3'))), Math.round(((300 - 100) / 400) * 0.95 * shedLevelMax) / shedLevelMax);
  rig.inbound = 600;
  assert.equal(replyStatus(await rig.reply(rig.send(a, 'm4'))), ReplyStatus.overloaded);
  rig.inbound = 0;
  const again = await rig.reply(rig.send(a, 'm4'));
  assert.deepEqual([replyStatus(again), frameOf(again).t, shedShareOf(again)], [ReplyStatus.forward, 'ack', 0]);
});
