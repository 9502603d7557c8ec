/**
 * Order events from JetStream (cluster members), consumed once every shard can take them. The
 * consumer is retried in the background until JetStream answers: a node serves chat without it,
 * so its start does not wait for it.
 */
import { OrderEventsConsumer } from '../integrations/order-events-jetstream.ts';
import { applyOrderEvent } from '../rpc/order-events.ts';
import { retryForever } from '../integrations/resilience.ts';
import { ShardClient } from '../rpc/shard-client.ts';
import type { BusComponent } from './bus.ts';
import type { Component } from './component.ts';
import type { NodeParts } from './parts.ts';

export class OrderEventsComponent implements Component {
  readonly name = 'order-events';
  private consumer: OrderEventsConsumer | undefined;
  private readonly stopping = new AbortController();

  constructor(private readonly parts: NodeParts, private readonly bus: BusComponent) {}

  async start(): Promise<void> {
    const { config, log } = this.parts;
    const shards = ShardClient.forNode(this.bus.bus, this.parts.subjects, config);
    const consumerLog = log.child({ component: 'order-events' });
    const consumer = new OrderEventsConsumer({ ...config.events, natsUrl: config.natsUrl! }, (e) => applyOrderEvent(shards, e), consumerLog);
    this.consumer = consumer;
    this.countInMetrics(consumer);
    void retryForever(() => consumer.start(), {
      initialDelayMs: 500,
      maxDelayMs: 10_000,
      signal: this.stopping.signal,
      onRetry: ({ attempt, error }) => log.warn({ err: error, attempt }, 'order events: JetStream not reachable; retrying'),
    }).then(
      () => log.info({ stream: config.events.stream, consumer: config.events.consumer }, 'order events: consuming from JetStream'),
      () => {}, // only a stop ends the retries unanswered (RetryStoppedError): nothing to report
    );
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.consumer?.stop();
  }

  /** The consumer counts; the node's metrics take the increments once a second. */
  private countInMetrics(consumer: OrderEventsConsumer): void {
    const { metrics } = this.parts;
    const seen = { applied: 0, deadLettered: 0 };
    setInterval(() => {
      const s = consumer.stats;
      metrics.eventsApplied.inc(s.applied - seen.applied);
      metrics.eventsDeadLettered.inc(s.deadLettered - seen.deadLettered);
      metrics.eventsLag.set(s.lastLagMs / 1000);
      Object.assign(seen, { applied: s.applied, deadLettered: s.deadLettered });
    }, 1000).unref();
  }
}
