/**
 * kill -9 of the node while A keeps sending through the SDK: after the restart both SDKs
 * reconnect on their own, B re-joins with `since`, and B ends up with every message A's SDK
 * acked — exactly once, in seq order — in its events and in history.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Ack, Disconnected, Message } from '../../sdk/index.ts';
import { TestNode } from '../helpers/node.ts';
import { fullHistory, nodeEnv, range, sdkPair, until } from './harness.ts';
import { newTap, tappedWebSocket } from './sockets.ts';

const node = new TestNode({ env: nodeEnv });
before(() => node.start());
after(() => node.kill('SIGTERM'));

test('after kill -9 and restart, the joined client receives every acked message exactly once, in seq order', async () => {
  const tapB = newTap();
  const { ca, cb, conv } = await sdkPair(node, {}, { WebSocket: tappedWebSocket(tapB) });
  await cb.join(conv);
  const received: Message[] = [];
  cb.on('msg', (m) => received.push(m));
  const closes: Record<'a' | 'b', Disconnected[]> = { a: [], b: [] };
  ca.on('disconnected', (d) => closes.a.push(d));
  cb.on('disconnected', (d) => closes.b.push(d));
  let reconnectsB = 0;
  cb.on('connected', () => reconnectsB++);

  // A sends one message every 15 ms for the whole test, through the kill and the restart.
  const sends: { body: string; ack: Promise<Ack> }[] = [];
  let sending = true;
  const sender = (async () => {
    for (let i = 1; sending; i++) {
      const body = `m${i}`;
      sends.push({ body, ack: ca.send(conv, body) });
      await new Promise((r) => setTimeout(r, 15));
    }
  })();

  await until(() => received.length >= 20, 5000, 'traffic before the kill');
  await node.kill('SIGKILL');
  const sentBeforeRestart = sends.length;
  await new Promise((r) => setTimeout(r, 500)); // sends keep queueing while the node is down
  await node.start();
  await until(() => sends.length > sentBeforeRestart + 40, 30_000, 'sends after the restart');
  sending = false;
  await sender;

  const acks = await Promise.all(sends.map((s) => s.ack)); // every send resolves: none is lost
  const seqs = acks.map((a) => a.seq).sort((x, y) => x - y);
  assert.deepEqual(seqs, range(1, sends.length), 'each send acked once, seq gapless');
  assert.deepEqual(acks.map((a) => a.seq), range(1, sends.length), 'acked in the order sent');

  await until(() => received.length >= acks.length, 10_000, `B to catch up (${received.length}/${acks.length})`);
  await new Promise((r) => setTimeout(r, 300)); // anything extra (a duplicate) would arrive now
  assert.deepEqual(received.map((m) => m.seq), range(1, acks.length), 'B: every acked message once, in seq order');
  assert.deepEqual(received.map((m) => m.body), sends.map((s) => s.body));
  assert.deepEqual(received.map((m) => m.id), acks.map((a) => a.id));

  const history = await fullHistory(cb, conv);
  assert.deepEqual(history.map((m) => m.seq), range(1, acks.length), 'history: one row per message');
  assert.deepEqual(history.map((m) => m.body), sends.map((s) => s.body));

  assert.ok(closes.a.some((d) => d.willReconnect && d.code !== 1000), 'A saw the crash and reconnected by itself');
  assert.ok(closes.b.some((d) => d.willReconnect && d.code !== 1000), 'B saw the crash and reconnected by itself');
  assert.ok(reconnectsB >= 1);
  const rejoin = tapB.sent.filter((f) => f.t === 'join' && typeof f.since === 'number');
  assert.ok(rejoin.length >= 1, 'B re-joined with since');
  ca.close();
  cb.close();
});
