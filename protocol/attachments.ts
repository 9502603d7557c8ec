/**
 * What an uploaded file is, from its bytes alone: the type by magic numbers (never the type or
 * extension the client declared, which a page could use to have a script served as an image),
 * an image's pixel size from its header, and a file name safe to store and to put in a header.
 * Pure: no I/O, so every rule is unit-tested on bytes (test/unit/attachment-sniff.test.ts).
 */

export interface Sniffed {
  type: string;
  width?: number;
  height?: number;
}

function ascii(b: Uint8Array, at: number, text: string): boolean {
  if (b.length < at + text.length) return false;
  for (let i = 0; i < text.length; i++) if (b[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

const u16be = (b: Uint8Array, at: number) => (b[at] << 8) | b[at + 1];
const u16le = (b: Uint8Array, at: number) => b[at] | (b[at + 1] << 8);
const u24le = (b: Uint8Array, at: number) => b[at] | (b[at + 1] << 8) | (b[at + 2] << 16);
const u32be = (b: Uint8Array, at: number) => ((b[at] << 24) >>> 0) + ((b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]);

/** A size only when the header holds one (a truncated header leaves the image without one). */
function dims(width: number, height: number): { width?: number; height?: number } {
  return width > 0 && height > 0 ? { width, height } : {};
}

function png(b: Uint8Array): Sniffed | null {
  if (!(b.length >= 8 && b[0] === 0x89 && ascii(b, 1, 'PNG\r\n\x1a\n'))) return null;
  // The first chunk is IHDR: length (4), type (4), then width and height, 4 bytes each, big-endian.
  return { type: 'image/png', ...(b.length >= 24 && ascii(b, 12, 'IHDR') ? dims(u32be(b, 16), u32be(b, 20)) : {}) };
}

function gif(b: Uint8Array): Sniffed | null {
  if (!ascii(b, 0, 'GIF87a') && !ascii(b, 0, 'GIF89a')) return null;
  return { type: 'image/gif', ...(b.length >= 10 ? dims(u16le(b, 6), u16le(b, 8)) : {}) };
}

/** JPEG: the size is in the first start-of-frame segment (SOF0-SOF15 but DHT C4, JPG C8, DAC CC). */
function jpeg(b: Uint8Array): Sniffed | null {
  if (!(b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff)) return null;
  let at = 2;
  while (at + 9 < b.length) {
    if (b[at] !== 0xff) break; // not a marker: a corrupt stream, the type stands without a size
    const marker = b[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2; // markers without a length
      continue;
    }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { type: 'image/jpeg', ...dims(u16be(b, at + 7), u16be(b, at + 5)) };
    }
    if (marker === 0xda || marker === 0xd9) break; // scan data or the end: no frame header before it
    at += 2 + u16be(b, at + 2);
  }
  return { type: 'image/jpeg' };
}

function webp(b: Uint8Array): Sniffed | null {
  if (!(ascii(b, 0, 'RIFF') && ascii(b, 8, 'WEBP'))) return null;
  const type = 'image/webp';
  if (ascii(b, 12, 'VP8 ') && b.length >= 30 && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) {
    return { type, ...dims(u16le(b, 26) & 0x3fff, u16le(b, 28) & 0x3fff) };
  }
  if (ascii(b, 12, 'VP8L') && b.length >= 25 && b[20] === 0x2f) {
    const bits = (b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24)) >>> 0;
    return { type, ...dims((bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1) };
  }
  if (ascii(b, 12, 'VP8X') && b.length >= 30) return { type, ...dims(u24le(b, 24) + 1, u24le(b, 27) + 1) };
  return { type };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Plain text: valid UTF-8 without NUL bytes (a NUL is what tells binary data from text). */
function text(b: Uint8Array): Sniffed | null {
  if (b.includes(0)) return null;
  try {
    utf8.decode(b);
  } catch {
    return null;
  }
  return { type: 'text/plain' };
}

/** The type of `bytes` with an image's size, or null when it is none of the types we know. */
export function sniff(bytes: Uint8Array): Sniffed | null {
  if (ascii(bytes, 0, '%PDF-')) return { type: 'application/pdf' };
  return png(bytes) ?? jpeg(bytes) ?? gif(bytes) ?? webp(bytes) ?? text(bytes);
}

export function isImageType(type: string): boolean {
  return type.startsWith('image/');
}

/**
 * A file name safe to store, show and send in a header: the last path segment only, without
 * control characters, bidirectional overrides (which make `gpj.exe` look like `exe.jpg`), lone
 * surrogates or the characters file systems refuse; no leading dots; at most `maxChars`
 * characters, the extension kept. Never empty: `fallback` when nothing is left.
 */
export function sanitizeFileName(raw: string, maxChars: number, fallback = 'file'): string {
  // Lone surrogates cannot be stored (protocol/text.ts) nor encoded in a header: dropped.
  let name = raw.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '');
  name = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  name = name
    .replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, '')
    .replace(/[<>:"|?*]/g, '_')
    .trim()
    .replace(/^\.+/, '')
    .trim();
  if (name.length === 0) return fallback;
  const chars = [...name]; // by code point, so a cut never splits a surrogate pair
  if (chars.length <= maxChars) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 16 ? [...name.slice(dot)] : [];
  return chars.slice(0, maxChars - ext.length).join('').trimEnd() + ext.join('');
}

/** `Content-Disposition` for a download: inline for images, attachment otherwise, RFC 6266/5987 names. */
export function contentDisposition(name: string, type: string): string {
  const fallback = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${isImageType(type) ? 'inline' : 'attachment'}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
