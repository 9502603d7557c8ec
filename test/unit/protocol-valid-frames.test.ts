/**
 * Behaviour of the protocol module on well-formed input (PROTOCOL.md "Frames: client → server"),
 * and of the encoder on the way out (`encodeFrame`).
 *
 * Every client frame is built the way any client would build it — a plain object packed with a
 * standard msgpack encoder — then parsed, and the typed frame is compared with deepStrictEqual, so
 * an optional field that was not sent must be absent from the typed frame (not `undefined`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unpack } from 'msgpackr';
import { encode, encodeFrame } from '../../protocol/codec.ts';
import { parseClientFrame, validateClientFrame } from '../../protocol/validate.ts';
import { defaultLimits } from '../../protocol/frames.ts';
import type { ClientFrame, ClientFrameType, ServerFrame } from '../../protocol/frames.ts';
import { ProtocolError } from '../../protocol/errors.ts';

const L = defaultLimits;

function parse(value: unknown): ClientFrame {
  return parseClientFrame(encode(value), L);
}

// ---------------------------------------------------------------------------------------------
// Round trips: one row per frame shape. `sent` is what the client packs; `want` is the typed frame.
// ---------------------------------------------------------------------------------------------

interface Valid {
  name: string;
  sent: Record<string, unknown>;
  want: ClientFrame;
}

const valid: Valid[] = [
  // open
  { name: 'open with rid', sent: { t: 'open', rid: 1, with: 'user-2' }, want: { t: 'open', rid: 1, with: 'user-2' } },
  { name: 'open without rid', sent: { t: 'open', with: 'user-2' }, want: { t: 'open', with: 'user-2' } },
  // join
  { name: 'join with rid and since', sent: { t: 'join', rid: 2, conv: 'c1', since: 41 }, want: { t: 'join', rid: 2, conv: 'c1', since: 41 } },
  { name: 'join with since 0 (falsy but present)', sent: { t: 'join', rid: 2, conv: 'c1', since: 0 }, want: { t: 'join', rid: 2, conv: 'c1', since: 0 } },
  { name: 'join without since', sent: { t: 'join', rid: 2, conv: 'c1' }, want: { t: 'join', rid: 2, conv: 'c1' } },
  { name: 'join without rid', sent: { t: 'join', conv: 'c1', since: 3 }, want: { t: 'join', conv: 'c1', since: 3 } },
  // leave
  { name: 'leave with rid', sent: { t: 'leave', rid: 3, conv: 'c1' }, want: { t: 'leave', rid: 3, conv: 'c1' } },
  { name: 'leave without rid', sent: { t: 'leave', conv: 'c1' }, want: { t: 'leave', conv: 'c1' } },
  // send
  {
    name: 'send with rid',
    sent: { t: 'send', rid: 4, conv: 'c1', cmid: 'm-1', body: 'hello' },
    want: { t: 'send', rid: 4, conv: 'c1', cmid: 'm-1', body: 'hello' },
  },
  {
    name: 'send without rid',
    sent: { t: 'send', conv: 'c1', cmid: 'm-1', body: 'hello' },
    want: { t: 'send', conv: 'c1', cmid: 'm-1', body: 'hello' },
  },
  {
    name: 'send with a non-ASCII body (kept verbatim, surrounding whitespace included)',
    sent: { t: 'send', rid: 5, conv: 'c1', cmid: 'm-2', body: '  héllo 👋 — 你好\n' },
    want: { t: 'send', rid: 5, conv: 'c1', cmid: 'm-2', body: '  héllo 👋 — 你好\n' },
  },
  // recv
  { name: 'recv without rid', sent: { t: 'recv', conv: 'c1', seq: 9 }, want: { t: 'recv', conv: 'c1', seq: 9 } },
  { name: 'recv with rid', sent: { t: 'recv', rid: 6, conv: 'c1', seq: 9 }, want: { t: 'recv', rid: 6, conv: 'c1', seq: 9 } },
  { name: 'recv with seq 0', sent: { t: 'recv', conv: 'c1', seq: 0 }, want: { t: 'recv', conv: 'c1', seq: 0 } },
  // read
  { name: 'read with rid', sent: { t: 'read', rid: 7, conv: 'c1', seq: 12 }, want: { t: 'read', rid: 7, conv: 'c1', seq: 12 } },
  { name: 'read without rid', sent: { t: 'read', conv: 'c1', seq: 12 }, want: { t: 'read', conv: 'c1', seq: 12 } },
  // typing
  { name: 'typing without rid', sent: { t: 'typing', conv: 'c1' }, want: { t: 'typing', conv: 'c1' } },
  { name: 'typing with rid', sent: { t: 'typing', rid: 8, conv: 'c1' }, want: { t: 'typing', rid: 8, conv: 'c1' } },
  // history
  { name: 'history with only conv', sent: { t: 'history', rid: 9, conv: 'c1' }, want: { t: 'history', rid: 9, conv: 'c1' } },
  {
    name: 'history with before and limit',
    sent: { t: 'history', rid: 9, conv: 'c1', before: 120, limit: 50 },
    want: { t: 'history', rid: 9, conv: 'c1', before: 120, limit: 50 },
  },
  { name: 'history with before only', sent: { t: 'history', conv: 'c1', before: 7 }, want: { t: 'history', conv: 'c1', before: 7 } },
  { name: 'history with limit only', sent: { t: 'history', conv: 'c1', limit: 1 }, want: { t: 'history', conv: 'c1', limit: 1 } },
  { name: 'history with before 0', sent: { t: 'history', conv: 'c1', before: 0 }, want: { t: 'history', conv: 'c1', before: 0 } },
  // inbox
  { name: 'inbox with nothing but t', sent: { t: 'inbox' }, want: { t: 'inbox' } },
  {
    name: 'inbox with rid, before cursor and limit',
    sent: { t: 'inbox', rid: 10, before: 'opaque-cursor:123', limit: 20 },
    want: { t: 'inbox', rid: 10, before: 'opaque-cursor:123', limit: 20 },
  },
  { name: 'inbox with an empty before cursor', sent: { t: 'inbox', before: '' }, want: { t: 'inbox', before: '' } },
  // ping
  { name: 'ping with rid', sent: { t: 'ping', rid: 11 }, want: { t: 'ping', rid: 11 } },
  { name: 'ping without rid', sent: { t: 'ping' }, want: { t: 'ping' } },
  { name: 'ping with rid 0 (falsy but present)', sent: { t: 'ping', rid: 0 }, want: { t: 'ping', rid: 0 } },
  // auth (the token itself is the verifier's to judge)
  { name: 'auth with a token', sent: { t: 'auth', rid: 12, token: 'a.b.c', extra: 1 }, want: { t: 'auth', rid: 12, token: 'a.b.c' } },
  {
    name: 'ping with the largest safe-integer rid',
    sent: { t: 'ping', rid: Number.MAX_SAFE_INTEGER },
    want: { t: 'ping', rid: Number.MAX_SAFE_INTEGER },
  },
];

for (const { name, sent, want } of valid) {
  test(`round-trips ${name}`, () => {
    assert.deepEqual(parse(sent), want);
  });
}

test('every client frame type of PROTOCOL.md has at least one round-trip row, with and without rid', () => {
  const types: ClientFrameType[] = ['open', 'join', 'leave', 'send', 'recv', 'read', 'typing', 'history', 'inbox', 'ping'];
  for (const t of types) {
    const rows = valid.filter((v) => v.want.t === t);
    assert.ok(rows.some((v) => 'rid' in v.want), `${t}: no row with rid`);
    assert.ok(rows.some((v) => !('rid' in v.want)), `${t}: no row without rid`);
  }
});

test('an optional field that was not sent is absent from the typed frame, not present as undefined', () => {
  const frame = parse({ t: 'history', conv: 'c1' });
  assert.deepEqual(Object.keys(frame).sort(), ['conv', 't']);
  assert.equal('rid' in frame, false);
  assert.equal('before' in frame, false);
  assert.equal('limit' in frame, false);
});

test('unknown extra fields are ignored and not copied into the typed frame', () => {
  const frame = parse({
    t: 'send',
    rid: 1,
    conv: 'c1',
    cmid: 'm',
    body: 'b',
    extra: 'x',
    nested: { a: [1, 2, { b: null }] },
    from: 'someone-else', // a client cannot choose the sender
    seq: 99,
  });
  assert.deepEqual(frame, { t: 'send', rid: 1, conv: 'c1', cmid: 'm', body: 'b' });
});

test('fields of other frame types are ignored (a ping carrying conv/seq is just a ping)', () => {
  assert.deepEqual(parse({ t: 'ping', rid: 2, conv: 'c1', seq: 3, with: 'u', body: 'x' }), { t: 'ping', rid: 2 });
});

test('nil in an optional field is read as absent', () => {
  assert.deepEqual(parse({ t: 'ping', rid: null }), { t: 'ping' });
  assert.deepEqual(parse({ t: 'join', rid: 1, conv: 'c1', since: null }), { t: 'join', rid: 1, conv: 'c1' });
  assert.deepEqual(parse({ t: 'history', conv: 'c1', before: null, limit: null }), { t: 'history', conv: 'c1' });
  assert.deepEqual(parse({ t: 'inbox', before: null, limit: null }), { t: 'inbox' });
});

test('field order in the map does not matter', () => {
  assert.deepEqual(parse({ body: 'b', cmid: 'm', conv: 'c1', rid: 3, t: 'send' }), {
    t: 'send',
    rid: 3,
    conv: 'c1',
    cmid: 'm',
    body: 'b',
  });
});

// ---------------------------------------------------------------------------------------------
// Wire-level encodings other clients may legitimately produce.
// ---------------------------------------------------------------------------------------------

/** Builds msgpack bytes by hand: a fixmap of fixstr keys with raw pre-encoded values. */
function rawMap(entries: Array<[string, Uint8Array | number[]]>): Uint8Array {
  assert.ok(entries.length < 16);
  const out: number[] = [0x80 | entries.length];
  for (const [k, v] of entries) {
    const kb = Buffer.from(k, 'utf8');
    assert.ok(kb.length < 32);
    out.push(0xa0 | kb.length, ...kb, ...v);
  }
  return Uint8Array.from(out);
}
const fixstr = (s: string): number[] => {
  const b = Buffer.from(s, 'utf8');
  return [0xa0 | b.length, ...b];
};

