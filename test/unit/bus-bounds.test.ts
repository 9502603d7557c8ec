/**
 * The bus's bounds (src/config.ts) and what overflowing them does:
 * - BUS_PORT_QUEUE_MAX (in-process bus): messages past it in one turn are dropped and counted,
 *   a dropped request is refused at once with BusOverloadError, subscriptions always pass;
 * - BUS_PENDING_REQUESTS_MAX: covered for every bus by the contract (test/helpers/bus-contract.ts);
 * - the shard client answers BusOverloadError as "shard unavailable" (503, retryMs), at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { type Bus, type BusHandler, BusOverloadError, Subjects, type Subscription } from '../../src/bus/bus.ts';
import { InprocHub, PortBus } from '../../src/bus/inproc.ts';
import { BUS_PENDING_REQUESTS_MAX, BUS_PORT_QUEUE_MAX } from '../../src/config.ts';
import { ShardClient } from '../../src/rpc/shard-client.ts';
import { ChatError, ErrorCode, RetryAfterMs } from '../../protocol/errors.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** A hub and a worker-side bus joined by a MessagePort, both unref'd so the test can exit. */
function attached(hub: InprocHub, portQueueMax?: number): { b: PortBus; ports: MessagePort[] } {
  const { port1, port2 } = new MessageChannel();
  hub.attach(port1);
  const b = new PortBus(port2, 'b', { portQueueMax });
  port1.unref();
  port2.unref();
  return { b, ports: [port1, port2] };
}

/** Resolves once `b`'s subscriptions are at the hub: a request through them is answered. */
async function settled(hub: InprocHub, b: PortBus): Promise<void> {
  b.subscribe('ready', (_d, reply) => reply && b.publish(reply, bytes('ok')));
  const a = hub.local('probe');
  for (;;) {
    try {
      await a.request('ready', bytes('?'), 1000);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

const turn = () => new Promise((r) => setImmediate(r));
const until = async (cond: () => boolean, ms = 2000) => {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
};

test('the bounds are named in src/config.ts and positive', () => {
  assert.ok(BUS_PENDING_REQUESTS_MAX > 0);
  assert.ok(BUS_PORT_QUEUE_MAX > 0);
});

test('hub → worker: deliveries past the port bound in one turn are dropped and counted, the rest arrive in order', async () => {
  const hub = new InprocHub({ portQueueMax: 3 });
  const { b } = attached(hub);
  const got: string[] = [];
  b.subscribe('room.x', (d) => got.push(text(d)));
  await settled(hub, b);
  const a = hub.local('a');
  for (let i = 0; i < 10; i++) a.publish('room.x', bytes(`m${i}`));
  await until(() => got.length >= 3);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(got, ['m0', 'm1', 'm2']);
  assert.equal(hub.dropped, 7);
  // The next turn has room again: the bound is per turn, not a permanent cut.
  a.publish('room.x', bytes('later'));
  await until(() => got.length >= 4);
  assert.deepEqual(got.slice(3), ['later']);
});

test('hub → worker: a request dropped at a full port is refused at once with BusOverloadError, not timed out', async () => {
  const hub = new InprocHub({ portQueueMax: 2 });
  const { b } = attached(hub);
  b.subscribe('shard.1', (d, reply) => reply && b.publish(reply, d));
  await settled(hub, b);
  const a = hub.local('a');
  a.publish('shard.1', bytes('fill-1'));
  a.publish('shard.1', bytes('fill-2'));
  const started = performance.now();
  const e = await a.request('shard.1', bytes('x'), 5000).then(() => undefined, (err: unknown) => err);
  assert.ok(e instanceof BusOverloadError, `expected BusOverloadError, got ${String(e)}`);
  assert.equal(e.reason, 'port');
  assert.ok(performance.now() - started < 100, 'refused at once');
  await turn();
  assert.equal(text(await a.request('shard.1', bytes('y'), 2000)), 'y', 'answered again once the queue drained');
});

test('worker → hub: publishes past the bound are dropped and counted; a request then is refused at once', async () => {
  const hub = new InprocHub();
  const { b } = attached(hub, 3);
  const got: string[] = [];
  const a = hub.local('a');
  a.subscribe('user.u', (d) => got.push(text(d)));
  a.subscribe('shard.2', (d, reply) => reply && a.publish(reply, d));
  await settled(hub, b);
  for (let i = 0; i < 5; i++) b.publish('user.u', bytes(`p${i}`));
  await assert.rejects(b.request('shard.2', bytes('r'), 5000), (e: unknown) => e instanceof BusOverloadError && e.reason === 'port');
  assert.equal(b.dropped, 3, 'two publishes and the request');
  await until(() => got.length >= 3);
  assert.deepEqual(got, ['p0', 'p1', 'p2']);
  assert.equal(b.pendingRequests, 0, 'the refused request left nothing pending');
  assert.equal(text(await b.request('shard.2', bytes('next'), 2000)), 'next');
});

test('subscribe and unsubscribe pass a full port queue (a lost one would misroute for good)', async () => {
  const hub = new InprocHub();
  const { b } = attached(hub, 1);
  await settled(hub, b);
  const got: string[] = [];
  b.publish('elsewhere', bytes('fills the queue'));
  b.subscribe('user.late', (d) => got.push(text(d)));
  await turn();
  await new Promise((r) => setTimeout(r, 20));
  const a = hub.local('a');
  a.publish('user.late', bytes('reached'));
  await until(() => got.length > 0);
  assert.deepEqual(got, ['reached']);
  const gone: string[] = [];
  const sub = b.subscribe('user.gone', (d) => gone.push(text(d)));
  await settled(hub, b);
  b.publish('elsewhere', bytes('fills the queue again'));
  sub.unsubscribe();
  await turn();
  await new Promise((r) => setTimeout(r, 20));
  a.publish('user.gone', bytes('must not arrive'));
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(gone, []);
});

/** A bus whose every request is refused as overloaded, counting the attempts. */
class OverloadedBus implements Bus {
  requests = 0;
  publish(): void {}
  subscribe(_s: string, _h: BusHandler): Subscription {
    return { unsubscribe() {} };
  }
  request(subject: string): Promise<Uint8Array> {
    this.requests++;
    return Promise.reject(new BusOverloadError(subject, 'pending'));
  }
  async close(): Promise<void> {}
}

test('the shard client answers BusOverloadError as "shard unavailable" (503, retryMs) at once, without retrying', async () => {
  const bus = new OverloadedBus();
  const client = new ShardClient(bus, new Subjects('t'), { shardCount: 4, timeoutMs: 5000, attemptMs: 5000 });
  for (const repeatable of [false, true]) {
    const started = performance.now();
    const e = await client.ask({ c: 'conv-1', u: 'alice', r: [], f: { t: 'ping', rid: 1 } }, { repeatable }).then(() => undefined, (err: unknown) => err);
    assert.ok(e instanceof ChatError, `expected a ChatError, got ${String(e)}`);
    assert.equal(e.code, ErrorCode.unavailable);
    assert.equal(e.extra.retryMs, RetryAfterMs.shardUnavailable);
    assert.ok(e.cause instanceof BusOverloadError, 'the cause is kept for logs and metrics');
    assert.ok(performance.now() - started < 100, 'at once, not after the request deadline');
  }
  assert.equal(bus.requests, 2, 'one attempt each: an overloaded bus is not asked again');
});
