/**
 * Chat behaviour every conversation kind shares: join, send, receipts, typing, history.
 * Kind-specific rules (who may write, lifecycle) are decided by the caller before delegating.
 * Decisions mutate the state they are given (the actor owns it exclusively) and return it.
 */
import type { AttachmentMeta, ClientFrame, ConvView, ServerFrame, Watermark } from '../protocol/frames.ts';
import { type AttachmentsCheck, attachmentsOf } from './attachments.ts';
import type { Actor, ActorLimits, ConnectionCheck, ConversationState, Decision, Effect, MessageTarget } from './types.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { err, isAdmin, isParticipant, mayRead } from './access.ts';
import { decideDelete, decideEdit } from './edits.ts';
import { decideReport } from './reports.ts';

/** A validated client frame from an authenticated user, as the shard host delivers it. */
export interface FrameCommand {
  t: 'frame';
  actor: Actor;
  frame: ClientFrame;
  /** Resolved by the host before the command when the kind needs it (DMs). */
  connection?: ConnectionCheck;
  /** Message id minted by the host for sends. */
  msgId?: string;
  /** The stored message an `edit` or `del` addresses, read by the host (src/shard/resolvers.ts). */
  target?: MessageTarget;
  /** A send's `att`, resolved by the host: the uploads' metadata or why not (actors/attachments.ts). */
  attachments?: AttachmentsCheck;
}

/** A kind's extra condition on new sends (not on idempotent resends); null = allowed. */
export type SendGuard = (state: ConversationState, cmd: FrameCommand) => Effect[] | null;

export type SendFrame = Extract<ClientFrame, { t: 'send' }>;

export { err, isAdmin, isParticipant, mayRead } from './access.ts';

export function newConversation(
  init: Pick<ConversationState, 'id' | 'kind' | 'state' | 'readOnly' | 'participants' | 'createdAt'>,
): ConversationState {
  return { ...init, lastSeq: 0, watermarks: new Map(), recentSends: new Map(), typingUntil: new Map() };
}

export function view(state: ConversationState): ConvView {
  const watermarks: Record<string, Watermark> = {};
  for (const [user, w] of state.watermarks) watermarks[user] = { ...w };
  return {
    id: state.id,
    kind: state.kind,
    state: state.state,
    participants: [...state.participants],
    readOnly: state.readOnly,
    lastSeq: state.lastSeq,
    watermarks,
  };
}

export function stateFrame(state: ConversationState): ServerFrame {
  return { t: 'state', conv: state.id, state: state.state, readOnly: state.readOnly, participants: [...state.participants] };
}

function done(state: ConversationState, ...effects: Effect[]): Decision<ConversationState> {
  return { state, effects };
}

/** Participants see the room; admins observe any room read-only. */
export function decideJoin(state: ConversationState, actor: Actor, since: number | undefined): Decision<ConversationState> {
  if (!mayRead(state.participants, actor, state.kind)) return done(state, err(ErrorCode.forbidden, 'not a participant'));
  const participant = isParticipant(state, actor.userId);
  const v = view(state);
  if (!participant) v.readOnly = true; // for an observer the room is read-only, whatever its state
  return done(state, { type: 'replyWithMessages', conv: v, since });
}

export function decideHistory(
  state: ConversationState,
  actor: Actor,
  before: number | undefined,
  limit: number | undefined,
  limits: ActorLimits,
): Decision<ConversationState> {
  if (!mayRead(state.participants, actor, state.kind)) return done(state, err(ErrorCode.forbidden, 'not a participant'));
  return done(state, { type: 'replyHistory', before, limit: limit ?? limits.historyLimitDefault });
}

export function sendKey(from: string, cmid: string): string {
  return `${from}\n${cmid}`;
}

/** Whether (from, cmid) is a send this conversation still remembers. */
export function isResend(state: ConversationState, from: string, cmid: string): boolean {
  return state.recentSends.has(sendKey(from, cmid));
}

/** Remembers a send for idempotent resends, evicting the oldest past the window. */
function rememberSend(state: ConversationState, key: string, seq: number, id: string, ts: number, max: number): void {
  state.recentSends.set(key, { seq, id, ts });
  if (state.recentSends.size > max) {
    const oldest = state.recentSends.keys().next().value as string;
    state.recentSends.delete(oldest);
  }
}

/**
 * Appends a message once the caller has established that `actor` may write here.
 * A resend of a known (from, cmid) answers with the original ack once it is durable.
 */
export function decideSend(
  state: ConversationState,
  actor: Actor,
  frame: SendFrame,
  msgId: string,
  now: number,
  limits: ActorLimits,
  att?: AttachmentMeta[],
): Decision<ConversationState> {
  const key = sendKey(actor.userId, frame.cmid);
  const prior = state.recentSends.get(key);
  if (prior) {
    const ack: ServerFrame = { t: 'ack', conv: state.id, seq: prior.seq, id: prior.id, ts: prior.ts };
    return done(state, { type: 'persist', writes: [], then: [{ type: 'reply', frame: ack }] });
  }
  const seq = state.lastSeq + 1;
  state.lastSeq = seq;
  rememberSend(state, key, seq, msgId, now, limits.dedupeWindowMax);
  const then: Effect[] = [
    { type: 'reply', frame: { t: 'ack', conv: state.id, seq, id: msgId, ts: now } },
    {
      type: 'fanout',
      users: [...state.participants],
      frame: { t: 'msg', conv: state.id, seq, id: msgId, from: actor.userId, body: frame.body, ts: now, cmid: frame.cmid, ...(att ? { att } : {}) },
    },
  ];
  if (state.typingUntil.delete(actor.userId)) {
    then.push({ type: 'fanout', users: others(state, actor.userId), frame: { t: 'typing', conv: state.id, user: actor.userId, until: 0 } });
  }
  const row = { kind: 'message' as const, conv: state.id, seq, id: msgId, from: actor.userId, body: frame.body, cmid: frame.cmid, ts: now, ...(att ? { att } : {}) };
  return done(state, { type: 'persist', writes: [row], then });
}

