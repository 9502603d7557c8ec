/**
 * The signals load shedding is made of: a shard's standing wait (shed.ts), the thread's inbound
 * delay (probe.ts) and the edge's per-shard table of shares (shed-shares.ts). Time is passed in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Bus, BusHandler } from '../../src/bus/bus.ts';
import { ShedShares } from '../../src/edge/shed-shares.ts';
import { InboundProbe } from '../../src/shard/probe.ts';
import { ShardWaits, shedLevelOf, waitWindowMs } from '../../src/shard/shed.ts';
import { shedLevelMax } from '../../src/rpc/envelope.ts';

const limits = { shedDelayTargetMs: 100, persistQueueDelayMaxMs: 500, shedShareMaxPct: 95 };

test('the level is 0 up to the target delay, then rises linearly to the largest share at the bound', () => {
  assert.equal(shedLevelOf(0, limits), 0);
  assert.equal(shedLevelOf(100, limits), 0);
  assert.equal(shedLevelOf(300, limits), 0.5 * 0.95 * shedLevelMax);
  assert.equal(shedLevelOf(500, limits), 0.95 * shedLevelMax);
  assert.equal(shedLevelOf(60_000, limits), 0.95 * shedLevelMax);
});

test("a shard's standing wait is the shortest recent wait: a burst that drains does not count, a standing backlog does", () => {
  const w = new ShardWaits(100);
  const t = 1_000_000;
  // One actor rehydrated for 300 ms while its commands queued; other commands went straight through.
  w.observe(1, 300, t);
  w.observe(1, 0, t + 1);
  assert.equal(w.standingMs(1, t + 2), 0);
  // Every command of shard 2 waits about 250 ms: that stands.
  for (let i = 0; i < 20; i++) w.observe(2, 250 + i, t + i * 10);
  assert.equal(w.standingMs(2, t + 199), 250);
  assert.equal(w.standingMs(3, t + 199), 0, 'a shard with no commands stands at 0');
});

test('with no decision for two windows the standing wait is 0 (it does not wait for admitted sends to fall)', () => {
  const w = new ShardWaits(100);
  const t = 1_000_000;
  w.observe(1, 400, t);
  assert.equal(w.standingMs(1, t + 50), 400);
  assert.equal(w.standingMs(1, t + 150), 400, 'the window before counts');
  assert.equal(w.standingMs(1, t + 200), 0);
  w.observe(1, 400, t + 1000);
  w.forget(1);
  assert.equal(w.standingMs(1, t + 1000), 0, 'a shard that left starts afresh');
  assert.ok(waitWindowMs > 0);
});

test("the edge applies a shard's share to that shard only, and lets it fade when no reply refreshes it", () => {
  const shares = new ShedShares(4, 500);
  shares.learn(2, 0.9, 1000);
  assert.ok(Math.abs(shares.of(2, 1000) - 0.9) < 1e-6);
  assert.equal(shares.of(1, 1000), 0, 'another shard of the same node is not shed');
  assert.ok(Math.abs(shares.of(2, 1250) - 0.45) < 1e-6, 'half faded after half the delay bound');
  assert.equal(shares.of(2, 1500), 0, 'gone after the delay bound');
  shares.learn(2, 0.2, 1600);
  assert.ok(Math.abs(shares.of(2, 1600) - 0.2) < 1e-6, 'a fresh reply sets it again');
});

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; !done(); i++) {
    if (i > 500) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A bus whose deliveries the test releases, as a busy thread would take them from its port. */
class HeldBus implements Bus {
  readonly queue: (() => void)[] = [];
  private handlers = new Map<string, BusHandler>();
  publish(subject: string, data: Uint8Array): void {
    this.queue.push(() => this.handlers.get(subject)?.(data, undefined, subject));
  }
  subscribe(subject: string, handler: BusHandler) {
    this.handlers.set(subject, handler);
    return { unsubscribe: () => void this.handlers.delete(subject) };
  }
  request(): Promise<Uint8Array> {
    return Promise.reject(new Error('unused'));
  }
  async close(): Promise<void> {}
  deliver(): void {
    this.queue.shift()?.();
  }
}

test("the inbound probe reports its round trip, and the age of a probe still queued once that is longer", async () => {
  const bus = new HeldBus();
  let now = 0;
  const probe = new InboundProbe(bus, 'probe.n1.0', () => now);
  probe.start();
  try {
    assert.equal(bus.queue.length, 1, 'a probe is out');
    // Starting up, before any probe came back: no evidence of a queue, whatever the first one's age.
    now = 900;
    assert.equal(probe.delayMs, 0);
    now = 3;
    bus.deliver();
    assert.equal(probe.delayMs, 3);
    // The thread falls behind: the next probe waits in its queue, and the delay grows meanwhile.
    await until(() => bus.queue.length === 1);
    now = 403;
    assert.equal(probe.delayMs, 400);
    now = 703;
    bus.deliver();
    assert.equal(probe.delayMs, 700);
  } finally {
    probe.stop();
  }
});