test('an unsigned integer accepted in every msgpack integer width (fixint, uint8/16/32/64, int8..64)', () => {
  const seqEncodings: Array<[number[], number]> = [
    [[0x05], 5], // positive fixint
    [[0xcc, 0xc8], 200], // uint8
    [[0xcd, 0x01, 0x00], 256], // uint16
    [[0xce, 0x00, 0x01, 0x00, 0x00], 65536], // uint32
    [[0xcf, 0, 0, 0, 0x01, 0, 0, 0, 0], 2 ** 32], // uint64 (Go/Rust clients often use it)
    [[0xd0, 0x07], 7], // int8 holding a non-negative value
    [[0xd1, 0x01, 0x00], 256], // int16
    [[0xd2, 0x00, 0x01, 0x00, 0x00], 65536], // int32
    [[0xd3, 0, 0, 0, 0x01, 0, 0, 0, 0], 2 ** 32], // int64
  ];
  for (const [enc, seq] of seqEncodings) {
    const bytes = rawMap([
      ['t', fixstr('read')],
      ['conv', fixstr('c1')],
      ['seq', enc],
    ]);
    assert.deepEqual(parseClientFrame(bytes, L), { t: 'read', conv: 'c1', seq }, `encoding ${Buffer.from(enc).toString('hex')}`);
  }
});

