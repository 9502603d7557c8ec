/** Order-event intake and the admin read API (seed 002). */
import type { TemplatedApp } from 'uWebSockets.js';
import { listConversations } from '../persist/store.ts';
import { ChatError, ErrorCode } from '../../protocol/errors.ts';
import { requireId } from '../../protocol/ids.ts';
import { requireJson } from '../../protocol/json-body.ts';
import { parseOrderEvent, verifySignature } from '../integrations/order-events.ts';
import { applyOrderEvent } from '../rpc/order-events.ts';
import { parseQuery } from '../../protocol/schema.ts';
import { authenticate, route, type HttpDeps } from './routes.ts';
import { AdminConversationsQuery, AuditQuery, HistoryQuery, singleLine } from './schemas.ts';
import type pg from 'pg';

export function registerOrderEvents(app: TemplatedApp, d: HttpDeps): void {
  app.post(
    '/api/v1/events',
    route(
      d.log,
      async ({ body, headers }) => {
        const secret = d.config.events.hmacSecret;
        if (!secret) throw new ChatError(ErrorCode.unavailable, 'event intake is not configured (EVENTS_HMAC_SECRET)');
        verifySignature(headers['x-signature'] ?? '', body, secret, d.config.events.maxSkewMs, Date.now());
        requireJson(headers['content-type']);
        const event = parseOrderEvent(body);
        // A W3C traceparent on the request becomes the parent of the event's spans.
        await applyOrderEvent(d.shards, event, headers.traceparent || undefined);
        return { status: 202, body: { accepted: true, id: event.id } };
      },
      { body: true, headers: ['x-signature', 'traceparent', 'content-type'] },
    ),
  );
}

export function registerAdmin(app: TemplatedApp, d: HttpDeps & { pool: pg.Pool }): void {
  const admin = async (auth: string, query: string) => {
    const p = await authenticate(d.verifier, auth, query);
    if (!p.roles.includes('admin')) throw new ChatError(ErrorCode.forbidden, 'admin role required');
    return p;
  };
  app.get(
    '/api/v1/admin/conversations/:id/messages',
    route(d.log, async ({ auth, query, params }) => {
      const p = await admin(auth, query);
      const id = requireId(params[0], 'id');
      const { before, limit = d.config.actors.historyLimitDefault } = parseQuery(HistoryQuery, query);
      const conv = await d.store.participants(id);
      await d.audit.record({ actor: p.sub, action: 'read_messages', target: id, detail: { found: conv !== null } });
      if (!conv) throw new ChatError(ErrorCode.notFound, 'no such conversation');
      const page = await d.store.history(id, before, limit);
      return { status: 200, body: { messages: page.msgs, next: page.next, retainedFrom: page.retainedFrom } };
    }),
  );
  app.get(
    '/api/v1/admin/conversations',
    route(d.log, async ({ auth, query }) => {
      const p = await admin(auth, query);
      const q = parseQuery(AdminConversationsQuery, query);
      const limit = q.limit ?? d.config.actors.historyLimitDefault;
      const filter = { kind: line(q.kind, 'kind'), state: line(q.state, 'state'), participant: q.participant };
      const before = line(q.before, 'before');
      await d.audit.record({ actor: p.sub, action: 'list_conversations', detail: { filter } });
      try {
        return { status: 200, body: await listConversations(d.pool, filter, before, limit) };
      } catch (e) {
        if (e instanceof RangeError) throw new ChatError(ErrorCode.badFrame, 'before: not a cursor from a previous page');
        throw e;
      }
    }),
  );
  app.get(
    '/api/v1/admin/audit',
    route(d.log, async ({ auth, query }) => {
      const p = await admin(auth, query);
      const q = parseQuery(AuditQuery, query);
      const filter = { actor: q.actor, target: q.target };
      const page = await d.audit.list(filter, q.cursor, q.limit ?? d.config.actors.historyLimitDefault);
      // Reading the trail is itself an admin read.
      await d.audit.record({ actor: p.sub, action: 'read_audit', detail: { filter } });
      return { status: 200, body: page };
    }),
  );
}

/** A single-line query parameter bound for SQL: control characters and lone surrogates → 400. */
function line(v: string | undefined, key: string): string | undefined {
  return v === undefined ? undefined : singleLine(v, key);
}
