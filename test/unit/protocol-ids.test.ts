import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '../../protocol/codec.ts';
import { ProtocolError } from '../../protocol/errors.ts';
import { defaultLimits } from '../../protocol/frames.ts';
import { parseClientFrame } from '../../protocol/validate.ts';
import { idCharsMax, isValidId } from '../../protocol/ids.ts';
import { dmConversationId } from '../../actors/dm.ts';
import { ticketIdFor } from '../../src/http/tickets.ts';
import { routerActorId } from '../../src/rpc/envelope.ts';

test('ids with control characters are refused with 400 (they would be ambiguous in subjects and DM ids)', () => {
  for (const bad of ['a\0b', 'tab\there', 'line\nbreak', 'del\u007f']) {
    assert.throws(() => parseClientFrame(encode({ t: 'open', rid: 3, with: bad }), defaultLimits), (e: unknown) => e instanceof ProtocolError && e.code === 400 && e.rid === 3);
  }
  assert.equal(parseClientFrame(encode({ t: 'open', with: 'user_1-a.b:c@d|e+f=g~h' }), defaultLimits).t, 'open');
});

const refusesId = (frame: Record<string, unknown>, field: string) =>
  assert.throws(
    () => parseClientFrame(encode(frame), defaultLimits),
    (e: unknown) => e instanceof ProtocolError && e.code === 400 && e.rid === 9 && e.message.startsWith(`${field}:`),
    `${JSON.stringify(frame)} must be refused naming ${field}`,
  );

test('ids outside the id rule are refused with 400 naming the field: wildcards, spaces, slashes, %, non-ASCII, 129 chars', () => {
  for (const bad of ['>', '*', 'a b', ' a', 'a/b', 'a%3E', 'ünïcode-user', 'ü', '用户', 'a#b', 'a?b', 'a\u2028b', 'x'.repeat(idCharsMax + 1)]) {
    refusesId({ t: 'open', rid: 9, with: bad }, 'with');
    refusesId({ t: 'join', rid: 9, conv: bad }, 'conv');
    refusesId({ t: 'send', rid: 9, conv: bad, cmid: 'm', body: 'hi' }, 'conv');
  }
});

test('the id rule: 1-128 characters from A-Z a-z 0-9 _ - . : @ | + = ~; server-made DM and ticket ids pass it', () => {
  for (const good of ['a', 'A', '0', '_', '-', '.', ':', '@', '|', '+', '=', '~', 'x'.repeat(idCharsMax), 'alice@example.com', 'tenant:user|7', 'a.b']) {
    assert.ok(isValidId(good), good);
    assert.equal(parseClientFrame(encode({ t: 'open', with: good }), defaultLimits).t, 'open');
  }
  for (const bad of ['', '>', '*', 'a b', 'a\0', 'a\nb', '%', '/', '#', '?', ',', '"', "'", '\\', 'é', 'x'.repeat(idCharsMax + 1), 42, null, undefined]) {
    assert.ok(!isValidId(bad), JSON.stringify(bad));
  }
  assert.equal(defaultLimits.maxIdChars, idCharsMax);
  assert.ok(isValidId(dmConversationId('alice', 'bob')));
  assert.ok(isValidId(ticketIdFor('cust', 'any key, even with spaces')));
  assert.ok(!isValidId(routerActorId), 'the internal router actor cannot be named by a client');
});