test('strings accepted in every msgpack string width (fixstr, str8, str16)', () => {
  const body8 = 'x'.repeat(200); // str8
  const body16 = 'y'.repeat(1500); // str16
  const str8 = [0xd9, body8.length, ...Buffer.from(body8)];
  const str16 = [0xda, body16.length >> 8, body16.length & 0xff, ...Buffer.from(body16)];
  for (const [enc, body] of [
    [str8, body8],
    [str16, body16],
  ] as const) {
    const bytes = rawMap([
      ['t', [0xd9, 4, ...Buffer.from('send')]], // t itself as str8, not fixstr
      ['conv', fixstr('c1')],
      ['cmid', fixstr('m')],
      ['body', enc],
    ]);
    assert.deepEqual(parseClientFrame(bytes, L), { t: 'send', conv: 'c1', cmid: 'm', body });
  }
});

test('a map16 header (as some encoders always emit) is accepted', () => {
  const inner = rawMap([['t', fixstr('ping')], ['rid', [0x01]]]).subarray(1); // entries without the fixmap header
  const bytes = Uint8Array.from([0xde, 0x00, 0x02, ...inner]);
  assert.deepEqual(parseClientFrame(bytes, L), { t: 'ping', rid: 1 });
});

test('parses a frame held in a view into a larger buffer (non-zero byteOffset, as socket libraries hand out)', () => {
  const frame = encode({ t: 'send', rid: 12, conv: 'c1', cmid: 'm', body: 'hi' });
  const pool = new Uint8Array(frame.length + 64).fill(0xc1); // 0xc1 is never valid msgpack
  pool.set(frame, 32);
  const view = pool.subarray(32, 32 + frame.length);
  assert.deepEqual(parseClientFrame(view, L), { t: 'send', rid: 12, conv: 'c1', cmid: 'm', body: 'hi' });
  assert.deepEqual(parseClientFrame(Buffer.from(view), L), { t: 'send', rid: 12, conv: 'c1', cmid: 'm', body: 'hi' });
});

