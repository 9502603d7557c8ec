/**
 * The Bus contract (src/bus/bus.ts) as a suite any implementation must pass: the in-process
 * bus runs it in test/unit, the NATS bus in test/cluster.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Bus, type BusBounds, BusOverloadError, BusTimeoutError, NoRespondersError, Subjects, subjectToken } from '../../src/bus/bus.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const settle = () => new Promise((r) => setTimeout(r, 50));

/**
 * Resolves once `b`'s earlier subscriptions are in place: `b` answers on a ready subject
 * subscribed after them, and both buses register one connection's subscriptions in order.
 */
let readyN = 0;
async function subscribed(a: Bus, b: Bus, ns: string): Promise<void> {
  // A fresh subject each time: a request racing an unsubscribe of the same subject may be lost.
  const subject = `${ns}.ready${++readyN}`;
  const sub = b.subscribe(subject, (_d, reply) => reply && b.publish(reply, bytes('ready')));
  for (;;) {
    try {
      await a.request(subject, bytes('?'), 1000);
      return sub.unsubscribe();
    } catch (e) {
      if (!(e instanceof NoRespondersError)) throw e;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/** Publishes a fence from `a` and resolves once `b` received it (the timer also keeps unref'd ports alive). */
function fence(a: Bus, b: Bus, ns: string, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the fence never arrived')), timeoutMs);
    const sub = b.subscribe(`${ns}.fence`, () => (sub.unsubscribe(), clearTimeout(timer), resolve()));
    subscribed(a, b, ns).then(() => a.publish(`${ns}.fence`, bytes('fence')), reject);
  });
}

/**
 * `pair(bounds)` returns two connected ends on a fresh namespace `ns` (a subject prefix), both
 * built with `bounds` when given (src/config.ts's defaults otherwise).
 */
export function busContract(name: string, pair: (bounds?: BusBounds) => Promise<{ a: Bus; b: Bus; ns: string; close(): Promise<void> }>): void {
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

    test('a request beyond the pending bound rejects at once with BusOverloadError, and the bound frees as replies settle', async () => {
      const { a, b, ns, close } = await pair({ pendingRequestsMax: 2 });
      b.subscribe(`${ns}.shard.silent`, () => {});
      b.subscribe(`${ns}.shard.echo`, (d, reply) => reply && b.publish(reply, d));
      await subscribed(a, b, ns);
      const held = [a.request(`${ns}.shard.silent`, bytes('1'), 300), a.request(`${ns}.shard.silent`, bytes('2'), 300)];
      const started = performance.now();
      const refused = await a.request(`${ns}.shard.echo`, bytes('3'), 5000).then(() => undefined, (e: unknown) => e);
      assert.ok(refused instanceof BusOverloadError, `expected BusOverloadError, got ${String(refused)}`);
      assert.equal(refused.reason, 'pending');
      assert.ok(performance.now() - started < 100, 'refused at once, not after a timeout');
      for (const p of held) await assert.rejects(p, BusTimeoutError);
      assert.equal(text(await a.request(`${ns}.shard.echo`, bytes('after'), 2000)), 'after', 'room again once the held requests timed out');
      await close();
    });

    test('ids become subject tokens that match only themselves: >, *, dots, spaces, %, non-ASCII', async () => {
      const { a, b, ns, close } = await pair();
      const subjects = new Subjects(ns);
      // Values a client could once choose as its user id or order id (the id rule now refuses
      // most of them at the boundary; the encoding must hold on its own all the same).
      const ids = ['>', '*', 'a', 'a.b', 'a.>', 'a.*', 'a b', ' ', '%', '%3E', 'ü', 'u%C3%BC', 'uü', '用户', 'a\tb', 'x-y_z'];
      const got = new Map<string, string[]>();
      for (const id of ids) {
        for (const [kind, subject] of [['user', subjects.user(id)], ['room', subjects.room(id)]]) {
          const key = `${kind}:${id}`;
          got.set(key, []);
          b.subscribe(subject, (d) => got.get(key)!.push(text(d)));
        }
      }
      await subscribed(a, b, ns);
      for (const id of ids) {
        a.publish(subjects.user(id), bytes(`user:${id}`));
        a.publish(subjects.room(id), bytes(`room:${id}`));
      }
      // One publisher, one subscribing connection: both buses deliver in publish order across
      // subjects, so once the fence has arrived every stray copy would have too.
      await fence(a, b, ns);
      for (const [key, msgs] of got) assert.deepEqual(msgs, [key], `${key} receives only its own message`);
      await close();
    });

    test('subjectToken keeps [A-Za-z0-9_-] tokens as they are and writes every other UTF-8 byte as %HH', () => {
      assert.equal(subjectToken('alice-7_X'), 'alice-7_X');
      assert.equal(subjectToken('a.b'), 'a%2Eb');
      assert.equal(subjectToken('>'), '%3E');
      assert.equal(subjectToken('*'), '%2A');
      assert.equal(subjectToken('%'), '%25');
      assert.equal(subjectToken('a b'), 'a%20b');
      assert.equal(subjectToken('ü'), '%C3%BC');
      assert.equal(subjectToken('u:1@x|y+z=w~v'), 'u%3A1%40x%7Cy%2Bz%3Dw%7Ev');
      const samples = ['a.b', 'a%2Eb', 'a%252Eb', '%', '%25', 'ü', '%C3%BC', '>', '%3E', ''];
      assert.equal(new Set(samples.map(subjectToken)).size, samples.length, 'injective');
    });

    test('every subscriber of a subject gets each message; unsubscribing some leaves the others', async () => {
      const { a, b, ns, close } = await pair();
      const got: string[] = [];
      const on = (n: number) => b.subscribe(`${ns}.user.y`, (d) => got.push(`${n}:${text(d)}`));
      const [s1, s2, s3] = [on(1), on(2), on(3)];
      await subscribed(a, b, ns);
      a.publish(`${ns}.user.y`, bytes('three'));
      await fence(a, b, ns);
      s1.unsubscribe();
      s2.unsubscribe();
      await subscribed(a, b, ns); // after b's unsubscribes: one subscriber left
      a.publish(`${ns}.user.y`, bytes('one'));
      await fence(a, b, ns);
      s3.unsubscribe();
      const s4 = on(4);
      const s5 = on(5);
      await subscribed(a, b, ns); // none left, then two new ones
      a.publish(`${ns}.user.y`, bytes('two'));
      await fence(a, b, ns);
      s4.unsubscribe();
      s5.unsubscribe();
      assert.deepEqual(got.sort(), ['1:three', '2:three', '3:one', '3:three', '4:two', '5:two']);
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
