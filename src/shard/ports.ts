/**
 * What the shard host needs of the world beyond its thread's memory, as narrow ports: the store
 * it rehydrates actors and reads history from, the persister its writes go through, the
 * connections authority DMs consult, and a timer. Store, Persister and CachedConnections satisfy
 * them as they are; test/helpers/memory-host-ports.ts drives the host in memory through them.
 */
import type { ConnectionCheck, ConversationState, MessageTarget, Write } from '../../actors/types.ts';
import type { MsgView } from '../../protocol/frames.ts';
import type { UploadRecord } from '../../actors/attachments.ts';

/** Cluster mode: a write is refused unless `epoch` still owns `shard` when it commits. */
export interface WriteFence {
  shard: number;
  epoch: number;
}

/** The persister queue one conversation's writes go through, in order (group commit). */
export interface HostLane {
  /** Estimated ms until everything queued now has committed (the load-shedding signal). */
  readonly delayMs: number;
  /** Whether `rows` more rows stay within the lane's bound. */
  fits(rows: number): boolean;
  /**
   * Resolves once committed. Rejects with FencedError (another node owns the shard now),
   * RowRefusedError (the database refused this command's rows; the persister then marks the
   * conversation for reload), or any other error: the batch failed and `failureEpoch` advanced.
   */
  enqueue(writes: Write[], fence?: WriteFence, tp?: string): Promise<void>;
}

export interface HostPersister {
  /** Advances on every failed batch: actors loaded before it must reload. */
  readonly failureEpoch: number;
  /** A row of `conv` was refused since its actor last loaded. */
  mustReload(conv: string): boolean;
  /** `conv`'s actor reloads now: forget its refused rows. */
  reloaded(conv: string): void;
  /** The lane of `conv` (fixed per conversation). */
  lane(conv: string): HostLane;
}

/** A stored send, as an idempotent resend is answered. */
export interface StoredSend {
  seq: number;
  id: string;
  ts: number;
}

/** Reads of committed rows only (everything acknowledged, nothing else). */
export interface HostStore {
  /** The actor's state as of the last commit; null when the conversation does not exist. */
  loadConversation(id: string, dedupeWindowMax: number): Promise<ConversationState | null>;
  /** Messages before `before` (or the newest), newest first, with the next page's cursor. */
  history(conv: string, before: number | undefined, limit: number): Promise<{ msgs: MsgView[]; next?: number; retainedFrom?: number }>;
  /** Messages after `since`, oldest first. */
  messagesAfter(conv: string, since: number, limit: number): Promise<{ msgs: MsgView[]; retainedFrom?: number }>;
  sendByCmid(conv: string, sender: string, cmid: string): Promise<StoredSend | null>;
  /** One stored message as an edit or delete needs it; null when no such seq is stored. */
  message(conv: string, seq: number): Promise<StoredMessage | null>;
  /** The uploads a send's `att` names, by id (attachments, issue 15); absent: sends with `att` are refused 503. */
  uploads?(ids: readonly string[]): Promise<ReadonlyMap<string, UploadRecord>>;
}

/** What an edit or delete decides on. */
export type StoredMessage = Omit<Extract<MessageTarget, { kind: 'found' }>, 'kind'>;

/** Whether two users are connected (DMs need it), with a synchronous cached answer. */
export interface HostConnections {
  peek(a: string, b: string): ConnectionCheck | undefined;
  check(a: string, b: string): Promise<ConnectionCheck>;
}

/** Runs the actors' timers (`schedule` effects). */
export interface TimerPort {
  after(ms: number, fire: () => void): void;
}

/** Node's timers, unref'd: a pending typing expiry does not keep a stopping thread alive. */
export const nodeTimers: TimerPort = {
  after(ms, fire) {
    setTimeout(fire, ms).unref();
  },
};
