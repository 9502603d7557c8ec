/**
 * Telling a refused token from a down server. PROTOCOL.md: the token is checked before the
 * upgrade, and a bad one gets HTTP 401 and no socket. How the client learns that status:
 *
 * - `ws` (Node) reports the response of a refused upgrade ('unexpected-response'); the SDK
 *   listens for it and aborts the handshake itself (with a listener, `ws` leaves that to us).
 * - A browser WebSocket cannot see it: a refused upgrade and an unreachable server both end as
 *   close 1006 before `open`. So after such an attempt the SDK asks an HTTP route that
 *   authenticates the same token the same way (`authCheckUrl`); 401 there means the token is
 *   refused. Any other answer, or none, means the token was not the problem.
 */
import type { WebSocketLike } from './socket.ts';

/**
 * The route asked by default: the HTTP history route authenticates before anything else (401
 * for a bad token) and then answers 404 for the conversation `-`, which cannot exist. A route
 * that answers 200 to any valid token (such as a `GET /api/v1/me`) would serve as well.
 */
export const authCheckPathDefault = '/api/v1/conversations/-/messages?limit=1';

/** Upgrade statuses that retrying with the same token cannot change. */
export function isAuthRefusal(status: number): boolean {
  return status === 401 || status === 403;
}

/** The HTTP(S) URL of the default auth check on the node behind a `ws(s)://…/v1/ws` URL. */
export function authCheckUrlFor(wsUrl: string): string | undefined {
  try {
    const u = new URL(wsUrl);
    if (u.protocol !== 'ws:' && u.protocol !== 'wss:') return undefined;
    return `${u.protocol === 'wss:' ? 'https:' : 'http:'}//${u.host}${authCheckPathDefault}`;
  } catch {
    return undefined;
  }
}

/**
 * Calls `onStatus` with the HTTP status of a refused upgrade, where the socket can report it
 * (`ws`: an EventEmitter with 'unexpected-response'). Returns false where it cannot (browsers).
 */
export function watchUpgradeStatus(ws: WebSocketLike, onStatus: (status: number) => void): boolean {
  const emitter = ws as unknown as { on?: (event: string, fn: (req: unknown, res: { statusCode?: number }) => void) => unknown };
  if (typeof emitter.on !== 'function') return false;
  emitter.on('unexpected-response', (_req, res) => {
    onStatus(res.statusCode ?? 0);
    try {
      ws.close(); // aborts the handshake; `ws` then emits error and close 1006 as without a listener
    } catch {
      /* already closing */
    }
  });
  return true;
}

/**
 * The status the auth check answers for this token, or undefined when there is no answer
 * (no fetch, network error, timeout, CORS): then nothing is known about the token.
 */
export async function authCheckStatus(url: string, token: string, timeoutMs: number): Promise<number | undefined> {
  const f = (globalThis as { fetch?: typeof fetch }).fetch;
  if (f === undefined) return undefined;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    // A header, not the query: tokens in URLs end up in access logs.
    const r = await f(url, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal, cache: 'no-store' });
    void r.body?.cancel().catch(() => {});
    return r.status;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * When a JWT expires (its `exp`, as epoch ms), read without verifying — the server verifies; the
 * client only needs to know when to refresh. Undefined when the token is not a JWT with a numeric `exp`.
 */
export function tokenExpiresAtMs(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const b64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4))) as { exp?: unknown };
    return typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
