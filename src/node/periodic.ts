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
