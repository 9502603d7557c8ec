/**
 * The edge's early-shedding table: per shard, the share of sends to refuse before the bus hop, as
 * the shard's latest reply asked (its shed level describes that shard only, see host.ts).
 */
export class ShedShares {
  private readonly share: Float32Array;
  /** performance.now() of the reply each share came with. */
  private readonly at: Float64Array;

  /**
   * `fadeMs`: a share no reply has refreshed for this long no longer applies (it fades linearly to
   * 0 until then). The shard admits only writes it expects to commit within its delay bound, so a
   * level that old describes a backlog that has drained — and the sends let through as the share
   * fades bring the current level, instead of a stale 95 % starving a shard that recovered.
   */
  constructor(shardCount: number, private readonly fadeMs: number) {
    this.share = new Float32Array(shardCount);
    this.at = new Float64Array(shardCount);
  }

  /** A reply from `shard` arrived carrying `share` (0…1). */
  learn(shard: number, share: number, now: number): void {
    this.share[shard] = share;
    this.at[shard] = now;
  }

  /** The share of sends to `shard` to refuse now. */
  of(shard: number, now: number): number {
    const share = this.share[shard];
    if (share === 0) return 0;
    const age = now - this.at[shard];
    return age >= this.fadeMs ? 0 : share * (1 - Math.max(0, age) / this.fadeMs);
  }
}
