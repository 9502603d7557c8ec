/** Expected failures of the SDK, as typed classes (`name` set, `cause` kept). */

/** The server answered a request with `err {code, msg, retryMs?}` (PROTOCOL.md, Errors). */
export class ChatRequestError extends Error {
  override readonly name = 'ChatRequestError';
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
