/** SmallSet (src/small-set.ts): one member held directly, a Set from the second on, either way a set. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SmallSet } from '../../src/small-set.ts';

const members = <T>(s: SmallSet<T>): T[] => (s.one !== undefined ? [s.one] : [...(s.many ?? [])]);

test('it behaves as a set through every change of representation', () => {
  const s = new SmallSet<string>();
  assert.deepEqual([s.size, members(s)], [0, []]);
  s.add('a');
  s.add('a');
  assert.deepEqual([s.size, members(s), s.many], [1, ['a'], undefined]);
  s.add('b');
  s.add('c');
  assert.deepEqual([s.size, members(s).sort(), s.one], [3, ['a', 'b', 'c'], undefined]);
  s.delete('a');
  s.delete('missing');
  assert.deepEqual([s.size, members(s).sort()], [2, ['b', 'c']]);
  s.delete('b');
  assert.deepEqual([s.size, members(s), s.many], [1, ['c'], undefined], 'back to one member held directly');
  s.delete('c');
  assert.deepEqual([s.size, members(s)], [0, []]);
  s.add('d');
  assert.deepEqual([s.size, members(s)], [1, ['d']]);
});
