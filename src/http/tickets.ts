/**
 * Service-request HTTP API (seed 000), on the edge. Requests are validated here and handed to
 * the ticket's actor over the bus; the actor's answer (after commit) becomes the response.
 * Errors are JSON `{code, message}`, with the ticket's current `state` where one exists.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { TemplatedApp } from 'uWebSockets.js';
import type { TicketOp, TicketRequest } from '../../actors/ticket.ts';
import { maySign, ticketView } from '../../actors/ticket.ts';
import { mayRead } from '../../actors/conversation.ts';
import { ChatError, errorCodeOf, ErrorCode, RetryAfterMs } from '../../protocol/errors.ts';
import { requireId } from '../../protocol/ids.ts';
import { requireJson } from '../../protocol/json-body.ts';
import { parseBody } from '../../protocol/schema.ts';
import { FileBlobStore, isPng, type BlobStore } from '../integrations/blobs.ts';
import { authenticate, respondError, route, type HttpDeps, type RouteResult } from './routes.ts';
import { idempotencyKey, idempotent } from './idempotency.ts';
import { streamBody } from './attachments.ts';
import type { Principal } from '../auth/auth.ts';
import { openApiDocument } from './openapi.ts';
import { registerTicketLists } from './ticket-lists.ts';
import { auditRouteRetry, registerTicketDispatch } from './ticket-dispatch.ts';
import { loadUws } from '../uws.ts';
import { TICKET_MULTIPART_OVERHEAD_BYTES } from '../config.ts';
import { CreateServiceRequest, multiLine, singleLine, TicketStatusChange } from './schemas.ts';

/*
 * Field bounds (TICKET_*) live in src/config.ts with their outcome: each → 400 naming the field,
 * the signature upload → 413. The bodies' schemas: schemas.ts.
 */

/** Roles that may open a service request: end users. */
const customerRoles = ['customer', 'user'];

/** The ticket id for (customer, Idempotency-Key): a replay of the key reaches the same actor. */
export function ticketIdFor(user: string, key: string): string {
  const h = createHash('sha256').update(`${user.length}:${user}`).update(key).digest('base64url');
  return `sr_${h.slice(0, 24)}`;
}

/** The create body (schemas.ts CreateServiceRequest), then the text faults of its fields. */
export function parseTicketRequest(body: Buffer): TicketRequest {
  const b = parseBody(CreateServiceRequest, body);
  return {
    productId: singleLine(b.productId, 'productId'),
    brand: singleLine(b.brand, 'brand'),
    location: { lat: b.location.lat, lon: b.location.lon },
    description: multiLine(b.description, 'description'),
  };
}

/** Hash of the validated request: "the same body" means the same fields, whatever the JSON layout. */
function requestHash(r: TicketRequest): string {
  const canonical = JSON.stringify([r.productId, r.brand, r.location.lat, r.location.lon, r.description]);
  return createHash('sha256').update(canonical).digest('hex');
}

/** sha256 (hex) of a request's bytes: the request hash of an idempotent POST without JSON fields. */
function bytesHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Sends a ticket command to the ticket's actor; its reply becomes the response. */
export async function askTicket(d: HttpDeps, id: string, p: Principal, op: TicketOp, traceparent?: string): Promise<RouteResult> {
  const reply = await d.shards.askDecoded({ c: id, u: p.sub, r: p.roles, tk: op, tp: traceparent || undefined });
  if (reply.t === 'err') {
    const extra: { state?: string; retryMs?: number } = {};
    if (typeof reply.state === 'string') extra.state = reply.state;
    if (reply.retryMs !== undefined) extra.retryMs = reply.retryMs;
    throw new ChatError(errorCodeOf(reply.code, ErrorCode.unavailable), reply.msg ?? 'not applied', extra);
  }
  return { status: typeof reply.status === 'number' ? reply.status : 200, body: reply.body };
}

