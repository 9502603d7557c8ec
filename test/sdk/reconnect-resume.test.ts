/**
 * kill -9 of the node while A keeps sending through the SDK: after the restart both SDKs
 * reconnect on their own, B re-joins with `since`, and B ends up with every message A's SDK
 * acked — exactly once, in seq order — in its events and in history.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Ack, ChatClient, Disconnected, Message } from '../../sdk/index.ts';
import { TestNode } from '../helpers/node.ts';
import { fullHistory, nodeEnv, range, sdkPair, until } from './harness.ts';
import { newTap, type Tap, tappedWebSocket } from './sockets.ts';

const node = new TestNode({ env: nodeEnv });
before(() => node.start());
after(() => node.kill('SIGTERM'));

interface Observed {
  received: Message[];
  closes: { a: Disconnected[]; b: Disconnected[] };
  reconnectsB: number;
}

function observe(ca: ChatClient, cb: ChatClient): Observed {
  const o: Observed = { received: [], closes: { a: [], b: [] }, reconnectsB: 0 };
  cb.on('msg', (m) => o.received.push(m));
  ca.on('disconnected', (d) => o.closes.a.push(d));
  cb.on('disconnected', (d) => o.closes.b.push(d));
  cb.on('connected', () => o.reconnectsB++);
  return o;
}

test('after kill -9 and restart, the joined client receives every acked message exactly once, in seq order', { timeout: 180_000 }, async () => {
  const tapB: Tap = newTap();
  const { ca, cb, conv } = await sdkPair(node, {}, { WebSocket: tappedWebSocket(tapB) });
  await cb.join(conv);
  const o = observe(ca, cb);

  // A sends one message every 30 ms for the whole test, through the kill and the restart.
  const sends: { body: string; ack: Promise<Ack> }[] = [];
  let sending = true;
  const sender = (async () => {
    for (let i = 1; sending; i++) {
      const body = `m${i}`;
      const ack = ca.send(conv, body);
      ack.catch(() => {}); // asserted below with Promise.all; not an unhandled rejection meanwhile
      sends.push({ body, ack });
      await new Promise((r) => setTimeout(r, 30));
    }
  })();

  try {
    await until(() => o.received.length >= 20, 5000, 'traffic before the kill');
    await node.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 500)); // sends keep queueing while the node is down
    await node.start();
    const sentBeforeRestart = sends.length;
    await until(() => sends.length > sentBeforeRestart + 30, 30_000, 'sends after the restart');
    sending = false;
    await sender;

    const acks = await Promise.all(sends.map((s) => s.ack)); // every send resolves: none is lost
    assert.deepEqual(acks.map((a) => a.seq), range(1, sends.length), 'each send acked once, in the order sent, seq gapless');

    await until(() => o.received.length >= acks.length, 30_000, `B to catch up (${o.received.length}/${acks.length})`);
    await new Promise((r) => setTimeout(r, 300)); // a duplicate would arrive now
    assert.deepEqual(o.received.map((m) => m.seq), range(1, acks.length), 'B: every acked message once, in seq order');
    assert.deepEqual(o.received.map((m) => m.body), sends.map((s) => s.body));
    assert.deepEqual(o.received.map((m) => m.id), acks.map((a) => a.id));

    const history = await fullHistory(cb, conv);
    assert.deepEqual(history.map((m) => m.seq), range(1, acks.length), 'history: one row per message');
    assert.deepEqual(history.map((m) => m.body), sends.map((s) => s.body));

    assert.ok(o.closes.a.some((d) => d.willReconnect && d.code !== 1000), 'A saw the crash and reconnected by itself');
    assert.ok(o.closes.b.some((d) => d.willReconnect && d.code !== 1000), 'B saw the crash and reconnected by itself');
    assert.ok(o.reconnectsB >= 1, 'B connected again after the crash');
    assert.ok(tapB.sent.some((f) => f.t === 'join' && typeof f.since === 'number' && f.since > 0), 'B re-joined with since');
  } finally {
    sending = false;
    ca.close();
    cb.close();
  }
});
