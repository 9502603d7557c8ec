/**
 * The bus this thread's edge talks on: the single node's in-process hub, or NATS for a cluster
 * member, waited for until it answers (a node may start before its NATS server).
 */
import type { NatsConnection } from 'nats';
import type { Bus } from '../bus/bus.ts';
import { NatsBus } from '../bus/nats.ts';
import { retryForever } from '../integrations/resilience.ts';
import type { Component } from './component.ts';
import type { NodeParts } from './parts.ts';

export class BusComponent implements Component {
  readonly name = 'bus';
  private connected: { bus: Bus; nats: NatsBus | undefined } | undefined;

  constructor(private readonly parts: NodeParts) {}

  async start(): Promise<void> {
    const { config, hub, log } = this.parts;
    if (hub) {
      this.connected = { bus: hub.local('edge'), nats: undefined };
      return;
    }
    const nats = await retryForever(() => NatsBus.connect(config.natsUrl!, `${config.nodeId}-edge`), {
      initialDelayMs: 250,
      maxDelayMs: 5_000,
      onRetry: ({ attempt, error }) => log.warn({ err: error, attempt }, 'NATS not reachable; retrying'),
    });
    this.connected = { bus: nats, nats };
  }

  async stop(): Promise<void> {
    await this.connected?.nats?.close();
  }

  /** For the components started after this one. */
  get bus(): Bus {
    return this.started().bus;
  }

  /** The NATS connection of a cluster member; undefined on a single node. */
  get nats(): NatsBus | undefined {
    return this.started().nats;
  }

  /** The NATS connection, for what only a cluster member runs (leases, outbox relay). */
  natsConnection(): NatsConnection {
    const nats = this.nats;
    if (!nats) throw new Error('NATS is used on a single node');
    return nats.nc;
  }

  private started(): { bus: Bus; nats: NatsBus | undefined } {
    if (!this.connected) throw new Error('the bus is used before it started');
    return this.connected;
  }
}
