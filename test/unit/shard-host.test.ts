/**
 * The shard host's mailbox, rehydration and effect execution, driven through its ports with the
 * in-memory store, persister and connections of test/helpers/memory-host-ports.ts: no database,
 * no bus, a clock and timers the test moves. Every wait is for a condition (event-loop turns).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode } from '../../protocol/codec.ts';
import type { ClientFrame } from '../../protocol/frames.ts';
import { dmConversationId } from '../../actors/dm.ts';
import { newRouterState, type RouterState } from '../../actors/routing.ts';
import { Subjects } from '../../src/bus/bus.ts';
import { encodeEnvelope, replyFrame, ReplyStatus, replyStatus, routerActorId } from '../../src/rpc/envelope.ts';
import { type HostLimits, ShardHost } from '../../src/shard/host.ts';
import { SHARD_TURN_MAX as turnMax } from '../../src/config.ts';
import type { TicketPorts } from '../../src/shard/ticket-ports.ts';
import {
  type Logged, ManualTimers, MemoryBus, MemoryConnections, MemoryPersister, MemoryStore, untilTurns,
} from '../helpers/memory-host-ports.ts';

const t0 = 1_700_000_000_000;
const limits: HostLimits = {
  typingTtlMs: 1000, dedupeWindowMax: 1000, historyLimitDefault: 50, editWindowMs: 900_000, actorIdleMs: 60_000, actorsPerThreadMax: 1000, mailboxDepthMax: 1000,
  persistQueueDelayMaxMs: 500, shedDelayTargetMs: 100, shedShareMaxPct: 95,
};

interface Reply {
  status: number;
  frame: { t: string; code?: number; msg?: string; retryMs?: number; seq?: number; pick?: { centerId: string } | null };
}

class Rig {
  now = t0;
  readonly log: Logged[] = [];
  readonly bus = new MemoryBus(this.log);
  readonly store = new MemoryStore();
  readonly persister = new MemoryPersister(this.store, this.log);
  readonly connections = new MemoryConnections();
  readonly timers = new ManualTimers();
  readonly subjects = new Subjects('t');
  readonly host: ShardHost;
  private rid = 0;

  constructor(overrides: Partial<HostLimits> = {}, tickets?: TicketPorts) {
    this.host = new ShardHost({
      bus: this.bus, subjects: this.subjects, store: this.store, persister: this.persister, connections: this.connections,
      limits: { ...limits, ...overrides }, now: () => this.now, shardCount: 64, timers: this.timers, tickets,
    });
  }

  /** A DM between `a` and `b`, as committed by its `open`. */
  dm(a: string, b: string): string {
    const conv = dmConversationId(a, b);
    this.store.commit([{ kind: 'conversation', conv, convKind: 'dm', state: 'open', participants: [a, b].sort(), createdAt: t0 }]);
    return conv;
  }

  /** A client frame as an edge puts it on the bus; returns the subject its reply goes to. */
  frame(conv: string, from: string, frame: ClientFrame): string {
    const to = `reply.${++this.rid}`;
    this.host.handle(encodeEnvelope({ c: conv, u: from, r: ['user'], f: { ...frame, rid: this.rid } }), to);
    return to;
  }

  send(conv: string, from: string, cmid: string): string {
    return this.frame(conv, from, { t: 'send', conv, cmid, body: `${cmid} from ${from}` });
  }

  async reply(to: string): Promise<Reply> {
    await untilTurns(`a reply on ${to}`, () => this.bus.last.has(to));
    const data = this.bus.last.get(to)!;
    return { status: replyStatus(data), frame: decode(replyFrame(data)) as Reply['frame'] };
  }

  /** Index in the log of the first write of message `cmid` handed to a lane (-1: none). */
  enqueuedAt(cmid: string): number {
    return this.log.findIndex((e) => e.kind === 'enqueue' && e.writes.some((w) => w.kind === 'message' && w.cmid === cmid));
  }

  /** Conversations of the messages handed to lanes, in order. */
  messageOrder(): string[] {
    return this.log.flatMap((e) => (e.kind === 'enqueue' ? e.writes.filter((w) => w.kind === 'message').map((w) => w.conv) : []));
  }

  seqs(conv: string): [string, number][] {
    return (this.store.messages.get(conv) ?? []).map((m) => [m.cmid, m.seq]);
  }
}

test('a busy actor yields after a turn: a command for another actor arriving meanwhile is decided before its next turn', async () => {
  const rig = new Rig();
  const busy = rig.dm('alice', 'bob');
  const other = rig.dm('carol', 'dave');
  // Alice's backlog queues while her actor rehydrates, then runs in one go.
  rig.store.hold(busy);
  const backlog = Array.from({ length: 3 * turnMax }, (_, i) => rig.send(busy, 'alice', `a${i}`));
  await untilTurns('the busy actor rehydrating', () => rig.store.loading(busy));
  // Carol's send arrives from the bus (a later event-loop task) while alice's backlog runs.
  let carol = '';
  setImmediate(() => (carol = rig.send(other, 'carol', 'c0')));
  rig.store.release(busy);

  assert.equal((await rig.reply(await waitFor(() => carol))).frame.t, 'ack');
  const order = rig.messageOrder();
  const before = order.indexOf(other);
  assert.ok(before > 0, 'the busy actor went first');
  assert.ok(before <= turnMax, `carol's send waited for ${before} of alice's, at most one turn (${turnMax})`);
  for (const [i, to] of backlog.entries()) assert.equal((await rig.reply(to)).frame.seq, i + 1);
});

