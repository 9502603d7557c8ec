/**
 * HTTP API on the edge: health, readiness, the embedded connections table (admin), and
 * message history for API gateways that hold no socket. JSON errors `{code, message}`.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { mayRead } from '../../actors/conversation.ts';
import { encode } from '../../protocol/codec.ts';
import type { Bus, Subjects } from '../bus/bus.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { ConnectionsTable, Store } from '../persist/store.ts';
import type { AuditLog } from '../persist/audit.ts';
import { AuthError, type Principal, tokenFrom, type Verifier } from '../auth/auth.ts';
import type pg from 'pg';
import type { Metrics } from '../metrics.ts';
import type { ShardClient } from '../rpc/shard-client.ts';
import { VerifierUnavailableError } from '../auth/verify-pool.ts';
import { ChatError, ErrorCode, RetryAfterMs } from '../../protocol/errors.ts';
import { requireId } from '../../protocol/ids.ts';
import { HttpRateLimiter } from './rate-limit.ts';
import { parseQuery } from '../../protocol/schema.ts';
import { HistoryQuery } from './schemas.ts';

export interface HttpDeps {
  config: Config;
  verifier: Verifier;
  store: Store;
  pool: pg.Pool;
  connectionsTable: ConnectionsTable | undefined;
  bus: Bus;
  subjects: Subjects;
  /** Ticket commands and order events go to their actors through it. */
  shards: ShardClient;
  log: Logger;
  metrics: Metrics;
  /** The node's metrics in Prometheus text (aggregated over threads by the main thread). */
  metricsText: () => Promise<{ contentType: string; text: string }>;
  /** The operator view of GET /cluster. */
  clusterView: () => Promise<unknown>;
  readiness: () => { ready: boolean; checks: Record<string, { status: 'ok' | 'fail'; detail?: string }> };
  /** Admin reads and moderation steps are recorded here before they are served. */
  audit: AuditLog;
}

const statusText: Record<number, string> = {
  200: '200 OK', 201: '201 Created', 202: '202 Accepted', 204: '204 No Content', 400: '400 Bad Request', 401: '401 Unauthorized',
  403: '403 Forbidden', 404: '404 Not Found', 409: '409 Conflict', 413: '413 Payload Too Large', 415: '415 Unsupported Media Type', 422: '422 Unprocessable Entity',
  429: '429 Too Many Requests', 500: '500 Internal Server Error', 503: '503 Service Unavailable',
};

/**
 * This edge thread's REST rate limits (HTTP_RATE_*, src/http/rate-limit.ts), set by registerHttp:
 * per address in route() for /api/… paths, per user in authenticate(). Unset (unit tests) → no limit.
 */
let httpRate: HttpRateLimiter | undefined;
const textDecoder = new TextDecoder();

/** Largest request body the HTTP API reads; more → 413 before buffering it. */
export const httpBodyMaxBytes = 256 * 1024;


export interface RouteContext {
  auth: string;
  query: string;
  params: string[];
  headers: Record<string, string>;
  /** The raw request body (empty unless the route reads one). */
  body: Buffer;
}

/** Reads the whole body, bounded by `max` bytes (ChatError 413 past it). */
function readBody(res: HttpResponse, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.onData((chunk, isLast) => {
      size += chunk.byteLength;
      if (size > max) return reject(new ChatError(ErrorCode.tooLarge, `body larger than ${max} bytes`));
      chunks.push(Buffer.from(chunk.slice(0))); // uWS reuses the chunk's memory after this call
      if (isLast) resolve(Buffer.concat(chunks));
    });
  });
}

/**
 * Wraps an async handler: reads what uWS only allows synchronously (headers, parameters), the
 * body when asked, and turns aborts and errors into nothing or a JSON error.
 */
export function route(
  log: Logger,
  handler: (ctx: RouteContext) => Promise<RouteResult>,
  opts: { body?: boolean; headers?: string[]; bodyMaxBytes?: number } = {},
) {
  return (res: HttpResponse, req: HttpRequest): void => {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    const headers: Record<string, string> = {};
    for (const h of opts.headers ?? []) headers[h] = req.getHeader(h);
    const base = { auth: req.getHeader('authorization'), query: req.getQuery() ?? '', params: [0, 1, 2].map((i) => safeDecode(req.getParameter(i) ?? '')), headers };
    // The REST API (/api/…) is rate limited per client address first, before the body is read or
    // the token verified: a refused client costs one bucket lookup (health, metrics, static: exempt).
    const ip = httpRate && req.getUrl().startsWith('/api/') ? textDecoder.decode(res.getRemoteAddressAsText()) : undefined;
    const body = new Promise<Buffer>((resolve) => {
      if (ip !== undefined) httpRate?.takeIp(ip);
      resolve(opts.body ? readBody(res, opts.bodyMaxBytes ?? httpBodyMaxBytes) : Buffer.alloc(0));
    });
    body.then((b) => handler({ ...base, body: b })).then(
      (out) => !aborted && respond(res, out.status, out.body, out.contentType),
      (e: unknown) => {
        if (aborted) return;
        if (e instanceof ChatError) return respondError(res, e.code, e.message, { ...e.extra });
        log.error({ err: e }, 'http handler failed');
        // Mostly a read the database could not answer: a condition that passes.
        respondError(res, ErrorCode.unavailable, 'dependency unavailable', { retryMs: RetryAfterMs.dependency });
      },
    );
  };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Edge worker threads close each HTTP connection after its response: uWS aborts the process if
 * a thread is torn down while it still holds a (keep-alive) connection, and only sockets the
 * thread tracks can be closed before exit. WebSockets are tracked and closed with 1012.
 */
let closeAfterResponse = false;
export function closeHttpConnectionsAfterResponse(): void {
  closeAfterResponse = true;
}

/** Whether responses must close their connection (edge worker threads): a streamed body then ends with `end(…, true)`. */
export function closesAfterResponse(): boolean {
  return closeAfterResponse;
}

export function respond(res: HttpResponse, status: number, body?: unknown, contentType = 'application/json', headers: Record<string, string> = {}): void {
  res.cork(() => {
    res.writeStatus(statusText[status] ?? `${status} Status`);
    for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v);
    if (body === undefined) return void res.end(undefined, closeAfterResponse);
    const bytes = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
    res.writeHeader('content-type', contentType).end(bytes, closeAfterResponse);
  });
}

