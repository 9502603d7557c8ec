/**
 * The hot path's decoder: reads only what the load matches on (`t`, `rid`, `cmid`, `seq`) straight from
 * a frame's msgpack bytes, allocating nothing. Frames it does not recognise as `ack` or `msg`
 * (control replies, `err`, anything else) report KIND_OTHER and are decoded in full by the caller.
 * Written from the msgpack spec alone, like the rest of the bench's codec.
 */

export const KIND_OTHER = 0;
export const KIND_ACK = 1;
export const KIND_MSG = 2;

/** Results of the last scan (one per thread: the scanner is synchronous and not re-entrant). */
export const scan = {
  kind: KIND_OTHER,
  rid: -1, // ack: its rid (-1 when absent or not an unsigned integer)
  cmidStart: -1, // msg: byte range of the cmid string inside the buffer (-1 when absent)
  cmidEnd: -1,
  seq: -1, // ack and msg: the conversation's seq (-1 when absent or not an unsigned integer)
};

// Key bytes as fixstr: 0xa0 | length, then the ASCII.
const T = 0x74; // 't'

/**
 * Scans the msgpack map in buf[start, end). Fills `scan`; returns false when the bytes are not a
 * map whose values could all be skipped (truncated or malformed: decode it in full instead).
 */
export function scanFrame(buf: Uint8Array, start: number, end: number): boolean {
  scan.kind = KIND_OTHER;
  scan.rid = -1;
  scan.cmidStart = -1;
  scan.cmidEnd = -1;
  scan.seq = -1;
  let p = start;
  if (p >= end) return false;
  const h = buf[p++];
  let entries: number;
  if ((h & 0xf0) === 0x80) entries = h & 0x0f;
  else if (h === 0xde) {
    if (p + 2 > end) return false;
    entries = (buf[p] << 8) | buf[p + 1];
    p += 2;
  } else return false;
  for (let i = 0; i < entries; i++) {
    if (p >= end) return false;
    const kh = buf[p];
    // Keys this scanner cares about are all fixstr of 1, 3 or 4 chars.
    if ((kh & 0xe0) === 0xa0) {
      const klen = kh & 0x1f;
      const k = p + 1;
      if (k + klen > end) return false;
      p = k + klen;
      if (p >= end) return false;
      if (klen === 1 && buf[k] === T) {
        const vh = buf[p];
        if (vh === 0xa3 && p + 4 <= end) {
          const a = buf[p + 1], b = buf[p + 2], c = buf[p + 3];
          if (a === 0x61 && b === 0x63 && c === 0x6b) scan.kind = KIND_ACK; // ack
          else if (a === 0x6d && b === 0x73 && c === 0x67) scan.kind = KIND_MSG; // msg
          else return true; // another frame type: the caller decodes it in full
          p += 4;
          continue;
        }
        return true;
      }
      if (klen === 3 && buf[k] === 0x72 && buf[k + 1] === 0x69 && buf[k + 2] === 0x64) {
        // rid
        const next = readUint(buf, p, end);
        if (next > 0) {
          scan.rid = uintValue;
          p = next;
          continue;
        }
      } else if (klen === 3 && buf[k] === 0x73 && buf[k + 1] === 0x65 && buf[k + 2] === 0x71) {
        // seq
        const next = readUint(buf, p, end);
        if (next > 0) {
          scan.seq = uintValue;
          p = next;
          continue;
        }
      } else if (klen === 4 && buf[k] === 0x63 && buf[k + 1] === 0x6d && buf[k + 2] === 0x69 && buf[k + 3] === 0x64) {
        // cmid
        const vh = buf[p];
        if ((vh & 0xe0) === 0xa0) {
          scan.cmidStart = p + 1;
          scan.cmidEnd = p + 1 + (vh & 0x1f);
        } else if (vh === 0xd9 && p + 2 <= end) {
          scan.cmidStart = p + 2;
          scan.cmidEnd = p + 2 + buf[p + 1];
        }
      }
    } else {
      p = skip(buf, p, end);
      if (p < 0) return false;
    }
    p = skip(buf, p, end);
    if (p < 0) return false;
  }
  return true;
}

/** The value readUint read last (module state, like `scan`: nothing allocated per call). */
let uintValue = 0;

