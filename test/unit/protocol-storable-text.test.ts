/**
 * The protocol refuses at the boundary what storage cannot hold (protocol/text.ts): U+0000, which
 * Postgres text refuses, and lone UTF-16 surrogates, which UTF-8 cannot encode — for every text
 * field of every frame, with err 400 naming the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '../../protocol/codec.ts';
import { ProtocolError } from '../../protocol/errors.ts';
import { defaultLimits } from '../../protocol/frames.ts';
import { lineFault, textFault } from '../../protocol/text.ts';
import { parseClientFrame, validateClientFrame } from '../../protocol/validate.ts';

const L = defaultLimits;

function refused(frame: Record<string, unknown>, field: string, viaBytes = true): void {
  assert.throws(
    () => (viaBytes ? parseClientFrame(encode(frame), L) : validateClientFrame(frame, L)),
    (e: unknown) => e instanceof ProtocolError && e.code === 400 && e.rid === 7 && e.message.startsWith(`${field}:`),
    `${JSON.stringify(frame)} must be refused with 400 naming ${field}`,
  );
}

test('a send whose body contains U+0000 is refused with 400 naming body (Postgres text cannot hold it)', () => {
  for (const body of ['\u0000', 'a\u0000b', 'hello\u0000', `${'x'.repeat(1999)}\u0000`]) {
    refused({ t: 'send', rid: 7, conv: 'c1', cmid: 'm', body }, 'body');
  }
});

test('a send whose cmid contains U+0000 or another control character is refused with 400 naming cmid', () => {
  for (const cmid of ['\u0000', 'm\u0000', 'm\n1', 'm\t1', 'm\u007f']) refused({ t: 'send', rid: 7, conv: 'c1', cmid, body: 'hi' }, 'cmid');
});

test('lone UTF-16 surrogates are refused in body and cmid (UTF-8 cannot encode them)', () => {
  for (const bad of ['\ud800', 'a\udc00b', 'x\ud83d', '\ude00x', '\udc00\ud800']) {
    refused({ t: 'send', rid: 7, conv: 'c1', cmid: 'm', body: bad }, 'body', false);
    refused({ t: 'send', rid: 7, conv: 'c1', cmid: bad, body: 'hi' }, 'cmid', false);
  }
});

test('multi-line bodies with tabs, emoji (surrogate pairs) and other scripts are accepted', () => {
  const body = 'line one\nline two\r\n\tindented 👋 — 你好 \u2028';
  assert.deepEqual(parseClientFrame(encode({ t: 'send', conv: 'c1', cmid: 'm-1', body }), L), { t: 'send', conv: 'c1', cmid: 'm-1', body });
});

test('surrogate bytes inside a msgpack string decode to U+FFFD, never to a lone surrogate', () => {
  // fixmap {t: 'send', conv: 'c1', cmid: 'm', body: <ED A0 80>}: ED A0 80 is U+D800 in CESU-8.
  const raw = Uint8Array.from([0x84, ...['t', 'send', 'conv', 'c1', 'cmid', 'm', 'body'].flatMap((x) => [...encode(x)]), 0xa3, 0xed, 0xa0, 0x80]);
  const f = parseClientFrame(raw, L);
  assert.ok(f.t === 'send' && textFault(f.body) === undefined && f.body.includes('\ufffd'), JSON.stringify(f));
});

test('an inbox cursor with U+0000 or a control character is refused with 400 naming before', () => {
  for (const before of ['1:\u0000', '1:a\nb', '\ud800']) refused({ t: 'inbox', rid: 7, before }, 'before', false);
});

test('textFault allows line breaks and tabs but not NUL or lone surrogates; lineFault refuses every control character', () => {
  assert.equal(textFault('a\nb\tc\r'), undefined);
  assert.equal(textFault('😀'), undefined);
  assert.match(textFault('a\u0000') ?? '', /U\+0000/);
  assert.match(textFault('\ud800') ?? '', /surrogate/);
  assert.equal(lineFault('plain-ascii_1'), undefined);
  for (const c of ['\n', '\t', '\r', '\u001f', '\u007f']) assert.match(lineFault(`a${c}b`) ?? '', /control/);
  assert.match(lineFault('\u0000') ?? '', /U\+0000/);
  assert.match(lineFault('\udfff') ?? '', /surrogate/);
});
