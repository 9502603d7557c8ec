/** The pending-send queue: bounded, ordered per conversation, requeues what was in flight. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatClient, PendingQueue, PendingQueueFullError, type PendingSend } from '../../sdk/index.ts';
import { FakeSocket } from './sockets.ts';

function entry(cmid: string, conv = 'c1'): PendingSend {
  return { cmid, conv, body: cmid, state: 'queued', notBeforeMs: 0, attempts: 0, resolve: () => {}, reject: () => {} };
}

describe('PendingQueue', () => {
  test('add over the bound throws PendingQueueFullError and queues nothing', () => {
    const q = new PendingQueue(3);
    for (const id of ['a', 'b', 'c']) q.add(entry(id));
    assert.throws(() => q.add(entry('d')), (e: unknown) => e instanceof PendingQueueFullError && e.max === 3 && e.name === 'PendingQueueFullError');
    assert.equal(q.size, 3);
    q.remove('a');
    q.add(entry('d'));
    assert.equal(q.size, 3);
  });

  test('ready lists queued entries in insertion order', () => {
    const q = new PendingQueue(10);
    for (const id of ['a', 'b', 'c']) q.add(entry(id));
    assert.deepEqual(q.ready(0).map((e) => e.cmid), ['a', 'b', 'c']);
  });

  test('an entry waiting for retryMs holds back later entries of its conversation only', () => {
    const q = new PendingQueue(10);
    q.add(entry('a1', 'A'));
    q.add(entry('b1', 'B'));
    q.add(entry('a2', 'A'));
    q.add(entry('b2', 'B'));
    q.get('a1')!.notBeforeMs = 1000;
    assert.deepEqual(q.ready(500).map((e) => e.cmid), ['b1', 'b2']);
    assert.equal(q.nextWakeMs(500), 1000);
    assert.deepEqual(q.ready(1000).map((e) => e.cmid), ['a1', 'b1', 'a2', 'b2']);
  });

  test('the in-flight windows hold back later entries: per conversation and per socket', () => {
    const q = new PendingQueue(10);
    for (const [id, conv] of [['a1', 'A'], ['a2', 'A'], ['b1', 'B'], ['b2', 'B'], ['c1', 'C']]) q.add(entry(id, conv));
    const first = q.ready(0, 1, 10);
    assert.deepEqual(first.map((e) => e.cmid), ['a1', 'b1', 'c1'], 'one per conversation');
    for (const e of first) e.state = 'inflight';
    assert.deepEqual(q.ready(0, 1, 10), [], 'the next of a conversation waits for the ack of the previous');
    q.remove('a1');
    assert.deepEqual(q.ready(0, 1, 10).map((e) => e.cmid), ['a2']);
    assert.deepEqual(q.ready(0, 1, 2), [], 'per-socket window full: b1 and c1 are in flight');
  });

  test('in-flight entries are requeued in their original position after a disconnect', () => {
    const q = new PendingQueue(10);
    for (const id of ['a', 'b', 'c']) q.add(entry(id));
    for (const e of q.ready(0)) e.state = 'inflight';
    assert.deepEqual(q.ready(0), []);
    q.requeueInflight();
    assert.deepEqual(q.ready(0).map((e) => e.cmid), ['a', 'b', 'c']);
  });
});

describe('ChatClient pending sends (no server)', () => {
  test('send() over pendingSendsMax rejects with PendingQueueFullError; close() rejects the rest', async () => {
    const c = new ChatClient({ url: 'ws://fake/v1/ws', token: 't', WebSocket: FakeSocket, limits: { pendingSendsMax: 3 } });
    const queued = [c.send('conv', 'one'), c.send('conv', 'two'), c.send('conv', 'three')];
    await assert.rejects(c.send('conv', 'four'), PendingQueueFullError);
    assert.equal(c.pendingSends, 3);
    c.close();
    for (const p of queued) await assert.rejects(p, { name: 'ChatClosedError' });
    assert.equal(c.pendingSends, 0);
    await assert.rejects(c.send('conv', 'after close'), { name: 'ChatClosedError' });
  });

  test('sends made while disconnected go out in order, with their cmid, right after hello', async () => {
    FakeSocket.all = [];
    const c = new ChatClient({ url: 'ws://fake/v1/ws', token: 't', WebSocket: FakeSocket });
    const p1 = c.send('conv', 'first', { cmid: 'm1' });
    const p2 = c.send('conv', 'second', { cmid: 'm2' });
    const connected = c.connect();
    await new Promise((r) => setTimeout(r, 5));
    const s = FakeSocket.last;
    assert.equal(s.sent.length, 0, 'nothing is written before hello');
    s.accept();
    await connected;
    const sends = s.sentFrames.filter((f) => f.t === 'send');
    assert.deepEqual(sends.map((f) => [f.cmid, f.body]), [['m1', 'first'], ['m2', 'second']]);
    s.deliver({ t: 'ack', rid: sends[1].rid, conv: 'conv', seq: 2, id: 'i2', ts: 2 });
    s.deliver({ t: 'ack', rid: sends[0].rid, conv: 'conv', seq: 1, id: 'i1', ts: 1 });
    assert.deepEqual(await p1, { conv: 'conv', seq: 1, id: 'i1', ts: 1 });
    assert.equal((await p2).seq, 2);
    assert.equal(c.pendingSends, 0);
    c.close();
  });

  test('429 waits retryMs and resends the same cmid; 413 rejects without a resend', async () => {
    FakeSocket.all = [];
    const c = new ChatClient({ url: 'ws://fake/v1/ws', token: 't', WebSocket: FakeSocket });
    const connected = c.connect();
    await new Promise((r) => setTimeout(r, 5));
    const s = FakeSocket.last;
    s.accept();
    await connected;
    const limited = c.send('conv', 'x', { cmid: 'rl' });
    const tooBig = c.send('conv', 'y', { cmid: 'big' });
    const [f1, f2] = s.sentFrames.filter((f) => f.t === 'send');
    const t0 = Date.now();
    s.deliver({ t: 'err', rid: f1.rid, code: 429, msg: 'slow down', retryMs: 60 });
    s.deliver({ t: 'err', rid: f2.rid, code: 413, msg: 'too large' });
    await assert.rejects(tooBig, (e: any) => e.name === 'ChatRequestError' && e.code === 413 && e.msg === 'too large');
    while (s.sentFrames.filter((f) => f.cmid === 'rl').length < 2) await new Promise((r) => setTimeout(r, 5));
    assert.ok(Date.now() - t0 >= 55, 'resent after retryMs');
    const resend = s.sentFrames.filter((f) => f.t === 'send').at(-1)!;
    assert.equal(resend.cmid, 'rl');
    assert.equal(s.sentFrames.filter((f) => f.cmid === 'big').length, 1, '413 is not resent');
    s.deliver({ t: 'ack', rid: resend.rid, conv: 'conv', seq: 1, id: 'i', ts: 1 });
    assert.equal((await limited).seq, 1);
    c.close();
  });
});
