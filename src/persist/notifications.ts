/**
 * The notification tables (migration 010; the flow is in src/notify/notifier.ts). Jobs are
 * written by the persister's batch statement (batch-sql.ts); everything here is one statement
 * each, so it is atomic without a transaction (PGlite's socket server interleaves connections
 * query by query) and safe with several nodes at once:
 *   - a job becomes part of a notification by a DELETE … RETURNING: taken once, by one node;
 *   - a delivery is claimed by moving its next_ms past the attempt (a lease) among rows locked
 *     `FOR UPDATE SKIP LOCKED`: one node tries it at a time, another only once the lease lapsed
 *     (its node died mid-attempt: at least once, the receiver deduplicates on the key).
 */
import type pg from 'pg';

/** One conversation of a notification: the messages a user may not have seen there. */
export interface NotifyItem {
  conv: string;
  messages: number;
  firstSeq: number;
  lastSeq: number;
  /** The first of those messages' time (epoch ms). */
  firstAt: number;
}

/** How a delivery reaches its user: the webhook, or one of their Web Push subscriptions (migration 013). */
export type NotifyChannel = 'webhook' | 'push';

export interface Delivery {
  /**
   * The idempotency key: the same on every attempt of this notification on this channel
   * (`ntf-<md5>` on the webhook, `ntf-<md5>-push-<md5 of the endpoint>` on a push subscription).
   */
  key: string;
  user: string;
  channel: NotifyChannel;
  /** The push subscription's endpoint (channel `push`). */
  endpoint?: string;
  items: NotifyItem[];
  /** Failed attempts so far. */
  attempts: number;
  createdAt: number;
}

export interface DeadLetter extends Delivery {
  failedAt: number;
  lastError: string | null;
}

/** A due user: `unchecked` when some of their due jobs wait for a presence check (stage 0). */
export interface DueUser {
  user: string;
  unchecked: boolean;
}

interface DeliveryRow {
  key: string;
  user_id: string;
  items: NotifyItem[];
  attempts: number;
  created_ms: string | number;
  channel: NotifyChannel;
  endpoint: string | null;
}

const delivery = (r: DeliveryRow): Delivery => ({
  key: r.key, user: r.user_id, channel: r.channel, ...(r.endpoint !== null ? { endpoint: r.endpoint } : {}),
  items: r.items, attempts: r.attempts, createdAt: Number(r.created_ms),
});

export class NotificationsTable {
  constructor(private readonly pool: pg.Pool) {}

  /** Users with a job due at `now`, the longest waiting first. */
  async dueUsers(now: number, max: number): Promise<DueUser[]> {
    const r = await this.pool.query<{ user_id: string; unchecked: boolean }>(
      `SELECT user_id, bool_or(stage = 0) AS unchecked FROM notify_jobs WHERE due_ms <= $1
       GROUP BY user_id ORDER BY min(due_ms) LIMIT $2`, [now, max]);
    return r.rows.map((x) => ({ user: x.user_id, unchecked: x.unchecked }));
  }

  /** The user is online: their unchecked due jobs wait until NOTIFY_DELAY_MS after their first message. */
  async awaitDelivery(user: string, now: number, delayMs: number): Promise<void> {
    await this.pool.query('UPDATE notify_jobs SET stage = 1, due_ms = first_ms + $3::bigint WHERE user_id = $1 AND stage = 0 AND due_ms <= $2::bigint', [user, now, delayMs]);
  }

  /**
   * Takes the user's jobs — all of them (`all`, the user is offline), or their due ones that
   * waited for the delivered watermark — and makes one notification of those the user's devices
   * did not receive (members.delivered_seq below the job's last seq) in conversations not muted
   * since, delivered on each of the user's channels: the webhook (`webhook`), each of their push
   * subscriptions. Answers its key, or undefined when nothing was left to notify (or no channel).
   */
  async form(user: string, all: boolean, now: number, webhook = true, push = true): Promise<string | undefined> {
    const r = await this.pool.query<{ key: string }>(
      `WITH taken AS (
         DELETE FROM notify_jobs j WHERE j.user_id = $1 AND ($2::boolean OR (j.stage = 1 AND j.due_ms <= $3::bigint))
         RETURNING j.user_id, j.conv_id, j.first_seq, j.last_seq, j.messages, j.first_ms
       ),
       kept AS (
         SELECT t.user_id, t.conv_id, t.last_seq, t.first_ms,
           -- What a device did receive of the job's messages is left out (it may have got the
           -- first ones before the later ones coalesced in): exact when only others wrote since.
           greatest(t.first_seq, coalesce(m.delivered_seq, 0) + 1) AS first_seq,
           least(t.messages, t.last_seq - greatest(coalesce(m.delivered_seq, 0), t.first_seq - 1)) AS messages
         FROM taken t
         LEFT JOIN members m ON m.conv_id = t.conv_id AND m.user_id = t.user_id
         WHERE coalesce(m.delivered_seq, 0) < t.last_seq
           AND NOT EXISTS (SELECT 1 FROM notify_mutes x WHERE x.user_id = t.user_id AND x.conv_id = t.conv_id)
       ),
       n AS (
         SELECT 'ntf-' || md5(min(user_id) || ':' || string_agg(conv_id || ':' || last_seq, ',' ORDER BY conv_id)) AS key, min(user_id) AS user_id,
           jsonb_agg(jsonb_build_object('conv', conv_id, 'messages', messages, 'firstSeq', first_seq, 'lastSeq', last_seq, 'firstAt', first_ms) ORDER BY first_ms DESC) AS items
         FROM kept HAVING count(*) > 0
       ),
       ch AS (
         SELECT 'webhook' AS channel, NULL::text AS endpoint WHERE $4::boolean
         UNION ALL SELECT 'push', endpoint FROM push_subscriptions WHERE $5::boolean AND user_id = $1
       )
       INSERT INTO notify_deliveries (key, user_id, items, attempts, next_ms, created_ms, channel, endpoint)
       SELECT CASE WHEN ch.endpoint IS NULL THEN n.key ELSE n.key || '-push-' || md5(ch.endpoint) END, n.user_id, n.items,
         0, $3::bigint, $3::bigint, ch.channel, ch.endpoint
       FROM n CROSS JOIN ch
       ON CONFLICT (key) DO NOTHING
       RETURNING key`, [user, all, now, webhook, push]);
    return r.rows[0]?.key;
  }

