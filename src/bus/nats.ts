/**
 * The bus over NATS (between nodes): the same contract as the in-process bus (src/bus/bus.ts),
 * so edges and shard hosts do not know which one they run on. One connection per thread.
 * nats.js keeps its own map of requests awaiting replies; this class bounds it
 * (BUS_PENDING_REQUESTS_MAX, src/config.ts: over → BusOverloadError at once, nothing sent).
 */
import { connect, ErrorCode, type NatsConnection, type NatsError } from 'nats';
import { BUS_PENDING_REQUESTS_MAX } from '../config.ts';
import { type Bus, type BusBounds, type BusHandler, BusOverloadError, BusTimeoutError, NoRespondersError, type Subscription } from './bus.ts';

export class NatsBus implements Bus {
  private inflight = 0;

  private constructor(readonly nc: NatsConnection, private readonly pendingMax: number) {}

  /** Connects, retrying forever in the background after a first success (nats.js reconnects). */
  static async connect(url: string, name: string, bounds: BusBounds = {}): Promise<NatsBus> {
    const nc = await connect({ servers: url, name, maxReconnectAttempts: -1, reconnectTimeWait: 500, pingInterval: 10_000 });
    return new NatsBus(nc, bounds.pendingRequestsMax ?? BUS_PENDING_REQUESTS_MAX);
  }

  /** Requests awaiting a reply now. */
  get pendingRequests(): number {
    return this.inflight;
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
    if (this.inflight >= this.pendingMax) throw new BusOverloadError(subject, 'pending');
    this.inflight++;
    try {
      return (await this.nc.request(subject, data, { timeout: timeoutMs })).data;
    } catch (e) {
      const code = (e as NatsError).code;
      if (code === ErrorCode.NoResponders) throw new NoRespondersError(subject);
      if (code === ErrorCode.Timeout) throw new BusTimeoutError(subject);
      throw e;
    } finally {
      this.inflight--;
    }
  }

  async close(): Promise<void> {
    await this.nc.drain().catch(() => {});
  }
}