/** Reads an unsigned integer of up to 32 bits at p into uintValue; the offset past it, or -1 when it is not one. */
function readUint(buf: Uint8Array, p: number, end: number): number {
  const vh = buf[p];
  if (vh <= 0x7f) return ((uintValue = vh), p + 1);
  if (vh === 0xcc && p + 2 <= end) return ((uintValue = buf[p + 1]), p + 2);
  if (vh === 0xcd && p + 3 <= end) return ((uintValue = (buf[p + 1] << 8) | buf[p + 2]), p + 3);
  if (vh === 0xce && p + 5 <= end) return ((uintValue = u32(buf, p + 1)), p + 5);
  return -1;
}

/** Offset just past the msgpack value at p, or -1 if it runs past end or is not msgpack. */
export function skip(buf: Uint8Array, p: number, end: number): number {
  if (p >= end) return -1;
  const h = buf[p];
  let n: number;
  if (h <= 0x7f || h >= 0xe0) return p + 1; // fixint
  if (h <= 0x8f) return skipItems(buf, p + 1, end, 2 * (h & 0x0f)); // fixmap
  if (h <= 0x9f) return skipItems(buf, p + 1, end, h & 0x0f); // fixarray
  if (h <= 0xbf) return fits(p + 1 + (h & 0x1f), end); // fixstr
  switch (h) {
    case 0xc0: case 0xc2: case 0xc3: return p + 1; // nil, false, true
    case 0xcc: case 0xd0: return fits(p + 2, end);
    case 0xcd: case 0xd1: return fits(p + 3, end);
    case 0xce: case 0xd2: case 0xca: return fits(p + 5, end);
    case 0xcf: case 0xd3: case 0xcb: return fits(p + 9, end);
    case 0xd4: return fits(p + 3, end); // fixext 1
    case 0xd5: return fits(p + 4, end);
    case 0xd6: return fits(p + 6, end);
    case 0xd7: return fits(p + 10, end);
    case 0xd8: return fits(p + 18, end);
    case 0xc4: case 0xd9: // bin8, str8
      if (p + 2 > end) return -1;
      return fits(p + 2 + buf[p + 1], end);
    case 0xc5: case 0xda: // bin16, str16
      if (p + 3 > end) return -1;
      return fits(p + 3 + ((buf[p + 1] << 8) | buf[p + 2]), end);
    case 0xc6: case 0xdb: // bin32, str32
      if (p + 5 > end) return -1;
      return fits(p + 5 + u32(buf, p + 1), end);
    case 0xc7: // ext8
      if (p + 3 > end) return -1;
      return fits(p + 3 + buf[p + 1], end);
    case 0xc8:
      if (p + 4 > end) return -1;
      return fits(p + 4 + ((buf[p + 1] << 8) | buf[p + 2]), end);
    case 0xc9:
      if (p + 6 > end) return -1;
      return fits(p + 6 + u32(buf, p + 1), end);
    case 0xdc: // array16
      if (p + 3 > end) return -1;
      return skipItems(buf, p + 3, end, (buf[p + 1] << 8) | buf[p + 2]);
    case 0xdd:
      if (p + 5 > end) return -1;
      return skipItems(buf, p + 5, end, u32(buf, p + 1));
    case 0xde: // map16
      if (p + 3 > end) return -1;
      n = (buf[p + 1] << 8) | buf[p + 2];
      return skipItems(buf, p + 3, end, 2 * n);
    case 0xdf:
      if (p + 5 > end) return -1;
      return skipItems(buf, p + 5, end, 2 * u32(buf, p + 1));
    default:
      return -1; // 0xc1: never used
  }
}

function skipItems(buf: Uint8Array, p: number, end: number, count: number): number {
  for (let i = 0; i < count && p >= 0; i++) p = skip(buf, p, end);
  return p;
}

const fits = (next: number, end: number): number => (next <= end ? next : -1);
const u32 = (buf: Uint8Array, p: number): number => buf[p] * 0x1000000 + ((buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3]);

/** Decimal digits buf[start, end) as a number; -1 if any byte is not a digit or there are none. */
export function parseDigits(buf: Uint8Array, start: number, end: number): number {
  if (start >= end) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}
