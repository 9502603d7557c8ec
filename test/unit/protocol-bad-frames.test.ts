/**
 * Behaviour of `parseClientFrame` on bad input (PROTOCOL.md: "Text frames, non-map values,
 * unknown `t`, missing or mistyped fields → err 400"; "413 too large").
 *
 * In the style of a parser test suite: a table of bad inputs with the code each must produce
 * (and the rid, whenever the rid could be read), every truncation of a valid frame, and a
 * seeded fuzz whose only allowed outcomes are "a well-formed frame of a known type" or
 * "a ProtocolError" — never another exception.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '../../protocol/codec.ts';
import { parseClientFrame, validateClientFrame } from '../../protocol/validate.ts';
import { attachmentsPerMessageMax, defaultLimits } from '../../protocol/frames.ts';
import type { ClientFrame, ClientFrameType, ProtocolLimits } from '../../protocol/frames.ts';
import { ProtocolError } from '../../protocol/errors.ts';

const L = defaultLimits;
const KNOWN_TYPES: ReadonlySet<string> = new Set<ClientFrameType>([
  'open', 'join', 'leave', 'send', 'recv', 'read', 'typing', 'history', 'inbox', 'ping',
]);

/** Runs parseClientFrame and returns the ProtocolError it must throw. */
function mustFail(bytes: Uint8Array, limits: ProtocolLimits = L): ProtocolError {
  let result: ClientFrame;
  try {
    result = parseClientFrame(bytes, limits);
  } catch (e) {
    assert.ok(e instanceof ProtocolError, `expected a ProtocolError, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return e;
  }
  assert.fail(`expected a ProtocolError, got a frame: ${JSON.stringify(result)}`);
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const utf8 = (s: string) => Uint8Array.from(Buffer.from(s, 'utf8'));
const cat = (...parts: Array<Uint8Array | number[]>) => Uint8Array.from(parts.flatMap((p) => [...p]));
/** fixmap of fixstr keys with raw pre-encoded values, for maps a JS encoder will not produce. */
function rawMap(entries: Array<[string, Uint8Array | number[]]>): Uint8Array {
  const out: number[] = [0x80 | entries.length];
  for (const [k, v] of entries) out.push(...encode(k), ...v);
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------------------------------------
// The table.
// ---------------------------------------------------------------------------------------------

interface Bad {
  name: string;
  bytes: Uint8Array;
  code: 400 | 413;
  /** The rid the error must carry; undefined means it must carry none. */
  rid?: number;
  limits?: ProtocolLimits;
}

const bad: Bad[] = [];
/** A row whose input is a value a client packs with a standard encoder. */
const row = (name: string, value: unknown, code: 400 | 413, rid?: number) => bad.push({ name, bytes: encode(value), code, rid });
/** A row whose input is raw bytes. */
const raw = (name: string, bytes: Uint8Array, code: 400 | 413, rid?: number, limits?: ProtocolLimits) =>
  bad.push({ name, bytes, code, rid, limits });

const okSend = { t: 'send', rid: 5, conv: 'c1', cmid: 'm-1', body: 'hello' };
const okSendBytes = encode(okSend);
const long = (n: number, ch = 'x') => ch.repeat(n);

// Not one msgpack value
raw('empty buffer', new Uint8Array(0), 400);
raw('the never-used msgpack byte 0xc1', Uint8Array.from([0xc1]), 400);
raw('a JSON text frame sent as bytes', utf8('{"t":"ping","rid":1}'), 400);
raw('a lone map header promising one entry', Uint8Array.from([0x81]), 400);
raw('a str8 header whose length runs past the end', Uint8Array.from([0xd9, 0x10, 0x61]), 400);
raw('a map whose key is an array (not a valid object key)', Uint8Array.from([0x81, 0x91, 0x01, 0x01]), 400);

// One msgpack value, but not a map
row('a msgpack array', ['send', 'c1', 'm', 'b'], 400);
row('a msgpack array holding a valid frame map', [okSend], 400);
row('a msgpack string', 'ping', 400);
row('a msgpack number', 42, 400);
row('a msgpack float', 1.5, 400);
row('msgpack nil', null, 400);
row('msgpack true', true, 400);
row('msgpack bin holding a valid frame', okSendBytes, 400);

// Trailing bytes
raw('a valid send followed by a nil byte', cat(okSendBytes, [0xc0]), 400);
raw('a valid send followed by a zero byte', cat(okSendBytes, [0x00]), 400);
raw('two valid frames back to back in one message', cat(encode({ t: 'ping', rid: 1 }), encode({ t: 'ping', rid: 2 })), 400);

// Envelope: t and rid
row('missing t (rid kept)', { rid: 5, conv: 'c1' }, 400, 5);
row('empty map', {}, 400);
row('t is a number (rid kept)', { t: 1, rid: 5 }, 400, 5);
row('t is nil (rid kept)', { t: null, rid: 5 }, 400, 5);
row('t is an array (rid kept)', { t: ['send'], rid: 5 }, 400, 5);
row('t is a map (rid kept)', { t: { t: 'send' }, rid: 5 }, 400, 5);
row('t is a bin', { t: utf8('ping'), rid: 5 }, 400, 5);
row('unknown t (rid kept)', { t: 'sned', rid: 5 }, 400, 5);
row('empty t', { t: '', rid: 5 }, 400, 5);
row('t in the wrong case', { t: 'SEND', rid: 5, conv: 'c1', cmid: 'm', body: 'b' }, 400, 5);
row('t with surrounding whitespace', { t: ' ping', rid: 5 }, 400, 5);
row('t of a server-only frame (ack)', { t: 'ack', rid: 5, conv: 'c1', seq: 1, id: 'x', ts: 1 }, 400, 5);
row('t of a server-only frame (msg)', { t: 'msg', rid: 5, conv: 'c1', seq: 1 }, 400, 5);
row('t of a server-only frame (hello)', { t: 'hello', rid: 5 }, 400, 5);
row('t of a server-only frame (err)', { t: 'err', rid: 5, code: 400, msg: 'x' }, 400, 5);
row('t naming an Object.prototype member (constructor)', { t: 'constructor', rid: 5 }, 400, 5);
row('t naming an Object.prototype member (toString)', { t: 'toString', rid: 5 }, 400, 5);
row('t naming an Object.prototype member (hasOwnProperty)', { t: 'hasOwnProperty', rid: 5 }, 400, 5);
row('t naming __proto__', { t: '__proto__', rid: 5 }, 400, 5);
row('rid negative (unreadable, so no rid)', { t: 'ping', rid: -1 }, 400);
row('rid float', { t: 'ping', rid: 1.5 }, 400);
row('rid string', { t: 'ping', rid: '5' }, 400);
row('rid bool', { t: 'ping', rid: true }, 400);
row('rid beyond the safe-integer range', { t: 'ping', rid: 2 ** 53 }, 400);
row('rid NaN', { t: 'ping', rid: NaN }, 400);
row('rid invalid on an otherwise valid send', { ...okSend, rid: -5 }, 400);

// open
row('open without with', { t: 'open', rid: 5 }, 400, 5);
row('open with empty with', { t: 'open', rid: 5, with: '' }, 400, 5);
row('open with numeric with', { t: 'open', rid: 5, with: 42 }, 400, 5);
row('open with with longer than maxIdChars', { t: 'open', rid: 5, with: long(L.maxIdChars + 1) }, 400, 5);
row('open with with nil', { t: 'open', rid: 5, with: null }, 400, 5);

// join
row('join without conv', { t: 'join', rid: 5, since: 1 }, 400, 5);
row('join with since negative', { t: 'join', rid: 5, conv: 'c1', since: -1 }, 400, 5);
row('join with since float', { t: 'join', rid: 5, conv: 'c1', since: 1.5 }, 400, 5);
row('join with since string', { t: 'join', rid: 5, conv: 'c1', since: '3' }, 400, 5);
row('join with since bool', { t: 'join', rid: 5, conv: 'c1', since: false }, 400, 5);

// leave
row('leave without conv', { t: 'leave', rid: 5 }, 400, 5);
row('leave with empty conv', { t: 'leave', rid: 5, conv: '' }, 400, 5);

// send
row('send without cmid', { t: 'send', rid: 5, conv: 'c1', body: 'b' }, 400, 5);
row('send with empty cmid', { t: 'send', rid: 5, conv: 'c1', cmid: '', body: 'b' }, 400, 5);
row('send with numeric cmid', { t: 'send', rid: 5, conv: 'c1', cmid: 7, body: 'b' }, 400, 5);
row('send with cmid longer than maxCmidChars (65)', { t: 'send', rid: 5, conv: 'c1', cmid: long(L.maxCmidChars + 1), body: 'b' }, 400, 5);
row('send with att: [] (an empty list)', { t: 'send', rid: 5, conv: 'c1', cmid: 'm', body: '', att: [] }, 400, 5);
row('send with 11 attachments', { t: 'send', rid: 5, conv: 'c1', cmid: 'm', body: '', att: Array.from({ length: attachmentsPerMessageMax + 1 }, (_, i) => `at_${i}`) }, 400, 5);
row('send with an att id outside the id rule', { t: 'send', rid: 5, conv: 'c1', cmid: 'm', body: '', att: ['at 1'] }, 400, 5);
row('send with the same att id twice', { t: 'send', rid: 5, conv: 'c1', cmid: 'm', body: '', att: ['at_1', 'at_1'] }, 400, 5);
row('send with att as a string', { t: 'send', rid: 5, conv: 'c1', cmid: 'm', body: 'x', att: 'at_1' }, 400, 5);
row('send with att and a non-string body', { t: 'send', rid: 5, conv: 'c1', cmid: 'm', body: 7, att: ['at_1'] }, 400, 5);
row('send with att and a body over maxBodyChars', { t: 'send', rid: 5, conv: 'c1', cmid: 'm', body: long(L.maxBodyChars + 1), att: ['at_1'] }, 413, 5);
row('send without body', { t: 'send', rid: 5, conv: 'c1', cmid: 'm' }, 400, 5);
row('send with empty body', { t: 'send', rid: 5, conv: 'c1', cmid: 'm', body: '' }, 400, 5);
row('send with whitespace-only body', { t: 'send', rid: 5, conv: 'c1', cmid: 'm', body: ' \n\t ' }, 400, 5);
row('send with numeric body', { t: 'send', rid: 5, conv: 'c1', cmid: 'm', body: 12 }, 400, 5);
row('send with body as bin', { t: 'send', rid: 5, conv: 'c1', cmid: 'm', body: utf8('hello') }, 400, 5);
row('send with body as array', { t: 'send', rid: 5, conv: 'c1', cmid: 'm', body: ['hello'] }, 400, 5);
row('send with body over maxBodyChars (2001) → 413', { t: 'send', rid: 5, conv: 'c1', cmid: 'm', body: long(L.maxBodyChars + 1) }, 413, 5);
row('send with a far larger body (10000 chars) → 413', { t: 'send', rid: 5, conv: 'c1', cmid: 'm', body: long(10_000) }, 413, 5);
row('send without conv', { t: 'send', rid: 5, cmid: 'm', body: 'b' }, 400, 5);
row('send with empty conv', { t: 'send', rid: 5, conv: '', cmid: 'm', body: 'b' }, 400, 5);
row('send with numeric conv', { t: 'send', rid: 5, conv: 1, cmid: 'm', body: 'b' }, 400, 5);
row('send with conv longer than maxIdChars', { t: 'send', rid: 5, conv: long(L.maxIdChars + 1), cmid: 'm', body: 'b' }, 400, 5);
row('send with fields only under the wrong names', { t: 'send', rid: 5, convId: 'c1', clientMessageId: 'm', text: 'b' }, 400, 5);

// recv / read
row('recv without seq', { t: 'recv', rid: 5, conv: 'c1' }, 400, 5);
row('recv with seq negative', { t: 'recv', rid: 5, conv: 'c1', seq: -1 }, 400, 5);
row('recv with seq float', { t: 'recv', rid: 5, conv: 'c1', seq: 2.5 }, 400, 5);
row('recv with seq string', { t: 'recv', rid: 5, conv: 'c1', seq: '3' }, 400, 5);
row('recv with seq nil', { t: 'recv', rid: 5, conv: 'c1', seq: null }, 400, 5);
row('recv with seq NaN', { t: 'recv', rid: 5, conv: 'c1', seq: NaN }, 400, 5);
row('recv with seq Infinity', { t: 'recv', rid: 5, conv: 'c1', seq: Infinity }, 400, 5);
row('recv with seq beyond the safe-integer range', { t: 'recv', rid: 5, conv: 'c1', seq: 2 ** 53 }, 400, 5);
row('recv without conv', { t: 'recv', rid: 5, seq: 1 }, 400, 5);
row('read without seq', { t: 'read', rid: 5, conv: 'c1' }, 400, 5);
row('read with seq negative', { t: 'read', rid: 5, conv: 'c1', seq: -3 }, 400, 5);
row('read with seq float', { t: 'read', rid: 5, conv: 'c1', seq: 0.1 }, 400, 5);
row('read with seq string', { t: 'read', rid: 5, conv: 'c1', seq: '1' }, 400, 5);
row('read without conv', { t: 'read', rid: 5, seq: 1 }, 400, 5);
row('read with conv longer than maxIdChars', { t: 'read', rid: 5, conv: long(L.maxIdChars + 1), seq: 1 }, 400, 5);
raw('read with seq a negative int64 (rid kept)', rawMap([['t', encode('read')], ['rid', [0x05]], ['conv', encode('c1')], ['seq', [0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]]]), 400, 5);
raw('read with seq a uint64 above 2^53 (rid kept)', rawMap([['t', encode('read')], ['rid', [0x05]], ['conv', encode('c1')], ['seq', [0xcf, 0x00, 0x20, 0, 0, 0, 0, 0, 0x01]]]), 400, 5);

// typing
row('typing without conv', { t: 'typing', rid: 5 }, 400, 5);
row('typing with numeric conv', { t: 'typing', rid: 5, conv: 3 }, 400, 5);
row('auth without token', { t: 'auth', rid: 5 }, 400, 5);
row('auth with empty token', { t: 'auth', rid: 5, token: '' }, 400, 5);
row('auth with numeric token', { t: 'auth', rid: 5, token: 42 }, 400, 5);
row('auth with token as bin', { t: 'auth', rid: 5, token: utf8('a.b.c') }, 400, 5);

// history
row('history with limit 0', { t: 'history', rid: 5, conv: 'c1', limit: 0 }, 400, 5);
row('history with limit 101', { t: 'history', rid: 5, conv: 'c1', limit: L.historyLimitMax + 1 }, 400, 5);
row('history with limit negative', { t: 'history', rid: 5, conv: 'c1', limit: -1 }, 400, 5);
row('history with limit float', { t: 'history', rid: 5, conv: 'c1', limit: 10.5 }, 400, 5);
row('history with limit string', { t: 'history', rid: 5, conv: 'c1', limit: '10' }, 400, 5);
row('history with before negative', { t: 'history', rid: 5, conv: 'c1', before: -1 }, 400, 5);
row('history with before string', { t: 'history', rid: 5, conv: 'c1', before: 'x' }, 400, 5);
row('history without conv', { t: 'history', rid: 5, limit: 10 }, 400, 5);

// inbox
row('inbox with limit 0', { t: 'inbox', rid: 5, limit: 0 }, 400, 5);
row('inbox with limit 101', { t: 'inbox', rid: 5, limit: L.inboxLimitMax + 1 }, 400, 5);
row('inbox with limit float', { t: 'inbox', rid: 5, limit: 2.5 }, 400, 5);
row('inbox with numeric before (cursor must be the opaque string)', { t: 'inbox', rid: 5, before: 5 }, 400, 5);
row('inbox with before as a map', { t: 'inbox', rid: 5, before: { seq: 5 } }, 400, 5);
row('inbox with an overlong before cursor', { t: 'inbox', rid: 5, before: long(257) }, 400, 5);

// Size
{
  const big = encode({ t: 'ping', rid: 5, pad: long(L.maxFrameBytes) });
  raw('a frame bigger than maxFrameBytes → 413 (rid not read: the frame is not decoded)', big, 413);
  const exactPlusOne = new Uint8Array(L.maxFrameBytes + 1).fill(0xc1);
  raw('garbage of maxFrameBytes + 1 bytes → 413, size is checked before decoding', exactPlusOne, 413);
  const tight = { ...L, maxFrameBytes: 16 };
  raw('a frame bigger than a custom maxFrameBytes → 413', encode({ t: 'ping', rid: 5, pad: long(20) }), 413, undefined, tight);
  const tightBody = { ...L, maxBodyChars: 3 };
  raw('a body over a custom maxBodyChars → 413', encode({ t: 'send', rid: 5, conv: 'c', cmid: 'm', body: 'abcd' }), 413, 5, tightBody);
}

for (const { name, bytes, code, rid, limits } of bad) {
  test(`rejects ${name} with ${code}${rid === undefined ? '' : ` and rid ${rid}`}`, () => {
    const err = mustFail(bytes, limits);
    assert.equal(err.code, code, `code for ${name}: ${err.message}`);
    assert.equal(err.rid, rid, `rid for ${name}`);
    assert.equal(typeof err.message, 'string');
    assert.ok(err.message.length > 0, 'the error says what is wrong');
  });
}

test('a rid of 0 is carried back on errors (0 is a valid rid, not "no rid")', () => {
  const err = mustFail(encode({ t: 'send', rid: 0, conv: 'c1', cmid: 'm' }));
  assert.equal(err.code, 400);
  assert.equal(err.rid, 0);
});

test('the error message names the offending field', () => {
  assert.match(mustFail(encode({ t: 'send', rid: 1, conv: 'c1', body: 'b' })).message, /cmid/);
  assert.match(mustFail(encode({ t: 'recv', conv: 'c1', seq: -1 })).message, /seq/);
  assert.match(mustFail(encode({ t: 'history', conv: 'c1', limit: 101 })).message, /limit/);
  assert.match(mustFail(encode({ t: 'open', with: '' })).message, /with/);
});

test('an unknown t longer than 32 chars is not echoed back in full', () => {
  const t = 'z'.repeat(5000);
  const err = mustFail(encode({ t, rid: 1 }));
  assert.equal(err.code, 400);
  assert.ok(!err.message.includes(t.slice(0, 33)), 'message truncates the client-supplied type');
});

// ---------------------------------------------------------------------------------------------
// Boundaries: the value at the limit is fine, one past it is not.
// ---------------------------------------------------------------------------------------------

test('body of exactly maxBodyChars (2000) parses; 2001 is 413', () => {
  const ok = parseClientFrame(encode({ t: 'send', rid: 1, conv: 'c1', cmid: 'm', body: long(L.maxBodyChars) }), L);
  assert.equal(ok.t, 'send');
  assert.equal(ok.t === 'send' && ok.body.length, L.maxBodyChars);
  assert.equal(mustFail(encode({ t: 'send', rid: 1, conv: 'c1', cmid: 'm', body: long(L.maxBodyChars + 1) })).code, 413);
});

test('cmid of exactly maxCmidChars (64) parses; 65 is 400', () => {
  const cmid = long(L.maxCmidChars, 'm');
  assert.deepEqual(parseClientFrame(encode({ t: 'send', conv: 'c1', cmid, body: 'b' }), L), { t: 'send', conv: 'c1', cmid, body: 'b' });
  assert.equal(mustFail(encode({ t: 'send', conv: 'c1', cmid: cmid + 'm', body: 'b' })).code, 400);
});

test('conv of exactly maxIdChars parses; one more char is 400', () => {
  const conv = long(L.maxIdChars, 'c');
  assert.deepEqual(parseClientFrame(encode({ t: 'leave', conv }), L), { t: 'leave', conv });
  assert.equal(mustFail(encode({ t: 'leave', conv: conv + 'c' })).code, 400);
});

test('history limit 1 and 100 parse; 0 and 101 are 400', () => {
  for (const limit of [1, L.historyLimitMax]) {
    assert.deepEqual(parseClientFrame(encode({ t: 'history', conv: 'c1', limit }), L), { t: 'history', conv: 'c1', limit });
  }
  for (const limit of [0, L.historyLimitMax + 1]) assert.equal(mustFail(encode({ t: 'history', conv: 'c1', limit })).code, 400);
});

test('a frame of maxFrameBytes + 1 is 413 even if it is otherwise a valid frame', () => {
  const base = encode({ t: 'ping', rid: 9, pad: '' });
  // find a pad length that makes the encoding exactly one byte over the bound
  let pad = L.maxFrameBytes - base.length;
  let bytes = encode({ t: 'ping', rid: 9, pad: long(pad) });
  while (bytes.length < L.maxFrameBytes + 1) bytes = encode({ t: 'ping', rid: 9, pad: long(++pad) });
  while (bytes.length > L.maxFrameBytes + 1) bytes = encode({ t: 'ping', rid: 9, pad: long(--pad) });
  assert.equal(bytes.length, L.maxFrameBytes + 1);
  assert.equal(mustFail(bytes).code, 413);
  const smaller = encode({ t: 'ping', rid: 9, pad: long(pad - 1) });
  assert.equal(smaller.length, L.maxFrameBytes);
  assert.deepEqual(parseClientFrame(smaller, L), { t: 'ping', rid: 9 });
});

// ---------------------------------------------------------------------------------------------
// Prototype keys.
// ---------------------------------------------------------------------------------------------

test('a map whose only key is __proto__ holding {t:"send",…} is not treated as a send', () => {
  const inner = encode({ t: 'send', conv: 'c1', cmid: 'm', body: 'b' });
  const bytes = rawMap([['__proto__', inner]]);
  const err = mustFail(bytes);
  assert.equal(err.code, 400);
  assert.equal(({} as Record<string, unknown>).t, undefined, 'Object.prototype not polluted');
  assert.equal(({} as Record<string, unknown>).conv, undefined, 'Object.prototype not polluted');
});

test('a __proto__ key with a rid alongside fails with the rid and without reading fields through the prototype', () => {
  const inner = encode({ t: 'send', conv: 'c1', cmid: 'm', body: 'b', rid: 77 });
  const bytes = rawMap([['__proto__', inner], ['rid', [0x03]]]);
  const err = mustFail(bytes);
  assert.equal(err.code, 400);
  assert.equal(err.rid, 3);
});

test('fields hidden under __proto__ do not complete an otherwise incomplete send', () => {
  const bytes = rawMap([
    ['t', encode('send')],
    ['rid', [0x04]],
    ['conv', encode('c1')],
    ['__proto__', encode({ cmid: 'm', body: 'b' })],
  ]);
  const err = mustFail(bytes);
  assert.equal(err.code, 400);
  assert.equal(err.rid, 4);
});

test('a real t alongside a __proto__ key parses as that type, with nothing taken from the __proto__ map', () => {
  const bytes = rawMap([
    ['t', encode('ping')],
    ['__proto__', encode({ t: 'send', rid: 99 })],
  ]);
  assert.deepEqual(parseClientFrame(bytes, L), { t: 'ping' });
});

test('validateClientFrame reads only own fields: fields inherited through a prototype do not make a frame', () => {
  const isBad = (rid?: number) => (e: unknown) => e instanceof ProtocolError && e.code === 400 && e.rid === rid;
  // everything inherited: not even t is read
  assert.throws(() => validateClientFrame(Object.create({ t: 'send', rid: 9, conv: 'c1', cmid: 'm', body: 'b' }), L), isBad());
  // t and rid own, the rest inherited: the send is incomplete
  const partial = Object.assign(Object.create({ cmid: 'm', body: 'b' }), { t: 'send', rid: 2, conv: 'c1' });
  assert.throws(() => validateClientFrame(partial, L), isBad(2));
  // JSON.parse makes __proto__ an own data key; it is just an unknown field
  assert.throws(() => validateClientFrame(JSON.parse('{"__proto__":{"t":"send","conv":"c1","cmid":"m","body":"b"}}'), L), isBad());
  assert.deepEqual(validateClientFrame(JSON.parse('{"t":"ping","__proto__":{"rid":4}}'), L), { t: 'ping' });
});

test('validateClientFrame rejects non-map values a non-WebSocket entry point might pass', () => {
  for (const v of [undefined, null, 0, 'ping', true, [], [{ t: 'ping' }], new Uint8Array([0x80]), Buffer.from('{}')]) {
    assert.throws(() => validateClientFrame(v, L), (e: unknown) => e instanceof ProtocolError && e.code === 400, String(v));
  }
});

// ---------------------------------------------------------------------------------------------
// Input cut anywhere: every strict prefix must be a ProtocolError, never a frame, never a crash.
// ---------------------------------------------------------------------------------------------

test('every strict prefix of a valid send (truncation at every byte offset) throws a 400 ProtocolError', () => {
  // body long enough to use a str16 header, so truncation inside multi-byte headers is covered
  const full = encode({ t: 'send', rid: 70000, conv: 'conv-1', cmid: 'cmid-1', body: 'é'.repeat(150) + 'x'.repeat(200) });
  assert.equal(parseClientFrame(full, L).t, 'send');
  for (let cut = 0; cut < full.length; cut++) {
    const err = mustFail(full.subarray(0, cut));
    assert.equal(err.code, 400, `prefix of ${cut} bytes`);
  }
});

test('every strict prefix of every valid frame type throws a ProtocolError', () => {
  const frames = [
    { t: 'open', rid: 1, with: 'user-2' },
    { t: 'join', rid: 2, conv: 'c1', since: 300 },
    { t: 'leave', rid: 3, conv: 'c1' },
    { t: 'recv', conv: 'c1', seq: 70000 },
    { t: 'read', rid: 5, conv: 'c1', seq: 2 ** 40 },
    { t: 'typing', conv: 'c1' },
    { t: 'history', rid: 6, conv: 'c1', before: 10, limit: 50 },
    { t: 'inbox', rid: 7, before: 'cursor', limit: 20 },
    { t: 'ping', rid: 8 },
  ];
  for (const f of frames) {
    const full = encode(f);
    assert.equal(parseClientFrame(full, L).t, f.t);
    for (let cut = 0; cut < full.length; cut++) mustFail(full.subarray(0, cut));
  }
});

test('a valid frame split in two: neither half parses on its own', () => {
  const full = encode({ t: 'send', rid: 1, conv: 'c1', cmid: 'm', body: 'hello world' });
  for (let cut = 1; cut < full.length; cut++) {
    mustFail(full.subarray(0, cut));
    mustFail(full.subarray(cut));
  }
});

// ---------------------------------------------------------------------------------------------
// Seeded fuzz.
// ---------------------------------------------------------------------------------------------

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A returned frame must be of a known type and satisfy every bound the validator promises. */
function assertWellFormed(f: ClientFrame, limits: ProtocolLimits, ctx: string): void {
  assert.ok(KNOWN_TYPES.has(f.t), `${ctx}: unknown t ${String(f.t)}`);
  const o = f as unknown as Record<string, unknown>;
  const isUint = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const isId = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= limits.maxIdChars;
  for (const [k, v] of Object.entries(o)) assert.notEqual(v, undefined, `${ctx}: ${k} present as undefined`);
  if ('rid' in o) assert.ok(isUint(o.rid), `${ctx}: rid`);
  const required: Record<ClientFrameType, string[]> = {
    open: ['with'], join: ['conv'], leave: ['conv'], send: ['conv', 'cmid', 'body'], recv: ['conv', 'seq'],
    read: ['conv', 'seq'], typing: ['conv'], history: ['conv'], inbox: [], ping: [], edit: ['conv', 'seq', 'body'], del: ['conv', 'seq'], report: ['conv', 'seq', 'reason'], auth: ['token'],
  };
  for (const k of required[f.t]) assert.ok(k in o, `${ctx}: ${f.t} without ${k}`);
  switch (f.t) {
    case 'open': assert.ok(isId(f.with), ctx); break;
    case 'join': assert.ok(isId(f.conv) && (f.since === undefined || isUint(f.since)), ctx); break;
    case 'leave': case 'typing': assert.ok(isId(f.conv), ctx); break;
    case 'send':
      assert.ok(isId(f.conv), ctx);
      assert.ok(typeof f.cmid === 'string' && f.cmid.length > 0 && f.cmid.length <= limits.maxCmidChars, ctx);
      // With attachments the body may be empty (a photo without a caption); without, it is text.
      assert.ok(typeof f.body === 'string' && (f.att !== undefined || f.body.trim().length > 0) && f.body.length <= limits.maxBodyChars, ctx);
      assert.ok(f.att === undefined || (f.att.length >= 1 && f.att.length <= attachmentsPerMessageMax && f.att.every(isId)), ctx);
      break;
    case 'recv': case 'read': assert.ok(isId(f.conv) && isUint(f.seq), ctx); break;
    case 'edit':
      assert.ok(isId(f.conv) && isUint(f.seq) && f.seq >= 1, ctx);
      assert.ok(typeof f.body === 'string' && f.body.trim().length > 0 && f.body.length <= limits.maxBodyChars, ctx);
      break;
    case 'del': assert.ok(isId(f.conv) && isUint(f.seq) && f.seq >= 1, ctx); break;
    case 'report':
      assert.ok(isId(f.conv) && isUint(f.seq) && f.seq >= 1, ctx);
      assert.ok(typeof f.reason === 'string' && f.reason.trim().length > 0 && f.reason.length <= limits.maxReasonChars, ctx);
      break;
    case 'history':
      assert.ok(isId(f.conv) && (f.before === undefined || isUint(f.before)), ctx);
      assert.ok(f.limit === undefined || (isUint(f.limit) && f.limit >= 1 && f.limit <= limits.historyLimitMax), ctx);
      break;
    case 'inbox':
      assert.ok(f.before === undefined || typeof f.before === 'string', ctx);
      assert.ok(f.limit === undefined || (isUint(f.limit) && f.limit >= 1 && f.limit <= limits.inboxLimitMax), ctx);
      break;
    case 'ping': break;
    case 'auth': assert.ok(typeof f.token === 'string' && f.token.length > 0, ctx); break;
  }
  const allowed: Record<ClientFrameType, string[]> = {
    open: ['with'], join: ['conv', 'since'], leave: ['conv'], send: ['conv', 'cmid', 'body'], recv: ['conv', 'seq'],
    read: ['conv', 'seq'], typing: ['conv'], history: ['conv', 'before', 'limit'], inbox: ['before', 'limit'], ping: [],
    edit: ['conv', 'seq', 'body'], del: ['conv', 'seq'], report: ['conv', 'seq', 'reason'], auth: ['token'],
  };
  for (const k of Object.keys(o)) assert.ok(k === 't' || k === 'rid' || allowed[f.t].includes(k), `${ctx}: stray field ${k}`);
}

/** The fuzz oracle: a well-formed frame of a known type, or a ProtocolError with 400/413. */
function checkOutcome(bytes: Uint8Array, ctx: string, limits: ProtocolLimits = L): 'ok' | 'err' {
  let frame: ClientFrame;
  try {
    frame = parseClientFrame(bytes, limits);
  } catch (e) {
    if (!(e instanceof ProtocolError)) {
      assert.fail(`${ctx}: threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} for ${hex(bytes).slice(0, 400)}`);
    }
    assert.ok(e.code === 400 || e.code === 413, `${ctx}: code ${e.code}`);
    assert.ok(e.rid === undefined || (Number.isSafeInteger(e.rid) && e.rid >= 0), `${ctx}: rid ${e.rid}`);
    return 'err';
  }
  assertWellFormed(frame, limits, `${ctx} (${hex(bytes).slice(0, 400)})`);
  return 'ok';
}

const seedFrames: Uint8Array[] = [
  encode({ t: 'open', rid: 1, with: 'user-2' }),
  encode({ t: 'join', rid: 2, conv: 'c1', since: 3 }),
  encode({ t: 'leave', rid: 3, conv: 'c1' }),
  encode({ t: 'send', rid: 4, conv: 'c1', cmid: 'm-1', body: 'hello there' }),
  encode({ t: 'send', rid: 70000, conv: 'c1', cmid: 'm-2', body: 'x'.repeat(1999) }),
  encode({ t: 'recv', conv: 'c1', seq: 5 }),
  encode({ t: 'read', rid: 5, conv: 'c1', seq: 6 }),
  encode({ t: 'typing', conv: 'c1' }),
  encode({ t: 'history', rid: 6, conv: 'c1', before: 100, limit: 100 }),
  encode({ t: 'inbox', rid: 7, before: 'cur', limit: 1 }),
  encode({ t: 'ping', rid: 8 }),
];

/** Bytes that steer random data toward interesting msgpack structure. */
const interesting = [
  0x80, 0x81, 0x82, 0x8f, 0x90, 0x91, 0xa0, 0xa1, 0xa4, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc7, 0xca, 0xcb, 0xcc, 0xcf,
  0xd0, 0xd3, 0xd4, 0xd6, 0xd7, 0xd8, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff, 0x00, 0x7f, 0x74,
];

test('seeded fuzz: random byte strings only ever yield a well-formed known frame or a ProtocolError', () => {
  const rnd = mulberry32(0xc0ffee);
  const int = (n: number) => Math.floor(rnd() * n);
  let errs = 0;
  for (let i = 0; i < 5000; i++) {
    const len = rnd() < 0.05 ? int(3000) : int(48);
    const bytes = new Uint8Array(len);
    for (let j = 0; j < len; j++) bytes[j] = rnd() < 0.3 ? interesting[int(interesting.length)] : int(256);
    if (rnd() < 0.5 && len > 0) bytes[0] = 0x80 | (1 + int(4)); // mostly maps, so validation is reached
    if (checkOutcome(bytes, `random #${i}`) === 'err') errs++;
  }
  assert.ok(errs > 4000, 'random bytes are overwhelmingly rejected');
});

