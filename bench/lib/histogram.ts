/**
 * A small HDR-style log-linear histogram of non-negative integers (the bench records
 * microseconds). Values below 2·SUB_BUCKETS are exact; above that every power of two is split
 * into SUB_BUCKETS linear buckets, so the relative error is at most 1/SUB_BUCKETS (< 1%).
 *
 * Why not store samples: at 20k msg/s · 2 latencies · 25 s that is a million numbers per run,
 * and worker threads would have to ship them all to the parent. Bucket counts are a few KB,
 * merge by addition, and record in O(1) without allocation.
 */

const SUB_BUCKET_BITS = 7;
const SUB_BUCKETS = 1 << SUB_BUCKET_BITS; // 128 → ≤ 0.8% relative error
const EXACT_LIMIT = SUB_BUCKETS * 2; // values below this get their own bucket
/** Values are clamped here: 2^31 µs ≈ 36 min, far beyond any run length. */
export const HISTOGRAM_VALUE_MAX = 2 ** 31 - 1;
const SHIFT_MAX = 31 - SUB_BUCKET_BITS - 1; // shift that brings HISTOGRAM_VALUE_MAX into [128, 256)
const BUCKET_COUNT = EXACT_LIMIT + SHIFT_MAX * SUB_BUCKETS;

/** The wire form sent from worker threads: only non-empty buckets, as [index, count] pairs. */
export interface HistogramSnapshot {
  buckets: Array<[number, number]>;
  count: number;
  min: number;
  max: number;
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

function bucketIndex(value: number): number {
  if (value < EXACT_LIMIT) return value;
  const shift = 31 - Math.clz32(value) - SUB_BUCKET_BITS; // value >> shift lands in [128, 256)
  return EXACT_LIMIT + (shift - 1) * SUB_BUCKETS + ((value >>> shift) - SUB_BUCKETS);
}

/** The highest value that falls in bucket `index` (HDR reports the bucket's upper edge). */
function bucketValueMax(index: number): number {
  if (index < EXACT_LIMIT) return index;
  const offset = index - EXACT_LIMIT;
  const shift = Math.floor(offset / SUB_BUCKETS) + 1;
  const sub = (offset % SUB_BUCKETS) + SUB_BUCKETS;
  return (sub + 1) * 2 ** shift - 1;
}

export class Histogram {
  private readonly counts = new Float64Array(BUCKET_COUNT);
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;

  record(value: number): void {
    const v = Math.min(HISTOGRAM_VALUE_MAX, Math.max(0, Math.round(value)));
    this.counts[bucketIndex(v)] += 1;
    this.count += 1;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  /** Smallest recorded-bucket value v such that at least q of all samples are ≤ v. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(bucketValueMax(i), this.max);
    }
    return this.max;
  }

  /** Percentiles converted by `scale` (e.g. 1/1000 for µs → ms), rounded to 0.01. */
  percentiles(scale = 1): Percentiles {
    const r = (v: number): number => Math.round(v * scale * 100) / 100;
    return {
      p50: r(this.quantile(0.5)),
      p95: r(this.quantile(0.95)),
      p99: r(this.quantile(0.99)),
      max: r(this.max),
    };
  }

  snapshot(): HistogramSnapshot {
    const buckets: Array<[number, number]> = [];
    for (let i = 0; i < BUCKET_COUNT; i++) if (this.counts[i] > 0) buckets.push([i, this.counts[i]]);
    return { buckets, count: this.count, min: this.min, max: this.max };
  }

  merge(other: HistogramSnapshot): void {
    for (const [i, c] of other.buckets) this.counts[i] += c;
    this.count += other.count;
    if (other.count > 0) {
      this.min = Math.min(this.min, other.min);
      this.max = Math.max(this.max, other.max);
    }
  }
}
