/** An order event to its order room's actor, from the webhook (src/http) or JetStream (src/node) alike. */
import type { OrderEvent } from '../../actors/order.ts';
import { ChatError, ErrorCode, errorCodeOf, RetryAfterMs } from '../../protocol/errors.ts';
import { startSpan, traceparentOf } from '../tracing.ts';
import type { ShardClient } from './shard-client.ts';

/**
 * Hands an event to its order's actor and resolves once the actor's reply (after commit) arrives.
 * A refusal the actor decided (4xx) is permanent; anything else passes with a retry.
 */
export async function applyOrderEvent(shards: ShardClient, event: OrderEvent, traceparent?: string): Promise<void> {
  const conv = event.data.orderId;
  const span = startSpan(`event ${event.type}`, traceparent, { 'chat.conv': conv, 'chat.event.id': event.id });
  try {
    const reply = await shards.askDecoded({ c: conv, u: 'order-events', r: ['system'], e: event, tp: traceparentOf(span) });
    if (reply.t === 'ok') return;
    const code = reply.code ?? ErrorCode.unavailable;
    if (code >= 400 && code < 500) throw new ChatError(errorCodeOf(code, ErrorCode.unprocessable), reply.msg ?? 'event not applied');
    throw new ChatError(ErrorCode.unavailable, reply.msg ?? 'event not applied', { retryMs: reply.retryMs ?? RetryAfterMs.dependency });
  } finally {
    span.end();
  }
}
