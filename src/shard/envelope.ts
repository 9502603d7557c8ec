/** What travels on `chat.shard.<k>`: the authenticated user, the validated frame, the target. */
import { decode, encode } from '../../protocol/codec.ts';
import type { ClientFrame } from '../../protocol/frames.ts';
import type { OrderEvent } from '../../actors/order.ts';

export interface ShardEnvelope {
  /** Conversation id (for `open`, the DM id derived from the pair). */
  c: string;
  /** Authenticated user id: the token's `sub`, never a payload field. */
  u: string;
  /** Token roles. */
  r: string[];
  /** A client frame, or — for the order-event intake — `e`. */
  f?: ClientFrame;
  e?: OrderEvent;
  /** W3C traceparent of the edge's span for this command (tracing on). */
  tp?: string;
  /** Correlation id for logs: the trace id when tracing, else minted by the edge. */
  cid?: string;
}

let cidSeq = 0;
const cidPrefix = Math.random().toString(36).slice(2, 8);
/** A correlation id: the trace id of `traceparent`, or a cheap process-unique id. */
export function correlationId(traceparent: string | undefined): string {
  return traceparent ? traceparent.slice(3, 35) : `${cidPrefix}-${(++cidSeq).toString(36)}`;
}

export function encodeEnvelope(e: ShardEnvelope): Uint8Array {
  return encode(e);
}

export function decodeEnvelope(bytes: Uint8Array): ShardEnvelope {
  return decode(bytes) as ShardEnvelope;
}

/** Stable shard of a conversation: FNV-1a over its UTF-16 code units, mod the shard count. */
export function shardOf(conv: string, shardCount: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < conv.length; i++) {
    h ^= conv.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shardCount;
}

/**
 * A shard's reply on the bus: one status byte, then the client frame the edge forwards as is.
 * The status tells the edge what to do without decoding the frame.
 */
export const ReplyStatus = {
  /** Forward the frame to the client. */
  forward: 0,
  /** The shard moved to another node: retry the request (the frame is the err for a late client). */
  moving: 1,
  /** The shard refuses writes for now (load shedding): forward, and shed its sends for a moment. */
  overloaded: 2,
} as const;
export type ReplyStatusValue = (typeof ReplyStatus)[keyof typeof ReplyStatus];

export function encodeReply(status: ReplyStatusValue, frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(frame.byteLength + 1);
  out[0] = status;
  out.set(frame, 1);
  return out;
}

export function replyStatus(reply: Uint8Array): number {
  return reply[0];
}

/** The client frame inside a reply (a view, no copy). */
export function replyFrame(reply: Uint8Array): Uint8Array {
  return reply.subarray(1);
}

export const movingMsg = 'shard moving, retry';

export const overloadedMsg = 'overloaded, retry';
