/**
 * The contract between pure actors and the shard host that gives them a body.
 * Actors never do I/O: they return effects, and the host executes them in order.
 */
import type { AttachmentMeta, ConvKind, ConvView, ServerFrame, Watermark } from '../protocol/frames.ts';

/**
 * Outcome of the connections-authority check, resolved by the host before the command.
 * `blocked`: one of the two users blocked the other (it overrides `connected`).
 */
export type ConnectionCheck = 'connected' | 'not_connected' | 'blocked' | 'unavailable';

export interface Actor {
  userId: string;
  roles: readonly string[];
}

export interface MessageRow {
  kind: 'message';
  conv: string;
  seq: number;
  id: string;
  from: string;
  body: string;
  cmid: string;
  ts: number;
  /** Attachments' metadata (never their bytes), stored with the message (messages.att). */
  att?: AttachmentMeta[];
}

export interface WatermarkRow {
  kind: 'watermark';
  conv: string;
  user: string;
  delivered: number;
  read: number;
  readAt: number;
}

export interface ConversationRow {
  kind: 'conversation';
  conv: string;
  convKind: ConvKind;
  state: string;
  participants: string[];
  createdAt: number;
  /** Kind-specific facts (order roles, ticket fields), stored as JSON. */
  meta?: Record<string, string>;
}

/** An external event applied to a conversation, recorded so a redelivery changes nothing. */
export interface EventRow {
  kind: 'event';
  id: string;
  conv: string;
  ts: number;
}

/** One status change of a ticket (its history; `seq` counts changes from 1). */
export interface TicketHistoryRow {
  kind: 'ticketHistory';
  conv: string;
  seq: number;
  from: string | null;
  to: string;
  by: string;
  reason?: string;
  ts: number;
}

/**
 * A domain event announced with the state it describes: written to the outbox in the same
 * statement (cluster mode), or published on the bus after commit (single node).
 */
export interface DomainEventRow {
  kind: 'domainEvent';
  conv: string;
  /** Stable id: a re-committed row announces the same id. */
  id: string;
  type: string;
  payload: Record<string, unknown>;
  ts: number;
}

/** A sender's edit of a stored message: the body is replaced, `editedAt` set. */
export interface MessageEditRow {
  kind: 'messageEdit';
  conv: string;
  seq: number;
  body: string;
  editedAt: number;
}

/** A tombstone: the message's body is removed from storage; its seq stays (gapless order). */
export interface MessageDeleteRow {
  kind: 'messageDelete';
  conv: string;
  seq: number;
  by: string;
  ts: number;
}

/** A participant's report of a message to the moderators (issue 15); one per reporter and message. */
export interface ReportRow {
  kind: 'report';
  conv: string;
  id: string;
  seq: number;
  reporter: string;
  /** The reported message's sender. */
  sender: string;
  reason: string;
  ts: number;
}

/**
 * The stored message an `edit`, `del` or `report` addresses, read by the host once the actor's earlier
 * writes have committed: `missing` when no such seq is stored, `unavailable` when the store
 * could not be read (the actor then refuses with 503 and changes nothing).
 */
export type MessageTarget =
  | { kind: 'found'; from: string; ts: number; body: string; editedAt?: number; deleted: boolean }
  | { kind: 'missing' }
  | { kind: 'unavailable' };

/** A `conversation` write creates the conversation or updates its state, participants and meta. */
export type Write = MessageRow | MessageEditRow | MessageDeleteRow | ReportRow | WatermarkRow | ConversationRow | EventRow | TicketHistoryRow | DomainEventRow;

export type Effect =
  /** Reply to the request that carried this command (the host adds the rid). */
  | { type: 'reply'; frame: ServerFrame }
  /**
   * Send a frame to every socket of these users, and to observers of the room — except the
   * socket that sent the command, which gets the reply instead (PROTOCOL: a `send`'s socket may
   * receive only its `ack`). `toOrigin`: that socket gets the frame too (edits and deletes,
   * whose reply is a bare `ok`).
   */
  | { type: 'fanout'; users: string[]; frame: ServerFrame; toOrigin?: true }
  /**
   * Make these writes durable (group commit), then run `then`. With no writes this is a
   * barrier: `then` runs once everything enqueued before it has committed.
   */
  | { type: 'persist'; writes: Write[]; then: Effect[]; otherwise?: Effect[] }
  /**
   * Give the router back a pick whose ticket did not commit (the creation saga's compensation);
   * runs from a persist's `otherwise`, which runs when its writes were not stored.
   */
  | { type: 'releaseRoute'; brand: string; centerId: string }
  /** Deliver `command` to this actor again at `at` (epoch ms). */
  | { type: 'schedule'; at: number; command: TimerCommand }
  /** Reply with the conversation view plus the committed messages after `since`. */
  | { type: 'replyWithMessages'; conv: ConvView; since: number | undefined }
  /** Reply with a page of history read from the store. */
  | { type: 'replyHistory'; before: number | undefined; limit: number }
  /** Reply to an internal (HTTP API) request with plain data, not a client frame. */
  | { type: 'replyData'; data: Record<string, unknown> };

export type TimerCommand = { t: 'typingExpire'; user: string };

export interface RecentSend {
  seq: number;
  id: string;
  ts: number;
}

/** State every conversation actor kind shares. */
export interface ConversationState {
  id: string;
  kind: ConvKind;
  /** Lifecycle state: `open` for DMs; the ticket/order state otherwise. */
  state: string;
  readOnly: boolean;
  participants: string[];
  /** Highest assigned seq (committed or in the persister). Gapless from 1. */
  lastSeq: number;
  watermarks: Map<string, Watermark>;
  /** `${from}\n${cmid}` → the original ack, for the last `dedupeWindowMax` sends. */
  recentSends: Map<string, RecentSend>;
  typingUntil: Map<string, number>;
  createdAt: number;
  meta?: Record<string, string>;
  /** Ids of external events already applied (order rooms). */
  processedEvents?: Set<string>;
}

export interface ActorLimits {
  typingTtlMs: number;
  /** Sends remembered per conversation for idempotent resends (see docs/protocol.md, "Idempotency"). */
  dedupeWindowMax: number;
  historyLimitDefault: number;
  /** How long after sending a sender may still edit a message (EDIT_WINDOW_MS). */
  editWindowMs: number;
}

export interface Decision<S> {
  state: S;
  effects: Effect[];
}