  /** Claims due deliveries: none is due again before `now + leaseMs` (the attempt's lease). */
  async claim(now: number, leaseMs: number, max: number): Promise<Delivery[]> {
    const r = await this.pool.query<DeliveryRow>(
      `UPDATE notify_deliveries SET next_ms = $1::bigint + $2::bigint
       WHERE key IN (SELECT key FROM notify_deliveries WHERE next_ms <= $1::bigint ORDER BY next_ms LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING key, user_id, items, attempts, created_ms, channel, endpoint`, [now, leaseMs, max]);
    return r.rows.map(delivery);
  }

  /** Delivered: gone. */
  async delivered(key: string): Promise<void> {
    await this.pool.query('DELETE FROM notify_deliveries WHERE key = $1', [key]);
  }

  /** Not attempted (the breaker is open): tried again at `next` without counting an attempt. */
  async postpone(key: string, next: number): Promise<void> {
    await this.pool.query('UPDATE notify_deliveries SET next_ms = $2 WHERE key = $1', [key, next]);
  }

  /** An attempt failed: tried again at `next`, its failures now `attempts`. */
  async failed(key: string, attempts: number, next: number, error: string): Promise<void> {
    await this.pool.query('UPDATE notify_deliveries SET attempts = $2, next_ms = $3, last_error = $4 WHERE key = $1', [key, attempts, next, error]);
  }

  /** Failed for good: moved to the dead letters (one statement). */
  async deadLetter(key: string, attempts: number, now: number, error: string): Promise<void> {
    await this.pool.query(
      `WITH d AS (DELETE FROM notify_deliveries WHERE key = $1 RETURNING key, user_id, items, created_ms, channel, endpoint)
       INSERT INTO notify_dead_letters (key, user_id, items, attempts, created_ms, failed_ms, last_error, channel, endpoint)
       SELECT key, user_id, items, $2::int, created_ms, $3::bigint, $4::text, channel, endpoint FROM d
       ON CONFLICT (key) DO UPDATE SET attempts = EXCLUDED.attempts, failed_ms = EXCLUDED.failed_ms, last_error = EXCLUDED.last_error`,
      [key, attempts, now, error]);
  }

  /** Dead letters, oldest first; `cursor` is the `next` of the previous page. */
  async deadLetters(cursor: string | undefined, limit: number): Promise<{ deadLetters: DeadLetter[]; next?: string }> {
    const after = cursor ? decodeCursor(cursor) : undefined;
    const r = await this.pool.query<DeliveryRow & { failed_ms: string | number; last_error: string | null }>(
      `SELECT key, user_id, items, attempts, created_ms, failed_ms, last_error, channel, endpoint FROM notify_dead_letters
       WHERE $1::bigint IS NULL OR (failed_ms, key) > ($1::bigint, $2::text)
       ORDER BY failed_ms, key LIMIT $3`, [after?.failedAt ?? null, after?.key ?? '', limit + 1]);
    const deadLetters = r.rows.slice(0, limit).map((x) => ({ ...delivery(x), failedAt: Number(x.failed_ms), lastError: x.last_error }));
    const last = deadLetters[deadLetters.length - 1];
    return r.rows.length > limit ? { deadLetters, next: encodeCursor(last.failedAt, last.key) } : { deadLetters };
  }

