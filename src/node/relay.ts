/**
 * The outbox relay (cluster members hosting shards, when OUTBOX is on): domain events the
 * persister wrote go to JetStream. Started before the shard threads so that it stops after
 * them: its last round publishes what their final flushes wrote.
 */
import { OutboxRelay } from '../outbox/relay.ts';
import type { BusComponent } from './bus.ts';
import type { Component } from './component.ts';
import type { NodeParts } from './parts.ts';

export class RelayComponent implements Component {
  readonly name = 'outbox-relay';
  private relay: OutboxRelay | undefined;

  constructor(private readonly parts: NodeParts, private readonly bus: BusComponent) {}

  async start(): Promise<void> {
    const { config, pool, log } = this.parts;
    this.relay = new OutboxRelay(this.bus.natsConnection(), pool, { ...config.outbox, subjectPrefix: config.subjectPrefix }, log.child({ component: 'outbox' }));
    // The outbox is the queue: events wait there until a relay (this or another node's) runs.
    await this.relay.start().catch((e) => log.error({ err: e }, 'outbox relay could not start; events stay in the outbox'));
  }

  async stop(): Promise<void> {
    await this.relay?.stop();
    await this.relay?.round().catch(() => {}); // what the last flushes wrote
  }
}
