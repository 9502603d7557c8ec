/**
 * Order events from NATS JetStream (with NATS_URL): a durable pull consumer on the stream
 * ORDER_EVENTS (subjects `orders.>`, created if missing). An event is acked only after its
 * effect is committed (the actor replies after the batch holding it); a failure is retried
 * with a delay, and after ORDER_EVENTS_MAX_DELIVER attempts — or at once for an event that
 * can never apply (malformed) — it is published to the dead-letter subject with the error.
 */
import { AckPolicy, connect, type JsMsg, type NatsConnection, RetentionPolicy } from 'nats';
import type { OrderEvent } from '../../actors/order.ts';
import type { Logger } from '../log.ts';
import type { Config } from '../config.ts';
import { ChatError } from '../../protocol/errors.ts';
import { parseOrderEvent } from './order-events.ts';

/** The `events` section of the node's config (src/config.ts), with NATS present. */
export type OrderEventsJetStreamConfig = Omit<Config['events'], 'natsUrl' | 'hmacSecret' | 'maxSkewMs'> & { natsUrl: string };

export interface OrderEventsStats {
  applied: number;
  deadLettered: number;
  /** occurredAt → applied, of the last event (intake lag). */
  lastLagMs: number;
}

export class OrderEventsConsumer {
  readonly stats: OrderEventsStats = { applied: 0, deadLettered: 0, lastLagMs: 0 };
  private nc: NatsConnection | undefined;
  private stopped = false;

  constructor(
    private readonly cfg: OrderEventsJetStreamConfig,
    private readonly apply: (e: OrderEvent) => Promise<void>,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.nc = await connect({ servers: this.cfg.natsUrl, name: 'order-events' });
    const jsm = await this.nc.jetstreamManager();
    try {
      await jsm.streams.info(this.cfg.stream);
    } catch {
      await jsm.streams.add({ name: this.cfg.stream, subjects: this.cfg.subjects, retention: RetentionPolicy.Limits });
    }
    await jsm.consumers.add(this.cfg.stream, {
      durable_name: this.cfg.consumer,
      ack_policy: AckPolicy.Explicit,
      max_deliver: this.cfg.maxDeliver,
      ack_wait: 30_000_000_000, // 30 s in ns: longer than any bus request timeout
    });
    const consumer = await this.nc.jetstream().consumers.get(this.cfg.stream, this.cfg.consumer);
    const messages = await consumer.consume({ max_messages: 64 });
    void (async () => {
      for await (const m of messages) {
        if (this.stopped) break;
        await this.handle(m);
      }
    })();
  }

  private async handle(m: JsMsg): Promise<void> {
    let event: OrderEvent;
    try {
      event = parseOrderEvent(Buffer.from(m.data));
    } catch (e) {
      return this.deadLetter(m, e instanceof Error ? e.message : String(e));
    }
    try {
      await this.apply(event);
      this.stats.applied++;
      this.stats.lastLagMs = Date.now() - Date.parse(event.occurredAt);
      m.ack();
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      if (e instanceof ChatError && e.code < 500 && e.code !== 409) return this.deadLetter(m, reason);
      if (m.info.redeliveryCount >= this.cfg.maxDeliver) return this.deadLetter(m, reason);
      this.log.warn({ subject: m.subject, attempt: m.info.redeliveryCount, reason }, 'order event failed; will be redelivered');
      m.nak(this.cfg.retryDelayMs);
    }
  }

  private deadLetter(m: JsMsg, error: string): void {
    this.stats.deadLettered++;
    this.log.error({ subject: m.subject, error, attempts: m.info.redeliveryCount }, 'order event dead-lettered');
    const body = JSON.stringify({ subject: m.subject, error, attempts: m.info.redeliveryCount, event: Buffer.from(m.data).toString('utf8') });
    this.nc!.publish(this.cfg.deadLetterSubject, new TextEncoder().encode(body));
    m.term();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.nc?.drain().catch(() => {});
  }
}
