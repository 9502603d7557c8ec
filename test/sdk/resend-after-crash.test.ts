/**
 * The node dies before the sender sees its ack: `send()` keeps the message and resends it with
 * the same cmid after the restart, and the server's idempotency turns that into exactly one
 * stored message — whether or not the first attempt had been stored.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '../../sdk/index.ts';
import { TestNode } from '../helpers/node.ts';
import { fullHistory, nodeEnv, range, sdkPair, until } from './harness.ts';
import { newTap, tappedWebSocket } from './sockets.ts';

const node = new TestNode({ env: nodeEnv });
before(() => node.start());
after(() => node.kill('SIGTERM'));

test('a send stored but never acked (ack lost, then kill -9) resolves after the restart with its original seq and is stored once', { timeout: 120_000 }, async () => {
  const tapA = newTap();
  const { ca, cb, conv } = await sdkPair(node, { WebSocket: tappedWebSocket(tapA) });
  try {
    await cb.join(conv);
    const seenByB: Message[] = [];
    cb.on('msg', (m) => seenByB.push(m));
    await ca.send(conv, 'before');
    tapA.dropIncoming = (f) => f.t === 'ack'; // the server commits and acks; A never hears it
    let resolved = false;
    const pending = ca.send(conv, 'stored, ack lost', { cmid: 'lost-ack' }).finally(() => (resolved = true));
    await until(() => seenByB.some((m) => m.cmid === 'lost-ack'), 5000, 'the message to be stored (B got it)');
    const stored = seenByB.find((m) => m.cmid === 'lost-ack')!;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(resolved, false, 'no ack reached the SDK');

    await node.kill('SIGKILL');
    tapA.dropIncoming = () => false;
    await node.start();
    const ack = await pending;
    assert.deepEqual([ack.seq, ack.id, ack.ts], [stored.seq, stored.id, stored.ts], 'the original ack');
    assert.ok(tapA.sent.filter((f) => f.t === 'send' && f.cmid === 'lost-ack').length >= 2, 'it was resent');

    const history = await fullHistory(cb, conv);
    assert.deepEqual(history.map((m) => m.body), ['before', 'stored, ack lost']);
    assert.equal(history.filter((m) => m.cmid === 'lost-ack').length, 1);
  } finally {
    ca.close();
    cb.close();
  }
});

test('sends cut off by kill -9 and sends made while the node is down are each stored exactly once, in the order sent', { timeout: 120_000 }, async () => {
  const { ca, cb, conv } = await sdkPair(node);
  try {
    const bodies = range(1, 30).map((i) => `burst ${i}`);
    const acks = bodies.map((b) => ca.send(conv, b)); // queued or in flight when the node dies
    await new Promise((r) => setTimeout(r, 30));
    await node.kill('SIGKILL');
    const downBodies = range(1, 10).map((i) => `while down ${i}`);
    acks.push(...downBodies.map((b) => ca.send(conv, b)));
    for (const a of acks) a.catch(() => {}); // asserted by Promise.all below
    await node.start();

    const acked = await Promise.all(acks);
    assert.deepEqual(acked.map((a) => a.seq), range(1, 40), 'acked in the order sent, gapless');
    const history = await fullHistory(cb, conv);
    assert.deepEqual(history.map((m) => m.body), [...bodies, ...downBodies], 'each once, in order');
    assert.deepEqual(history.map((m) => m.id), acked.map((a) => a.id));
    assert.equal(ca.pendingSends, 0);
  } finally {
    ca.close();
    cb.close();
  }
});
