/**
 * Notifications over HTTP (issue 16; the flow is src/notify/notifier.ts):
 *   PUT/DELETE /api/v1/me/conversations/{id}/mute            a participant mutes / unmutes a conversation
 *   GET  /api/v1/admin/notifications/dead-letters?cursor&limit  notifications that failed for good
 *   POST /api/v1/admin/notifications/dead-letters/replay {keys?}  back to delivery (all, oldest first, when no keys)
 *   GET    /api/v1/notifications/push-key                   the VAPID public key (null without NOTIFY_VAPID_*)
 *   POST   /api/v1/me/push-subscriptions {endpoint, keys: {p256dh, auth}}  keeps a browser's PushSubscription
 *   DELETE /api/v1/me/push-subscriptions {endpoint}          removes it
 * The admin routes are audited. Muting drops the conversation's pending job at once; replay
 * resets a notification's attempts and keeps its idempotency key.
 */
import { ECDH } from 'node:crypto';
import type { TemplatedApp } from 'uWebSockets.js';
import { ChatError, ErrorCode } from '../../protocol/errors.ts';
import { requireId } from '../../protocol/ids.ts';
import { requireJson } from '../../protocol/json-body.ts';
import { parseBody, parseQuery } from '../../protocol/schema.ts';
import type { Static } from '@sinclair/typebox';
import type { Principal } from '../auth/auth.ts';
import {
  NOTIFY_REPLAY_BODY_MAX_BYTES, NOTIFY_REPLAY_MAX, PUSH_ENDPOINT_MAX_CHARS, PUSH_SUBSCRIPTION_BODY_MAX_BYTES, PUSH_SUBSCRIPTIONS_PER_USER_MAX,
} from '../config.ts';
import { NotificationsTable, type PushSubscriptionRow, PushSubscriptionsTable } from '../persist/notifications.ts';
import { authenticate, type HttpDeps, route } from './routes.ts';
import { DeadLettersQuery, PushSubscriptionBody, PushSubscriptionRemoval, ReplayDeadLetters } from './schemas.ts';
import { endpointFault } from '../notify/egress.ts';

