import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '../../protocol/codec.ts';
import { ProtocolError } from '../../protocol/errors.ts';
import { defaultLimits } from '../../protocol/frames.ts';
import { parseClientFrame } from '../../protocol/validate.ts';

test('ids with control characters are refused with 400 (they would be ambiguous in subjects and DM ids)', () => {
  for (const bad of ['a\0b', 'tab\there', 'line\nbreak', 'del\u007f']) {
    assert.throws(() => parseClientFrame(encode({ t: 'open', rid: 3, with: bad }), defaultLimits), (e: unknown) => e instanceof ProtocolError && e.code === 400 && e.rid === 3);
  }
  assert.equal(parseClientFrame(encode({ t: 'open', with: 'ünïcode-user' }), defaultLimits).t, 'open');
});
