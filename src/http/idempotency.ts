/**
 * Idempotency-Key on the ticket API's POSTs (issue 17). A client sends a key of its choosing with
 * every POST; a retry with the same key (after a timeout, a lost answer) gets the first answer
 * instead of acting twice. Keys are per user and per scope (the route and its ticket, e.g.
 * `route:<id>`), kept in `idempotency_keys` (src/persist/idempotency.ts) for IDEMPOTENCY_TTL_MS.
 *
 * - Same key, same request (hash) → the stored answer, status and JSON body byte for byte, without
 *   running again.
 * - Same key, another request → 422.
 * - Same key while its first request still runs → 409 with `retryMs` at once (no waiting: the
 *   client retries and then gets the answer). A claim not finished within IDEMPOTENCY_PENDING_MAX_MS
 *   is taken to be dead (its node crashed) and the next request with the key runs anew.
 * - What is stored: 2xx and permanent 4xx answers (a 4xx without `retryMs`: the same request
 *   would be refused again). Not stored: 5xx, errors carrying `retryMs` (429, 503: a retry may
 *   succeed) and exceptions — the claim is dropped and a retry runs anew.
 * - Only JSON answers are stored (the ticket API answers JSON); any other is answered, not kept.
 *
 * POST /api/v1/service-requests keeps its own, stronger idempotency: the ticket's id derives from
 * the key (ticketIdFor) and its actor remembers the request hash for the ticket's whole life.
 */
import { randomUUID } from 'node:crypto';
import { ChatError, ErrorCode } from '../../protocol/errors.ts';
import type { Principal } from '../auth/auth.ts';
import { IDEMPOTENCY_PENDING_MAX_MS, TICKET_IDEMPOTENCY_KEY_MAX_CHARS } from '../config.ts';
import { IdempotencyTable } from '../persist/idempotency.ts';
import type { HttpDeps, RouteResult } from './routes.ts';

/** retryMs of the 409 for a key whose first request still runs: about one ticket request. */
export const IDEMPOTENCY_RUNNING_RETRY_MS = 1_000;

/** The Idempotency-Key header: required, at most TICKET_IDEMPOTENCY_KEY_MAX_CHARS printable ASCII characters; 400 otherwise. */
export function idempotencyKey(raw: string | undefined): string {
  if (!raw) throw new ChatError(ErrorCode.badFrame, 'Idempotency-Key header required');
  if (raw.length > TICKET_IDEMPOTENCY_KEY_MAX_CHARS || !/^[\u0021-\u007e]+$/.test(raw)) {
    throw new ChatError(ErrorCode.badFrame, `Idempotency-Key: at most ${TICKET_IDEMPOTENCY_KEY_MAX_CHARS} printable ASCII characters`);
  }
  return raw;
}

/** A permanent answer: 2xx, or a 4xx without retryMs. */
function kept(status: number, retryMs: unknown): boolean {
  return (status >= 200 && status < 300) || (status >= 400 && status < 500 && retryMs === undefined);
}

function isJson(out: RouteResult): boolean {
  return out.contentType === undefined || /^application\/json\b/i.test(out.contentType);
}

/**
 * Runs `run` once per (user, scope, key): see the file's comment for what a repeat answers.
 * `requestHash` identifies the request's content (a hash of its validated fields or bytes).
 */
export async function idempotent(d: HttpDeps, p: Principal, scope: string, key: string, requestHash: string, run: () => Promise<RouteResult>): Promise<RouteResult> {
  const table = new IdempotencyTable(d.pool);
  const ref = { user: p.sub, scope, key };
  const claim = randomUUID();
  const now = Date.now();
  const found = await table.claim(ref, requestHash, claim, now, now - d.config.idempotency.ttlMs, now - IDEMPOTENCY_PENDING_MAX_MS);
  if (found.kind !== 'owned') {
    if (found.requestHash !== requestHash) throw new ChatError(ErrorCode.unprocessable, 'Idempotency-Key already used for another request');
    if (found.kind === 'running') throw new ChatError(ErrorCode.conflict, 'a request with this Idempotency-Key is still running', { retryMs: IDEMPOTENCY_RUNNING_RETRY_MS });
    return { status: found.status, body: found.body ?? undefined };
  }
  // Storing the answer must not turn a done request into an error: the client has its answer; a
  // retry finds the claim running until IDEMPOTENCY_PENDING_MAX_MS, then runs anew.
  const store = (status: number, body: unknown) =>
    table.complete(ref, claim, status, body === undefined ? null : JSON.stringify(body)).then(
      (ok) => void (ok || d.log.warn({ scope, user: p.sub }, 'idempotency claim taken over before the answer was stored')),
      (err: unknown) => d.log.warn({ err, scope, user: p.sub }, 'idempotent answer not stored'));
  const release = () => table.release(ref, claim).catch((err: unknown) => d.log.warn({ err, scope, user: p.sub }, 'idempotency claim not released'));
  let out: RouteResult;
  try {
    out = await run();
  } catch (e) {
    if (e instanceof ChatError && kept(e.code, e.extra.retryMs)) await store(e.code, { code: e.code, message: e.message, ...e.extra });
    else await release();
    throw e;
  }
  if (kept(out.status, undefined) && isJson(out)) await store(out.status, out.body);
  else await release();
  return out;
}
