/** The in-process bus honours the Bus contract (src/bus/bus.ts), locally and across a thread port. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { type Bus, BusTimeoutError, NoRespondersError } from '../../src/bus/bus.ts';
import { InprocHub, PortBus } from '../../src/bus/inproc.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const tick = () => new Promise((r) => setTimeout(r, 20));

function pair(kind: 'local' | 'port'): { a: Bus; b: Bus } {
  const hub = new InprocHub();
  if (kind === 'local') return { a: hub.local('a'), b: hub.local('b') };
  const { port1, port2 } = new MessageChannel();
  hub.attach(port1);
  const b = new PortBus(port2, 'b');
  // Listening refs a port; unref both so the test process can exit.
  port1.unref();
  port2.unref();
  return { a: hub.local('a'), b };
}

for (const kind of ['local', 'port'] as const) {
  describe(`in-process bus (${kind})`, () => {
    test('publish reaches exact and wildcard subscribers, in publish order', async () => {
      const { a, b } = pair(kind);
      const got: string[] = [];
      b.subscribe('chat.user.alice', (d, _r, s) => got.push(`${s}:${text(d)}`));
      b.subscribe('chat.room.>', (d, _r, s) => got.push(`${s}:${text(d)}`));
      await tick();
      for (let i = 0; i < 5; i++) a.publish('chat.user.alice', bytes(`m${i}`));
      a.publish('chat.room.r1', bytes('room'));
      a.publish('chat.user.bob', bytes('not for us'));
      await tick();
      assert.deepEqual(got, ['chat.user.alice:m0', 'chat.user.alice:m1', 'chat.user.alice:m2', 'chat.user.alice:m3', 'chat.user.alice:m4', 'chat.room.r1:room']);
    });

    test('request resolves with the reply published to the reply subject', async () => {
      const { a, b } = pair(kind);
      b.subscribe('chat.shard.1', (d, reply) => reply && b.publish(reply, bytes(`echo ${text(d)}`)));
      await tick();
      assert.equal(text(await a.request('chat.shard.1', bytes('hi'), 1000)), 'echo hi');
      const replies = await Promise.all([1, 2, 3].map((i) => a.request('chat.shard.1', bytes(`${i}`), 1000)));
      assert.deepEqual(replies.map(text), ['echo 1', 'echo 2', 'echo 3']);
    });

    test('request rejects at once with NoRespondersError when nobody subscribes', async () => {
      const { a } = pair(kind);
      await assert.rejects(a.request('chat.shard.9', bytes('x'), 5000), NoRespondersError);
    });

    test('request rejects with BusTimeoutError when the responder stays silent', async () => {
      const { a, b } = pair(kind);
      b.subscribe('chat.shard.2', () => {});
      await tick();
      await assert.rejects(a.request('chat.shard.2', bytes('x'), 50), BusTimeoutError);
    });

    test('unsubscribe stops delivery', async () => {
      const { a, b } = pair(kind);
      const got: string[] = [];
      const sub = b.subscribe('chat.user.x', (d) => got.push(text(d)));
      await tick();
      a.publish('chat.user.x', bytes('1'));
      await tick();
      sub.unsubscribe();
      await tick();
      a.publish('chat.user.x', bytes('2'));
      await tick();
      assert.deepEqual(got, ['1']);
    });
  });
}
