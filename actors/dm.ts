/**
 * Direct messages (seeds 001 and 003): exactly two users who are first-degree connections.
 * The conversation id is derived from the pair, so `open` is get-or-create without a lookup.
 */
import { createHash } from 'node:crypto';
import type { ClientFrame } from '../protocol/frames.ts';
import { decideChatFrame, decideTypingExpire, err, type FrameCommand, newConversation, view } from './conversation.ts';
import type { ActorLimits, ConnectionCheck, ConversationState, Decision, TimerCommand } from './types.ts';
import { ErrorCode, RetryAfterMs } from '../protocol/errors.ts';

export const dmIdPrefix = 'd_';

/** Stable id of the DM between two users, whatever the order they are given in. */
export function dmConversationId(a: string, b: string): string {
  const [x, y] = a < b ? [a, b] : [b, a];
  // Length-prefixed, so no pair of ids can be spliced into another pair's id.
  return dmIdPrefix + createHash('sha256').update(`${x.length}:${x}|${y}`).digest('base64url').slice(0, 24);
}

export type DmCommand = FrameCommand | TimerCommand;

/** Which commands need the connections authority consulted before `decideDm`. */
export function dmNeedsConnectionCheck(frame: ClientFrame): boolean {
  return frame.t === 'open' || frame.t === 'send';
}

function refuseUnconnected(connection: ConnectionCheck | undefined): Decision<ConversationState>['effects'] | null {
  if (connection === 'connected') return null;
  if (connection === 'unavailable') return [err(ErrorCode.unavailable, 'connections service unavailable', { retryMs: RetryAfterMs.dependency })];
  // Either way round: the blocked user cannot write to the blocker, nor the blocker to them until unblocking.
  if (connection === 'blocked') return [err(ErrorCode.forbidden, 'blocked')];
  return [err(ErrorCode.forbidden, 'not a first-degree connection')];
}

function decideOpen(state: ConversationState | null, convId: string, cmd: Extract<DmCommand, { t: 'frame' }>, now: number): Decision<ConversationState | null> {
  if (cmd.frame.t !== 'open') throw new Error('unreachable');
  const me = cmd.actor.userId;
  const other = cmd.frame.with;
  if (other === me) return { state, effects: [err(ErrorCode.badFrame, 'cannot open a conversation with yourself')] };
  const refusal = refuseUnconnected(cmd.connection);
  if (refusal) return { state, effects: refusal };
  if (state) return { state, effects: [{ type: 'persist', writes: [], then: [{ type: 'reply', frame: { t: 'conv', conv: view(state) } }] }] };
  const participants = [me, other].sort();
  const created = newConversation({ id: convId, kind: 'dm', state: 'open', readOnly: false, participants, createdAt: now });
  const row = { kind: 'conversation' as const, conv: convId, convKind: 'dm' as const, state: 'open', participants, createdAt: now };
  return { state: created, effects: [{ type: 'persist', writes: [row], then: [{ type: 'reply', frame: { t: 'conv', conv: view(created) } }] }] };
}

/** The DM actor. `state` is null while the conversation does not exist. */
export function decideDm(
  state: ConversationState | null,
  convId: string,
  cmd: DmCommand,
  now: number,
  limits: ActorLimits,
): Decision<ConversationState | null> {
  if (cmd.t === 'typingExpire') return state ? decideTypingExpire(state, cmd.user, now) : { state, effects: [] };
  if (cmd.frame.t === 'open') return decideOpen(state, convId, cmd, now);
  return decideChatFrame(state, cmd, now, limits, (_state, c) => refuseUnconnected(c.connection));
}
