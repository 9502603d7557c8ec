/**
 * The Web Push channel (RFC 8030 delivery, RFC 8291 aes128gcm payload encryption, RFC 8292
 * VAPID): the `web-push` package encrypts the payload for the subscription's keys and signs the
 * VAPID JWT (generateRequestDetails); the request itself goes through fetch, so that every
 * attempt runs under the resilience policy like the webhook's (timeout per attempt, quick
 * jittered retries, a circuit breaker — one per push service origin, so one failing service does
 * not stop the others). The push service answers:
 *   2xx        accepted (it delivers to the browser when it is next reachable, within PUSH_TTL_S);
 *   404 / 410  the subscription is gone: GoneError — the notifier removes it, no retry, no dead letter
 *              (so is an endpoint whose host now resolves to a private address: src/notify/egress.ts);
 *   408/429/5xx, unreachable, timeout: retried;
 *   other 4xx  refused for good (RefusedError): a dead letter.
 */
import webpush from 'web-push';
import { LRUCache } from 'lru-cache';
import { PUSH_BREAKERS_MAX, PUSH_TTL_S } from '../config.ts';
import { type ResilienceOptions, type Resilient, RetryableError, resilient } from '../integrations/resilience.ts';
import type { PushSubscriptionRow } from '../persist/notifications.ts';
import { summaryText, type NotificationBody } from './body.ts';
import { RefusedError } from './webhook.ts';
import { assertPublicDestination, PrivateDestinationError } from './egress.ts';

/** The subscription no longer exists at the push service (404/410). */
export class GoneError extends Error {
  override name = 'GoneError';
}

/** What the service worker (web/sw.ts) gets: enough to show the notification and open the conversation. */
export interface PushPayload {
  id: string;
  type: 'notification';
  title: string;
  body: string;
  conversations: number;
  messages: number;
  /** The most recent conversation (opened on a click). */
  conv?: string;
  createdAt: number;
}

export function pushPayload(n: NotificationBody): PushPayload {
  return {
    id: n.id, type: 'notification', title: 'New messages', body: summaryText(n),
    conversations: n.conversations, messages: n.messages, ...(n.items[0] ? { conv: n.items[0].conv } : {}), createdAt: n.createdAt,
  };
}

export interface PushChannel {
  readonly name: 'push';
  deliver(sub: PushSubscriptionRow, n: NotificationBody): Promise<void>;
}

export function pushChannel(vapid: { publicKey: string; privateKey: string; subject: string }, policyOptions: ResilienceOptions, allowPrivate = false): PushChannel {
  const policies = new LRUCache<string, Resilient>({ max: PUSH_BREAKERS_MAX });
  const policyFor = (endpoint: string): Resilient => {
    const origin = new URL(endpoint).origin;
    let p = policies.get(origin);
    if (!p) policies.set(origin, (p = resilient(policyOptions)));
    return p;
  };
  return {
    name: 'push',
    deliver: (sub, n) => policyFor(sub.endpoint).execute(async (signal) => {
      // Encrypted and signed per attempt: a fresh salt, key pair and JWT expiry each time.
      const req = webpush.generateRequestDetails(sub, JSON.stringify(pushPayload(n)), {
        vapidDetails: vapid, TTL: PUSH_TTL_S, contentEncoding: 'aes128gcm', urgency: 'normal',
      });
      try {
        await assertPublicDestination(req.endpoint, allowPrivate, policyOptions.timeoutMs);
      } catch (e) {
        // Never this network: the subscription is useless, not a delivery to retry.
        if (e instanceof PrivateDestinationError) throw new GoneError(`push endpoint refused: ${e.message}`);
        throw new RetryableError(`push endpoint not resolved: ${e instanceof Error ? e.message : String(e)}`);
      }
      let res: Response;
      try {
        res = await fetch(req.endpoint, { method: 'POST', headers: req.headers as Record<string, string>, body: req.body ? new Uint8Array(req.body) : null, signal, redirect: 'manual' });
      } catch (e) {
        throw new RetryableError(`push service unreachable: ${e instanceof Error ? e.message : String(e)}`);
      }
      await res.body?.cancel().catch(() => {});
      if (res.ok) return;
      if (res.status === 404 || res.status === 410) throw new GoneError(`push subscription gone: ${res.status}`);
      if (res.status === 408 || res.status === 429 || res.status >= 500) throw new RetryableError(`push service answered ${res.status}`);
      throw new RefusedError(`push service refused the notification: ${res.status}`);
    }),
  };
}
