/** The bench's `idle --join` pairing: who opens a DM with whom, and which pairs get a connection. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { idleUserId, joinPairs, joinPartner } from '../../bench/scenarios/idle.ts';

test('connection i pairs with i xor 1, symmetrically', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((i) => joinPartner(i, 6)), [1, 0, 3, 2, 5, 4]);
  for (let i = 0; i < 1000; i++) assert.equal(joinPartner(joinPartner(i, 1000) as number, 1000), i);
});

test('an odd last connection has no partner; everyone else has one', () => {
  assert.equal(joinPartner(4, 5), null);
  assert.deepEqual([0, 1, 2, 3].map((i) => joinPartner(i, 5)), [1, 0, 3, 2]);
  assert.equal(joinPartner(0, 1), null);
});

test('the HTTP connections are exactly the pairs the sockets open DMs for', () => {
  assert.deepEqual(joinPairs(5), [[0, 1], [2, 3]]);
  assert.deepEqual(joinPairs(1), []);
  for (const conns of [1, 2, 7, 1000, 1001]) {
    const pairs = joinPairs(conns);
    assert.equal(pairs.length, Math.floor(conns / 2));
    const covered = new Set(pairs.flat());
    for (let i = 0; i < conns; i++) {
      const partner = joinPartner(i, conns);
      if (partner === null) assert.ok(!covered.has(i), `unpaired ${i} must get no connection`);
      else assert.ok(pairs.some(([a, b]) => (a === i && b === partner) || (a === partner && b === i)), `pair ${i}/${partner}`);
    }
  }
});

test('user ids are valid protocol ids, distinct per connection and per run', () => {
  assert.match(idleUserId('0a1b2c3d', 41), /^[A-Za-z0-9]{1,128}$/);
  assert.notEqual(idleUserId('0a1b2c3d', 1), idleUserId('0a1b2c3d', 11));
  assert.notEqual(idleUserId('0a1b2c3d', 1), idleUserId('ffffffff', 1));
});
