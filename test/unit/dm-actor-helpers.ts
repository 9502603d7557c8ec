/**
 * Shared fixtures for the DM actor specifications (dm-actor-*.test.ts). No server, no I/O:
 * commands go into `decideDm`, and effects come out as data.
 *
 * "Committing" a persist effect means handing back its `then` effects — what the host runs once
 * the writes are durable. Anything a client could see before that is in `beforeCommit`.
 */
import assert from 'node:assert/strict';
import type { ClientFrame } from '../../protocol/frames.ts';
import { decideDm, dmConversationId } from '../../actors/dm.ts';
import type { DmCommand } from '../../actors/dm.ts';
import type { Actor, ActorLimits, ConnectionCheck, ConversationState, Effect } from '../../actors/types.ts';
import { assertErr, beforeCommit, commit, fanouts, persistOf, replyFrame, writesOf } from './effect-helpers.ts';

export { assertErr, beforeCommit, commit, fanouts, persistOf, replyFrame, writesOf };

export const limits: ActorLimits = { typingTtlMs: 1000, dedupeWindowMax: 1000, historyLimitDefault: 50, editWindowMs: 900_000 };

export const alice: Actor = { userId: 'alice', roles: ['user'] };
export const bob: Actor = { userId: 'bob', roles: ['user'] };
/** Neither a participant nor an admin. */
export const mallory: Actor = { userId: 'mallory', roles: ['user'] };
/** An admin who is not a participant: may observe, may not write. */
export const admin: Actor = { userId: 'root', roles: ['admin'] };

export const convId = dmConversationId(alice.userId, bob.userId);

/** A fixed epoch so every `now` in the tests is explicit and readable as an offset. */
export const t0 = 1_700_000_000_000;


export interface FrameOpts {
  connection?: ConnectionCheck;
  msgId?: string;
}

export function cmd(actor: Actor, frame: ClientFrame, opts: FrameOpts = {}): DmCommand {
  return { t: 'frame', actor, frame, ...opts };
}

/**
 * A DM actor with its state threaded through successive decisions, as the shard host would hold it.
 * Every method returns the effects of that one decision.
 */
export class DmRig {
  state: ConversationState | null = null;
  private msgCounter = 0;

  constructor(
    readonly conv: string = convId,
    readonly lim: ActorLimits = limits,
  ) {}

  run(command: DmCommand, now: number): Effect[] {
    const decision = decideDm(this.state, this.conv, command, now, this.lim);
    this.state = decision.state;
    return decision.effects;
  }

  open(actor: Actor, other: string, now: number, connection: ConnectionCheck = 'connected'): Effect[] {
    return this.run(cmd(actor, { t: 'open', rid: 1, with: other }, { connection }), now);
  }

  /** Sends with a fresh, predictable message id (`msg-1`, `msg-2`, …) unless one is given. */
  send(actor: Actor, cmid: string, now: number, opts: FrameOpts & { body?: string } = {}): Effect[] {
    const { body = `body of ${cmid}`, connection = 'connected', msgId = `msg-${++this.msgCounter}` } = opts;
    return this.run(cmd(actor, { t: 'send', rid: 2, conv: this.conv, cmid, body }, { connection, msgId }), now);
  }

  recv(actor: Actor, seq: number, now: number): Effect[] {
    return this.run(cmd(actor, { t: 'recv', conv: this.conv, seq }), now);
  }

  read(actor: Actor, seq: number, now: number): Effect[] {
    return this.run(cmd(actor, { t: 'read', rid: 3, conv: this.conv, seq }), now);
  }

  typing(actor: Actor, now: number): Effect[] {
    return this.run(cmd(actor, { t: 'typing', conv: this.conv }), now);
  }

  typingExpire(user: string, now: number): Effect[] {
    return this.run({ t: 'typingExpire', user }, now);
  }

  join(actor: Actor, now: number, since?: number): Effect[] {
    const frame: ClientFrame = since === undefined ? { t: 'join', rid: 4, conv: this.conv } : { t: 'join', rid: 4, conv: this.conv, since };
    return this.run(cmd(actor, frame), now);
  }

  history(actor: Actor, now: number, page: { before?: number; limit?: number } = {}): Effect[] {
    return this.run(cmd(actor, { t: 'history', rid: 5, conv: this.conv, ...page }), now);
  }

  /** Asserts there is a state (the conversation exists) and returns it. */
  get existing(): ConversationState {
    assert.ok(this.state, 'expected the conversation to exist');
    return this.state;
  }
}

/** A rig whose alice–bob DM already exists (its creation committed). */
export function openedDm(now = t0, lim: ActorLimits = limits): DmRig {
  const rig = new DmRig(convId, lim);
  commit(rig.open(alice, bob.userId, now));
  return rig;
}

/** Sends `n` messages from alternating participants and commits each one. */
export function sendCommitted(rig: DmRig, n: number, now: number): void {
  for (let i = 0; i < n; i++) commit(rig.send(i % 2 === 0 ? alice : bob, `seed-${i}`, now + i));
}
