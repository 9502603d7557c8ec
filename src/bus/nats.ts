/**
 * The bus over NATS (between nodes): the same contract as the in-process bus (src/bus/bus.ts),
 * so edges and shard hosts do not know which one they run on. One connection per thread.
 */
import { connect, ErrorCode, type NatsConnection, type NatsError } from 'nats';
import { type Bus, type BusHandler, BusTimeoutError, NoRespondersError, type Subscription } from './bus.ts';

export class NatsBus implements Bus {
  private constructor(readonly nc: NatsConnection) {}

  /** Connects, retrying forever in the background after a first success (nats.js reconnects). */
  static async connect(url: string, name: string): Promise<NatsBus> {
    const nc = await connect({ servers: url, name, maxReconnectAttempts: -1, reconnectTimeWait: 500, pingInterval: 10_000 });
    return new NatsBus(nc);
  }

  publish(subject: string, data: Uint8Array, reply?: string): void {
    this.nc.publish(subject, data, reply ? { reply } : undefined);
  }

  subscribe(subject: string, handler: BusHandler): Subscription {
    const sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (!err) handler(msg.data, msg.reply || undefined, msg.subject);
      },
    });
    return { unsubscribe: () => sub.unsubscribe() };
  }

  async request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    try {
      return (await this.nc.request(subject, data, { timeout: timeoutMs })).data;
    } catch (e) {
      const code = (e as NatsError).code;
      if (code === ErrorCode.NoResponders) throw new NoRespondersError(subject);
      if (code === ErrorCode.Timeout) throw new BusTimeoutError(subject);
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.nc.drain().catch(() => {});
  }
}
