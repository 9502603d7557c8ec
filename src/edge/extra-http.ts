/** Order-event intake and the admin read API (seed 002). */
import type { TemplatedApp } from 'uWebSockets.js';
import { BusTimeoutError, NoRespondersError } from '../bus/bus.ts';
import { listConversations } from '../persist/store.ts';
import { authenticate, HttpError, optUint, pageLimit, route, type HttpDeps } from './http.ts';
import { applyOrderEvent, parseOrderEvent, verifySignature } from './order-events.ts';
import type pg from 'pg';

export function registerOrderEvents(app: TemplatedApp, d: HttpDeps): void {
  app.post(
    '/api/v1/events',
    route(
      d.log,
      async ({ body, headers }) => {
        const secret = d.config.events.hmacSecret;
        if (!secret) throw new HttpError(503, 'event intake is not configured (EVENTS_HMAC_SECRET)');
        verifySignature(headers['x-signature'] ?? '', body, secret, d.config.events.maxSkewMs, Date.now());
        const event = parseOrderEvent(body);
        try {
          // A W3C traceparent on the request becomes the parent of the event's spans.
          await applyOrderEvent(d.bus, d.subjects, d.config.shardCount, event, d.config.limits.busRequestTimeoutMs, headers.traceparent || undefined);
        } catch (e) {
          if (e instanceof BusTimeoutError || e instanceof NoRespondersError) throw new HttpError(503, 'shard unavailable, retry');
          throw e;
        }
        return { status: 202, body: { accepted: true, id: event.id } };
      },
      { body: true, headers: ['x-signature', 'traceparent'] },
    ),
  );
}

export function registerAdmin(app: TemplatedApp, d: HttpDeps & { pool: pg.Pool }): void {
  // Audit events are always written, whatever LOG_LEVEL says.
  const audit = d.log.child({ audit: true }, { level: 'info' });
  const admin = async (auth: string, query: string) => {
    const p = await authenticate(d.verifier, auth, query);
    if (!p.roles.includes('admin')) throw new HttpError(403, 'admin role required');
    return p;
  };
  app.get(
    '/api/v1/admin/conversations/:id/messages',
    route(d.log, async ({ auth, query, params }) => {
      const p = await admin(auth, query);
      const q = new URLSearchParams(query);
      const before = optUint(q, 'before');
      const limit = pageLimit(q, d.config.actors.historyLimitDefault);
      const conv = await d.store.participants(params[0]);
      audit.info({ admin: p.sub, action: 'read_messages', conversation: params[0], found: conv !== null }, 'admin read');
      if (!conv) throw new HttpError(404, 'no such conversation');
      const page = await d.store.history(params[0], before, limit);
      return { status: 200, body: { messages: page.msgs, next: page.next } };
    }),
  );
  app.get(
    '/api/v1/admin/conversations',
    route(d.log, async ({ auth, query }) => {
      const p = await admin(auth, query);
      const q = new URLSearchParams(query);
      const limit = pageLimit(q, d.config.actors.historyLimitDefault);
      const filter = { kind: q.get('kind') ?? undefined, state: q.get('state') ?? undefined, participant: q.get('participant') ?? undefined };
      audit.info({ admin: p.sub, action: 'list_conversations', filter }, 'admin read');
      try {
        return { status: 200, body: await listConversations(d.pool, filter, q.get('before') ?? undefined, limit) };
      } catch (e) {
        if (e instanceof RangeError) throw new HttpError(400, 'before: not a cursor from a previous page');
        throw e;
      }
    }),
  );
}
