/**
 * Mailboxes: one per actor, processed one command at a time, in turns of `SHARD_TURN_MAX` commands so
 * that one hot actor cannot starve the others (nor the bus, nor commit callbacks). Actors are
 * kept in an LRU (passivated when idle) and rehydrated on their next command.
 *
 * Each actor has two queues, like Proto.Actor's system and user mailboxes: `control` (timer
 * commands the actor scheduled itself, e.g. a typing expiry) is drained before `queue` (commands
 * from the bus). A full user mailbox refuses the bus's commands (the sender retries), never the
 * actor's own: nobody would retry them.
 */
import { LRUCache } from 'lru-cache';
import type { ActorCommand } from '../../actors/index.ts';
import type { ActorBody } from './kinds.ts';
import type { HostLane } from './ports.ts';
import { SHARD_CONTROL_DEPTH_MAX, SHARD_TURN_MAX } from '../config.ts';

export interface Item {
  cmd: ActorCommand;
  /** The bus subject the reply goes to (none for timer commands). */
  reply?: string;
  rid?: number;
  /** The edge's traceparent for this command (tracing on). */
  tp?: string;
  /** Correlation id carried from the edge, for logs. */
  cid?: string;
  /** The socket that sent the command (envelope `o`): its fan-out skips that socket. */
  origin?: string;
  /**
   * When this host received it (`now()`): its wait until the decision is queueing in front of
   * this shard's actors. Not the edge's send time: an edge retrying while the shard had no owner
   * (a failover) did not queue here, and another node's clock is not ours.
   */
  received?: number;
  /** The actor it was delivered to: whose shard and lane a reply's shed level describes. */
  cell?: Cell;
}

export interface Cell {
  id: string;
  /** The shard the actor's id hashes to (computed once). */
  shard: number;
  /** The persister lane of this actor's writes (computed once, like `shard`). */
  lane: HostLane;
  /** The actor's state and its kind's behaviour. */
  body: ActorBody;
  /** Commands the actor scheduled itself: drained first, bounded by `SHARD_CONTROL_DEPTH_MAX`. */
  control: Item[];
  /** Commands from the bus: bounded by `mailboxDepthMax`. */
  queue: Item[];
  running: boolean;
  /** Writes issued and not settled. */
  inflight: number;
  /** Waiting for `inflight` to reach 0 (a reload must see every write this actor issued). */
  idle?: (() => void)[];
}


export interface MailboxLimits {
  actorIdleMs: number;
  actorsPerThreadMax: number;
  mailboxDepthMax: number;
}

/** What the mailbox loop asks of its host for an actor. */
export interface Processor {
  /** Rehydrates a stale actor; false when it could not (the host answered what is queued). */
  load(cell: Cell): Promise<boolean>;
  /** Takes one command to its decision; false when refused before the actor (not counted in the turn). */
  step(cell: Cell, item: Item): Promise<boolean>;
  /** The loop threw: the host answers what is queued and has the actor reload. */
  crashed(cell: Cell, e: unknown): void;
}

export class Mailboxes {
  private readonly cells: LRUCache<string, Cell>;
  /**
   * Evicted while busy: kept until their loop stops and their writes settle, then dropped. Bounded
   * without a number of its own: an actor stays only while it runs or has writes in flight, and
   * writes in flight are bounded by the lanes (PERSIST_QUEUE_MAX); a running loop ends within a
   * turn (SHARD_TURN_MAX). Dropping one early would let its next command build on stale state.
   */
  private readonly draining = new Map<string, Cell>();

  constructor(
    private readonly limits: MailboxLimits,
    private readonly create: (id: string) => Cell,
    private readonly processor: Processor,
  ) {
    this.cells = new LRUCache<string, Cell>({
      max: limits.actorsPerThreadMax,
      ttl: limits.actorIdleMs,
      ttlAutopurge: true,
      updateAgeOnGet: true,
      dispose: (cell, _key, reason) => {
        if (reason !== 'set' && reason !== 'delete' && (cell.running || cell.inflight > 0)) this.draining.set(cell.id, cell);
      },
    });
  }

  /** The actor's cell, created (or brought back from draining) on first use. */
  cell(id: string): Cell {
    let cell = this.cells.get(id);
    if (cell) return cell;
    cell = this.draining.get(id);
    if (cell) this.draining.delete(id);
    else cell = this.create(id);
    this.cells.set(id, cell);
    return cell;
  }

  /** A command from the bus; false when the mailbox is full (the caller answers "busy, retry"). */
  post(cell: Cell, item: Item): boolean {
    if (cell.queue.length >= this.limits.mailboxDepthMax) return false;
    cell.queue.push(item);
    this.wake(cell);
    return true;
  }

  /** A command the actor scheduled itself: never refused by the user mailbox's bound. */
  postControl(cell: Cell, item: Item): boolean {
    if (cell.control.length >= SHARD_CONTROL_DEPTH_MAX) return false;
    cell.control.push(item);
    this.wake(cell);
    return true;
  }

  /** Everything queued for the actor, removed (to be answered). */
  drain(cell: Cell): Item[] {
    return [...cell.control.splice(0), ...cell.queue.splice(0)];
  }

  private wake(cell: Cell): void {
    if (!cell.running) void this.run(cell);
  }

  private async run(cell: Cell): Promise<void> {
    const processor = this.processor;
    cell.running = true;
    try {
      let turn = 0;
      while (cell.control.length > 0 || cell.queue.length > 0) {
        if (cell.body.stale() && !(await processor.load(cell))) break;
        const item = cell.control.length > 0 ? cell.control.shift()! : cell.queue.shift()!;
        if (!(await processor.step(cell, item))) continue;
        if (++turn >= SHARD_TURN_MAX) {
          turn = 0;
          await new Promise<void>((r) => setImmediate(r));
        }
      }
    } catch (e) {
      processor.crashed(cell, e);
    } finally {
      cell.running = false;
      this.release(cell);
    }
  }

  /** A write of the actor's is in flight (a reload waits for it). */
  writing(cell: Cell): void {
    cell.inflight++;
  }

  settled(cell: Cell): void {
    cell.inflight--;
    if (cell.inflight === 0 && cell.idle) for (const r of cell.idle.splice(0)) r();
    this.release(cell);
  }

  /** Resolves once every write the actor issued has settled. */
  async whenIdle(cell: Cell): Promise<void> {
    if (cell.inflight > 0) await new Promise<void>((r) => (cell.idle ??= []).push(r));
  }

  /** An evicted actor is forgotten once nothing of it runs. */
  private release(cell: Cell): void {
    if (cell.inflight === 0 && !cell.running && this.draining.get(cell.id) === cell) this.draining.delete(cell.id);
  }

  /** Forgets every actor of a shard this host no longer owns. */
  dropShard(shard: number): void {
    for (const cell of [...this.cells.values()]) if (cell.shard === shard) this.cells.delete(cell.id);
    for (const cell of [...this.draining.values()]) if (cell.shard === shard) this.draining.delete(cell.id);
  }

  byShard(): Record<number, number> {
    const out: Record<number, number> = {};
    for (const cell of this.cells.values()) out[cell.shard] = (out[cell.shard] ?? 0) + 1;
    return out;
  }

  get count(): number {
    return this.cells.size + this.draining.size;
  }

  /** Commands queued in all mailboxes (control queues included). */
  get depth(): number {
    let n = 0;
    for (const cell of this.cells.values()) n += cell.control.length + cell.queue.length;
    for (const cell of this.draining.values()) n += cell.control.length + cell.queue.length;
    return n;
  }
}
