/**
 * Notifications (issue 16): a participant who did not get a message live is told, by a
 * notification coalesced over their conversations, through a channel (webhook.ts).
 *
 * The flow, every round (NOTIFY_POLL_MS) on every node running it:
 *  1. The persister wrote a job per recipient and conversation in the message's own statement
 *     (batch-sql.ts), due NOTIFY_COALESCE_MS after the message; later messages coalesce into it.
 *  2. A user with a due unchecked job is looked up in the presence directory (cluster-wide):
 *     offline → every job of theirs becomes one notification now; online → their jobs wait until
 *     NOTIFY_DELAY_MS after their first message, when those a device did not `recv`
 *     (members.delivered_seq below the job's last seq) become one notification, online or not.
 *     Muted conversations are left out (and get no job in the first place).
 *  3. Due notifications are claimed (one node each: a lease, src/persist/notifications.ts) and
 *     delivered; a failure is retried after a durable, jittered pause (retryDelayMs), and after
 *     NOTIFY_ATTEMPTS_MAX failures — or at once, when the receiver refused it — it is a dead letter
 *     until an admin replays it.
 * A notification is one delivery per channel of its user (the webhook when configured, each Web
 * Push subscription, push.ts), each claimed, retried and dead-lettered on its own; a push
 * subscription the push service calls gone (404/410) is removed instead, with its deliveries.
 * Delivery is at least once: a node that dies between the receiver's answer and the row's
 * removal leaves the notification to be sent again after its lease, with the same idempotency key.
 */
import { type Config, NOTIFY_ERROR_MAX_CHARS, NOTIFY_LISTED_MAX, NOTIFY_ROUND_MAX } from '../config.ts';
import { isBreakerOpen, retryDelayMs } from '../integrations/resilience.ts';
import type { Logger } from '../log.ts';
import type { Delivery, NotificationsTable, PushSubscriptionsTable } from '../persist/notifications.ts';
import { notificationBody } from './body.ts';
import { GoneError, type PushChannel } from './push.ts';
import { type NotificationChannel, RefusedError } from './webhook.ts';

export interface NotifierDeps {
  table: NotificationsTable;
  /** The webhook (NOTIFY_WEBHOOK_URL); without it notifications go to push subscriptions only. */
  channel?: NotificationChannel;
  /** Web Push (NOTIFY_VAPID_*) and the subscriptions it reads; without it push deliveries are not formed. */
  push?: { channel: PushChannel; subscriptions: PushSubscriptionsTable };
  /** Whether the user has a live socket anywhere in the cluster (the presence directory). */
  online(user: string): Promise<boolean>;
  config: Config['notify'];
  log: Logger;
  clock?: () => number;
  /** Told of each delivery made a dead letter (the node counts them in /metrics). */
  onDeadLetter?: (channel: Delivery['channel']) => void;
}

export interface RoundResult {
  /** Notifications made of jobs this round. */
  formed: number;
  /** Deliveries attempted, and those the receiver accepted. */
  attempted: number;
  delivered: number;
}

/**
 * How long a claimed delivery is left to the node that claimed it: its whole attempt (every
 * quick retry at NOTIFY_TIMEOUT_MS, cockatiel's pauses of at most 1 s between them) and 5 s for
 * the database around it. Past it another node may try the notification again.
 */
export function leaseMs(c: Pick<Config['notify'], 'timeoutMs' | 'retries'>): number {
  return (c.timeoutMs + 1_000) * (c.retries + 1) + 5_000;
}

export class Notifier {
  private readonly clock: () => number;
  private stopped = false;

  constructor(private readonly d: NotifierDeps) {
    this.clock = d.clock ?? Date.now;
  }

