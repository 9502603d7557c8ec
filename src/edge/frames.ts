/**
 * Frame in → request out. Validates, rate-limits and routes each client frame: conversation
 * commands go to the owning shard on the bus (the sender is always the socket's user), inbox
 * reads go to the database, ping is answered here.
 */
import { dmConversationId, dmIdPrefix } from '../../actors/dm.ts';
import { mayObserve } from '../../actors/access.ts';
import { decode, encodeFrame } from '../../protocol/codec.ts';
import { ChatError, CloseCode, ProtocolError, ErrorCode, RetryAfterMs } from '../../protocol/errors.ts';
import type { ClientFrame, ProtocolLimits, ServerFrame } from '../../protocol/frames.ts';
import { parseClientFrame } from '../../protocol/validate.ts';
import { BusOverloadError, BusTimeoutError, NoRespondersError } from '../bus/bus.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { AuditEntry, AuditLog } from '../persist/audit.ts';
import type { Store } from '../persist/store.ts';
import { correlationId, overloadedMsg, replyFrame, ReplyStatus, replyStatus, shedRetryMs, shedShareOf } from '../rpc/envelope.ts';
import { shardUnavailable, type ShardClient } from '../rpc/shard-client.ts';
import { TokenBucket } from './rate-limit.ts';
import { ShedShares } from './shed-shares.ts';
import type { Metrics } from '../metrics.ts';
import { startSpan, traceparentOf, tracingEnabled } from '../tracing.ts';
import { SpanStatusCode } from '@opentelemetry/api';
import type { Socket, SocketRegistry } from './sockets.ts';
import type { PresenceService } from '../presence/service.ts';
import type { Sessions } from './sessions.ts';

export interface FrameDeps {
  config: Config;
  limits: ProtocolLimits;
  shards: ShardClient;
  registry: SocketRegistry;
  store: Store;
  log: Logger;
  metrics: Metrics;
  /** Admin reads and moderation steps are recorded here before they are served. */
  audit: AuditLog;
  /** Adds the DM peer's presence to `join`/`open` replies (issue 15); absent in tests of the edge alone. */
  presence?: PresenceService;
  /** Token refresh (`auth`), expiry and revocation of this edge's sockets (issue 16). */
  sessions: Sessions;
}

export class FrameRouter {
  /**
   * Per shard, the share of sends to refuse here before the bus hop: the shed level of the
   * shard's latest reply (it follows that shard's estimated delay, see host.ts), fading when no
   * reply refreshes it.
   */
  private readonly shedShare: ShedShares;
  /** Share of sends to refuse for this thread's own event-loop lag (see EDGE_LAG_SHED_*). */
  private lagShare = 0;
  constructor(private readonly d: FrameDeps) {
    this.shedShare = new ShedShares(d.config.shardCount, d.config.persist.queueDelayMaxMs);
    this.watchLoopLag();
  }

  /** Samples the event loop's lag every lagProbeMs (moving average) into `lagShare` (RED on lag). */
  private watchLoopLag(): void {
    const { edgeLagTargetMs: lo, edgeLagMaxMs: hi, shedShareMaxPct } = this.d.config.persist;
    let due = performance.now() + lagProbeMs;
    let lagMs = 0;
    setInterval(() => {
      const now = performance.now();
      lagMs += lagSmoothing * (Math.max(0, now - due) - lagMs);
      due = now + lagProbeMs;
      this.lagShare = lagMs <= lo ? 0 : Math.min(1, (lagMs - lo) / (hi - lo)) * (shedShareMaxPct / 100);
    }, lagProbeMs).unref();
  }

  send(ws: Socket, frame: ServerFrame): void {
    this.d.registry.write(ws, encodeFrame(frame));
  }

  private error(ws: Socket, rid: number | undefined, code: number, msg: string, extra: { retryMs?: number } = {}): void {
    this.d.metrics.rejected.inc({ code: String(code) });
    this.send(ws, { t: 'err', rid, code, msg, ...extra });
  }