test('a control command goes before queued user commands, and is not refused when the user mailbox is full', async () => {
  // A typing TTL well under the shedding bound: alice's sends wait that long and must be admitted.
  const rig = new Rig({ mailboxDepthMax: 3, typingTtlMs: 100 });
  const conv = rig.dm('alice', 'bob');
  rig.frame(conv, 'bob', { t: 'typing', conv });
  await untilTurns("bob's typing expiry scheduled", () => rig.timers.pending.length === 1);

  // Alice's first send waits for the connections authority; three more fill her mailbox.
  rig.connections.cached = false;
  rig.connections.hold();
  const first = rig.send(conv, 'alice', 'm1');
  await untilTurns('m1 waiting for the connections check', () => rig.connections.waiting === 1);
  const queued = ['m2', 'm3', 'm4'].map((cmid) => rig.send(conv, 'alice', cmid));
  const full = await rig.reply(rig.send(conv, 'alice', 'm5'));
  assert.deepEqual([full.frame.t, full.frame.code, full.frame.msg], ['err', 503, 'conversation busy, retry'], 'the user mailbox is full');

  // Bob's typing expires now: the timer's command joins the full mailbox.
  rig.now += 100;
  rig.timers.fireAll();
  assert.equal(rig.host.mailboxDepth, 4, 'three user commands and the control command wait');
  rig.connections.release();
  for (const to of [first, ...queued]) assert.equal((await rig.reply(to)).frame.t, 'ack');

  const room = rig.subjects.room(conv);
  const expiry = rig.log.findIndex((e) => e.kind === 'publish' && e.subject === room && isTypingStop(e.data, 'bob'));
  assert.ok(expiry >= 0, "bob's typing stop was fanned out (the expiry was not dropped)");
  assert.ok(rig.enqueuedAt('m1') < expiry, 'the command already taken finished first');
  assert.ok(expiry < rig.enqueuedAt('m2'), 'the expiry went before the user commands queued ahead of it');
});

function isTypingStop(data: Uint8Array, user: string): boolean {
  const f = decode(data) as { t: string; user?: string; until?: number };
  return f.t === 'typing' && f.user === user && f.until === 0;
}

test('after a failed batch the actor rehydrates from the store and continues gapless', async () => {
  const rig = new Rig();
  const conv = rig.dm('alice', 'bob');
  assert.equal((await rig.reply(rig.send(conv, 'alice', 'm1'))).frame.seq, 1);
  assert.equal(rig.store.loads.get(conv), 1);

  rig.persister.lane(conv).outcomes.push('fail');
  const failed = await rig.reply(rig.send(conv, 'alice', 'm2'));
  assert.deepEqual([failed.frame.t, failed.frame.code, failed.frame.retryMs], ['err', 503, 1000], 'a failed batch: retry with the same cmid');

  // The actor had counted m2 as seq 2; the database has one message.
  assert.equal((await rig.reply(rig.send(conv, 'alice', 'm3'))).frame.seq, 2, 'the next send takes the seq the failed one did not');
  assert.equal(rig.store.loads.get(conv), 2, 'the actor was reloaded from the store');
  assert.equal((await rig.reply(rig.send(conv, 'alice', 'm2'))).frame.seq, 3, 'the retried send is stored after it');
  assert.deepEqual(rig.seqs(conv), [['m1', 1], ['m3', 2], ['m2', 3]]);
});

test('a refused row is answered with the permanent error (422, no retry), and the actor reloads', async () => {
  const rig = new Rig();
  const conv = rig.dm('alice', 'bob');
  assert.equal((await rig.reply(rig.send(conv, 'alice', 'm1'))).frame.seq, 1);

  rig.persister.lane(conv).outcomes.push({ refuse: '22021' }); // invalid byte sequence: the row itself is bad
  const refused = await rig.reply(rig.send(conv, 'alice', 'm2'));
  assert.equal(refused.status, ReplyStatus.forward);
  assert.equal(refused.frame.code, 422);
  assert.match(refused.frame.msg ?? '', /^not storable: /);
  assert.equal(refused.frame.retryMs, undefined, 'permanent: nothing says when to retry');

  assert.equal((await rig.reply(rig.send(conv, 'alice', 'm3'))).frame.seq, 2);
  assert.equal(rig.store.loads.get(conv), 2, 'the refusal marked the actor for reload');
  assert.deepEqual(rig.seqs(conv), [['m1', 1], ['m3', 2]]);
});

test('the router is an actor of its own kind: picks go through its mailbox, its counters load once', async () => {
  let loads = 0;
  const recovered: RouterState = newRouterState();
  recovered.brandCounters.set('acme', 1); // one ticket was routed before a restart
  const tickets = { loadRouterState: async () => (loads++, recovered) } as unknown as TicketPorts;
  const rig = new Rig({}, tickets);
  const candidates = [{ id: 'c1', technicians: [] }, { id: 'c2', technicians: [] }];
  const pick = async (): Promise<string | undefined> => {
    const to = `router.${rig.log.length}`;
    rig.host.handle(encodeEnvelope({ c: routerActorId, u: 'routing', r: ['system'], rt: { brand: 'ACME', candidates } }), to);
    const data = await waitFor(() => rig.bus.last.get(to));
    const reply = decode(replyFrame(data)) as Reply['frame'];
    assert.equal(reply.t, 'routed');
    return reply.pick?.centerId;
  };
  assert.equal(await pick(), 'c2', 'round-robin continues from the recovered counter');
  rig.persister.failureEpoch++; // a failed batch of this thread says nothing about the router's counters
  assert.equal(await pick(), 'c1');
  assert.equal(loads, 1);
});

/** The value `f` yields once it is defined (event-loop turns). */
async function waitFor<T>(f: () => T | undefined | ''): Promise<T> {
  let v: T | undefined | '';
  await untilTurns('a value', () => (v = f()) !== undefined && v !== '');
  return v as T;
}
