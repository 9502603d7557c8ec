import type { Component } from './component.ts';
import type { NodeParts } from './parts.ts';

/**
 * A job a node runs every so often (sweeps): one round at a time — a round still running when
 * the next is due is not doubled — and `stop` waits for the round in flight.
 */
export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<unknown> | undefined;

  constructor(private readonly everyMs: number, private readonly run: () => Promise<unknown>) {}

  start(): void {
    this.timer = setInterval(() => {
      this.round ??= this.run().finally(() => (this.round = undefined));
    }, this.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.round?.catch(() => {});
  }
}

/** What a sweep round removed so far: kept when the round fails part-way. */
export interface SweepProgress {
  removed: number;
}

/**
 * A node component that sweeps a table every so often (orphaned uploads, expired messages,
 * expired idempotency keys): rounds run one at a time (Periodic), a failed round is logged and
 * left to the next, and what a round removed is logged. Subclasses say what one round does.
 * Started after the database, stopped before it.
 */
export abstract class SweepComponent implements Component {
  abstract readonly name: string;
  /** The log line of a round that removed something. */
  protected abstract readonly removedMsg: string;
  private readonly job: Periodic;

  constructor(protected readonly parts: NodeParts, everyMs: number, private readonly enabled = true) {
    this.job = new Periodic(everyMs, () => this.sweep());
  }

  async start(): Promise<void> {
    if (this.enabled) this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** One round now; answers how many rows went (those before a failure included). */
  async sweep(now = Date.now()): Promise<number> {
    const progress: SweepProgress = { removed: 0 };
    try {
      await this.round(now, progress);
    } catch (err) {
      this.parts.log.warn({ err }, `${this.name} failed; the next round retries`);
    }
    if (progress.removed) this.parts.log.info({ removed: progress.removed }, this.removedMsg);
    return progress.removed;
  }

  /** One round; adds to `progress.removed` as it goes. */
  protected abstract round(now: number, progress: SweepProgress): Promise<void>;
}