  /** Forms what is due, then delivers what is due; repeats while a step took a full round. */
  async round(): Promise<RoundResult> {
    const out: RoundResult = { formed: 0, attempted: 0, delivered: 0 };
    for (let full = true; full && !this.stopped;) {
      const users = await this.form();
      const batch = await this.deliver();
      out.formed += users.formed;
      out.attempted += batch.attempted;
      out.delivered += batch.delivered;
      full = users.users === NOTIFY_ROUND_MAX || batch.attempted === NOTIFY_ROUND_MAX;
    }
    return out;
  }

  /** Ends a round in flight after its current step, and every later one at once. */
  stop(): void {
    this.stopped = true;
  }

  private async form(): Promise<{ users: number; formed: number }> {
    const { table, config } = this.d;
    const now = this.clock();
    const due = await table.dueUsers(now, NOTIFY_ROUND_MAX);
    let formed = 0;
    for (const u of due) {
      if (this.stopped) break;
      if (u.unchecked) {
        // A failed lookup counts as online: the delivered watermark decides NOTIFY_DELAY_MS later.
        const online = await this.d.online(u.user).catch((err: unknown) => {
          this.d.log.warn({ err, user: u.user }, 'notifications: presence lookup failed; waiting for the delivered watermark');
          return true;
        });
        if (!online) {
          if (await table.form(u.user, true, now, this.d.channel !== undefined, this.d.push !== undefined)) formed++;
          continue;
        }
        await table.awaitDelivery(u.user, now, config.delayMs);
      }
      if (await table.form(u.user, false, now, this.d.channel !== undefined, this.d.push !== undefined)) formed++;
    }
    return { users: due.length, formed };
  }

  private async deliver(): Promise<{ attempted: number; delivered: number }> {
    if (this.stopped) return { attempted: 0, delivered: 0 };
    const batch = await this.d.table.claim(this.clock(), leaseMs(this.d.config), NOTIFY_ROUND_MAX);
    const results = await Promise.all(batch.map((d) => this.attempt(d)));
    return { attempted: batch.length, delivered: results.filter(Boolean).length };
  }

  /** One delivery attempt and its outcome in the table; true when the receiver accepted it. */
  private async attempt(d: Delivery): Promise<boolean> {
    const { table, config, log } = this.d;
    try {
      const body = notificationBody(d, NOTIFY_LISTED_MAX);
      if (d.channel === 'push') {
        // A subscription removed since (DELETE, or gone) takes its deliveries with it.
        const sub = d.endpoint !== undefined && this.d.push ? await this.d.push.subscriptions.get(d.endpoint) : undefined;
        if (!sub) {
          await table.delivered(d.key);
          return false;
        }
        await this.d.push!.channel.deliver(sub, body);
      } else {
        if (!this.d.channel) throw new RefusedError('NOTIFY_WEBHOOK_URL is not set on this node');
        await this.d.channel.deliver(body);
      }
    } catch (e) {
      const now = this.clock();
      // The push service says the subscription is gone: removed, nothing retried or dead-lettered.
      if (e instanceof GoneError && d.endpoint !== undefined) {
        await this.d.push!.subscriptions.gone(d.endpoint);
        log.info({ key: d.key, user: d.user }, 'push subscription gone; removed');
        return false;
      }
      // The breaker failed fast: nothing was attempted, so no attempt is counted.
      if (isBreakerOpen(e)) {
        await table.postpone(d.key, now + config.breakerHalfOpenAfterMs);
        return false;
      }
      const attempts = d.attempts + 1;
      const error = (e instanceof Error ? e.message : String(e)).slice(0, NOTIFY_ERROR_MAX_CHARS);
      if (e instanceof RefusedError || attempts >= config.attemptsMax) {
        await table.deadLetter(d.key, attempts, now, error);
        this.d.onDeadLetter?.(d.channel);
        log.warn({ key: d.key, user: d.user, attempts, error, channel: d.channel }, 'notification dead-lettered');
      } else {
        await table.failed(d.key, attempts, now + retryDelayMs(attempts, config.retryBaseMs, config.retryMaxMs), error);
      }
      return false;
    }
    await table.delivered(d.key);
    return true;
  }
}
