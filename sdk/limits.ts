/**
 * Every bound and default of the SDK, with why. Callers override through ChatClientOptions;
 * `assertLimits` checks the relations between them once, at construction.
 */
export interface ChatLimits {
  /** A request unanswered this long is treated as lost (a send is then resent, others reject). */
  requestTimeoutMs: number;
  /** Sends waiting for an ack (queued or in flight); over it `send()` rejects with PendingQueueFullError. */
  pendingSendsMax: number;
  /**
   * Sends in flight per conversation. 1 keeps a conversation's messages in the order they were
   * sent even when one is refused (429/503) or times out and is retried — pipelined sends
   * after it would overtake it. Raise it for throughput when order after failures may vary.
   */
  sendsInflightPerConvMax: number;
  /** Sends in flight per socket, under the server's own per-socket cap (256; over → 429). */
  sendsInflightMax: number;
  /** At most one `typing` frame per conversation per this interval (the server's TTL is longer). */
  typingIntervalMs: number;
  /**
   * Conversations whose last `typing` time the throttle remembers. When full, those older than
   * typingIntervalMs are forgotten; if every one is still within its interval, `typing()` sends
   * nothing and returns false: forgetting a recent one would let it send twice in an interval,
   * and growing would make the memory unbounded. Indicators are best-effort; nothing else is lost.
   */
  typingConvsMax: number;
  /** `recv` watermarks are coalesced: at most one per conversation per this interval. */
  recvCoalesceMs: number;
  /** Out-of-order messages held per conversation while a gap is filled; beyond it they are dropped and refetched. */
  reorderBufferMax: number;
  /** `join since` pages fetched in one fill before giving up until the next message or reconnect (a page is ≤ 100). */
  fillPagesMax: number;
  /** After close 1013 (overloaded / slow consumer) the next attempt waits at least this long. */
  overloadPauseMs: number;
  /** A socket that has not delivered `hello` in this long is abandoned and retried. */
  connectTimeoutMs: number;
  /**
   * How long the HTTP auth check after a failed attempt may take (browsers, see auth.ts); the
   * next attempt waits for it, so a black-holed network must not hold reconnects for long.
   */
  authCheckTimeoutMs: number;
  /**
   * Requests safe to repeat (open, join, leave, read, history, inbox) are retried on transient
   * errors and disconnects until this long after the first attempt; then the last error rejects.
   */
  idempotentRetryWindowMs: number;
  /** Resend delay for a send whose request timed out (a refusal with `retryMs` waits that long instead). */
  retryDefaultMs: number;
  /**
   * With `token` a function, the socket's token is replaced (`auth` frame) this long before its
   * `exp` — or at half its remaining lifetime when that is shorter — so the server never closes
   * the socket for expiry (4001). A failed refresh is tried again every `retryDefaultMs` until `exp`.
   */
  tokenRefreshLeadMs: number;
}

export const defaultLimits: ChatLimits = {
  requestTimeoutMs: 10_000,
  pendingSendsMax: 1000,
  sendsInflightPerConvMax: 1,
  sendsInflightMax: 64,
  typingIntervalMs: 2000,
  typingConvsMax: 1000, // far above the conversations one person types in within 2 s
  recvCoalesceMs: 100,
  reorderBufferMax: 1000,
  fillPagesMax: 50,
  overloadPauseMs: 5000,
  connectTimeoutMs: 10_000,
  authCheckTimeoutMs: 5000,
  retryDefaultMs: 1000,
  idempotentRetryWindowMs: 30_000, // a node restart or a lease move takes seconds, not minutes
  tokenRefreshLeadMs: 30_000, // far more than a token endpoint's round trip, small against token lifetimes (minutes)
};

export function assertLimits(l: ChatLimits): void {
  for (const [name, value] of Object.entries(l)) {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite number ≥ 0, got ${value}`);
  }
  if (l.pendingSendsMax < 1) throw new RangeError('pendingSendsMax must be ≥ 1');
  if (l.typingConvsMax < 1) throw new RangeError('typingConvsMax must be ≥ 1');
  if (l.sendsInflightPerConvMax < 1 || l.sendsInflightMax < 1) throw new RangeError('send windows must be ≥ 1');
  if (l.sendsInflightMax > l.pendingSendsMax) throw new RangeError('sendsInflightMax must be ≤ pendingSendsMax');
  if (l.requestTimeoutMs < 1) throw new RangeError('requestTimeoutMs must be ≥ 1');
}

/**
 * Reconnect backoff defaults (BackoffOptions, backoff.ts): the first retry within 250 ms, so a
 * restarted node is rejoined at once; no wait over 10 s, so a client is back soon after an outage.
 */
export const backoffDefaults: { readonly baseMs: number; readonly maxMs: number } = { baseMs: 250, maxMs: 10_000 };
