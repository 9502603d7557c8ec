/** Wire protocol v1 frame shapes (see ../shared/PROTOCOL.md). Pure types and limits, no I/O. */
import { idCharsMax } from './ids.ts';

export type ConvKind = 'dm' | 'ticket' | 'order';

/** Bounds every client frame is validated against; sent to clients in `hello.limits`. */
export interface ProtocolLimits {
  maxFrameBytes: number;
  maxBodyChars: number;
  maxCmidChars: number;
  maxIdChars: number;
  historyLimitMax: number;
  inboxLimitMax: number;
  /** A report's `reason`: a sentence or two for the moderator, not a document. */
  maxReasonChars: number;
}

export const defaultLimits: ProtocolLimits = {
  maxFrameBytes: 64 * 1024, // one frame; larger closes the socket with 1009
  maxBodyChars: 2000, // seed 003: text messages, not documents
  maxCmidChars: 64, // fits a UUID or ULID with a prefix
  maxIdChars: idCharsMax, // every id: the rule of protocol/ids.ts
  historyLimitMax: 100, // one page of history
  inboxLimitMax: 100, // one page of the inbox
  maxReasonChars: 500, // a report's reason
};

/** Attachments one `send` may carry (config.ts ATTACHMENTS_PER_MESSAGE_MAX says why and what happens over it). */
export const attachmentsPerMessageMax = 10;

/**
 * An uploaded file as messages carry it (POST /api/v1/conversations/{id}/attachments answers
 * it): metadata only, the bytes are at GET /api/v1/attachments/{id}. `type` is sniffed from the
 * bytes; `width`/`height` are an image's pixel size, read from its header.
 */
export interface AttachmentMeta {
  id: string;
  name: string;
  type: string;
  size: number;
  width?: number;
  height?: number;
}

export type ClientFrame =
  | { t: 'open'; rid?: number; with: string }
  | { t: 'join'; rid?: number; conv: string; since?: number }
  | { t: 'leave'; rid?: number; conv: string }
  /** `att`: ids of attachments this sender uploaded to `conv`, not sent yet; `body` may then be empty. */
  | { t: 'send'; rid?: number; conv: string; cmid: string; body: string; att?: string[] }
  | { t: 'edit'; rid?: number; conv: string; seq: number; body: string }
  | { t: 'del'; rid?: number; conv: string; seq: number }
  | { t: 'report'; rid?: number; conv: string; seq: number; reason: string }
  | { t: 'recv'; rid?: number; conv: string; seq: number }
  | { t: 'read'; rid?: number; conv: string; seq: number }
  | { t: 'typing'; rid?: number; conv: string }
  | { t: 'history'; rid?: number; conv: string; before?: number; limit?: number }
  | { t: 'inbox'; rid?: number; before?: string; limit?: number }
  | { t: 'ping'; rid?: number }
  /** A fresh token for this socket (same sub), verified as at the upgrade; the socket then lives until its exp. */
  | { t: 'auth'; rid?: number; token: string };

export type ClientFrameType = ClientFrame['t'];

export interface Watermark {
  delivered: number;
  read: number;
  readAt?: number;
}

export interface ConvView {
  id: string;
  kind: ConvKind;
  state: string;
  participants: string[];
  readOnly: boolean;
  lastSeq: number;
  watermarks: Record<string, Watermark>;
}

export interface MsgView {
  conv: string;
  seq: number;
  id: string;
  from: string;
  body: string;
  ts: number;
  cmid: string;
  /** When the sender last edited it (epoch ms); absent when never edited. */
  editedAt?: number;
  /** A tombstone: the body (and attachments) were removed; the seq stays, so order stays gapless. */
  deleted?: true;
  /** The attachments the message carries, in the order sent; absent when none. */
  att?: AttachmentMeta[];
}

/**
 * A DM peer's presence: online while a socket of theirs is open anywhere in the cluster (or closed
 * less than the grace ago); lastSeen = when their last socket closed (absent when never seen, or
 * hidden by their setting).
 */
export interface PresenceView {
  user: string;
  online: boolean;
  lastSeen?: number;
}

export interface InboxEntry {
  conv: string;
  kind: ConvKind;
  state: string;
  participants: string[];
  lastSeq: number;
  lastActivity: number;
  last?: MsgView;
  unread: number;
}

export type ServerFrame =
  | { t: 'hello'; user: string; node: string; limits: Record<string, number> }
  /** `retainedFrom`: retention removed the messages before this seq (they will not come). */
  | { t: 'conv'; rid?: number; conv: ConvView; msgs?: MsgView[]; presence?: PresenceView; retainedFrom?: number }
  | { t: 'ack'; rid?: number; conv: string; seq: number; id: string; ts: number }
  | ({ t: 'msg' } & MsgView)
  | { t: 'edited'; conv: string; seq: number; body: string; editedAt: number }
  | { t: 'deleted'; conv: string; seq: number; by: string }
  | { t: 'delivered'; conv: string; user: string; seq: number }
  | { t: 'read'; conv: string; user: string; seq: number; at: number }
  | { t: 'typing'; conv: string; user: string; until: number }
  | { t: 'presence'; user: string; online: boolean; lastSeen?: number }
  | { t: 'state'; conv: string; state: string; readOnly: boolean; participants: string[] }
  | { t: 'page'; rid?: number; msgs?: MsgView[]; convs?: InboxEntry[]; next?: number | string; retainedFrom?: number }
  | { t: 'ok'; rid?: number }
  | { t: 'pong'; rid?: number }
  | { t: 'err'; rid?: number; code: number; msg: string; retryMs?: number; state?: string };
