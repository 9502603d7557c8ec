/**
 * The pending-send queue: every `send()` not yet acknowledged, in the order it was made.
 *
 * Contract: entries keep their insertion position for their whole life, so resends after a
 * reconnect go out in original order per conversation. An entry that may not go yet (waiting
 * out `retryMs`, or its conversation's in-flight window is full) holds back every later entry
 * of its conversation. With a window of 1 per conversation (the default) order is strict even
 * when a send fails and is retried: the next one is written only after the previous is acked.
 * The queue is bounded: `add` over `max` throws PendingQueueFullError and queues nothing.
 * Pure: no timers, no I/O; time arrives as `nowMs`.
 */
import { PendingQueueFullError } from './errors.ts';
import type { Ack, AttachmentMeta } from './types.ts';

export interface PendingSend {
  readonly cmid: string;
  readonly conv: string;
  readonly body: string;
  /** Attachments (ids, or the metadata `upload` answered, which the own message then shows). */
  readonly att?: readonly (string | AttachmentMeta)[];
  /** `queued`: waiting to be (re)sent; `inflight`: sent on the current socket, no reply yet. */
  state: 'queued' | 'inflight';
  /** Not to be sent before this time (epoch ms); 0 = at once. */
  notBeforeMs: number;
  /** How many times it was written to a socket. */
  attempts: number;
  readonly resolve: (ack: Ack) => void;
  readonly reject: (e: Error) => void;
}

export class PendingQueue {
  private readonly entries = new Map<string, PendingSend>();

  constructor(readonly max: number) {}

  get size(): number {
    return this.entries.size;
  }

  add(entry: PendingSend): void {
    if (this.entries.size >= this.max) throw new PendingQueueFullError(this.max);
    if (this.entries.has(entry.cmid)) throw new Error(`duplicate cmid ${entry.cmid}`);
    this.entries.set(entry.cmid, entry);
  }

  /** Whether a send of `conv` was written and awaits its reply. */
  inflightIn(conv: string): boolean {
    for (const e of this.entries.values()) if (e.state === 'inflight' && e.conv === conv) return true;
    return false;
  }

  get(cmid: string): PendingSend | undefined {
    return this.entries.get(cmid);
  }

  /** Removes an entry that was acknowledged or finally refused. */
  remove(cmid: string): void {
    this.entries.delete(cmid);
  }

  /**
   * Queued entries that may be written now, in order: at most `inflightPerConvMax` in flight
   * per conversation and `inflightMax` in all (counting those already in flight).
   */
  ready(nowMs: number, inflightPerConvMax = Infinity, inflightMax = Infinity): PendingSend[] {
    const inflightByConv = new Map<string, number>();
    let inflight = 0;
    for (const e of this.entries.values()) {
      if (e.state !== 'inflight') continue;
      inflight++;
      inflightByConv.set(e.conv, (inflightByConv.get(e.conv) ?? 0) + 1);
    }
    const blocked = new Set<string>();
    const out: PendingSend[] = [];
    for (const e of this.entries.values()) {
      if (e.state !== 'queued' || blocked.has(e.conv)) continue;
      const convInflight = inflightByConv.get(e.conv) ?? 0;
      if (e.notBeforeMs > nowMs || convInflight >= inflightPerConvMax || inflight >= inflightMax) {
        blocked.add(e.conv);
        continue;
      }
      out.push(e);
      inflight++;
      inflightByConv.set(e.conv, convInflight + 1);
    }
    return out;
  }

  /** The earliest time a waiting entry becomes sendable, or undefined if none waits. */
  nextWakeMs(nowMs: number): number | undefined {
    let wake: number | undefined;
    for (const e of this.entries.values()) {
      if (e.state === 'queued' && e.notBeforeMs > nowMs) wake = Math.min(wake ?? Infinity, e.notBeforeMs);
    }
    return wake;
  }

  /** The socket closed: whatever was in flight is unacknowledged and goes out again, same cmid. */
  requeueInflight(): void {
    for (const e of this.entries.values()) {
      if (e.state === 'inflight') {
        e.state = 'queued';
        e.notBeforeMs = 0;
      }
    }
  }

  /** Empties the queue, returning what was in it (to reject on close). */
  drain(): PendingSend[] {
    const all = [...this.entries.values()];
    this.entries.clear();
    return all;
  }
}