  /** Counts a bad frame; past the bound the socket is closed with 1008. */
  private bad(ws: Socket, e: ProtocolError): void {
    const data = ws.getUserData();
    const now = Date.now();
    if (now - data.badWindowStart > this.d.config.limits.badFramesWindowMs) {
      data.badWindowStart = now;
      data.badFrames = 0;
    }
    if (++data.badFrames > this.d.config.limits.badFramesMax) {
      data.closed = true;
      this.d.metrics.closes.inc({ code: String(CloseCode.policy) });
      ws.end(CloseCode.policy, 'too many bad frames');
      return;
    }
    this.error(ws, e.rid, e.code, e.message);
  }

  onMessage(ws: Socket, message: ArrayBuffer, isBinary: boolean): void {
    const data = ws.getUserData();
    if (data.closed) return;
    if (message.byteLength > this.d.limits.maxFrameBytes) {
      data.closed = true;
      this.d.metrics.closes.inc({ code: String(CloseCode.tooLarge) });
      ws.end(CloseCode.tooLarge, 'frame too large');
      return;
    }
    if (!isBinary) return this.bad(ws, new ProtocolError(400, 'text frames are not supported: send binary msgpack'));
    let frame: ClientFrame;
    try {
      frame = parseClientFrame(new Uint8Array(message), this.d.limits);
    } catch (e) {
      if (e instanceof ProtocolError) return this.bad(ws, e);
      throw e;
    }
    this.d.metrics.framesIn.inc({ type: frame.t });
    const now = Date.now();
    const taken = data.frames.take(now);
    if (!taken.ok) {
      return this.error(ws, frame.rid, ErrorCode.rateLimited, 'too many frames', { retryMs: taken.retryMs });
    }
    this.route(ws, frame, now);
  }

  private route(ws: Socket, frame: ClientFrame, now: number): void {
    const data = ws.getUserData();
    switch (frame.t) {
      case 'ping':
        return this.send(ws, { t: 'pong', rid: frame.rid });
      case 'auth':
        // The socket's session moves to the new token's exp (same user) → ok; else err, the old exp stands.
        return void this.d.sessions.refresh(ws, frame.token).then(
          () => this.send(ws, { t: 'ok', rid: frame.rid }),
          (e: unknown) => {
            const err = e instanceof ChatError ? e : new ChatError(ErrorCode.internal, 'internal error');
            if (!(e instanceof ChatError)) this.d.log.error({ err: e }, 'auth refresh failed');
            this.error(ws, frame.rid, err.code, err.message, err.extra);
          },
        );
      case 'inbox':
        return this.inbox(ws, frame);
      case 'open':
        return this.request(ws, dmConversationId(data.user, frame.with), frame);
      case 'send': {
        const taken = this.sendBucket(data.user, now).take(now);
        if (!taken.ok) {
          return this.error(ws, frame.rid, ErrorCode.rateLimited, 'rate limited', { retryMs: taken.retryMs });
        }
        // Early shedding, probabilistic: the share the shard asked for is refused here at the cost
        // of a decoded frame and an err, no bus hop; the rest goes on (the shard's exact bound
        // stands behind this).
        const shard = this.d.shards.shardOf(frame.conv);
        const share = Math.max(this.lagShare, this.shedShare.of(shard, performance.now()));
        if (share > 0 && Math.random() < share) {
          this.d.metrics.shed.inc({ where: 'edge' });
          return this.error(ws, frame.rid, ErrorCode.unavailable, overloadedMsg, { retryMs: shedRetryMs(this.d.config.persist.queueDelayMaxMs) });
        }
        return this.request(ws, frame.conv, frame, (status) => status === ReplyStatus.overloaded && this.d.metrics.shed.inc({ where: 'shard' }), shard);
      }
      case 'join': {
        const observer = mayObserve(data.roles);
        const join = () => {
          if (observer) this.d.registry.observe(ws, frame.conv); // before the snapshot: no gap
          this.request(ws, frame.conv, frame, (_status, reply) => this.afterJoin(ws, frame.conv, reply));
        };
        // Any admin or dispatcher join is recorded (observing or not: which it is shows only in the reply).
        return observer ? this.audited(ws, frame.rid, { actor: data.user, action: 'join', target: frame.conv }, join) : join();
      }
      case 'leave':
        this.d.registry.unobserve(ws, frame.conv);
        return this.send(ws, { t: 'ok', rid: frame.rid });
      case 'recv':
      case 'typing':
        // Fire-and-forget: no reply is defined for these.
        this.d.shards.tell({ c: frame.conv, u: data.user, r: data.roles, f: frame });
        return;
      case 'history': {
        const read = () => this.request(ws, frame.conv, frame);
        return data.roles.includes('admin') ? this.audited(ws, frame.rid, { actor: data.user, action: 'history', target: frame.conv }, read) : read();
      }
      case 'read':
        return this.request(ws, frame.conv, frame);
      case 'report':
        return this.audited(ws, frame.rid, { actor: data.user, action: 'report', target: frame.conv, detail: { seq: frame.seq } }, () => this.request(ws, frame.conv, frame));
      case 'edit':
      case 'del': {
        // Writes like a send: the same per-user budget.
        const taken = this.sendBucket(data.user, now).take(now);
        if (!taken.ok) return this.error(ws, frame.rid, ErrorCode.rateLimited, 'rate limited', { retryMs: taken.retryMs });
        const write = () => this.request(ws, frame.conv, frame);
        if (frame.t !== 'del' || !data.roles.includes('admin')) return write();
        return this.audited(ws, frame.rid, { actor: data.user, action: 'delete_message', target: frame.conv, detail: { seq: frame.seq } }, write);
      }
    }
  }

