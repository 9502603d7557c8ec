/** Error codes carried by `err` frames (PROTOCOL.md "Errors"); HTTP statuses reuse them. */
export const ErrorCode = {
  badFrame: 400,
  unauthenticated: 401,
  forbidden: 403,
  notFound: 404,
  conflict: 409,
  tooLarge: 413,
  unsupportedMediaType: 415,
  unprocessable: 422,
  rateLimited: 429,
  internal: 500,
  unavailable: 503,
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

const knownCodes = new Set<number>(Object.values(ErrorCode));

/** A code another component sent (a shard's err frame): itself when known, else 500. */
export function errorCodeOf(code: number | undefined, fallback: ErrorCodeValue = ErrorCode.internal): ErrorCodeValue {
  return code !== undefined && knownCodes.has(code) ? (code as ErrorCodeValue) : fallback;
}

/**
 * How long to wait before retrying, per transient condition: the `retryMs` every 503 and 429 of
 * ours carries (load shedding computes its own from the delay bound, src/rpc/envelope.ts).
 */
export const RetryAfterMs = {
  /** A queue in front of one actor or socket is full: it drains within a turn or two. */
  busy: 100,
  /** The shard is moving between nodes (a handoff): its new owner answers within moments. */
  moving: 100,
  /** No shard answered in time (a failover): about one lease-renew round. */
  shardUnavailable: 500,
  /** The database or an outside service (connections, products, service centers) did not answer. */
  dependency: 1000,
  /** A connection bound (per user, per address): it frees when one of those sockets closes. */
  connections: 5000,
} as const;

/**
 * What an error says besides code and message: `retryMs` means a retry can help (after that
 * long); without it the error is permanent for that request. `state` is a ticket's current state.
 */
export interface ErrorExtra {
  retryMs?: number;
  state?: string;
}

/**
 * Close codes (PROTOCOL.md "Close codes"). 1000 is terminal; everything else asks the client to
 * reconnect with backoff, 1012 at once (to any node), 1013 after a pause.
 */
export const CloseCode = {
  normal: 1000,
  policy: 1008,
  tooLarge: 1009,
  serverError: 1011,
  restart: 1012,
  overloaded: 1013,
  /** The socket's token's `exp` passed without an `auth` refresh: reconnect at once with a fresh token. */
  sessionExpired: 4001,
  /** An admin revoked the user's sessions: tokens issued until then are refused; reconnect with one issued later. */
  sessionRevoked: 4003,
} as const;

/**
 * The one error table's type: an expected failure that becomes an `err` frame on a socket, or the
 * HTTP status and JSON body `{code, message, ...extra}` of the same code on the HTTP API.
 */
export class ChatError extends Error {
  override name = 'ChatError';
  constructor(
    readonly code: ErrorCodeValue,
    message: string,
    readonly extra: ErrorExtra = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A frame that failed decoding or validation; `rid` is kept when it could be read. */
export class ProtocolError extends ChatError {
  override name = 'ProtocolError';
  constructor(code: ErrorCodeValue, message: string, readonly rid?: number) {
    super(code, message);
  }
}