/**
 * The JSON error body every refusal of the HTTP API and the upgrade carries: `{code, message, ...extra}`.
 * A 429 with `retryMs` also carries `Retry-After` (whole seconds, rounded up).
 */
export function respondError(res: HttpResponse, code: number, message: string, extra: Record<string, unknown> = {}): void {
  const headers: Record<string, string> = {};
  if (code === ErrorCode.rateLimited && typeof extra.retryMs === 'number') headers['retry-after'] = String(Math.max(1, Math.ceil(extra.retryMs / 1000)));
  respond(res, code, { code, message, ...extra }, 'application/json', headers);
}

/** A handler's answer: JSON by default, or raw bytes with their content type. */
export interface RouteResult {
  status: number;
  body?: unknown;
  contentType?: string;
}

/** The caller of an HTTP route, from its bearer token; also takes a token of the user's HTTP rate (429 {retryMs} past it). */
export async function authenticate(verifier: Verifier, auth: string, query: string): Promise<Principal> {
  const token = tokenFrom(auth, '') ?? tokenFrom('', query);
  if (!token) throw new ChatError(ErrorCode.unauthenticated, 'missing bearer token');
  let p: Principal;
  try {
    p = await verifier.verify(token);
  } catch (e) {
    // A full verification queue is our overload, not a bad token: 503 with when to retry.
    if (e instanceof VerifierUnavailableError) throw new ChatError(ErrorCode.unavailable, e.message, { retryMs: e.retryMs });
    throw new ChatError(ErrorCode.unauthenticated, e instanceof AuthError ? e.message : 'invalid token');
  }
  httpRate?.takeUser(p.sub);
  return p;
}

export function registerHttp(app: TemplatedApp, d: HttpDeps): void {
  httpRate = new HttpRateLimiter(d.config.httpRate);
  app.get('/healthz', (res) => respond(res, 200, { status: 'ok' }));
  app.get('/metrics', (res) => {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    d.metricsText().then(
      ({ contentType, text }) => !aborted && respond(res, 200, text, contentType),
      () => !aborted && respondError(res, ErrorCode.unavailable, 'metrics unavailable', { retryMs: RetryAfterMs.dependency }),
    );
  });
  app.get('/readyz', (res) => {
    const r = d.readiness();
    respond(res, r.ready ? 200 : 503, { status: r.ready ? 'ok' : 'fail', checks: r.checks });
  });

  app.get(
    '/cluster',
    route(d.log, async ({ auth, query }) => {
      const p = await authenticate(d.verifier, auth, query);
      if (!p.roles.includes('admin')) throw new ChatError(ErrorCode.forbidden, 'admin role required');
      return { status: 200, body: await d.clusterView() };
    }),
  );

  const connectionRoute = (connect: boolean) =>
    route(d.log, async ({ auth, query, params }) => {
      const p = await authenticate(d.verifier, auth, query);
      if (!p.roles.includes('admin')) throw new ChatError(ErrorCode.forbidden, 'admin role required');
      if (!d.connectionsTable) throw new ChatError(ErrorCode.conflict, 'connections are served by CONNECTIONS_URL, not managed here');
      const [a, b] = [requireId(params[0], 'a'), requireId(params[1], 'b')];
      if (a === b) throw new ChatError(ErrorCode.badFrame, 'two different user ids expected');
      if (connect) await d.connectionsTable.connect(a, b, Date.now());
      else await d.connectionsTable.disconnect(a, b);
      d.bus.publish(d.subjects.connectionsChanged(), encode({ a, b }));
      return { status: 204 };
    });
  app.put('/api/v1/connections/:a/:b', connectionRoute(true));
  app.del('/api/v1/connections/:a/:b', connectionRoute(false));

  app.get(
    '/api/v1/conversations/:id/messages',
    route(d.log, async ({ auth, query, params }) => {
      const p = await authenticate(d.verifier, auth, query);
      const id = requireId(params[0], 'id');
      const { before, limit = d.config.actors.historyLimitDefault } = parseQuery(HistoryQuery, query);
      const conv = await d.store.participants(id);
      if (!conv) throw new ChatError(ErrorCode.notFound, 'no such conversation');
      if (!mayRead(conv.participants, { userId: p.sub, roles: p.roles }, conv.kind)) throw new ChatError(ErrorCode.forbidden, 'not a participant');
      const page = await d.store.history(id, before, limit);
      return { status: 200, body: { messages: page.msgs, next: page.next, retainedFrom: page.retainedFrom } };
    }),
  );


}