  /** The user's budget of writes (send, edit, del) on this node. */
  private sendBucket(user: string, now: number): TokenBucket {
    let bucket = this.d.registry.sendBuckets.get(user);
    if (!bucket) {
      bucket = new TokenBucket(this.d.config.limits.rateMsgsPerS, this.d.config.limits.rateBurst, now);
      this.d.registry.sendBuckets.set(user, bucket);
    }
    return bucket;
  }

  /** Observers stay subscribed to the room only if the join succeeded and they are not a participant. */
  private afterJoin(ws: Socket, conv: string, reply: Uint8Array): void {
    const data = ws.getUserData();
    if (!mayObserve(data.roles)) return;
    const f = decode(reply) as { t: string; conv?: { participants: string[] } };
    if (f.t !== 'conv' || f.conv?.participants.includes(data.user)) this.d.registry.unobserve(ws, conv);
  }

  /** Runs `then` once `entry` is in the audit trail; what cannot be audited is refused (503, retry). */
  private audited(ws: Socket, rid: number | undefined, entry: AuditEntry, then: () => void): void {
    this.d.audit.record(entry).then(then, (e: unknown) => {
      this.d.log.warn({ err: e }, 'audit write failed');
      this.error(ws, rid, ErrorCode.unavailable, 'audit trail unavailable', { retryMs: RetryAfterMs.dependency });
    });
  }

