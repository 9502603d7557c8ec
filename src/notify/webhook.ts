/**
 * The notification channel port, and its signed-webhook adapter: `POST NOTIFY_WEBHOOK_URL` with
 * the JSON body (body.ts), `X-Signature: t=<unix ms>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with
 * NOTIFY_WEBHOOK_SECRET — the scheme of our order-event intake (signatureHeader in
 * src/integrations/order-events.ts), so a receiver verifies it the same way and refuses replays
 * older than its skew — and `Idempotency-Key: <id>`. Every attempt goes through the resilience
 * policy (timeout per attempt, quick jittered retries, circuit breaker).
 */
import { signatureHeader } from '../integrations/order-events.ts';
import { type Resilient, RetryableError } from '../integrations/resilience.ts';
import type { NotificationBody } from './body.ts';

/** A delivery channel: resolves once the receiver accepted the notification. */
export interface NotificationChannel {
  readonly name: string;
  /**
   * Rejects with RefusedError when the receiver refused it for good (retrying cannot help),
   * with anything else when it may succeed later (unreachable, 5xx, timeout, breaker open).
   */
  deliver(n: NotificationBody): Promise<void>;
}

/** The receiver refused the notification (a 4xx other than 408/429): it goes to the dead letters at once. */
export class RefusedError extends Error {
  override name = 'RefusedError';
}

export function webhookChannel(url: string, secret: string, policy: Resilient, clock: () => number = Date.now): NotificationChannel {
  return {
    name: 'webhook',
    deliver: (n) => policy.execute(async (signal) => {
      const body = JSON.stringify(n);
      let res: Response;
      try {
        // Signed per attempt: a retry carries a fresh timestamp, within the receiver's skew.
        res = await fetch(url, {
          method: 'POST', body, signal, redirect: 'manual',
          headers: { 'content-type': 'application/json', 'x-signature': signatureHeader(body, secret, clock()), 'idempotency-key': n.id },
        });
      } catch (e) {
        throw new RetryableError(`webhook unreachable: ${e instanceof Error ? e.message : String(e)}`);
      }
      await res.body?.cancel().catch(() => {}); // the answer is its status
      if (res.ok) return;
      if (res.status === 408 || res.status === 429 || res.status >= 500) throw new RetryableError(`webhook answered ${res.status}`);
      throw new RefusedError(`webhook refused the notification: ${res.status}`);
    }),
  };
}
