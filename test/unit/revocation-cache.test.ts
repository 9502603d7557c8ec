/**
 * The edge's revocation cache (src/auth/revocations.ts) against a store the test controls: which
 * tokens a revocation refuses (`iat`, 1 s resolution, none), one read for the misses of a turn,
 * the bus's news merged with reads (the later moment wins), and what happens when the store
 * cannot be read — a cached answer is used however old, a cold miss is not judged (503).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthError, VerifierUnavailableError, type Principal } from '../../src/auth/auth.ts';
import { isRevoked, RevocationCache } from '../../src/auth/revocations.ts';
import { REVOCATIONS_SNAPSHOT_MAX } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import type { RevocationStore } from '../../src/persist/revocations.ts';

class FakeStore {
  rows = new Map<string, number>();
  lookups: string[][] = [];
  loads = 0;
  down = false;
  /** Holds the next `all` until released (a load under way). */
  hold: Promise<void> | undefined;
  async all(limit: number): Promise<{ user: string; revokedAt: number }[]> {
    this.loads++;
    const rows = [...this.rows].map(([user, revokedAt]) => ({ user, revokedAt }));
    await this.hold;
    if (this.down) throw new Error('database down');
    return rows.slice(0, limit);
  }
  async lookup(users: string[]): Promise<Map<string, number>> {
    this.lookups.push(users);
    if (this.down) throw new Error('database down');
    return new Map(users.filter((u) => this.rows.has(u)).map((u) => [u, this.rows.get(u)!]));
  }
}

function cache(store: FakeStore, ttlMs = 60_000): RevocationCache {
  return new RevocationCache(store as unknown as RevocationStore, { cacheMax: 100, ttlMs }, createLogger('silent'));
}

const principal = (sub: string, iat?: number): Principal => ({ sub, roles: ['user'], exp: 2e9, ...(iat === undefined ? {} : { iat }) });

test('isRevoked: iat (s) at or before the revocation moment (ms) is revoked, later is not; no iat is revoked; no revocation revokes nothing', () => {
  assert.equal(isRevoked(1000, 1_000_500), true, 'issued in the same second');
  assert.equal(isRevoked(999, 1_000_000), true);
  assert.equal(isRevoked(1001, 1_000_999), false);
  assert.equal(isRevoked(undefined, 5), true);
  assert.equal(isRevoked(undefined, 0), false);
  assert.equal(isRevoked(1, 0), false);
});

test('the misses of one turn are read in one statement; answers are cached until the TTL', async () => {
  const store = new FakeStore();
  store.rows.set('bob', 2_000_000);
  const c = cache(store);
  const [a, b] = await Promise.allSettled([c.check(principal('alice', 1000)), c.check(principal('bob', 1000))]);
  assert.equal(a.status, 'fulfilled');
  assert.ok(b.status === 'rejected' && b.reason instanceof AuthError);
  assert.deepEqual(store.lookups, [['alice', 'bob']]);
  await c.check(principal('alice', 1000));
  await c.check(principal('bob', 2001));
  assert.equal(store.lookups.length, 1, 'answered from the cache');
});

test('an answer older than the TTL is read again', async () => {
  const store = new FakeStore();
  const c = cache(store, 100);
  await c.check(principal('alice', 1000));
  store.rows.set('alice', 1_500_000);
  await c.check(principal('alice', 1000)); // fresh: still the cached "none"
  await new Promise((r) => setTimeout(r, 150)); // the TTL is real time
  await assert.rejects(c.check(principal('alice', 1000)), AuthError);
  assert.equal(store.lookups.length, 2);
});

test('news from the bus is kept, and a read that started before it cannot undo it', async () => {
  const store = new FakeStore();
  const c = cache(store);
  const pending = c.revokedAt('carol'); // the read starts (the table has no row yet)
  c.note('carol', 3_000_000); // the bus message arrives before the read's answer
  assert.equal(await pending, 3_000_000);
  await assert.rejects(c.check(principal('carol', 2999)), AuthError);
  c.note('carol', 1_000_000); // an older moment never moves it back
  assert.equal(await c.revokedAt('carol'), 3_000_000);
});

test('store down: a cached answer is used however old; a user never read is not judged (VerifierUnavailableError, retryMs)', async () => {
  const store = new FakeStore();
  store.rows.set('dave', 1_000_000);
  const c = cache(store, 100);
  await c.check(principal('erin', 1));
  await assert.rejects(c.check(principal('dave', 1)), AuthError);
  store.down = true;
  await new Promise((r) => setTimeout(r, 150));
  await c.check(principal('erin', 1)); // stale "none" stands
  await assert.rejects(c.check(principal('dave', 1)), AuthError, 'a stale revocation stands');
  await assert.rejects(c.check(principal('frank', 1)), (e: unknown) => e instanceof VerifierUnavailableError && e.retryMs > 0);
});

test('with every revocation loaded, no user needs a read: revoked ones are refused, others pass, even with the store down', async () => {
  const store = new FakeStore();
  store.rows.set('gina', 1_000_000);
  const c = cache(store);
  await c.loadAll();
  assert.equal(c.complete, true);
  store.down = true;
  await assert.rejects(c.check(principal('gina', 1000)), AuthError);
  await c.check(principal('gina', 1001));
  for (let i = 0; i < 50; i++) await c.check(principal(`new-${i}`, 1));
  assert.deepEqual(store.lookups, [], 'not one read');
  c.note('hank', 2_000_000); // the bus: kept in the full set
  await assert.rejects(c.check(principal('hank', 1999)), AuthError);
});

test('a revocation announced while the load runs is kept; a cut poll drops the set until the next load', async () => {
  const store = new FakeStore();
  let release!: () => void;
  store.hold = new Promise((r) => (release = r));
  const c = cache(store);
  const loading = c.loadAll(); // reads the table before ivan's revocation is in it
  c.note('ivan', 5_000_000);
  release();
  await loading;
  await assert.rejects(c.check(principal('ivan', 4999)), AuthError, 'the announcement survived the load');
  c.forgetAll();
  assert.equal(c.complete, false);
  assert.equal(c.wantsLoad, true);
  await c.check(principal('judy', 1));
  assert.deepEqual(store.lookups, [['judy']], 'read per user again');
});

test('more revocations than an edge holds: users are read per connection, and no reload loop', async () => {
  const store = new FakeStore();
  for (let i = 0; i <= REVOCATIONS_SNAPSHOT_MAX; i++) store.rows.set(`u${i}`, 1_000_000);
  const c = cache(store);
  await c.loadAll();
  assert.equal(c.complete, false);
  assert.equal(c.wantsLoad, false, 'not loaded again at every poll');
  await assert.rejects(c.check(principal('u7', 1)), AuthError);
  assert.deepEqual(store.lookups, [['u7']]);
});
