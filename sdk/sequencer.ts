/**
 * Per-conversation ordering: turns messages arriving live, from gap fills and from rejoins —
 * possibly duplicated or out of order — into one stream in `seq` order without duplicates.
 *
 * Contract: until `setBaseline` the position is unknown and everything offered is held.
 * After it, `offer` returns the messages that became deliverable (consecutive from
 * `lastSeen + 1`), drops anything at or below `lastSeen`, and holds anything beyond a gap
 * (`hasGap`) — at most `heldMax` of them; the rest are dropped, to be refetched by the gap
 * fill. Pure.
 */
import type { Message } from './types.ts';

export class Sequencer {
  private last: number | undefined;
  private readonly held = new Map<number, Message>();

  constructor(readonly heldMax: number) {}

  /** The highest seq delivered in order, or undefined before the baseline. */
  get lastSeen(): number | undefined {
    return this.last;
  }

  /** Messages are held beyond a missing seq. */
  get hasGap(): boolean {
    return this.held.size > 0;
  }

  /** Sets the position (never moves it back) and returns the held messages that follow it. */
  setBaseline(seq: number): Message[] {
    if (this.last === undefined || seq > this.last) this.last = seq;
    return this.release();
  }

  offer(msg: Message): Message[] {
    if (this.last === undefined || msg.seq > this.last + 1) {
      if (this.held.size < this.heldMax || this.held.has(msg.seq)) this.held.set(msg.seq, msg);
      return [];
    }
    if (msg.seq <= this.last) return [];
    this.last = msg.seq;
    return [msg, ...this.release()];
  }

  private release(): Message[] {
    const out: Message[] = [];
    if (this.last === undefined) return out;
    for (const seq of this.held.keys()) if (seq <= this.last) this.held.delete(seq);
    for (let m = this.held.get(this.last + 1); m !== undefined; m = this.held.get(this.last + 1)) {
      this.held.delete(m.seq);
      this.last = m.seq;
      out.push(m);
    }
    return out;
  }
}
