/**
 * How long a message waits to reach this shard thread through the bus: a probe published to a
 * subject only this thread subscribes to queues behind every command in transit (the thread's
 * inbound port or NATS socket, the hub), and its round trip is timed with this thread's own clock.
 * When the thread's CPU is the bottleneck, this is the queue that grows, unseen by the persister
 * and by the actors' mailboxes (docs/benchmarks.md, "Load shedding"); no clock of another node is involved.
 */
import type { Bus, Subscription } from '../bus/bus.ts';

/** Pause between a probe's return and the next: about a probe per 20 ms per thread, negligible beside commands. */
const probePeriodMs = 20;

/**
 * A probe still out after this is taken as lost (a bus reconnect drops it) and replaced; until
 * then its age counts as the delay, so a stalled queue is seen before the probe returns.
 */
const probeLostMs = 5_000;

const empty = new Uint8Array(0);

export class InboundProbe {
  private sub: Subscription | undefined;
  private sentAt: number | undefined;
  private lastMs = 0;
  private returnedOnce = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly subject: string,
    private readonly now: () => number = () => performance.now(),
  ) {}

  start(): void {
    this.sub = this.bus.subscribe(this.subject, () => this.returned());
    this.send();
  }

  stop(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
    clearTimeout(this.timer);
  }

  /**
   * The inbound delay now: the last probe's round trip, or the age of the one still out if longer.
   * 0 until a first probe has come back: a thread starting up (migrations, JIT, rehydration) is
   * slow to answer its first probe while no command waits for it at all, and counting that age
   * made a restarted node refuse its first sends as "overloaded".
   */
  get delayMs(): number {
    if (!this.returnedOnce) return 0;
    return this.sentAt === undefined ? this.lastMs : Math.max(this.lastMs, this.now() - this.sentAt);
  }

  private send(): void {
    if (!this.sub) return;
    this.sentAt = this.now();
    this.bus.publish(this.subject, empty);
    this.schedule(probeLostMs);
  }

  private returned(): void {
    if (this.sentAt === undefined) return; // a probe taken as lost came back after all
    this.lastMs = this.now() - this.sentAt;
    this.returnedOnce = true;
    this.sentAt = undefined;
    this.schedule(probePeriodMs);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.send(), ms);
    this.timer.unref();
  }
}