export function registerNotifications(app: TemplatedApp, d: HttpDeps): void {
  const table = new NotificationsTable(d.pool);

  const muteRoute = (mute: boolean) =>
    route(d.log, async ({ auth, query, params }) => {
      const p = await authenticate(d.verifier, auth, query);
      const conv = requireId(params[0], 'id');
      const c = await d.store.participants(conv);
      if (!c) throw new ChatError(ErrorCode.notFound, 'no such conversation');
      if (!c.participants.includes(p.sub)) throw new ChatError(ErrorCode.forbidden, 'not a participant');
      if (mute) await table.mute(p.sub, conv, Date.now());
      else await table.unmute(p.sub, conv);
      return { status: 204 };
    });
  app.put('/api/v1/me/conversations/:id/mute', muteRoute(true));
  app.del('/api/v1/me/conversations/:id/mute', muteRoute(false));

  const subs = new PushSubscriptionsTable(d.pool);
  const vapid = d.config.notify.vapid;
  app.get('/api/v1/notifications/push-key', route(d.log, async () => {
    // Off is an answer, not an error: every page load asks, and a 404 there reads as a broken page.
    return { status: 200, body: { publicKey: vapid ? vapid.publicKey : null } };
  }));
  app.post('/api/v1/me/push-subscriptions', route(d.log, async ({ auth, query, headers, body }) => {
    const p = await authenticate(d.verifier, auth, query);
    if (!vapid) throw new ChatError(ErrorCode.notFound, 'Web Push is not configured (NOTIFY_VAPID_*)');
    requireJson(headers['content-type']);
    const sub = parsePushSubscription(parseBody(PushSubscriptionBody, body));
    const fault = endpointFault(sub.endpoint, d.config.notify.pushAllowPrivate);
    if (fault) throw new ChatError(ErrorCode.badFrame, `endpoint: ${fault} (NOTIFY_PUSH_ALLOW_PRIVATE)`);
    if (!(await subs.add(p.sub, sub, PUSH_SUBSCRIPTIONS_PER_USER_MAX, Date.now()))) {
      throw new ChatError(ErrorCode.conflict, `at most ${PUSH_SUBSCRIPTIONS_PER_USER_MAX} push subscriptions per user: remove one first`);
    }
    return { status: 201, body: { endpoint: sub.endpoint } };
  }, { body: true, headers: ['content-type'], bodyMaxBytes: PUSH_SUBSCRIPTION_BODY_MAX_BYTES }));
  app.del('/api/v1/me/push-subscriptions', route(d.log, async ({ auth, query, headers, body }) => {
    const p = await authenticate(d.verifier, auth, query);
    requireJson(headers['content-type']);
    const endpoint = parseEndpoint(parseBody(PushSubscriptionRemoval, body).endpoint);
    if (!(await subs.remove(p.sub, endpoint))) throw new ChatError(ErrorCode.notFound, 'no such push subscription');
    return { status: 204 };
  }, { body: true, headers: ['content-type'], bodyMaxBytes: PUSH_SUBSCRIPTION_BODY_MAX_BYTES }));

  app.get('/api/v1/admin/notifications/dead-letters', route(d.log, async ({ auth, query }) => {
    const p = await requireAdmin(d, auth, query);
    const { cursor, limit = 50 } = parseQuery(DeadLettersQuery, query);
    let page;
    try {
      page = await table.deadLetters(cursor, limit);
    } catch (e) {
      if (e instanceof RangeError) throw new ChatError(ErrorCode.badFrame, 'cursor: not a cursor from a previous page');
      throw e;
    }
    await d.audit.record({ actor: p.sub, action: 'list_notification_dead_letters', detail: { count: page.deadLetters.length } });
    return { status: 200, body: page };
  }));

  app.post('/api/v1/admin/notifications/dead-letters/replay', route(d.log, async ({ auth, query, headers, body }) => {
    const p = await requireAdmin(d, auth, query);
    let keys: string[] | undefined;
    if (body.length > 0) {
      requireJson(headers['content-type']);
      keys = parseBody(ReplayDeadLetters, body).keys;
    }
    const r = await table.replay(keys, NOTIFY_REPLAY_MAX, Date.now());
    await d.audit.record({ actor: p.sub, action: 'replay_notification_dead_letters', detail: { replayed: r.replayed, ...(keys ? { keys: keys.length } : { all: true }) } });
    return { status: 200, body: r };
  }, { body: true, headers: ['content-type'], bodyMaxBytes: NOTIFY_REPLAY_BODY_MAX_BYTES }));
}

/** An http(s) URL (the schema bounds its length: PUSH_ENDPOINT_MAX_CHARS). */
function parseEndpoint(v: string): string {
  const bad = () => new ChatError(ErrorCode.badFrame, `endpoint: expected an http(s) URL of at most ${PUSH_ENDPOINT_MAX_CHARS} characters`);
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw bad();
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.username || u.password) throw bad();
  return v;
}

/** base64url (the schema's pattern; padding tolerated) decoding to exactly `bytes` bytes. */
function parseKey(v: string, name: string, bytes: number, what: string): string {
  if (Buffer.from(v, 'base64url').length !== bytes) {
    throw new ChatError(ErrorCode.badFrame, `keys.${name}: expected base64url of ${what} (${bytes} bytes)`);
  }
  return v.replace(/=+$/, '');
}

/** A browser's PushSubscription.toJSON() (schemas.ts PushSubscriptionBody), then the URL and the key bytes. */
export function parsePushSubscription(b: Static<typeof PushSubscriptionBody>): PushSubscriptionRow {
  const endpoint = parseEndpoint(b.endpoint);
  const k = b.keys;
  const p256dh = parseKey(k.p256dh, 'p256dh', 65, 'an uncompressed P-256 public key');
  try {
    ECDH.convertKey(Buffer.from(p256dh, 'base64url'), 'prime256v1', undefined, undefined, 'uncompressed'); // throws off the curve
  } catch {
    throw new ChatError(ErrorCode.badFrame, 'keys.p256dh: expected an uncompressed P-256 public key (a point on the curve)');
  }
  return { endpoint, keys: { p256dh, auth: parseKey(k.auth, 'auth', 16, 'the authentication secret') } };
}

async function requireAdmin(d: HttpDeps, auth: string, query: string): Promise<Principal> {
  const p = await authenticate(d.verifier, auth, query);
  if (!p.roles.includes('admin')) throw new ChatError(ErrorCode.forbidden, 'admin role required');
  return p;
}
