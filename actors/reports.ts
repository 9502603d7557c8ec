/**
 * A participant reports a message to the moderators (issue 15). The report is written with the
 * conversation's other rows, durable before `ok`, and announced as the domain event
 * `report.created` (the outbox in cluster mode): the moderation queue and its audit trail. The
 * id follows from (conversation, seq, reporter), so a resend or a second report of the same
 * message by the same user is the same report.
 */
import { createHash } from 'node:crypto';
import type { ClientFrame } from '../protocol/frames.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { err, isParticipant } from './access.ts';
import { located } from './edits.ts';
import type { Actor, ConversationState, Decision, MessageTarget, Write } from './types.ts';

type ReportFrame = Extract<ClientFrame, { t: 'report' }>;

export const reportIdPrefix = 'r_';

export function reportId(conv: string, seq: number, reporter: string): string {
  // Length-prefixed parts: no two triples hash the same input.
  return reportIdPrefix + createHash('sha256').update(`${conv.length}:${conv}|${seq}|${reporter}`).digest('base64url').slice(0, 24);
}

export function decideReport(
  state: ConversationState, actor: Actor, frame: ReportFrame, target: MessageTarget | undefined, now: number,
): Decision<ConversationState> {
  if (!isParticipant(state, actor.userId)) return { state, effects: [err(ErrorCode.forbidden, 'not a participant')] };
  const m = located(state, frame.seq, target);
  if ('type' in m) return { state, effects: [m] };
  if (m.from === actor.userId) return { state, effects: [err(ErrorCode.badFrame, 'you cannot report your own message')] };
  const id = reportId(state.id, frame.seq, actor.userId);
  const writes: Write[] = [
    { kind: 'report', conv: state.id, id, seq: frame.seq, reporter: actor.userId, sender: m.from, reason: frame.reason, ts: now },
    {
      kind: 'domainEvent', conv: state.id, id: `report.created:${id}`, type: 'report.created', ts: now,
      payload: { id, conv: state.id, seq: frame.seq, reporter: actor.userId, sender: m.from, reason: frame.reason },
    },
  ];
  return { state, effects: [{ type: 'persist', writes, then: [{ type: 'reply', frame: { t: 'ok' } }] }] };
}
