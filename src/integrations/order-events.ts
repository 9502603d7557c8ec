/**
 * Order events in (seed 002), from the HTTP webhook (src/http/admin-events.ts) and from JetStream
 * (order-events-jetstream.ts) alike. Over HTTP: `POST /api/v1/events`, authenticated by
 * `X-Signature: t=<unix ms>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` with EVENTS_HMAC_SECRET,
 * compared in constant time, `t` within EVENTS_MAX_SKEW_MS. The event goes to the order's
 * actor; 202 once its effect (or its duplicate-ness) is durable.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { orderEventTypes, type OrderEvent } from '../../actors/order.ts';
import { ChatError, ErrorCode } from '../../protocol/errors.ts';
import { requireId } from '../../protocol/ids.ts';
import { parseJsonObject } from '../../protocol/json-body.ts';
import { lineFault } from '../../protocol/text.ts';

export interface EventsConfig {
  hmacSecret?: string;
  maxSkewMs: number;
}

/** Checks the signature header against the raw body; throws ChatError 401 when it fails. */
export function verifySignature(header: string, rawBody: Buffer, secret: string, maxSkewMs: number, now: number): void {
  const parts = Object.fromEntries(header.split(',').map((p) => p.trim().split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!parts.t || !parts.v1 || !Number.isSafeInteger(t)) throw new ChatError(ErrorCode.unauthenticated, 'missing or malformed X-Signature');
  if (Math.abs(now - t) > maxSkewMs) throw new ChatError(ErrorCode.unauthenticated, 'stale signature');
  const expected = hmacOf(parts.t, rawBody, secret);
  const given = Buffer.from(parts.v1, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new ChatError(ErrorCode.unauthenticated, 'bad signature');
}

/**
 * The `X-Signature` header for `rawBody` signed at `t` (unix ms): what verifySignature checks.
 * Our outgoing webhooks (notifications, src/notify/webhook.ts) sign with it, so a receiver
 * verifies them as we verify order events.
 */
export function signatureHeader(rawBody: Buffer | string, secret: string, t: number): string {
  return `t=${t},v1=${hmacOf(String(t), rawBody, secret).toString('hex')}`;
}

/** HMAC-SHA256 of `"<t>.<raw body>"`. */
function hmacOf(t: string, rawBody: Buffer | string, secret: string): Buffer {
  return createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest();
}

/**
 * Parses and validates one event `{id, type, occurredAt, data}`; ChatError 400 otherwise. Event,
 * order and user ids follow the id rule (protocol/ids.ts): they become rows and subject tokens.
 */
export function parseOrderEvent(raw: Buffer): OrderEvent {
  const e = parseJsonObject(raw);
  const type = e.type;
  if (typeof type !== 'string' || !(orderEventTypes as readonly string[]).includes(type)) {
    throw new ChatError(ErrorCode.badFrame, `type: one of ${orderEventTypes.join(', ')}`);
  }
  if (typeof e.occurredAt !== 'string' || lineFault(e.occurredAt) || Number.isNaN(Date.parse(e.occurredAt))) throw new ChatError(ErrorCode.badFrame, 'occurredAt: expected an ISO-8601 time');
  const data = e.data;
  if (typeof data !== 'object' || data === null) throw new ChatError(ErrorCode.badFrame, 'data: expected an object');
  const d = data as Record<string, unknown>;
  const event: OrderEvent = {
    id: requireId(e.id, 'id'),
    type: type as OrderEvent['type'],
    occurredAt: e.occurredAt,
    data: { orderId: requireId(d.orderId, 'data.orderId') },
  };
  if (type === 'order.accepted') {
    event.data.customerId = requireId(d.customerId, 'data.customerId');
    event.data.vendorId = requireId(d.vendorId, 'data.vendorId');
  }
  if (type === 'order.rider_assigned') event.data.riderId = requireId(d.riderId, 'data.riderId');
  return event;
}
