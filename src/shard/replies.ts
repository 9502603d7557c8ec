/**
 * What a shard host publishes: replies to the requests that carried commands (a status byte the
 * edge acts on, the client frame, and the replying shard's shed level), fan-out to users and room
 * observers, and domain events after commit.
 */
import type { Write } from '../../actors/types.ts';
import { encode, encodeFrame } from '../../protocol/codec.ts';
import type { ServerFrame } from '../../protocol/frames.ts';
import type { Bus, Subjects } from '../bus/bus.ts';
import { encodeReply, ReplyStatus, type ReplyStatusValue } from '../rpc/envelope.ts';
import type { Cell, Item } from './mailbox.ts';

export class Replies {
  constructor(
    private readonly bus: Bus,
    private readonly subjects: Subjects,
    /** The shed level a reply from this actor carries (admission.ts). */
    private readonly levelOf: (cell: Cell | undefined) => number,
  ) {}

  /** Answers the command's request with a client frame (the request's rid added). */
  reply(item: Item, frame: ServerFrame, status: ReplyStatusValue = ReplyStatus.forward): void {
    this.publish(item.reply, item.rid, frame, status, item.cell);
  }

  publish(to: string | undefined, rid: number | undefined, frame: ServerFrame, status: ReplyStatusValue, cell?: Cell): void {
    if (to === undefined) return;
    this.bus.publish(to, encodeReply(status, encodeFrame(rid === undefined ? frame : ({ ...frame, rid } as ServerFrame)), this.levelOf(cell)));
  }

  /** Replies to an internal request (HTTP API, router) with plain data. */
  replyData(item: Item, data: Record<string, unknown>): void {
    if (item.reply !== undefined) this.bus.publish(item.reply, encodeReply(ReplyStatus.forward, encode(data)));
  }

  /**
   * To every socket of these users, and to observers of the room, except the socket `origin`
   * (the one whose command caused it, which has its reply): encoded once for all of them. The
   * origin rides in the bus message's reply field, which nobody answers on a fan-out subject.
   */
  fanout(conv: string, users: string[], frame: ServerFrame, origin?: string): void {
    const bytes = encodeFrame(frame);
    for (const u of users) this.bus.publish(this.subjects.user(u), bytes, origin);
    this.bus.publish(this.subjects.room(conv), bytes);
  }

  /** Single node: the committed writes' domain events (with an outbox, the relay publishes them). */
  events(writes: Write[]): void {
    for (const w of writes) {
      if (w.kind === 'domainEvent') this.bus.publish(this.subjects.event(w.type), encode({ id: w.id, type: w.type, payload: w.payload, ts: w.ts }));
    }
  }
}