  private request(
    ws: Socket, conv: string, frame: ClientFrame, onReply?: (status: number, frame: Uint8Array) => void,
    shard = this.d.shards.shardOf(conv),
  ): void {
    const data = ws.getUserData();
    if (data.inflight >= this.d.config.limits.inflightPerSocketMax) {
      return this.error(ws, frame.rid, ErrorCode.rateLimited, 'too many requests in flight', { retryMs: RetryAfterMs.busy });
    }
    data.inflight++;
    const started = performance.now();
    const span = tracingEnabled() ? startSpan(`frame ${frame.t}`, undefined, { 'chat.conv': conv, 'chat.frame': frame.t }) : undefined;
    const tp = span && traceparentOf(span);
    const cid = correlationId(tp);
    // Client frames may be asked again (a send is deduplicated by its cmid, the others are reads or
    // idempotent): an attempt unanswered for a lease TTL is repeated.
    this.d.shards.ask({ c: conv, u: data.user, r: data.roles, f: frame, tp, cid, o: data.sid }, { repeatable: true }, shard).then(
      (reply) => {
        span?.end();
        data.inflight--;
        this.shedShare.learn(shard, shedShareOf(reply), performance.now());
        this.d.metrics.busRequests.inc({ outcome: 'ok' });
        if (frame.t === 'send') this.d.metrics.ackLatency.observe((performance.now() - started) / 1000);
        const clientFrame = replyFrame(reply);
        onReply?.(replyStatus(reply), clientFrame);
        if (this.d.presence && (frame.t === 'open' || (frame.t === 'join' && frame.conv.startsWith(dmIdPrefix)))) return this.withPresence(ws, clientFrame, this.d.presence);
        this.d.registry.write(ws, clientFrame);
      },
      (e: unknown) => {
        span?.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.name : 'error' });
        span?.end();
        data.inflight--;
        const cause = e instanceof Error ? e.cause : undefined;
        this.d.metrics.busRequests.inc({ outcome: busOutcome(cause) });
        if (!(e instanceof ChatError)) this.d.log.error({ err: e, cid }, 'bus request failed');
        if (frame.t === 'join') this.d.registry.unobserve(ws, conv);
        const err = e instanceof ChatError ? e : shardUnavailable(e);
        this.error(ws, frame.rid, err.code, err.message, err.extra);
      },
    );
  }

  /**
   * A DM's `conv` reply to a participant carries the peer's presence, added here so actors stay
   * pure. The directory read is bounded (PRESENCE_KV_TIMEOUT_MS); when it fails the reply goes
   * without the field rather than not at all.
   */
  private withPresence(ws: Socket, reply: Uint8Array, presence: PresenceService): void {
    const user = ws.getUserData().user;
    const f = decode(reply) as Extract<ServerFrame, { t: 'conv' }>;
    const peer = f.t === 'conv' && f.conv.kind === 'dm' && f.conv.participants.includes(user) ? f.conv.participants.find((p) => p !== user) : undefined;
    if (peer === undefined) return this.d.registry.write(ws, reply);
    presence.notePeers(user, peer, f.conv.lastSeq === 0);
    presence.viewFor(peer, user).then(
      (view) => this.d.registry.write(ws, view ? encodeFrame({ ...f, presence: view }) : reply),
      (e: unknown) => {
        this.d.log.warn({ err: e }, 'presence read failed; conv reply sent without it');
        this.d.registry.write(ws, reply);
      },
    );
  }

  private inbox(ws: Socket, frame: Extract<ClientFrame, { t: 'inbox' }>): void {
    const data = ws.getUserData();
    this.d.store.inbox(data.user, frame.before, frame.limit ?? 20).then(
      (page) => this.send(ws, { t: 'page', rid: frame.rid, ...page }),
      (e: unknown) => {
        if (e instanceof RangeError) return this.error(ws, frame.rid, ErrorCode.badFrame, 'before: not a cursor from a previous page');
        this.d.log.warn({ err: e }, 'inbox read failed');
        this.error(ws, frame.rid, ErrorCode.unavailable, 'database unavailable', { retryMs: RetryAfterMs.dependency });
      },
    );
  }
}

/** How often the edge samples its event-loop lag, and the weight of each sample in the average. */
const lagProbeMs = 10;
const lagSmoothing = 0.2;

/** The bus_requests metric's outcome for the cause of a failed shard request. */
function busOutcome(cause: unknown): string {
  if (cause instanceof BusTimeoutError) return 'timeout';
  if (cause instanceof NoRespondersError) return 'no_responders';
  if (cause instanceof BusOverloadError) return 'overloaded';
  return 'error';
}
