/** The shard protocol: the envelope a shard is asked with, and the reply's status byte. */
import { decode, encode } from '../../protocol/codec.ts';
import type { ClientFrame } from '../../protocol/frames.ts';
import type { OrderEvent } from '../../actors/order.ts';
import type { CandidateRef } from '../../actors/routing.ts';
import type { TicketOp } from '../../actors/ticket.ts';

interface EnvelopeBase {
  /** Conversation id (for `open`, the DM id derived from the pair; the router's id for a pick). */
  c: string;
  /** Authenticated user id: the token's `sub`, never a payload field. */
  u: string;
  /** Token roles. */
  r: string[];
  /** W3C traceparent of the edge's span for this command (tracing on). */
  tp?: string;
  /** Correlation id for logs: the trace id when tracing, else minted by the edge. */
  cid?: string;
  /**
   * The socket that sent the frame (its edge-unique id): the fan-out the command causes skips it,
   * since the reply already told it (a `send`'s `ack` carries what its `msg` would).
   */
  o?: string;
  // No send time: a shard measures queueing with its own clock from its own receipt (host.ts,
  // probe.ts). An edge's stamp counted its retries while a shard had no owner as queueing, and
  // made every takeover look like an overload.
}

/**
 * What travels on `chat.shard.<k>`: the authenticated user and exactly one payload — a validated
 * client frame (`f`), an order event (`e`, the event intake), a ticket lifecycle command (`tk`,
 * the HTTP API) or a pick for the router actor (`rt`). The key present says which (the wire
 * stays one msgpack map).
 */
export type ShardEnvelope =
  | (EnvelopeBase & { f: ClientFrame; e?: never; tk?: never; rt?: never })
  | (EnvelopeBase & { e: OrderEvent; f?: never; tk?: never; rt?: never })
  | (EnvelopeBase & { tk: TicketOp; f?: never; e?: never; rt?: never })
  | (EnvelopeBase & { rt: RouterRequest; f?: never; e?: never; tk?: never });

export interface RoutePickRequest {
  brand: string;
  /** Eligible centers, ordered by id. */
  candidates: CandidateRef[];
}

/** Gives back a pick whose ticket did not commit (see actors/router.ts). */
export interface RouteReleaseRequest {
  release: { brand: string; centerId: string };
}

export type RouterRequest = RoutePickRequest | RouteReleaseRequest;

/**
 * The router actor's id: a control character (not NUL, which Postgres text refuses) keeps it out
 * of reach of client frames (ids with control characters are refused by the protocol validator).
 */
export const routerActorId = '\u001frouter';

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
 * The status (low 2 bits) tells the edge what to do without decoding the frame; the high 6
 * bits carry the replying shard's current shed level (see `shedShareOf`), for sends to that shard.
 */
export const ReplyStatus = {
  /** Forward the frame to the client. */
  forward: 0,
  /** The shard moved to another node: retry the request (the frame is the err for a late client). */
  moving: 1,
  /** The shard refused the write (load shedding): forward the err 503. */
  overloaded: 2,
} as const;
export type ReplyStatusValue = (typeof ReplyStatus)[keyof typeof ReplyStatus];

/** Shed levels 0…shedLevelMax fit the 6 high bits of the status byte. */
export const shedLevelMax = 63;

/**
 * `shedLevel`: the share of sends the shard asks edges to refuse before the bus hop, in
 * 1/shedLevelMax steps (0 = admit everything).
 */
export function encodeReply(status: ReplyStatusValue, frame: Uint8Array, shedLevel = 0): Uint8Array {
  const out = new Uint8Array(frame.byteLength + 1);
  out[0] = status | (Math.min(shedLevelMax, Math.max(0, Math.round(shedLevel))) << 2);
  out.set(frame, 1);
  return out;
}

export function replyStatus(reply: Uint8Array): number {
  return reply[0] & 3;
}

/** The share (0…1) of sends to refuse at the edge that the replying shard asked for. */
export function shedShareOf(reply: Uint8Array): number {
  return (reply[0] >> 2) / shedLevelMax;
}

/** The client frame inside a reply (a view, no copy). */
export function replyFrame(reply: Uint8Array): Uint8Array {
  return reply.subarray(1);
}

export const movingMsg = 'shard moving, retry';

export const overloadedMsg = 'overloaded, retry';

/**
 * retryMs of a load-shedding refusal: about the time the shard needs to drain its backlog
 * (`delayMaxMs`), jittered ×0.5–1.5 so refused clients do not come back in one wave.
 */
export function shedRetryMs(delayMaxMs: number): number {
  return Math.max(1, Math.round(delayMaxMs * (0.5 + Math.random())));
}
