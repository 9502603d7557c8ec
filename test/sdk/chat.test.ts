/** Two SDK clients against a real node: requests, events, receipts, typing, ordering. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatRequestError, type Delivered, type Message, type Read, type Typing } from '../../sdk/index.ts';
import { TestNode, uid } from '../helpers/node.ts';
import { nodeEnv, range, sdkClient, sdkPair, until } from './harness.ts';
import { newTap, tappedWebSocket } from './sockets.ts';

const node = new TestNode({ env: nodeEnv });
before(() => node.start());
after(() => node.kill('SIGTERM'));

describe('ChatClient against a real node', () => {
  test('connect resolves with hello; ping answers', async () => {
    const user = uid('solo');
    const c = sdkClient(node, user);
    const hello = await c.connect();
    assert.equal(hello.user, user);
    assert.equal(hello.limits.maxBodyChars, 2000);
    assert.equal(c.status, 'connected');
    assert.ok((await c.ping()) >= 0);
    c.close();
  });

  test('send resolves with the ack and the other client receives it as a msg event', async () => {
    const { a, ca, cb, conv } = await sdkPair(node);
    await cb.join(conv);
    const got: Message[] = [];
    cb.on('msg', (m) => got.push(m));
    const ack = await ca.send(conv, 'hello bob');
    assert.deepEqual([ack.conv, ack.seq], [conv, 1]);
    assert.equal(typeof ack.id, 'string');
    await until(() => got.length === 1, 3000, 'the msg event');
    assert.deepEqual([got[0].from, got[0].body, got[0].seq, got[0].id], [a, 'hello bob', 1, ack.id]);
    ca.close();
    cb.close();
  });

  test('the recipient SDK sends recv on its own: the sender gets delivered, then read after markRead', async () => {
    const { b, ca, cb, conv } = await sdkPair(node);
    await cb.join(conv);
    const delivered: Delivered[] = [];
    const read: Read[] = [];
    ca.on('delivered', (d) => delivered.push(d));
    ca.on('read', (r) => read.push(r));
    await ca.send(conv, 'one');
    const second = await ca.send(conv, 'two');
    await until(() => delivered.some((d) => d.seq === second.seq), 3000, 'delivered up to the second message');
    assert.ok(delivered.every((d) => d.user === b && d.conv === conv));
    await cb.markRead(conv, second.seq);
    await until(() => read.length > 0, 3000, 'the read receipt');
    assert.deepEqual([read[0].user, read[0].seq], [b, second.seq]);
    assert.ok(read[0].at > 0);
    ca.close();
    cb.close();
  });

  test('a message reaches a device whose chat is closed: the sender still sees delivered (no join needed)', async () => {
    const { b, ca, cb, conv } = await sdkPair(node);
    const delivered: Delivered[] = [];
    const got: Message[] = [];
    ca.on('delivered', (d) => delivered.push(d));
    cb.on('msg', (m) => got.push(m));
    const sent = await ca.send(conv, 'are you there?');
    await until(() => got.length === 1, 3000, 'the msg on the recipient\'s device');
    await until(() => delivered.some((d) => d.seq === sent.seq), 3000, 'delivered without a join');
    assert.deepEqual([delivered[0].user, delivered[0].conv], [b, conv]);
    ca.close();
    cb.close();
  });

  test('recv watermarks are coalesced: a burst of 30 messages yields a few recv frames, the last one covering all', async () => {
    const tap = newTap();
    const { ca, cb, conv } = await sdkPair(node, {}, { WebSocket: tappedWebSocket(tap) });
    await cb.join(conv);
    const got: Message[] = [];
    cb.on('msg', (m) => got.push(m));
    const start = Date.now();
    await Promise.all(range(1, 30).map((i) => ca.send(conv, `burst ${i}`)));
    await until(() => got.length === 30, 5000, 'the burst');
    await new Promise((r) => setTimeout(r, 250));
    const recvs = tap.sent.filter((f) => f.t === 'recv');
    const elapsedMs = Date.now() - start;
    assert.ok(recvs.length >= 1 && recvs.length <= Math.ceil(elapsedMs / 100) + 1, `${recvs.length} recv frames in ${elapsedMs} ms`);
    assert.equal(recvs.at(-1)!.seq, 30);
    ca.close();
    cb.close();
  });

  test('typing is throttled to one frame per conversation per 2 s', async () => {
    const tap = newTap();
    const { ca, cb, conv } = await sdkPair(node, { WebSocket: tappedWebSocket(tap) });
    await cb.join(conv);
    const typing: Typing[] = [];
    cb.on('typing', (t) => typing.push(t));
    const sent = range(1, 5).map(() => ca.typing(conv));
    assert.deepEqual(sent, [true, false, false, false, false]);
    await until(() => typing.some((t) => t.until > 0), 3000, 'the typing event');
    assert.equal(tap.sent.filter((f) => f.t === 'typing').length, 1);
    ca.close();
    cb.close();
  });

  test('err replies reject with ChatRequestError carrying the code, and failed sends are not resent', async () => {
    const { ca, cb, conv } = await sdkPair(node);
    await assert.rejects(ca.open(uid('stranger')), (e: unknown) => e instanceof ChatRequestError && e.code === 403);
    await assert.rejects(ca.send(conv, 'x'.repeat(2001)), (e: unknown) => e instanceof ChatRequestError && e.code === 413);
    await assert.rejects(ca.join('no-such-conversation'), (e: unknown) => e instanceof ChatRequestError && (e.code === 404 || e.code === 403));
    assert.equal(ca.pendingSends, 0);
    assert.deepEqual(ca.joinedConversations, [], 'a refused join is not followed');
    ca.close();
    cb.close();
  });

  test('history and inbox page through the conversation; join since returns what was missed', async () => {
    const { ca, cb, conv } = await sdkPair(node);
    for (let i = 1; i <= 5; i++) await ca.send(conv, `h${i}`);
    const p1 = await cb.history(conv, undefined, 3);
    assert.deepEqual(p1.msgs.map((m) => m.seq), [5, 4, 3]);
    const p2 = await cb.history(conv, p1.next, 3);
    assert.deepEqual(p2.msgs.map((m) => m.seq), [2, 1]);
    assert.equal(p2.next, undefined);
    const inbox = await cb.inbox();
    const entry = inbox.convs.find((e) => e.conv === conv);
    assert.equal(entry?.unread, 5);
    assert.equal(entry?.last?.body, 'h5');
    const joined = await cb.join(conv, 3);
    assert.deepEqual(joined.msgs.map((m) => m.seq), [4, 5]);
    assert.equal(cb.lastSeen(conv), 5);
    ca.close();
    cb.close();
  });

  test('the server does not echo a send to its socket: the sender\'s own messages come from their acks, in order with the peer\'s, with no refetch', async () => {
    const tapA = newTap();
    const { a, b, ca, cb, conv } = await sdkPair(node, { WebSocket: tappedWebSocket(tapA) });
    await ca.join(conv);
    await cb.join(conv);
    const gotA: Message[] = [];
    const gotB: Message[] = [];
    ca.on('msg', (m) => gotA.push(m));
    cb.on('msg', (m) => gotB.push(m));
    let echoes = 0; // msg frames on a's socket for a's own sends
    tapA.dropIncoming = (f) => (f.t === 'msg' && f.from === a && echoes++, false);
    // Both write at once, so each one's own sends interleave with the peer's in seq order.
    await Promise.all([...range(1, 10).map((i) => ca.send(conv, `a${i}`)), ...range(1, 10).map((i) => cb.send(conv, `b${i}`))]);
    await until(() => gotA.length === 20 && gotB.length === 20, 5000, 'all twenty on both sides');
    assert.equal(echoes, 0, 'no echo of its own sends on the wire');
    for (const got of [gotA, gotB]) assert.deepEqual(got.map((m) => m.seq), range(1, 20), 'gapless, in order, once each');
    assert.deepEqual(gotA.map((m) => [m.from, m.body]), gotB.map((m) => [m.from, m.body]), 'both see the same conversation');
    assert.ok(gotA.some((m) => m.from === a) && gotA.some((m) => m.from === b));
    assert.equal(tapA.sent.filter((f) => f.t === 'join').length, 1, 'the sender never refetched its own messages as a gap');
    ca.close();
    cb.close();
  });

  test('a live message lost on the way is noticed as a gap and fetched: the stream stays in order without duplicates', async () => {
    const tap = newTap();
    const { ca, cb, conv } = await sdkPair(node, {}, { WebSocket: tappedWebSocket(tap) });
    await cb.join(conv);
    const got: Message[] = [];
    cb.on('msg', (m) => got.push(m));
    tap.dropIncoming = (f) => f.t === 'msg' && (f.seq === 2 || f.seq === 3);
    for (let i = 1; i <= 5; i++) await ca.send(conv, `g${i}`);
    await until(() => got.length === 5, 5000, 'all five messages');
    tap.dropIncoming = () => false;
    assert.deepEqual(tap.dropped.map((f) => f.seq), [2, 3]);
    assert.ok(tap.sent.some((f) => f.t === 'join' && f.since === 1), 'filled with join since 1');
    await ca.send(conv, 'g6');
    await until(() => got.length === 6, 3000, 'the sixth message');
    assert.deepEqual(got.map((m) => m.seq), range(1, 6));
    assert.deepEqual(got.map((m) => m.body), range(1, 6).map((i) => `g${i}`));
    ca.close();
    cb.close();
  });
});
