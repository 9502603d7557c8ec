/**
 * Admission: load shedding at the actor's door. A write is refused up front when the time it
 * already waited (to reach this thread, then in this host) plus its batch's wait (estimated from
 * the lane's backlog and commit rate) exceeds PERSIST_QUEUE_DELAY_MAX_MS, or the lane is near its
 * row bound. Edges refuse most of the excess before the bus hop (the shed level every reply
 * carries, computed here); this is the exact bound behind them. The arithmetic is in shed.ts.
 */
import type { ServerFrame } from '../../protocol/frames.ts';
import { overloadedMsg, shedRetryMs } from '../rpc/envelope.ts';
import type { Cell, Item } from './mailbox.ts';
import { ShardWaits, shedLevelOf, type ShedLimits } from './shed.ts';
import { ErrorCode } from '../../protocol/errors.ts';
import { SHARD_COMMAND_ROWS_MAX } from '../config.ts';


export class Admission {
  /** Writes refused by load shedding since start. */
  shedCount = 0;
  /**
   * Per shard, how long commands stand in front of its actors (receipt → decision: mailboxes,
   * rehydration) — with the inbound delay and the lane's drain time, what the persister's backlog
   * alone does not show.
   */
  private readonly waits = new ShardWaits();

  constructor(
    private readonly limits: ShedLimits,
    private readonly now: () => number,
    /** How long commands wait to reach this thread through the bus (probe.ts); 0 when unmeasured. */
    private readonly inboundDelayMs: () => number = () => 0,
  ) {}

  /** Whether a command taken from the mailbox may reach its actor (only client writes are ever refused). */
  admits(cell: Cell, item: Item): boolean {
    if (item.cmd.t !== 'frame') return true;
    const now = this.now();
    const waited = item.received === undefined ? 0 : Math.max(0, now - item.received);
    this.waits.observe(cell.shard, waited, now);
    const t = item.cmd.frame.t;
    if (t !== 'send' && t !== 'open' && t !== 'read' && t !== 'recv') return true;
    const lane = cell.lane;
    return this.inboundDelayMs() + waited + lane.delayMs <= this.limits.persistQueueDelayMaxMs && lane.fits(SHARD_COMMAND_ROWS_MAX);
  }

  /** The answer to a refused write (counted here: every refusal is sent). */
  refusal(): ServerFrame {
    this.shedCount++;
    return { t: 'err', code: ErrorCode.unavailable, msg: overloadedMsg, retryMs: shedRetryMs(this.limits.persistQueueDelayMaxMs) };
  }

  /**
   * The share of sends edges should refuse for the replying actor's shard, in shed levels (RED on
   * the delay a send to it would see now: reaching this thread, standing in front of the shard's
   * actors, its lane's drain time; see shed.ts). Recomputed from current state on every reply, so
   * it falls as soon as the backlog does, whether or not edges let sends through meanwhile; and it
   * is this shard's, so edges apply it to this shard only (a thread's other shards do not inherit it).
   */
  levelOf(cell: Cell | undefined): number {
    if (!cell) return 0;
    return shedLevelOf(this.inboundDelayMs() + this.waits.standingMs(cell.shard, this.now()) + cell.lane.delayMs, this.limits);
  }

  /** The shard left this host: a later owner's figure starts afresh. */
  forget(shard: number): void {
    this.waits.forget(shard);
  }
}
