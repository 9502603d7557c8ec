/** `send` with `att` (issue 15): what the validator accepts, and that a caption-less send needs attachments. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateClientFrame } from '../../protocol/validate.ts';
import { attachmentsPerMessageMax, defaultLimits } from '../../protocol/frames.ts';
import { ProtocolError } from '../../protocol/errors.ts';

const parse = (v: unknown) => validateClientFrame(v, defaultLimits);

test('send with att: the body may be empty or absent (normalized to ""), or a caption', () => {
  assert.deepEqual(parse({ t: 'send', conv: 'c', cmid: 'm', body: '', att: ['at_1'] }), { t: 'send', conv: 'c', cmid: 'm', body: '', att: ['at_1'] });
  assert.deepEqual(parse({ t: 'send', conv: 'c', cmid: 'm', att: ['at_1'] }), { t: 'send', conv: 'c', cmid: 'm', body: '', att: ['at_1'] });
  assert.deepEqual(parse({ t: 'send', conv: 'c', cmid: 'm', body: '  ', att: ['at_1'] }).t, 'send');
  assert.deepEqual(parse({ t: 'send', conv: 'c', cmid: 'm', body: 'look', att: ['at_1', 'at_2'] }), { t: 'send', conv: 'c', cmid: 'm', body: 'look', att: ['at_1', 'at_2'] });
  const max = Array.from({ length: attachmentsPerMessageMax }, (_, i) => `at_${i}`);
  assert.deepEqual((parse({ t: 'send', conv: 'c', cmid: 'm', body: '', att: max }) as { att: string[] }).att, max);
});

test('send without att still needs a non-blank body; att: null is no attachments', () => {
  assert.throws(() => parse({ t: 'send', conv: 'c', cmid: 'm', body: '' }), (e: unknown) => e instanceof ProtocolError && e.code === 400);
  assert.throws(() => parse({ t: 'send', conv: 'c', cmid: 'm', body: '', att: null }), (e: unknown) => e instanceof ProtocolError && e.code === 400);
  assert.equal('att' in parse({ t: 'send', conv: 'c', cmid: 'm', body: 'x', att: null }), false);
});
