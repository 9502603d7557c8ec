/**
 * The Bus contract (src/bus/bus.ts) as a suite any implementation must pass: the in-process
 * bus runs it in test/unit, the NATS bus in test/cluster.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Bus, BusTimeoutError, NoRespondersError } from '../../src/bus/bus.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const settle = () => new Promise((r) => setTimeout(r, 50));

/** `pair()` returns two connected ends on a fresh namespace `ns` (a subject prefix). */
export function busContract(name: string, pair: () => Promise<{ a: Bus; b: Bus; ns: string; close(): Promise<void> }>): void {
  describe(`bus contract: ${name}`, () => {
    test('publish reaches exact and wildcard subscribers, in publish order', async () => {
      const { a, b, ns, close } = await pair();
      const got: string[] = [];
      b.subscribe(`${ns}.user.alice`, (d, _r, s) => got.push(`${s.slice(ns.length + 1)}:${text(d)}`));
      b.subscribe(`${ns}.room.>`, (d, _r, s) => got.push(`${s.slice(ns.length + 1)}:${text(d)}`));
      await settle();
      for (let i = 0; i < 5; i++) a.publish(`${ns}.user.alice`, bytes(`m${i}`));
      a.publish(`${ns}.room.r1`, bytes('room'));
      a.publish(`${ns}.user.bob`, bytes('not for us'));
      await settle();
      assert.deepEqual(got, ['user.alice:m0', 'user.alice:m1', 'user.alice:m2', 'user.alice:m3', 'user.alice:m4', 'room.r1:room']);
      await close();
    });

    test('request resolves with the reply published to the reply subject', async () => {
      const { a, b, ns, close } = await pair();
      b.subscribe(`${ns}.shard.1`, (d, reply) => reply && b.publish(reply, bytes(`echo ${text(d)}`)));
      await settle();
      assert.equal(text(await a.request(`${ns}.shard.1`, bytes('hi'), 2000)), 'echo hi');
      const replies = await Promise.all([1, 2, 3].map((i) => a.request(`${ns}.shard.1`, bytes(`${i}`), 2000)));
      assert.deepEqual(replies.map(text), ['echo 1', 'echo 2', 'echo 3']);
      await close();
    });

    test('request rejects at once with NoRespondersError when nobody subscribes', async () => {
      const { a, ns, close } = await pair();
      await assert.rejects(a.request(`${ns}.shard.9`, bytes('x'), 5000), NoRespondersError);
      await close();
    });

    test('request rejects with BusTimeoutError when the responder stays silent', async () => {
      const { a, b, ns, close } = await pair();
      b.subscribe(`${ns}.shard.2`, () => {});
      await settle();
      await assert.rejects(a.request(`${ns}.shard.2`, bytes('x'), 100), BusTimeoutError);
      await close();
    });

    test('unsubscribe stops delivery', async () => {
      const { a, b, ns, close } = await pair();
      const got: string[] = [];
      const sub = b.subscribe(`${ns}.user.x`, (d) => got.push(text(d)));
      await settle();
      a.publish(`${ns}.user.x`, bytes('1'));
      await settle();
      sub.unsubscribe();
      await settle();
      a.publish(`${ns}.user.x`, bytes('2'));
      await settle();
      assert.deepEqual(got, ['1']);
      await close();
    });
  });
}
