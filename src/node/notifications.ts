/**
 * The notifier (issue 16, src/notify/): every NOTIFY_POLL_MS it turns due notification jobs into
 * notifications and delivers them to NOTIFY_WEBHOOK_URL and to the users' Web Push
 * subscriptions. Every node with an edge runs it when NOTIFY_WEBHOOK_URL or the NOTIFY_VAPID_* keys are set (a single node, or each cluster member): the tables make each job
 * and each delivery one node's (src/persist/notifications.ts). Started after the database and
 * the edge (whose presence directory it asks), stopped before them, like the attachment sweep.
 */
import { resilient } from '../integrations/resilience.ts';
import { NotificationsTable, PushSubscriptionsTable } from '../persist/notifications.ts';
import { Notifier } from '../notify/notifier.ts';
import { pushChannel } from '../notify/push.ts';
import { webhookChannel } from '../notify/webhook.ts';
import type { Component } from './component.ts';
import type { NodeParts } from './parts.ts';

export class NotifierComponent implements Component {
  readonly name = 'notifier';
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  readonly notifier: Notifier;

  /** `online`: whether a user has a live socket anywhere in the cluster (the edge's presence directory). */
  constructor(private readonly parts: NodeParts, online: (user: string) => Promise<boolean>) {
    const c = parts.config.notify;
    const policyOptions = { timeoutMs: c.timeoutMs, retries: c.retries, breakerThreshold: c.breakerThreshold, breakerHalfOpenAfterMs: c.breakerHalfOpenAfterMs };
    this.notifier = new Notifier({
      table: new NotificationsTable(parts.pool),
      ...(c.webhookUrl ? { channel: webhookChannel(c.webhookUrl, c.webhookSecret!, resilient(policyOptions)) } : {}),
      ...(c.vapid ? { push: { channel: pushChannel(c.vapid, policyOptions, c.pushAllowPrivate), subscriptions: new PushSubscriptionsTable(parts.pool) } } : {}),
      online,
      onDeadLetter: (channel) => parts.metrics.notifyDeadLettered.inc({ channel }),
      config: c,
      log: parts.log.child({ component: 'notifier' }),
    });
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => {
      this.running ??= this.run().finally(() => (this.running = undefined));
    }, this.parts.config.notify.pollMs);
    this.timer.unref();
  }

  /**
   * No new round; the one in flight stops after its current step, waited for at most half of
   * SHUTDOWN_TIMEOUT_MS (an attempt may take NOTIFY_TIMEOUT_MS per quick retry). One cut off is
   * tried again after its lease, by this node's next start or another node: at least once.
   */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.notifier.stop();
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((r) => (timer = setTimeout(r, this.parts.config.shutdownTimeoutMs / 2)));
    await Promise.race([this.running, bound]);
    clearTimeout(timer);
  }

  private async run(): Promise<void> {
    try {
      const r = await this.notifier.round();
      if (r.attempted) this.parts.log.debug(r, 'notifier round');
    } catch (err) {
      this.parts.log.warn({ err }, 'notifier round failed; the next round retries');
    }
  }
}
