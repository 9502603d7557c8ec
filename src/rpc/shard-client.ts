/**
 * The one way to ask a shard: client frames (edge), ticket commands (HTTP API), order events
 * (webhook and JetStream intake) and router picks (ticket ports) all go through `ShardClient`.
 * It picks the shard's subject, rides out a shard moving between nodes (handoff or failover:
 * no responders, or the "moving" reply, are retried with backoff until the request's deadline),
 * and turns "no shard answered in time" into the one transient error, `shardUnavailable`.
 */
import { decode } from '../../protocol/codec.ts';
import { ChatError, ErrorCode, RetryAfterMs } from '../../protocol/errors.ts';
import { type Bus, BusOverloadError, BusTimeoutError, NoRespondersError, type Subjects } from '../bus/bus.ts';
import type { Config } from '../config.ts';
import { encodeEnvelope, replyFrame, ReplyStatus, replyStatus, type ShardEnvelope, shardOf } from './envelope.ts';

export interface ShardClientOptions {
  shardCount: number;
  /** BUS_REQUEST_TIMEOUT_MS: the whole request, retries included. */
  timeoutMs: number;
  /**
   * LEASE_TTL_MS: a repeatable request unanswered this long is asked again (its owner may have
   * died holding it; the new owner answers once the lease has lapsed).
   */
  attemptMs: number;
}

export interface AskOptions {
  /**
   * The request may be asked again after `attemptMs` unanswered: true for client frames (a send
   * is deduplicated by its cmid, the others are reads or idempotent). Ticket commands, order
   * events and router picks are asked once per deadline.
   */
  repeatable?: boolean;
}

export function shardUnavailable(cause?: unknown): ChatError {
  return new ChatError(ErrorCode.unavailable, 'shard unavailable, retry', { retryMs: RetryAfterMs.shardUnavailable }, { cause });
}

/** A reply decoded: the client frame a shard answered with (fields as the actors write them). */
export interface DecodedReply {
  t: string;
  code?: number;
  msg?: string;
  retryMs?: number;
  [field: string]: unknown;
}

/**
 * Longest pause between attempts while a shard has no owner: a shard taken over is found within
 * one pause. Sends are to be answered within LEASE_TTL_MS + one renew period + 1 s of a kill;
 * half a second leaves the other half for the acquisition and the first rehydrations, at the
 * cost of two to four no-responder round trips (cheap: NATS answers them itself) per waiting
 * request and second meanwhile.
 */
const retryPauseMaxMs = 500;

export class ShardClient {
  /** Built once: a subject string per request would be a concatenation per message. */
  private readonly subjects: string[];

  constructor(private readonly bus: Bus, subjects: Subjects, private readonly o: ShardClientOptions) {
    this.subjects = Array.from({ length: o.shardCount }, (_, k) => subjects.shard(k));
  }

  /** The node's client: SHARD_COUNT, BUS_REQUEST_TIMEOUT_MS for a request, LEASE_TTL_MS for an attempt. */
  static forNode(bus: Bus, subjects: Subjects, config: Pick<Config, 'shardCount' | 'leaseTtlMs' | 'limits'>): ShardClient {
    return new ShardClient(bus, subjects, { shardCount: config.shardCount, timeoutMs: config.limits.busRequestTimeoutMs, attemptMs: config.leaseTtlMs });
  }

  shardOf(conv: string): number {
    return shardOf(conv, this.o.shardCount);
  }

  /**
   * Resolves with the shard's raw reply (status byte + client frame, see envelope.ts). Rejects
   * with `shardUnavailable()` when no shard answered in time; other errors pass through.
   */
  async ask(env: ShardEnvelope, opts: AskOptions = {}, shard = this.shardOf(env.c)): Promise<Uint8Array> {
    try {
      return await this.attempts(this.subjects[shard], encodeEnvelope(env), opts.repeatable ? this.o.attemptMs : this.o.timeoutMs);
    } catch (e) {
      throw isUnanswered(e) ? shardUnavailable(e) : e;
    }
  }

  /** Fire and forget (typing): no reply, no retry; lost if the shard has no owner right now. */
  tell(env: ShardEnvelope): void {
    this.bus.publish(this.subjects[this.shardOf(env.c)], encodeEnvelope(env));
  }

  /** `ask`, with the reply's client frame decoded (HTTP routes and ports, not the socket hot path). */
  async askDecoded(env: ShardEnvelope, opts: AskOptions = {}): Promise<DecodedReply> {
    return decode(replyFrame(await this.ask(env, opts))) as DecodedReply;
  }

  private async attempts(subject: string, data: Uint8Array, attemptMs: number): Promise<Uint8Array> {
    const deadline = performance.now() + this.o.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const left = deadline - performance.now();
      if (left <= 0) throw new BusTimeoutError(subject);
      try {
        const reply = await this.bus.request(subject, data, Math.min(left, attemptMs));
        if (replyStatus(reply) !== ReplyStatus.moving) return reply;
      } catch (e) {
        const retry = e instanceof NoRespondersError || (e instanceof BusTimeoutError && performance.now() < deadline);
        if (!retry) throw e;
      }
      const pause = Math.min(retryPauseMaxMs, 25 * 2 ** attempt) * (0.5 + Math.random() / 2);
      if (performance.now() + pause >= deadline) throw new NoRespondersError(subject);
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}

/**
 * No shard answered (timeout, or nobody subscribed until the deadline), or the bus refused to ask
 * (BusOverloadError: too many requests awaiting replies, or a full port queue). The last is not
 * retried in `attempts`: it means the shards are not keeping up, and a retry would add to it.
 */
export function isUnanswered(e: unknown): boolean {
  return e instanceof BusTimeoutError || e instanceof NoRespondersError || e instanceof BusOverloadError;
}
