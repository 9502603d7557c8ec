/**
 * Edit and delete of a stored message (issue 15). Both address a message by seq; the host reads
 * it (`MessageTarget`) once this actor's earlier writes have committed, so the decision sees every
 * edit or delete acknowledged before it. Order stays gapless: a delete leaves a tombstone at its seq.
 * Both are idempotent: the same edit or delete again is answered `ok` and changes nothing.
 */
import type { ClientFrame, ServerFrame } from '../protocol/frames.ts';
import { ErrorCode, RetryAfterMs } from '../protocol/errors.ts';
import { err, isAdmin, isParticipant } from './access.ts';
import type { Actor, ActorLimits, ConversationState, Decision, DomainEventRow, Effect, MessageTarget, Write } from './types.ts';

type EditFrame = Extract<ClientFrame, { t: 'edit' }>;
type DeleteFrame = Extract<ClientFrame, { t: 'del' }>;
export type Found = Extract<MessageTarget, { kind: 'found' }>;

const ok: Effect = { type: 'reply', frame: { t: 'ok' } };

function refuse(state: ConversationState, effect: Effect): Decision<ConversationState> {
  return { state, effects: [effect] };
}

/** The addressed message, or the refusal when there is none to act on. */
export function located(state: ConversationState, seq: number, target: MessageTarget | undefined): Found | Effect {
  if (seq > state.lastSeq || target?.kind === 'missing') return err(ErrorCode.notFound, `no message ${seq} in this conversation`);
  if (!target || target.kind === 'unavailable') return err(ErrorCode.unavailable, 'database unavailable', { retryMs: RetryAfterMs.dependency });
  return target;
}

/**
 * Commits `writes`, then answers `ok` and shows `frame` to every participant's sockets, the
 * editing socket included (its other tabs and devices, and itself, render from the fan-out).
 */
function commitAndAnnounce(state: ConversationState, writes: Write[], frame: ServerFrame): Decision<ConversationState> {
  const then: Effect[] = [ok, { type: 'fanout', users: [...state.participants], frame, toOrigin: true }];
  return { state, effects: [{ type: 'persist', writes, then }] };
}

function event(state: ConversationState, id: string, type: string, payload: Record<string, unknown>, ts: number): DomainEventRow {
  return { kind: 'domainEvent', conv: state.id, id, type, payload: { conv: state.id, ...payload }, ts };
}

/** `edit`: the sender only, within the edit window, in a writable room. */
export function decideEdit(
  state: ConversationState, actor: Actor, frame: EditFrame, target: MessageTarget | undefined, now: number, limits: ActorLimits,
): Decision<ConversationState> {
  if (!isParticipant(state, actor.userId)) return refuse(state, err(ErrorCode.forbidden, isAdmin(actor) ? 'observers cannot edit' : 'not a participant'));
  if (state.readOnly) return refuse(state, err(ErrorCode.conflict, 'conversation is read-only', { state: state.state }));
  const m = located(state, frame.seq, target);
  if ('type' in m) return refuse(state, m);
  if (m.from !== actor.userId) return refuse(state, err(ErrorCode.forbidden, 'only its sender may edit a message'));
  if (m.deleted) return refuse(state, err(ErrorCode.conflict, 'message was deleted'));
  if (m.body === frame.body) return refuse(state, ok); // the same edit again: already durable
  if (now - m.ts > limits.editWindowMs) return refuse(state, err(ErrorCode.forbidden, `messages can be edited for ${limits.editWindowMs} ms after sending`));
  const writes: Write[] = [
    { kind: 'messageEdit', conv: state.id, seq: frame.seq, body: frame.body, editedAt: now },
    event(state, `message.edited:${state.id}:${frame.seq}:${now}`, 'message.edited', { seq: frame.seq, by: actor.userId, editedAt: now }, now),
  ];
  return commitAndAnnounce(state, writes, { t: 'edited', conv: state.id, seq: frame.seq, body: frame.body, editedAt: now });
}

/**
 * `del`: the sender at any time, or an admin (moderation, in any room, read-only or not). The
 * domain event is the audit record: who deleted what, and whether it was moderation.
 */
export function decideDelete(
  state: ConversationState, actor: Actor, frame: DeleteFrame, target: MessageTarget | undefined, now: number,
): Decision<ConversationState> {
  const admin = isAdmin(actor);
  if (!admin && !isParticipant(state, actor.userId)) return refuse(state, err(ErrorCode.forbidden, 'not a participant'));
  const m = located(state, frame.seq, target);
  if ('type' in m) return refuse(state, m);
  const moderation = m.from !== actor.userId;
  if (moderation && !admin) return refuse(state, err(ErrorCode.forbidden, 'only its sender or an admin may delete a message'));
  if (m.deleted) return refuse(state, ok); // already a tombstone
  const writes: Write[] = [
    { kind: 'messageDelete', conv: state.id, seq: frame.seq, by: actor.userId, ts: now },
    event(state, `message.deleted:${state.id}:${frame.seq}`, 'message.deleted', { seq: frame.seq, by: actor.userId, sender: m.from, moderation }, now),
  ];
  return commitAndAnnounce(state, writes, { t: 'deleted', conv: state.id, seq: frame.seq, by: actor.userId });
}
