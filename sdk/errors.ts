/** Expected failures of the SDK, as typed classes (`name` set, `cause` kept). */

/**
 * The server answered a request with `err {code, msg, retryMs?}` (PROTOCOL.md, Errors).
 * The rule: an `err` with `retryMs` is transient (429, 503: the same frame may be sent again
 * after about retryMs); one without it is permanent (400, 403, 404, 409, 413, 422: sending it
 * again gets the same answer).
 */
export class ChatRequestError extends Error {
  override readonly name: string = 'ChatRequestError';
  constructor(
    readonly code: number,
    msg: string,
    readonly retryMs?: number,
  ) {
    super(msg);
  }
  get msg(): string {
    return this.message;
  }
  /** Whether sending the same frame again can succeed: the server said when (`retryMs`). */
  get transient(): boolean {
    return this.retryMs !== undefined;
  }
}

/**
 * The server refused a send for good (an `err` without `retryMs`): it was dropped from the
 * pending queue and is not resent. Also emitted as the client's `sendFailed` event.
 */
export class SendRejectedError extends ChatRequestError {
  override readonly name: string = 'SendRejectedError';
  constructor(
    readonly conv: string,
    readonly cmid: string,
    code: number,
    msg: string,
  ) {
    super(code, msg);
  }
}

/**
 * The server refused the WebSocket upgrade with HTTP 401 (no, invalid or expired token) or
 * 403: retrying with the same token cannot help, so the client stops and `connect()` rejects.
 */
export class AuthRejectedError extends Error {
  override readonly name = 'AuthRejectedError';
  constructor(
    readonly status: number,
    message = `the server refused the token (HTTP ${status})`,
  ) {
    super(message);
  }
}

/** No reply within the request timeout. */
export class ChatTimeoutError extends Error {
  override readonly name = 'ChatTimeoutError';
  constructor(readonly t: string, readonly timeoutMs: number) {
    super(`no reply to '${t}' within ${timeoutMs} ms`);
  }
}

/** The socket closed while the request was in flight; its outcome is unknown. */
export class ChatDisconnectedError extends Error {
  override readonly name = 'ChatDisconnectedError';
  constructor(readonly t: string, readonly code: number) {
    super(`connection closed (${code}) before '${t}' was answered`);
  }
}

/** The client was closed with `close()`; nothing more is sent. */
export class ChatClosedError extends Error {
  override readonly name = 'ChatClosedError';
  constructor() {
    super('chat client closed');
  }
}

/** The pending-send queue is full: the caller must slow down (nothing was queued). */
export class PendingQueueFullError extends Error {
  override readonly name = 'PendingQueueFullError';
  constructor(readonly max: number) {
    super(`pending-send queue full (${max} unacknowledged sends)`);
  }
}