test('the decoder recovers after a failed decode: the next valid frame parses normally', () => {
  const good = encode({ t: 'send', rid: 1, conv: 'c1', cmid: 'm', body: 'b'.repeat(300) });
  for (let cut = 1; cut < good.length; cut += 7) {
    assert.throws(() => parseClientFrame(good.subarray(0, cut), L), ProtocolError);
    assert.deepEqual(parseClientFrame(good, L), { t: 'send', rid: 1, conv: 'c1', cmid: 'm', body: 'b'.repeat(300) });
  }
});

test('boundary values are accepted: body of exactly maxBodyChars, cmid of maxCmidChars, ids of maxIdChars', () => {
  const conv = 'c'.repeat(L.maxIdChars);
  const cmid = 'm'.repeat(L.maxCmidChars);
  const body = 'b'.repeat(L.maxBodyChars);
  assert.deepEqual(parse({ t: 'send', rid: 1, conv, cmid, body }), { t: 'send', rid: 1, conv, cmid, body });
  assert.deepEqual(parse({ t: 'open', with: 'u'.repeat(L.maxIdChars) }), { t: 'open', with: 'u'.repeat(L.maxIdChars) });
});

test('body length is counted in characters, not UTF-8 bytes (2000 two-byte chars fit)', () => {
  const body = 'é'.repeat(L.maxBodyChars); // 4000 UTF-8 bytes
  assert.deepEqual(parse({ t: 'send', conv: 'c1', cmid: 'm', body }), { t: 'send', conv: 'c1', cmid: 'm', body });
});