function others(state: ConversationState, user: string): string[] {
  return state.participants.filter((p) => p !== user);
}

function watermarkOf(state: ConversationState, user: string): Watermark {
  let w = state.watermarks.get(user);
  if (!w) {
    w = { delivered: 0, read: 0 };
    state.watermarks.set(user, w);
  }
  return w;
}

/**
 * Moves a participant's delivered (and, for `read`, read) watermark forward. Watermarks only
 * grow and never pass the last assigned seq; read implies delivered.
 */
export function decideWatermark(
  state: ConversationState,
  actor: Actor,
  kind: 'recv' | 'read',
  requested: number,
  now: number,
): Decision<ConversationState> {
  const ok: Effect[] = kind === 'read' ? [{ type: 'reply', frame: { t: 'ok' } }] : [];
  if (!isParticipant(state, actor.userId)) {
    // Observers have no receipts; a silent recv from them is not worth an error frame.
    return done(state, ...(kind === 'read' ? [err(ErrorCode.forbidden, 'not a participant')] : []));
  }
  const seq = Math.min(requested, state.lastSeq);
  const w = watermarkOf(state, actor.userId);
  const then: Effect[] = [...ok];
  const deliveredMoved = seq > w.delivered;
  const readMoved = kind === 'read' && seq > w.read;
  if (!deliveredMoved && !readMoved) return done(state, ...ok);
  if (deliveredMoved) {
    w.delivered = seq;
    then.push({ type: 'fanout', users: others(state, actor.userId), frame: { t: 'delivered', conv: state.id, user: actor.userId, seq } });
  }
  if (readMoved) {
    w.read = seq;
    w.readAt = now;
    then.push({ type: 'fanout', users: others(state, actor.userId), frame: { t: 'read', conv: state.id, user: actor.userId, seq, at: now } });
  }
  const row = { kind: 'watermark' as const, conv: state.id, user: actor.userId, delivered: w.delivered, read: w.read, readAt: w.readAt ?? 0 };
  return done(state, { type: 'persist', writes: [row], then });
}

/**
 * Typing fans out an expiry rather than a flag. A repeat while more than half the TTL remains
 * is absorbed, so a fast typist costs one fan-out per half TTL, not one per keystroke.
 */
export function decideTyping(state: ConversationState, actor: Actor, now: number, limits: ActorLimits): Decision<ConversationState> {
  if (!isParticipant(state, actor.userId) || state.readOnly) return done(state);
  const current = state.typingUntil.get(actor.userId) ?? 0;
  if (current - now > limits.typingTtlMs / 2) return done(state);
  const until = now + limits.typingTtlMs;
  state.typingUntil.set(actor.userId, until);
  return done(
    state,
    { type: 'fanout', users: others(state, actor.userId), frame: { t: 'typing', conv: state.id, user: actor.userId, until } },
    { type: 'schedule', at: until, command: { t: 'typingExpire', user: actor.userId } },
  );
}

export function decideTypingExpire(state: ConversationState, user: string, now: number): Decision<ConversationState> {
  const until = state.typingUntil.get(user);
  if (until === undefined || until > now) return done(state);
  state.typingUntil.delete(user);
  return done(state, { type: 'fanout', users: others(state, user), frame: { t: 'typing', conv: state.id, user, until: 0 } });
}

/**
 * The chat frames every kind shares. `guard` adds the kind's own condition on new sends
 * (DMs: the users must still be connected).
 */
export function decideChatFrame(
  state: ConversationState | null,
  cmd: FrameCommand,
  now: number,
  limits: ActorLimits,
  guard?: SendGuard,
): Decision<ConversationState | null> {
  const { frame, actor } = cmd;
  if (!state) return { state, effects: frame.t === 'recv' || frame.t === 'typing' ? [] : [err(ErrorCode.notFound, 'no such conversation')] };
  switch (frame.t) {
    case 'join':
      return decideJoin(state, actor, frame.since);
    case 'history':
      return decideHistory(state, actor, frame.before, frame.limit, limits);
    case 'send': {
      if (!isParticipant(state, actor.userId)) {
        return { state, effects: [err(ErrorCode.forbidden, isAdmin(actor) ? 'observers cannot send' : 'not a participant')] };
      }
      const files = attachmentsOf(frame.att, cmd.attachments);
      // A resend answers with its original ack even if the room changed since.
      if (!isResend(state, actor.userId, frame.cmid)) {
        if (state.readOnly) return { state, effects: [err(ErrorCode.conflict, 'conversation is read-only', { state: state.state })] };
        const refusal = guard?.(state, cmd);
        if (refusal) return { state, effects: refusal };
        if ('refusal' in files) return { state, effects: [files.refusal] };
      }
      return decideSend(state, actor, frame, cmd.msgId ?? '', now, limits, 'att' in files ? files.att : undefined);
    }
    case 'edit':
      return decideEdit(state, actor, frame, cmd.target, now, limits);
    case 'del':
      return decideDelete(state, actor, frame, cmd.target, now);
    case 'report':
      return decideReport(state, actor, frame, cmd.target, now);
    case 'recv':
    case 'read':
      return decideWatermark(state, actor, frame.t, frame.seq, now);
    case 'typing':
      return decideTyping(state, actor, now, limits);
    default:
      return { state, effects: [err(ErrorCode.badFrame, `${frame.t} is not a conversation command`)] };
  }
}
