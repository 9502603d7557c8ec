/**
 * A shard thread's load-shedding arithmetic, pure (time comes in as an argument): how long a
 * command waits in front of a shard's actors, and the shed level a reply carries to edges.
 *
 * Only waits this thread measures with its own clock count: the edge's retries while a shard
 * had no owner (failover: seconds) are not queueing here, and a backlog of one shard says
 * nothing about another, so each shard has its own figure.
 */
import { shedLevelMax } from '../rpc/envelope.ts';

export interface ShedLimits {
  /** Estimated delay above which edges are asked to refuse a growing share of sends. */
  shedDelayTargetMs: number;
  /** Estimated delay at which that share reaches shedShareMaxPct (and the shard refuses writes itself). */
  persistQueueDelayMaxMs: number;
  /** Largest share (%) of sends edges are asked to refuse. */
  shedShareMaxPct: number;
}

/**
 * The share of sends edges should refuse, in shed levels: 0 up to shedDelayTargetMs of estimated
 * delay, rising linearly to shedShareMaxPct at persistQueueDelayMaxMs (RED on delay).
 */
export function shedLevelOf(delayMs: number, limits: ShedLimits): number {
  const { shedDelayTargetMs: lo, persistQueueDelayMaxMs: hi, shedShareMaxPct } = limits;
  if (delayMs <= lo) return 0;
  return Math.min(1, (delayMs - lo) / (hi - lo)) * (shedShareMaxPct / 100) * shedLevelMax;
}

/**
 * Length of the windows over which a shard's standing wait is taken: it follows a backlog within
 * two windows, and forgets one two windows after its last decision. Well under the 100 ms default
 * SHED_DELAY_TARGET_MS's scale of reaction, well over a burst that drains in one event-loop turn.
 */
export const waitWindowMs = 100;

interface Windows {
  /** Index (time / waitWindowMs) of the current window. */
  index: number;
  /** Shortest wait decided in the current window, and in the one before it (Infinity: none). */
  min: number;
  prevMin: number;
}

/**
 * Per shard, the standing wait in front of its actors (receipt on the bus → decision): the
 * shortest wait of the commands decided in the current and the previous window — CoDel's signal:
 * a burst that drains (one actor rehydrating while its commands queue) leaves short waits beside
 * the long ones, a standing backlog does not. With no decision in two windows it is 0, so the level
 * falls back by itself when edges stop sending.
 */
export class ShardWaits {
  private readonly byShard = new Map<number, Windows>();

  constructor(private readonly windowMs = waitWindowMs) {}

  observe(shard: number, waitedMs: number, now: number): void {
    const index = Math.floor(now / this.windowMs);
    let w = this.byShard.get(shard);
    if (!w) this.byShard.set(shard, (w = { index, min: Infinity, prevMin: Infinity }));
    else if (index !== w.index) {
      w.prevMin = index === w.index + 1 ? w.min : Infinity;
      w.min = Infinity;
      w.index = index;
    }
    w.min = Math.min(w.min, Math.max(0, waitedMs));
  }

  standingMs(shard: number, now: number): number {
    const w = this.byShard.get(shard);
    if (!w) return 0;
    const index = Math.floor(now / this.windowMs);
    const min = index === w.index ? Math.min(w.min, w.prevMin) : index === w.index + 1 ? w.min : Infinity;
    return Number.isFinite(min) ? min : 0;
  }

  /** The shard left this host: a later owner's figure starts afresh. */
  forget(shard: number): void {
    this.byShard.delete(shard);
  }
}
