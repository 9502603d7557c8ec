/**
 * One binary frame ↔ one msgpack map (docs/protocol.md, Connection), with the one codec the
 * server uses (protocol/codec.ts: plain maps, undefined fields omitted).
 */
import { decode, encode } from '../protocol/codec.ts';
import type { ClientFrame } from './types.ts';

/**
 * A decoded server frame before the SDK has read it: any msgpack map with a string `t`. Not the
 * protocol's ServerFrame on purpose: nothing checked the fields yet, so the client reads each
 * one where it needs it (and coerces or ignores what does not fit) instead of trusting a cast.
 */
export type RawServerFrame = { t: string; rid?: number } & Record<string, unknown>;

/** Optional fields left undefined are omitted (a `nil` where a number is expected is a 400). */
export function encodeFrame(frame: ClientFrame): Uint8Array {
  return encode(frame);
}

/** The frame, or undefined for anything that is not a binary msgpack map with a string `t`. */
export function decodeFrame(data: unknown): RawServerFrame | undefined {
  let bytes: Uint8Array;
  if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
  else if (data instanceof Uint8Array) bytes = data;
  else return undefined;
  let value: unknown;
  try {
    value = decode(bytes);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  if (typeof (value as { t?: unknown }).t !== 'string') return undefined;
  return value as RawServerFrame;
}