test('limit bounds are inclusive: 1 and the maximum are accepted for history and inbox', () => {
  assert.deepEqual(parse({ t: 'history', conv: 'c1', limit: 1 }), { t: 'history', conv: 'c1', limit: 1 });
  assert.deepEqual(parse({ t: 'history', conv: 'c1', limit: L.historyLimitMax }), { t: 'history', conv: 'c1', limit: L.historyLimitMax });
  assert.deepEqual(parse({ t: 'inbox', limit: 1 }), { t: 'inbox', limit: 1 });
  assert.deepEqual(parse({ t: 'inbox', limit: L.inboxLimitMax }), { t: 'inbox', limit: L.inboxLimitMax });
});

test('the largest safe integer is a valid seq', () => {
  assert.deepEqual(parse({ t: 'recv', conv: 'c1', seq: Number.MAX_SAFE_INTEGER }), { t: 'recv', conv: 'c1', seq: Number.MAX_SAFE_INTEGER });
});

test('a frame of exactly maxFrameBytes is accepted', () => {
  const base = encode({ t: 'ping', rid: 1, pad: '' });
  // pad as str32 so the header size does not change with the length we pick
  const padLen = L.maxFrameBytes - (base.length - 1) - 5; // drop the empty fixstr, add a 5-byte str32 header
  const head = base.subarray(0, base.length - 1);
  const bytes = new Uint8Array(L.maxFrameBytes);
  bytes.set(head, 0);
  const p = head.length;
  bytes[p] = 0xdb;
  new DataView(bytes.buffer).setUint32(p + 1, padLen);
  bytes.fill(0x61, p + 5);
  assert.equal(bytes.length, L.maxFrameBytes);
  assert.deepEqual(parseClientFrame(bytes, L), { t: 'ping', rid: 1 });
});

test('the limits argument is honoured rather than the defaults', () => {
  const tight = { ...L, maxBodyChars: 5, maxCmidChars: 2, maxIdChars: 3, historyLimitMax: 10 };
  assert.deepEqual(parseClientFrame(encode({ t: 'send', conv: 'abc', cmid: 'ab', body: '12345' }), tight), {
    t: 'send',
    conv: 'abc',
    cmid: 'ab',
    body: '12345',
  });
  assert.deepEqual(parseClientFrame(encode({ t: 'history', conv: 'abc', limit: 10 }), tight), { t: 'history', conv: 'abc', limit: 10 });
});

test('validateClientFrame accepts an already-decoded plain object the same way', () => {
  assert.deepEqual(validateClientFrame({ t: 'join', rid: 1, conv: 'c1', since: 2, junk: true }, L), {
    t: 'join',
    rid: 1,
    conv: 'c1',
    since: 2,
  });
});

test('the typed frame is a fresh object: mutating it does not alias the decoded input', () => {
  const input = { t: 'ping', rid: 1 };
  const frame = validateClientFrame(input, L);
  (frame as { rid?: number }).rid = 2;
  assert.equal(input.rid, 1);
});

// ---------------------------------------------------------------------------------------------
// Encoding side: encodeFrame must emit a plain, standard msgpack map.
// ---------------------------------------------------------------------------------------------

/**
 * A deliberately strict, standard-only msgpack reader (what a minimal client library supports):
 * nil/bool/int/float/str/bin/array/map with string keys; any extension type (msgpackr records,
 * undefined, timestamps, ...) or trailing byte is an error.
 */
