/** The connections check with blocks (issue 15): a block overrides a connection, is cached with it, and fails closed. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { CachedConnections } from '../../src/integrations/connections.ts';

function rig(blockedPairs: Set<string>, opts: { blockFails?: boolean } = {}) {
  let blockReads = 0;
  const c = new CachedConnections(async () => true, 60_000, 100, async (a, b) => {
    blockReads++;
    if (opts.blockFails) throw new Error('blocks table unreadable');
    return blockedPairs.has(`${a}|${b}`) || blockedPairs.has(`${b}|${a}`);
  });
  return { c, reads: () => blockReads };
}

test('a block between connected users answers blocked, either way round, and is cached with the pair', async () => {
  const blocked = new Set(['bob|alice']);
  const { c, reads } = rig(blocked);
  assert.equal(await c.check('alice', 'bob'), 'blocked');
  assert.equal(await c.check('bob', 'alice'), 'blocked');
  assert.equal(c.peek('alice', 'bob'), 'blocked');
  assert.equal(reads(), 1, 'one read for the pair');
  assert.equal(await c.check('alice', 'carol'), 'connected');
});

test('an unblock takes effect once the pair is invalidated (the bus tells every thread)', async () => {
  const blocked = new Set(['bob|alice']);
  const { c } = rig(blocked);
  assert.equal(await c.check('alice', 'bob'), 'blocked');
  blocked.clear();
  assert.equal(await c.check('alice', 'bob'), 'blocked', 'cached until invalidated');
  c.invalidate('bob', 'alice');
  assert.equal(await c.check('alice', 'bob'), 'connected');
});

test('an unreadable block table fails closed: unavailable, and nothing is cached', async () => {
  const { c, reads } = rig(new Set(), { blockFails: true });
  assert.equal(await c.check('alice', 'bob'), 'unavailable');
  assert.equal(c.peek('alice', 'bob'), undefined);
  await c.check('alice', 'bob');
  assert.equal(reads(), 2);
});
