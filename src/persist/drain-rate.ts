/**
 * A lane's measured commit throughput, from which its queue's drain time (the load-shedding
 * signal) is estimated: queued rows / rate. Under backlog the batches are full, so the estimate
 * is the lane's capacity.
 */

/** Weight of the newest batch in the throughput average (about the last 5 batches count). */
const rateSmoothing = 0.2;

/** Batches measured before the lane estimates its drain time (odd: their median seeds it). */
export const warmupBatches = 3;

export class DrainRate {
  /** Rows per ms, a moving average over batches; 0 until the warm-up batches are measured. */
  private rowsPerMs = 0;
  /**
   * The first batches' samples, before the average starts. A lane's first batch also opens a
   * connection and prepares the statement (≈ 200 ms for a few rows): seeded by that one sample,
   * a handful of queued rows looked like seconds of work and a cold node refused its first
   * sends. The median of the first `warmupBatches` drops such an outlier.
   */
  private warmup: number[] = [];

  /** `rows` committed in `ms` (a batch without rows tells nothing about throughput). */
  sample(rows: number, ms: number): void {
    if (rows === 0) return;
    const sample = rows / Math.max(ms, 0.1);
    if (this.rowsPerMs > 0) {
      this.rowsPerMs += rateSmoothing * (sample - this.rowsPerMs);
      return;
    }
    this.warmup.push(sample);
    if (this.warmup.length < warmupBatches) return;
    this.rowsPerMs = this.warmup.sort((a, b) => a - b)[warmupBatches >> 1];
    this.warmup = [];
  }

  /** Estimated ms to commit `rows` (0 while warming up: no estimate is better than a cold one). */
  drainMs(rows: number): number {
    return this.rowsPerMs > 0 ? rows / this.rowsPerMs : 0;
  }
}
