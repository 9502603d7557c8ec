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

/** The err message an edge recognises as "retry: the shard is moving between nodes". */
export const movingMsg = 'shard moving, retry';

/** The err message a shard answers while its persister queue is full (load shedding). */
export const overloadedMsg = 'overloaded, retry';
