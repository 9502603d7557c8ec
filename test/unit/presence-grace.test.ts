/**
 * Presence counting and debounce on one edge (src/presence/grace.ts); the cluster-wide directory
 * over compare-and-set (src/presence/directory.ts) with the in-process CAS store, several
 * directories on one store standing for several edges; and the single node's in-process
 * directory (src/presence/memory.ts). A fake clock drives the grace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PresenceDirectory } from '../../src/presence/directory.ts';
import { type Clock, PresenceGrace } from '../../src/presence/grace.ts';
import { MemoryDirectory } from '../../src/presence/memory.ts';
import { CasConflict, type CasStore, keyToken, MemoryCasStore } from '../../src/presence/store.ts';

class FakeClock implements Clock {
  t = 1_000;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private next = 1;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }
  advance(ms: number): void {
    this.t += ms;
    for (const [id, timer] of [...this.timers].sort((a, b) => a[1].at - b[1].at)) {
      if (timer.at > this.t) continue;
      this.timers.delete(id);
      timer.fn();
    }
  }
}

function graceUnderTest(graceMs = 5_000) {
  const clock = new FakeClock();
  const events: string[] = [];
  const grace = new PresenceGrace(graceMs, { up: (u) => events.push(`up ${u}`), down: (u, at) => events.push(`down ${u} ${at}`) }, clock);
  return { clock, events, grace };
}

test('the first socket is up at once; the last close is down only after the grace, with the time of that close', () => {
  const { clock, events, grace } = graceUnderTest();
  grace.opened('alice');
  grace.opened('alice');
  assert.deepEqual(events, ['up alice'], 'a second socket is no change');
  clock.advance(100);
  grace.closed('alice');
  clock.advance(10_000);
  assert.deepEqual(events, ['up alice'], 'one socket is still open');
  grace.closed('alice');
  const closedAt = clock.now();
  clock.advance(4_999);
  assert.deepEqual(events, ['up alice'], 'within the grace');
  clock.advance(1);
  assert.deepEqual(events, ['up alice', `down alice ${closedAt}`]);
  assert.equal(grace.size, 0, 'nothing is held for an offline user');
});

test('a reopen within the grace is no flap: no down, no second up', () => {
  const { clock, events, grace } = graceUnderTest();
  grace.opened('bob');
  grace.closed('bob');
  clock.advance(4_000);
  grace.opened('bob');
  clock.advance(60_000);
  assert.deepEqual(events, ['up bob']);
  grace.closed('bob');
  clock.advance(5_000);
  assert.deepEqual(events, ['up bob', `down bob ${clock.now() - 5_000}`]);
  grace.opened('bob');
  assert.deepEqual(events.at(-1), 'up bob', 'after the grace, a reopen is a new up');
});

test('a close never counted (closed twice) changes nothing; users are independent; stop drops pending graces', () => {
  const { clock, events, grace } = graceUnderTest();
  grace.closed('nobody');
  grace.opened('a');
  grace.opened('b');
  grace.closed('a');
  grace.closed('a');
  assert.equal(grace.socketsOf('a'), 0);
  assert.equal(grace.socketsOf('b'), 1);
  grace.stop();
  clock.advance(10_000);
  assert.deepEqual(events, ['up a', 'up b'], 'no down after stop: the directory entry lapses with the edge');
});

test('a zero grace reports down on the next timer turn', () => {
  const { clock, events, grace } = graceUnderTest(0);
  grace.opened('z');
  grace.closed('z');
  clock.advance(0);
  assert.deepEqual(events, ['up z', `down z ${clock.now()}`]);
});

test('directory: online on the first edge, offline only when the last edge lets go, lastSeen kept', async () => {
  const store = new MemoryCasStore();
  const n1 = new PresenceDirectory(store, 'node-1');
  const n2 = new PresenceDirectory(store, 'node-2');
  assert.deepEqual(await n1.get('u@x.y'), { online: false }, 'never seen');
  assert.deepEqual(await n1.up('u@x.y'), { user: 'u@x.y', online: true });
  assert.equal(await n2.up('u@x.y'), null, 'already online through node-1');
  assert.equal(await n1.down('u@x.y', 5_000), null, 'node-2 still holds a socket');
  assert.deepEqual(await n2.get('u@x.y'), { online: true });
  assert.deepEqual(await n2.down('u@x.y', 7_000), { user: 'u@x.y', online: false, lastSeen: 7_000 });
  assert.deepEqual(await n1.get('u@x.y'), { online: false, lastSeen: 7_000 });
  assert.equal(await n2.down('u@x.y', 8_000), null, 'a repeated down changes nothing');
  for (const k of await store.keys('>')) assert.match(k, /^[A-Za-z0-9_.-]+$/, `${k}: KV key charset only`);
});

test('directory: a dead edge is swept, its users go offline unless another edge holds them; a restarted edge releases its old marks', async () => {
  const store = new MemoryCasStore();
  const dead = new PresenceDirectory(store, 'dead');
  const alive = new PresenceDirectory(store, 'alive');
  await dead.register(0);
  await alive.register(0);
  await dead.up('a');
  await dead.up('b');
  await alive.up('b');
  const live = new Set([PresenceDirectory.edgeToken('alive')]);
  assert.deepEqual(await alive.sweep(live, 9_000), [{ user: 'a', online: false, lastSeen: 9_000 }]);
  assert.deepEqual(await alive.get('b'), { online: true });
  assert.deepEqual(await alive.sweep(live, 9_500), [], 'swept once');
  assert.deepEqual(await store.keys(`e.${keyToken('dead')}`), [], 'the dead edge is unregistered');
  assert.deepEqual([await dead.registered(), await alive.registered()], [false, true], 'a swept edge that still lives can tell');

  await alive.up('c');
  const again = new PresenceDirectory(store, 'alive'); // the same edge id after a restart
  const released = await again.register(10_000);
  assert.deepEqual(released.map((t) => t.user).sort(), ['b', 'c']);
});

test('directory: racing edges announce each change once (compare-and-set)', async () => {
  const base = new MemoryCasStore();
  // Every update loses once to a concurrent writer first: the change is decided again on fresh state.
  let lose = true;
  const racy: CasStore = Object.assign(Object.create(base) as CasStore, {
    update: async (key: string, value: Uint8Array, revision: number) => {
      if (lose && key.startsWith('u.')) {
        lose = false;
        throw new CasConflict(key);
      }
      return base.update(key, value, revision);
    },
  });
  const edges = Array.from({ length: 8 }, (_, i) => new PresenceDirectory(i % 2 ? racy : base, `e${i}`));
  const ups = await Promise.all(edges.map((e) => e.up('r')));
  assert.equal(ups.filter(Boolean).length, 1, 'one online announcement');
  const downs = await Promise.all(edges.map((e, i) => e.down('r', 100 + i)));
  assert.deepEqual(downs.filter(Boolean), [{ user: 'r', online: false, lastSeen: 107 }], 'one offline announcement, the latest close');
});

test('in-process directory: the same answers as the KV one, edges as threads, lastSeen bounded', async () => {
  const memory = new MemoryDirectory(2);
  const t0 = memory.forEdge('t0');
  const t1 = memory.forEdge('t1');
  assert.deepEqual(await t0.up('u'), { user: 'u', online: true });
  assert.equal(await t1.up('u'), null);
  assert.equal(await t0.up('u'), null, 'an up repeated by one edge');
  assert.equal(await t0.down('u', 10), null, 't1 still holds u');
  assert.equal(await t0.down('u', 11), null, 'a down repeated by one edge');
  assert.deepEqual(await t1.down('u', 12), { user: 'u', online: false, lastSeen: 12 });
  assert.deepEqual(await t0.get('u'), { online: false, lastSeen: 12 });
  for (const [user, at] of [['v', 20], ['w', 30]] as const) {
    await t0.up(user);
    await t0.down(user, at);
  }
  assert.deepEqual(await t0.get('u'), { online: false }, 'over the bound the longest-offline is forgotten');
  assert.deepEqual([await t0.get('v'), await t0.get('w')], [{ online: false, lastSeen: 20 }, { online: false, lastSeen: 30 }]);
});
