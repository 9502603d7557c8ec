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
import { IdSchema, parseBody } from '../../protocol/schema.ts';
import { Type } from '@sinclair/typebox';
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

/** An order event id, or an id of its data: the id rule (protocol/ids.ts). */
const eventId = IdSchema;
const typeOf = (type: string) => ({ type: 'object', required: ['type'], properties: { type: { const: type } } });
const dataNeeds = (...ids: string[]) => ({ type: 'object', properties: { data: { type: 'object', required: ids } } });

/**
 * The order event `{id, type, occurredAt, data}` (one definition: validation and the OpenAPI
 * document's `POST /api/v1/events` body). `order.accepted` also needs `data.customerId` and
 * `data.vendorId`, `order.rider_assigned` `data.riderId`. Unknown fields are ignored.
 */
export const OrderEventBody = Type.Object({
  id: eventId,
  type: Type.Union(orderEventTypes.map((t) => Type.Literal(t)), { 'x-expected': `one of ${orderEventTypes.join(', ')}` }),
  occurredAt: Type.String({ 'x-expected': 'expected an ISO-8601 time', description: 'ISO 8601 date-time' }),
  data: Type.Object({
    orderId: eventId,
    customerId: Type.Optional(eventId),
    vendorId: Type.Optional(eventId),
    riderId: Type.Optional(eventId),
  }, { 'x-expected': 'expected an object' }),
}, {
  allOf: [
    { if: typeOf('order.accepted'), then: dataNeeds('customerId', 'vendorId') },
    { if: typeOf('order.rider_assigned'), then: dataNeeds('riderId') },
  ],
});

/**
 * Parses and validates one event (OrderEventBody); ChatError 400 naming the field otherwise.
 * Event, order and user ids follow the id rule (protocol/ids.ts): they become rows and subject
 * tokens. Past the schema: `occurredAt` must be one line that Date.parse reads.
 */
export function parseOrderEvent(raw: Buffer): OrderEvent {
  const e = parseBody(OrderEventBody, raw);
  if (lineFault(e.occurredAt) || Number.isNaN(Date.parse(e.occurredAt))) throw new ChatError(ErrorCode.badFrame, 'occurredAt: expected an ISO-8601 time');
  const d = e.data;
  const event: OrderEvent = { id: e.id, type: e.type, occurredAt: e.occurredAt, data: { orderId: d.orderId } };
  if (e.type === 'order.accepted') {
    event.data.customerId = d.customerId;
    event.data.vendorId = d.vendorId;
  }
  if (e.type === 'order.rider_assigned') event.data.riderId = d.riderId;
  return event;
}
