/**
 * msgpack codec. Plain maps only (no msgpackr records or structure extensions) so that any
 * client with a standard msgpack library can read every frame.
 */
import { Packr, Unpackr } from 'msgpackr';
import type { ServerFrame } from './frames.ts';

// skipValues drops undefined fields: msgpackr would otherwise write them as a non-standard extension.
// (skipValues is missing from msgpackr's typings but supported at runtime.)
const packr = new Packr({ useRecords: false, moreTypes: false, skipValues: [undefined] } as ConstructorParameters<typeof Packr>[0]);
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decodes exactly one msgpack value; throws on truncated input or trailing bytes. */
export function decode(bytes: Uint8Array): unknown {
  return unpackr.unpack(bytes);
}

export function encodeFrame(frame: ServerFrame): Uint8Array {
  return packr.pack(frame);
}