function readStandard(bytes: Uint8Array): unknown {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  const need = (n: number) => {
    if (p + n > bytes.length) throw new Error(`truncated at ${p}`);
  };
  const str = (n: number) => {
    need(n);
    const s = Buffer.from(bytes.buffer, bytes.byteOffset + p, n).toString('utf8');
    p += n;
    return s;
  };
  const arr = (n: number) => Array.from({ length: n }, () => read());
  const map = (n: number) => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const k = read();
      if (typeof k !== 'string') throw new Error(`non-string map key at ${p}`);
      if (Object.prototype.hasOwnProperty.call(o, k)) throw new Error(`duplicate key ${k}`);
      o[k] = read();
    }
    return o;
  };
  const u8 = () => (need(1), dv.getUint8(p++));
  const u16 = () => (need(2), (p += 2), dv.getUint16(p - 2));
  const u32 = () => (need(4), (p += 4), dv.getUint32(p - 4));
  function read(): unknown {
    const b = u8();
    if (b <= 0x7f) return b;
    if (b <= 0x8f) return map(b & 0x0f);
    if (b <= 0x9f) return arr(b & 0x0f);
    if (b <= 0xbf) return str(b & 0x1f);
    if (b >= 0xe0) return b - 0x100;
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: { const n = u8(); need(n); p += n; return bytes.slice(p - n, p); }
      case 0xc5: { const n = u16(); need(n); p += n; return bytes.slice(p - n, p); }
      case 0xc6: { const n = u32(); need(n); p += n; return bytes.slice(p - n, p); }
      case 0xca: need(4); p += 4; return dv.getFloat32(p - 4);
      case 0xcb: need(8); p += 8; return dv.getFloat64(p - 8);
      case 0xcc: return u8();
      case 0xcd: return u16();
      case 0xce: return u32();
      case 0xcf: need(8); p += 8; return Number(dv.getBigUint64(p - 8));
      case 0xd0: need(1); p += 1; return dv.getInt8(p - 1);
      case 0xd1: need(2); p += 2; return dv.getInt16(p - 2);
      case 0xd2: need(4); p += 4; return dv.getInt32(p - 4);
      case 0xd3: need(8); p += 8; return Number(dv.getBigInt64(p - 8));
      case 0xd9: return str(u8());
      case 0xda: return str(u16());
      case 0xdb: return str(u32());
      case 0xdc: return arr(u16());
      case 0xdd: return arr(u32());
      case 0xde: return map(u16());
      case 0xdf: return map(u32());
      default: throw new Error(`non-standard or extension type 0x${b.toString(16)} at ${p - 1}`);
    }
  }
  const v = read();
  if (p !== bytes.length) throw new Error(`trailing bytes after ${p}`);
  return v;
}

/** Deep copy without undefined-valued object keys: what the wire should carry. */
function withoutUndefined(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutUndefined);
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) o[k] = withoutUndefined(x);
    return o;
  }
  return v;
}

const msg = { conv: 'c1', seq: 3, id: 'msg-3', from: 'u1', body: 'hey', ts: 1_700_000_000_123, cmid: 'm-3' };
const serverFrames: ServerFrame[] = [
  { t: 'hello', user: 'u1', node: 'edge-1', limits: { maxFrameBytes: 65536, maxBodyChars: 2000 } },
  {
    t: 'conv',
    rid: 1,
    conv: {
      id: 'c1',
      kind: 'dm',
      state: 'open',
      participants: ['u1', 'u2'],
      readOnly: false,
      lastSeq: 3,
      watermarks: { u1: { delivered: 3, read: 2, readAt: 1_700_000_000_000 }, u2: { delivered: 0, read: 0 } },
    },
    msgs: [msg],
  },
  { t: 'ack', rid: 2, conv: 'c1', seq: 3, id: 'msg-3', ts: 1_700_000_000_123 },
  { t: 'msg', ...msg },
  { t: 'delivered', conv: 'c1', user: 'u2', seq: 3 },
  { t: 'read', conv: 'c1', user: 'u2', seq: 3, at: 1_700_000_000_456 },
  { t: 'typing', conv: 'c1', user: 'u2', until: 0 },
  { t: 'state', conv: 'c1', state: 'closed', readOnly: true, participants: [] },
  { t: 'page', rid: 3, msgs: [msg], next: 2 },
  {
    t: 'page',
    rid: 4,
    convs: [{ conv: 'c1', kind: 'ticket', state: 'open', participants: ['u1'], lastSeq: 0, lastActivity: 5, unread: 0 }],
    next: 'cursor',
  },
  { t: 'ok', rid: 5 },
  { t: 'pong', rid: 6 },
  { t: 'err', rid: 7, code: 429, msg: 'slow down', retryMs: 250 },
];

