/**
 * Assertions over an actor decision's effects, shared by the actor test rigs of every kind:
 * which writes it asks to make durable, what runs after the commit, what it replies and fans out.
 */
import assert from 'node:assert/strict';
import type { ServerFrame } from '../../protocol/frames.ts';
import type { Effect, Write } from '../../actors/types.ts';

export type PersistEffect = Extract<Effect, { type: 'persist' }>;

/** Asserts the decision is exactly one persist effect and returns it. */
export function persistOf(effects: Effect[]): PersistEffect {
  assert.equal(effects.length, 1, `expected exactly one effect, got ${JSON.stringify(effects)}`);
  const [effect] = effects;
  assert.equal(effect.type, 'persist', `expected a persist effect, got ${effect.type}`);
  return effect as PersistEffect;
}

/** The writes the decision asks to make durable. */
export function writesOf(effects: Effect[]): Write[] {
  return persistOf(effects).writes;
}

/** Commits the single persist effect of a decision and returns what runs after it. */
export function commit(effects: Effect[]): Effect[] {
  return persistOf(effects).then;
}

/** Effects that act on clients immediately, without waiting for any commit. */
export function beforeCommit(effects: Effect[]): Effect[] {
  return effects.filter((e) => e.type !== 'persist');
}

/** The frame of the only `reply` among these effects. */
export function replyFrame(effects: Effect[]): ServerFrame {
  const replies = effects.filter((e) => e.type === 'reply');
  assert.equal(replies.length, 1, `expected exactly one reply, got ${JSON.stringify(effects)}`);
  return (replies[0] as Extract<Effect, { type: 'reply' }>).frame;
}

/** The `fanout` effects among these, as `{users, frame}` pairs. */
export function fanouts(effects: Effect[]): Array<{ users: string[]; frame: ServerFrame }> {
  return effects
    .filter((e): e is Extract<Effect, { type: 'fanout' }> => e.type === 'fanout')
    .map((e) => ({ users: [...e.users], frame: e.frame }));
}

/** Asserts the decision is a single error reply with this code and returns its frame. */
export function assertErr(effects: Effect[], code: number, msg?: string): Extract<ServerFrame, { t: 'err' }> {
  assert.equal(effects.length, 1, `expected a single err reply, got ${JSON.stringify(effects)}`);
  const frame = replyFrame(effects);
  assert.equal(frame.t, 'err');
  const e = frame as Extract<ServerFrame, { t: 'err' }>;
  assert.equal(e.code, code);
  if (msg !== undefined) assert.equal(e.msg, msg);
  return e;
}
