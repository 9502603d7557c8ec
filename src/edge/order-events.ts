/**
 * Order-event intake over HTTP (seed 002): `POST /api/v1/events`, authenticated by
 * `X-Signature: t=<unix ms>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` with EVENTS_HMAC_SECRET,
 * compared in constant time, `t` within EVENTS_MAX_SKEW_MS. The event goes to the order's
 * actor; 202 once its effect (or its duplicate-ness) is durable.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { orderEventTypes, type OrderEvent } from '../../actors/order.ts';
import { decode } from '../../protocol/codec.ts';
import type { Bus, Subjects } from '../bus/bus.ts';
import { encodeEnvelope, replyFrame, shardOf } from '../rpc/envelope.ts';
import { lineFault } from '../../protocol/text.ts';
import { HttpError, idParam, parseJsonObject } from './http.ts';
import { requestWithRetry } from './frames.ts';
import { startSpan, traceparentOf } from '../tracing.ts';

export interface EventsConfig {
  hmacSecret?: string;
  maxSkewMs: number;
}

/** Checks the signature header against the raw body; throws HttpError 401 when it fails. */
export function verifySignature(header: string, rawBody: Buffer, secret: string, maxSkewMs: number, now: number): void {
  const parts = Object.fromEntries(header.split(',').map((p) => p.trim().split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!parts.t || !parts.v1 || !Number.isSafeInteger(t)) throw new HttpError(401, 'missing or malformed X-Signature');
  if (Math.abs(now - t) > maxSkewMs) throw new HttpError(401, 'stale signature');
  const expected = createHmac('sha256', secret).update(`${parts.t}.`).update(rawBody).digest();
  const given = Buffer.from(parts.v1, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new HttpError(401, 'bad signature');
}

/**
 * Parses and validates one event `{id, type, occurredAt, data}`; HttpError 400 otherwise. Event,
 * order and user ids follow the id rule (protocol/ids.ts): they become rows and subject tokens.
 */
export function parseOrderEvent(raw: Buffer): OrderEvent {
  const e = parseJsonObject(raw);
  const type = e.type;
  if (typeof type !== 'string' || !(orderEventTypes as readonly string[]).includes(type)) {
    throw new HttpError(400, `type: one of ${orderEventTypes.join(', ')}`);
  }
  if (typeof e.occurredAt !== 'string' || lineFault(e.occurredAt) || Number.isNaN(Date.parse(e.occurredAt))) throw new HttpError(400, 'occurredAt: expected an ISO-8601 time');
  const data = e.data;
  if (typeof data !== 'object' || data === null) throw new HttpError(400, 'data: expected an object');
  const d = data as Record<string, unknown>;
  const event: OrderEvent = {
    id: idParam(e.id, 'id'),
    type: type as OrderEvent['type'],
    occurredAt: e.occurredAt,
    data: { orderId: idParam(d.orderId, 'data.orderId') },
  };
  if (type === 'order.accepted') {
    event.data.customerId = idParam(d.customerId, 'data.customerId');
    event.data.vendorId = idParam(d.vendorId, 'data.vendorId');
  }
  if (type === 'order.rider_assigned') event.data.riderId = idParam(d.riderId, 'data.riderId');
  return event;
}

/** Hands an event to its order's actor and resolves once the actor's reply (after commit) arrives. */
export async function applyOrderEvent(bus: Bus, subjects: Subjects, shardCount: number, event: OrderEvent, timeoutMs: number, traceparent?: string): Promise<void> {
  const conv = event.data.orderId;
  const span = startSpan(`event ${event.type}`, traceparent, { 'chat.conv': conv, 'chat.event.id': event.id });
  try {
    const env = encodeEnvelope({ c: conv, u: 'order-events', r: ['system'], e: event, tp: traceparentOf(span) });
    const reply = decode(replyFrame(await requestWithRetry(bus, subjects.shard(shardOf(conv, shardCount)), env, timeoutMs))) as { t: string; code?: number; msg?: string; retryMs?: number };
    if (reply.t === 'ok') return;
    // A refusal the actor decided (4xx) is permanent; anything else passes with a retry.
    const code = reply.code ?? 503;
    if (code >= 400 && code < 500) throw new HttpError(code, reply.msg ?? 'event not applied');
    throw new HttpError(503, reply.msg ?? 'event not applied', { retryMs: reply.retryMs ?? 1000 });
  } finally {
    span.end();
  }
}