for (const frame of serverFrames) {
  test(`encodeFrame(${frame.t}${frame.t === 'page' ? (frame.msgs ? ' msgs' : ' convs') : ''}) is a standard msgpack map that unpack and a strict reader both read back unchanged`, () => {
    const bytes = encodeFrame(frame);
    assert.ok(bytes[0] >= 0x80 && bytes[0] <= 0x8f || bytes[0] === 0xde || bytes[0] === 0xdf, 'top-level value is a map');
    assert.deepEqual(unpack(bytes), frame);
    assert.deepEqual(readStandard(bytes), frame);
  });
}

test('encodeFrame omits undefined top-level fields instead of writing them', () => {
  const cases: ServerFrame[] = [
    { t: 'ok', rid: undefined },
    { t: 'ack', rid: undefined, conv: 'c1', seq: 1, id: 'x', ts: 2 },
    { t: 'err', rid: undefined, code: 400, msg: 'bad', retryMs: undefined, state: undefined },
    { t: 'page', rid: 1, msgs: [], convs: undefined, next: undefined },
    { t: 'conv', rid: undefined, conv: { id: 'c', kind: 'dm', state: 's', participants: [], readOnly: false, lastSeq: 0, watermarks: {} }, msgs: undefined },
  ];
  for (const frame of cases) {
    const bytes = encodeFrame(frame);
    const back = unpack(bytes) as Record<string, unknown>;
    for (const [k, v] of Object.entries(frame)) {
      if (v === undefined) assert.equal(Object.prototype.hasOwnProperty.call(back, k), false, `${frame.t}.${k} must be absent`);
    }
    assert.deepEqual(back, withoutUndefined(frame));
    assert.deepEqual(readStandard(bytes), withoutUndefined(frame), `${frame.t}: readable without msgpack extensions`);
  }
});

test('encodeFrame omits undefined fields nested inside objects too', () => {
  const frame: ServerFrame = {
    t: 'page',
    rid: 1,
    convs: [{ conv: 'c1', kind: 'dm', state: 'open', participants: ['a'], lastSeq: 1, lastActivity: 1, last: undefined, unread: 0 }],
  };
  const back = unpack(encodeFrame(frame)) as { convs: Array<Record<string, unknown>> };
  assert.equal(Object.prototype.hasOwnProperty.call(back.convs[0], 'last'), false);

  const conv: ServerFrame = {
    t: 'conv',
    conv: { id: 'c', kind: 'dm', state: 's', participants: [], readOnly: false, lastSeq: 0, watermarks: { u: { delivered: 1, read: 0, readAt: undefined } } },
  };
  const back2 = unpack(encodeFrame(conv)) as { conv: { watermarks: { u: Record<string, unknown> } } };
  assert.deepEqual(back2.conv.watermarks.u, { delivered: 1, read: 0 });
  assert.doesNotThrow(() => readStandard(encodeFrame(conv)));
});

test('encodeFrame keeps falsy but present values (0, false, empty string, empty array)', () => {
  const frame: ServerFrame = { t: 'state', conv: 'c1', state: '', readOnly: false, participants: [] };
  assert.deepEqual(unpack(encodeFrame(frame)), frame);
  assert.deepEqual(unpack(encodeFrame({ t: 'typing', conv: 'c1', user: 'u', until: 0 })), { t: 'typing', conv: 'c1', user: 'u', until: 0 });
  assert.deepEqual(unpack(encodeFrame({ t: 'pong', rid: 0 })), { t: 'pong', rid: 0 });
});

test('encodeFrame writes no msgpackr record/structure extensions even for repeated identical shapes', () => {
  // msgpackr with records enabled would switch to a record extension on the second identical shape.
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(readStandard(encodeFrame({ t: 'ack', rid: i, conv: 'c1', seq: i, id: `m${i}`, ts: i })), {
      t: 'ack',
      rid: i,
      conv: 'c1',
      seq: i,
      id: `m${i}`,
      ts: i,
    });
  }
});
