/** The pending-send queue: bounded, ordered per conversation, requeues what was in flight. */
import { afterEach, describe, test } from 'node:test';
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

describe('ChatClient pending sends (no server: the test plays it)', () => {
  const clients: ChatClient[] = [];
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
    FakeSocket.all = [];
  });

  function fakeClient(limits: ConstructorParameters<typeof ChatClient>[0]['limits'] = {}): ChatClient {
    const c = new ChatClient({ url: 'ws://fake/v1/ws', token: 't', WebSocket: FakeSocket, limits });
    clients.push(c);
    return c;
  }

  async function connected(c: ChatClient): Promise<FakeSocket> {
    const hello = c.connect();
    while (FakeSocket.all.length === 0) await new Promise((r) => setTimeout(r, 1));
    FakeSocket.last.accept();
    await hello;
    return FakeSocket.last;
  }

  test('send() over pendingSendsMax rejects with PendingQueueFullError; close() rejects the rest', async () => {
    const c = fakeClient({ pendingSendsMax: 3, sendsInflightMax: 3 });
    const queued = [c.send('conv', 'one'), c.send('conv', 'two'), c.send('conv', 'three')];
    await assert.rejects(c.send('conv', 'four'), PendingQueueFullError);
    assert.equal(c.pendingSends, 3);
    c.close();
    for (const p of queued) await assert.rejects(p, { name: 'ChatClosedError' });
    assert.equal(c.pendingSends, 0);
    await assert.rejects(c.send('conv', 'after close'), { name: 'ChatClosedError' });
  });

  test('sends made while disconnected go out after hello, one at a time per conversation, in order, with their cmid', async () => {
    const c = fakeClient();
    const p1 = c.send('conv', 'first', { cmid: 'm1' });
    const p2 = c.send('conv', 'second', { cmid: 'm2' });
    const p3 = c.send('elsewhere', 'third', { cmid: 'm3' });
    assert.equal(FakeSocket.all.length, 0);
    const s = await connected(c);
    const sends = () => s.sentFrames.filter((f) => f.t === 'send');
    assert.deepEqual(sends().map((f) => [f.cmid, f.body]), [['m1', 'first'], ['m3', 'third']], 'm2 waits for the ack of m1');
    s.deliver({ t: 'ack', rid: sends()[0].rid, conv: 'conv', seq: 1, id: 'i1', ts: 1 });
    assert.deepEqual(await p1, { conv: 'conv', seq: 1, id: 'i1', ts: 1 });
    assert.deepEqual(sends().map((f) => f.cmid), ['m1', 'm3', 'm2']);
    s.deliver({ t: 'ack', rid: sends()[2].rid, conv: 'conv', seq: 2, id: 'i2', ts: 2 });
    s.deliver({ t: 'ack', rid: sends()[1].rid, conv: 'elsewhere', seq: 1, id: 'i3', ts: 3 });
    assert.equal((await p2).seq, 2);
    assert.equal((await p3).id, 'i3');
    assert.equal(c.pendingSends, 0);
  });

  test('a send in flight when the socket drops is resent with the same cmid after the next hello', async () => {
    const c = fakeClient();
    const s1 = await connected(c);
    const p = c.send('conv', 'x', { cmid: 'keep' });
    assert.equal(s1.sentFrames.filter((f) => f.t === 'send').length, 1);
    s1.serverClose(1006);
    while (FakeSocket.all.length < 2) await new Promise((r) => setTimeout(r, 5));
    FakeSocket.last.accept();
    const resend = FakeSocket.last.sentFrames.find((f) => f.t === 'send')!;
    assert.equal(resend.cmid, 'keep');
    FakeSocket.last.deliver({ t: 'ack', rid: resend.rid, conv: 'conv', seq: 7, id: 'i', ts: 1 });
    assert.equal((await p).seq, 7);
  });

  test('429 with retryMs waits retryMs and resends the same cmid; 413 (no retryMs) rejects without a resend', async () => {
    const c = fakeClient();
    const s = await connected(c);
    const limited = c.send('conv', 'x', { cmid: 'rl' });
    const tooBig = c.send('other', 'y', { cmid: 'big' });
    const [f1, f2] = s.sentFrames.filter((f) => f.t === 'send');
    const t0 = Date.now();
    s.deliver({ t: 'err', rid: f1.rid, code: 429, msg: 'slow down', retryMs: 60 });
    s.deliver({ t: 'err', rid: f2.rid, code: 413, msg: 'too large' });
    await assert.rejects(tooBig, (e: any) => e.name === 'SendRejectedError' && e.code === 413 && e.msg === 'too large' && e.cmid === 'big');
    while (s.sentFrames.filter((f) => f.cmid === 'rl').length < 2) await new Promise((r) => setTimeout(r, 5));
    assert.ok(Date.now() - t0 >= 55, 'resent after retryMs');
    const resend = s.sentFrames.filter((f) => f.t === 'send').at(-1)!;
    assert.equal(resend.cmid, 'rl');
    assert.equal(s.sentFrames.filter((f) => f.cmid === 'big').length, 1, '413 is not resent');
    s.deliver({ t: 'ack', rid: resend.rid, conv: 'conv', seq: 1, id: 'i', ts: 1 });
    assert.equal((await limited).seq, 1);
  });
});
