/** One entry point for every actor kind: a conversation command goes to its kind's actor; the router is its own kind. */
import { decideTypingExpire, type FrameCommand } from './conversation.ts';
import { decideDm } from './dm.ts';
import { decideOrderEvent, decideOrderFrame, type OrderCommand } from './order.ts';
import type { RouterCommand } from './router.ts';
import { decideTicket, decideTicketFrame, type TicketCommand } from './ticket.ts';
import type { ActorLimits, ConversationState, Decision, TimerCommand } from './types.ts';

export type ConversationCommand = FrameCommand | TimerCommand | OrderCommand | TicketCommand;

/** Every command a shard host delivers, whatever the kind of actor it addresses. */
export type ActorCommand = ConversationCommand | RouterCommand;
export { decideRouter, type RouterCommand } from './router.ts';

export function decideConversation(
  state: ConversationState | null,
  convId: string,
  cmd: ConversationCommand,
  now: number,
  limits: ActorLimits,
): Decision<ConversationState | null> {
  switch (cmd.t) {
    case 'orderEvent':
      if (state && state.kind !== 'order') return { state, effects: [{ type: 'reply', frame: { t: 'err', code: 409, msg: `${convId} is not an order room` } }] };
      return decideOrderEvent(state, convId, cmd.event, now);
    case 'ticket':
      return decideTicket(state, convId, cmd, now);
    case 'typingExpire':
      return state ? decideTypingExpire(state, cmd.user, now) : { state, effects: [] };
    case 'frame':
      if (state?.kind === 'order') return decideOrderFrame(state, cmd, now, limits);
      if (state?.kind === 'ticket') return decideTicketFrame(state, cmd, now, limits);
      return decideDm(state, convId, cmd, now, limits);
  }
}

/** Whether the host must consult the connections authority before this command. */
export function needsConnectionCheck(state: ConversationState | null, cmd: ConversationCommand): boolean {
  if (cmd.t !== 'frame') return false;
  if (cmd.frame.t === 'open') return true;
  return cmd.frame.t === 'send' && state?.kind === 'dm';
}