  /**
   * Dead letters back to delivery, due now, with their attempts reset: those named by `keys`, or
   * the oldest `max` of all. Answers how many moved, and whether more are left.
   */
  async replay(keys: string[] | undefined, max: number, now: number): Promise<{ replayed: number; more: boolean }> {
    const r = await this.pool.query<{ key: string }>(
      `WITH d AS (
         DELETE FROM notify_dead_letters WHERE key IN (
           SELECT key FROM notify_dead_letters WHERE $1::text[] IS NULL OR key = ANY($1::text[]) ORDER BY failed_ms, key LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING key, user_id, items, created_ms, channel, endpoint
       )
       INSERT INTO notify_deliveries (key, user_id, items, attempts, next_ms, created_ms, channel, endpoint)
       SELECT key, user_id, items, 0, $3::bigint, created_ms, channel, endpoint FROM d
       ON CONFLICT (key) DO NOTHING
       RETURNING key`, [keys ?? null, max, now]);
    const left = keys ? 0 : Number((await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM (SELECT 1 FROM notify_dead_letters LIMIT 1) x')).rows[0].n);
    return { replayed: r.rows.length, more: left > 0 };
  }

  /** Mutes `conv` for `user`: no job is written for it from now on, and a pending one is dropped. */
  async mute(user: string, conv: string, now: number): Promise<void> {
    await this.pool.query(
      `WITH m AS (INSERT INTO notify_mutes (user_id, conv_id, created_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING)
       DELETE FROM notify_jobs WHERE user_id = $1 AND conv_id = $2`, [user, conv, now]);
  }

  async unmute(user: string, conv: string): Promise<void> {
    await this.pool.query('DELETE FROM notify_mutes WHERE user_id = $1 AND conv_id = $2', [user, conv]);
  }
}

/** A browser's Web Push subscription (RFC 8030): where to post, and its RFC 8291 keys (base64url). */
export interface PushSubscriptionRow {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/** The push_subscriptions table (migration 013): a user's browsers, bounded per user. */
export class PushSubscriptionsTable {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Keeps the subscription for `user` (an endpoint another user held moves to this one: the
   * browser's profile changed hands). Answers false, keeping nothing, when the user already
   * holds `max` other endpoints — checked in the same statement.
   */
  async add(user: string, s: PushSubscriptionRow, max: number, now: number): Promise<boolean> {
    const r = await this.pool.query(
      `INSERT INTO push_subscriptions (endpoint, user_id, p256dh, auth, created_ms)
       SELECT $1, $2, $3, $4, $5::bigint
       WHERE (SELECT count(*) FROM push_subscriptions WHERE user_id = $2 AND endpoint <> $1) < $6::int
       ON CONFLICT (endpoint) DO UPDATE SET user_id = EXCLUDED.user_id, p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth, created_ms = EXCLUDED.created_ms
       RETURNING endpoint`, [s.endpoint, user, s.keys.p256dh, s.keys.auth, now, max]);
    return r.rowCount === 1;
  }

  /** Removes the user's subscription at `endpoint`; answers whether there was one. */
  async remove(user: string, endpoint: string): Promise<boolean> {
    const r = await this.pool.query('DELETE FROM push_subscriptions WHERE user_id = $1 AND endpoint = $2', [user, endpoint]);
    return r.rowCount === 1;
  }

  /**
   * The push service said the subscription is gone (404/410): removed, with its pending
   * deliveries and dead letters (nothing can reach it any more).
   */
  async gone(endpoint: string): Promise<void> {
    await this.pool.query(
      `WITH s AS (DELETE FROM push_subscriptions WHERE endpoint = $1),
            d AS (DELETE FROM notify_deliveries WHERE channel = 'push' AND endpoint = $1)
       DELETE FROM notify_dead_letters WHERE channel = 'push' AND endpoint = $1`, [endpoint]);
  }

  async get(endpoint: string): Promise<PushSubscriptionRow | undefined> {
    const r = await this.pool.query<{ endpoint: string; p256dh: string; auth: string }>('SELECT endpoint, p256dh, auth FROM push_subscriptions WHERE endpoint = $1', [endpoint]);
    const x = r.rows[0];
    return x && { endpoint: x.endpoint, keys: { p256dh: x.p256dh, auth: x.auth } };
  }

  async list(user: string): Promise<string[]> {
    const r = await this.pool.query<{ endpoint: string }>('SELECT endpoint FROM push_subscriptions WHERE user_id = $1 ORDER BY created_ms', [user]);
    return r.rows.map((x) => x.endpoint);
  }
}

/** A dead-letter page cursor: opaque to clients (base64url of "failedAt:key"). */
function encodeCursor(failedAt: number, key: string): string {
  return Buffer.from(`${failedAt}:${key}`).toString('base64url');
}

/** Throws RangeError when `cursor` is not one encodeCursor made. */
function decodeCursor(cursor: string): { failedAt: number; key: string } {
  const s = Buffer.from(cursor, 'base64url').toString();
  const i = s.indexOf(':');
  const failedAt = Number(s.slice(0, i));
  if (i < 1 || !Number.isSafeInteger(failedAt)) throw new RangeError('not a cursor');
  return { failedAt, key: s.slice(i + 1) };
}