test('seeded fuzz: random mutations of valid frames only ever yield a well-formed known frame or a ProtocolError', () => {
  const rnd = mulberry32(20240601);
  const int = (n: number) => Math.floor(rnd() * n);
  let oks = 0;
  let errs = 0;
  for (let i = 0; i < 5000; i++) {
    let b = Array.from(seedFrames[int(seedFrames.length)]);
    const rounds = 1 + int(3);
    for (let r = 0; r < rounds; r++) {
      const at = int(b.length + 1);
      switch (int(7)) {
        case 0: if (b.length) b[at % b.length] ^= 1 << int(8); break; // bit flip
        case 1: if (b.length) b[at % b.length] = int(256); break; // byte replace
        case 2: if (b.length) b[at % b.length] = interesting[int(interesting.length)]; break;
        case 3: b.splice(at, 0, int(256)); break; // insert
        case 4: b.splice(at, 1 + int(4)); break; // delete a run
        case 5: b = b.slice(0, at); break; // truncate
        case 6: { const s = int(b.length + 1); b.splice(at, 0, ...b.slice(s, s + 1 + int(8))); break; } // duplicate a run
      }
    }
    if (checkOutcome(Uint8Array.from(b), `mutation #${i}`) === 'ok') oks++;
    else errs++;
  }
  // both outcomes must actually be exercised for the fuzz to mean anything
  assert.ok(oks > 50, `some mutations still parse (got ${oks})`);
  assert.ok(errs > 1000, `many mutations are rejected (got ${errs})`);
});