/** The committed ticket, visible to its participants and admins. */
async function readableTicket(d: HttpDeps, id: string, p: Principal) {
  const t = await d.store.loadTicket(id);
  if (!t) throw new ChatError(404, 'no such service request');
  if (!mayRead(t.participants, { userId: p.sub, roles: p.roles }, 'ticket')) throw new ChatError(403, 'not a participant of this service request');
  if (!t.participants.includes(p.sub)) await d.audit.record({ actor: p.sub, action: 'read_ticket', target: id });
  return t;
}

/** A blob-store call that failed (timeout, retries spent, breaker open): 503 with when to retry. */
function storeUnavailable(d: HttpDeps, e: unknown): never {
  d.log.warn({ err: e }, 'signature store unavailable');
  throw new ChatError(ErrorCode.unavailable, 'signature store unavailable', { retryMs: RetryAfterMs.dependency });
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The `file` part of a multipart/form-data body. */
function filePart(body: Buffer, contentType: string): Uint8Array {
  if (!/^multipart\/form-data;/i.test(contentType)) throw new ChatError(415, 'expected multipart/form-data with a PNG in the field "file"');
  const parts = loadUws().getParts(body, contentType);
  if (!parts) throw new ChatError(400, 'malformed multipart body');
  const file = parts.find((part) => part.name === 'file');
  if (!file) throw new ChatError(400, 'multipart field "file" missing');
  return new Uint8Array(file.data.slice(0));
}

export function registerTickets(app: TemplatedApp, d: HttpDeps, blobs: BlobStore = new FileBlobStore(d.config.tickets.blobDir)): void {
  const base = '/api/v1/service-requests';
  const maxSig = d.config.tickets.signatureMaxBytes;

  app.get('/api/v1/openapi.json', route(d.log, async () => ({ status: 200, body: openApiDocument })));

  app.post(base, route(d.log, async ({ auth, query, headers, body }) => {
    const p = await authenticate(d.verifier, auth, query);
    if (!p.roles.some((r) => customerRoles.includes(r))) throw new ChatError(403, 'only customers open service requests');
    requireJson(headers['content-type']);
    const key = idempotencyKey(headers['idempotency-key']);
    const request = parseTicketRequest(body);
    return askTicket(d, ticketIdFor(p.sub, key), p, { op: 'create', request, requestHash: requestHash(request) }, headers.traceparent);
  }, { body: true, headers: ['idempotency-key', 'traceparent', 'content-type'] }));

  registerTicketLists(app, d);
  registerTicketDispatch(app, d, { askTicket });

  app.get(`${base}/:id`, route(d.log, async ({ auth, query, params }) => {
    const p = await authenticate(d.verifier, auth, query);
    const t = await readableTicket(d, requireId(params[0], 'id'), p);
    return { status: 200, body: { ...ticketView(t.id, t.status, t.createdAt, t.meta), history: t.history } };
  }));

  app.patch(`${base}/:id/status`, route(d.log, async ({ auth, query, params, headers, body }) => {
    const p = await authenticate(d.verifier, auth, query);
    const id = requireId(params[0], 'id');
    requireJson(headers['content-type']);
    const b = parseBody(TicketStatusChange, body);
    const status = singleLine(b.status, 'status');
    const reason = b.reason === undefined ? undefined : singleLine(b.reason, 'reason');
    return askTicket(d, id, p, { op: 'status', to: status, reason }, headers.traceparent);
  }, { body: true, headers: ['traceparent', 'content-type'] }));

  // Every POST takes an Idempotency-Key (src/http/idempotency.ts): a replay answers the first answer.
  // Scopes are per route and ticket; a route request has no body, so its hash is the empty body's.
  app.post(`${base}/:id/route`, route(d.log, async ({ auth, query, params, headers }) => {
    const p = await authenticate(d.verifier, auth, query);
    const id = requireId(params[0], 'id');
    const key = idempotencyKey(headers['idempotency-key']);
    return idempotent(d, p, `route:${id}`, key, bytesHash(new Uint8Array(0)), async () => {
      await auditRouteRetry(d, p, id); // a dispatcher's (or admin's) retry is audited; the customer's own is not
      return askTicket(d, id, p, { op: 'route' }, headers.traceparent);
    });
  }, { headers: ['traceparent', 'idempotency-key'] }));

  app.post(`${base}/:id/signature`, route(d.log, async ({ auth, query, params, headers, body }) => {
    const p = await authenticate(d.verifier, auth, query);
    const id = requireId(params[0], 'id');
    const key = idempotencyKey(headers['idempotency-key']);
    const file = filePart(body, headers['content-type']);
    if (file.byteLength > maxSig) throw new ChatError(413, `signature larger than ${maxSig} bytes`);
    if (!isPng(file)) throw new ChatError(415, 'the signature must be a PNG image');
    // The request hash is the file's: the same PNG under the same key is a replay, not a second upload.
    return idempotent(d, p, `signature:${id}`, key, bytesHash(file), async () => {
      // Checked on the committed ticket before any byte is stored (a refused upload leaves nothing
      // behind); the actor then checks role and status again, for good.
      const t = await readableTicket(d, id, p);
      const refusal = maySign(t, { userId: p.sub, roles: p.roles });
      if (refusal) throw new ChatError(refusal.code, refusal.message, { state: t.status });
      const blob = await blobs.put(file).catch((e: unknown) => storeUnavailable(d, e));
      return askTicket(d, id, p, { op: 'signature', url: `${base}/${encodeURIComponent(id)}/signature`, blob }, headers.traceparent);
    });
  }, { body: true, headers: ['content-type', 'traceparent', 'idempotency-key'], bodyMaxBytes: maxSig + TICKET_MULTIPART_OVERHEAD_BYTES }));

  // Streamed from the blob store (a slow client pauses the read instead of buffering the image).
  app.get(`${base}/:id/signature`, (res, req) => {
    const state = { aborted: false, stream: undefined as Readable | undefined };
    res.onAborted(() => {
      state.aborted = true;
      state.stream?.destroy();
    });
    // uWS request data is only readable synchronously: everything is taken before any await.
    const ask = { auth: req.getHeader('authorization'), query: req.getQuery() ?? '', id: req.getParameter(0) ?? '' };
    serveSignature().catch((e: unknown) => {
      if (state.aborted) return;
      if (e instanceof ChatError) return respondError(res, e.code, e.message, { ...e.extra });
      d.log.error({ err: e }, 'signature download failed');
      respondError(res, ErrorCode.unavailable, 'dependency unavailable', { retryMs: RetryAfterMs.dependency });
    });

    async function serveSignature(): Promise<void> {
      const p = await authenticate(d.verifier, ask.auth, ask.query);
      const t = await readableTicket(d, requireId(safeDecode(ask.id), 'id'), p);
      const stream = t.meta.signatureBlob ? await blobs.read(t.meta.signatureBlob).catch((e: unknown) => storeUnavailable(d, e)) : null;
      if (!stream) throw new ChatError(404, 'no signature for this service request');
      if (state.aborted) return void stream.destroy();
      state.stream = stream;
      const headers: [string, string][] = [['content-type', 'image/png'], ['cache-control', 'private, no-cache'], ['x-content-type-options', 'nosniff']];
      const onError = (e: unknown): void => d.log.warn({ err: e, id: t.id }, 'signature stream failed');
      if (stream.blobLength !== undefined) return streamBody(res, '200 OK', headers, stream, stream.blobLength, state, onError);
      // Length unknown (the store did not say): gathered first, bounded by the upload limit.
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      const bytes = Buffer.concat(chunks);
      if (!state.aborted) streamBody(res, '200 OK', headers, Readable.from([bytes]), bytes.byteLength, state, onError);
    }
  });
}
