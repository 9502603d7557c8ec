/**
 * Wire shapes of protocol v1 as a client sees them (PROTOCOL.md). They are the protocol's own
 * declarations (protocol/frames.ts), imported type-only: nothing of protocol/ runs in the SDK and
 * bundlers erase these imports, so the SDK still depends on msgpackr alone. A change of the wire
 * is a type error here, not a silent drift between two copies. No server code is imported.
 */
import type { AttachmentMeta, ClientFrame, ConvKind, ConvView, InboxEntry, MsgView, ServerFrame, Watermark } from '../protocol/frames.ts';

export type { AttachmentMeta, ClientFrame, ConvKind, ConvView, InboxEntry, ServerFrame, Watermark };

/** The fields of the server frame `t`, without `t` and `rid`: what the SDK hands to callers. */
type Payload<T extends ServerFrame['t']> = Omit<Extract<ServerFrame, { t: T }>, 't' | 'rid'>;

/** A stored message (`msg` frames, `join`/`history` pages). */
export type Message = MsgView;

export interface Hello extends Payload<'hello'> {}

export interface Ack extends Payload<'ack'> {}

export interface Delivered extends Payload<'delivered'> {}

export interface Read extends Payload<'read'> {}

/** `until`: epoch ms when the indicator lapses; 0 clears it. */
export interface Typing extends Payload<'typing'> {}

export interface StateChange extends Payload<'state'> {}

/** Message `seq` now reads `body`, edited at `editedAt`. */
export interface Edited extends Payload<'edited'> {}

/** Message `seq` is a tombstone; `by` deleted it (its sender or an admin). */
export interface Deleted extends Payload<'deleted'> {}

/**
 * A DM peer's presence: `online`, or offline since `lastSeen` (epoch ms; absent when never seen or
 * hidden by the peer's setting). From `presence` frames and from `open`/`join` replies of a DM.
 */
export interface Presence extends Payload<'presence'> {}

// Results of the SDK's calls: shaped from the reply frames, with defaults filled in.

/** `join`: the conversation and a page of messages, oldest first. */
export interface Joined {
  conv: ConvView;
  msgs: Message[];
  /** A DM's other participant's presence (absent for other kinds, or when you hide your own). */
  presence?: Presence;
  /** Retention removed the messages before this seq: they will not come (absent: none removed). */
  retainedFrom?: number;
}

/** `history`: messages newest first; `next` is the `before` of the following page. */
export interface HistoryPage {
  msgs: Message[];
  next?: number;
  /** Retention removed the messages before this seq: history starts there. */
  retainedFrom?: number;
}

/** `inbox`: conversations by last activity; `next` is the `before` of the following page. */
export interface InboxPage {
  convs: InboxEntry[];
  next?: string;
}