test('seeded fuzz: well-typed maps with hostile field values only ever yield a well-formed frame or a ProtocolError', () => {
  const rnd = mulberry32(7);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T,>(xs: readonly T[]): T => xs[int(xs.length)];
  const values: unknown[] = [
    undefined, null, true, false, 0, 1, -1, 1.5, -0.5, 100, 101, 2 ** 32, 2 ** 53, -(2 ** 53), NaN, Infinity, -Infinity,
    '', ' ', 'c1', '0', 'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(128), 'x'.repeat(129), 'x'.repeat(257),
    'x'.repeat(2000), 'x'.repeat(2001), '👋'.repeat(1000), '👋'.repeat(1001), '__proto__', 'constructor',
    [], ['c1'], {}, { t: 'send' }, new Uint8Array([1, 2]), new Date(0),
  ];
  const types = [...KNOWN_TYPES, 'ack', 'msg', '', 'constructor', 'toString'];
  const keys = ['rid', 'with', 'conv', 'since', 'cmid', 'body', 'seq', 'before', 'limit', 'extra', '__proto__'];
  let oks = 0;
  for (let i = 0; i < 5000; i++) {
    const o: Record<string, unknown> = {};
    if (rnd() < 0.95) o.t = rnd() < 0.9 ? pick(types) : pick(values);
    for (const k of keys) if (rnd() < 0.6) Object.defineProperty(o, k, { value: rnd() < 0.5 ? plausible(k) : pick(values), enumerable: true });
    if (checkOutcome(encode(o), `shaped #${i}`) === 'ok') oks++;
  }
  assert.ok(oks > 100, `the generator reaches valid frames (got ${oks})`);

  function plausible(k: string): unknown {
    switch (k) {
      case 'rid': case 'since': case 'seq': case 'before': return int(1000);
      case 'limit': return 1 + int(100);
      case 'body': return 'hi';
      default: return 'c1';
    }
  }
});

test('seeded fuzz under tight custom limits: bounds come from the limits argument', () => {
  const tight: ProtocolLimits = { ...L, maxFrameBytes: 200, maxBodyChars: 10, maxCmidChars: 4, maxIdChars: 6, historyLimitMax: 5, inboxLimitMax: 3, maxReasonChars: 8 };
  const rnd = mulberry32(99);
  const int = (n: number) => Math.floor(rnd() * n);
  for (let i = 0; i < 2000; i++) {
    const t = [...KNOWN_TYPES][int(KNOWN_TYPES.size)];
    const s = (n: number) => 'a'.repeat(n);
    const o = { t, rid: int(3), with: s(int(9)), conv: s(int(9)), cmid: s(int(7)), body: s(int(14)), seq: int(3), since: int(3), before: int(3), limit: int(8) };
    if (t === 'inbox') (o as Record<string, unknown>).before = s(int(3));
    checkOutcome(encode(o), `tight #${i}`, tight);
  }
});
