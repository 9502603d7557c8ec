/**
 * OpenAPI 3.1 description of the HTTP API, served at GET /api/v1/openapi.json. Request bodies and
 * query parameters are rendered from the schemas the routes validate with (schemas.ts, issue 18);
 * responses are written here. test/repo/openapi.test.ts: valid OpenAPI, every served route
 * documented and every documented route served, schemas and rendering in agreement.
 */
import { defaultLimits } from '../../protocol/frames.ts';
import { ATTACHMENT_NAME_MAX_CHARS, TICKET_IDEMPOTENCY_KEY_MAX_CHARS } from '../config.ts';
import { jsonSchemaOf, queryParameters } from '../../protocol/schema.ts';
import type { TSchema } from '@sinclair/typebox';
import {
  AdminConversationsQuery, AuditQuery, CancelTicket, CreateServiceRequest, DeadLettersQuery, DevTokenQuery, HistoryQuery, IdSchema, Location,
  OrderEventBody, PushSubscriptionBody, PushSubscriptionRemoval, ReassignTicket, ReopenTicket, ReplayDeadLetters, ReportsQuery, ResolveReport,
  Settings, TicketListQuery, TicketStatusChange,
} from './schemas.ts';

const error = {
  description: 'JSON error',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
};
const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), error]));
/** Every id follows protocol/ids.ts (schemas.ts IdSchema); one outside it is 400. */
const idSchema = jsonSchemaOf(IdSchema);
/**
 * A JSON request body from its schema in schemas.ts (the one the route validates with); `ref`
 * names a component holding the same schema instead of inlining it.
 */
const jsonBody = (schema: TSchema, required = true, ref?: string) => ({
  required,
  content: { 'application/json': { schema: ref ? { $ref: `#/components/schemas/${ref}` } : jsonSchemaOf(schema) } },
});
const idParam = { name: 'id', in: 'path', required: true, schema: idSchema, description: 'service-request id (also its chat conversation id)' };
const userIdParam = { name: 'id', in: 'path', required: true, schema: idSchema, description: 'user id' };
const userParam = { name: 'user', in: 'path', required: true, schema: idSchema, description: 'user id' };
const ticketResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/ServiceRequest' } } },
});

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Chat cluster HTTP API',
    version: '1',
    description:
      'Service requests (tickets) with their lifecycle; the realtime chat of a ticket is the WebSocket protocol (PROTOCOL.md) with conv = the ticket id. ' +
      'All routes take `Authorization: Bearer <JWT>` (claims sub, roles, exp).',
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    schemas: {
      Error: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          code: { type: 'integer' },
          message: { type: 'string' },
          state: { type: 'string', description: 'the ticket status when the error concerns a ticket' },
          retryMs: { type: 'integer' },
        },
      },
      Attachment: {
        type: 'object',
        description: 'An uploaded file as messages carry it (`att` of `msg` and of history entries)',
        required: ['id', 'name', 'type', 'size'],
        properties: {
          id: idSchema,
          name: { type: 'string', maxLength: ATTACHMENT_NAME_MAX_CHARS },
          type: { type: 'string', enum: ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf', 'text/plain'], description: 'sniffed from the bytes' },
          size: { type: 'integer', description: 'bytes' },
          width: { type: 'integer', description: 'pixels (images whose header holds a size)' },
          height: { type: 'integer' },
        },
      },
      Report: {
        type: 'object',
        required: ['id', 'conv', 'seq', 'reporter', 'sender', 'reason', 'createdAt', 'status'],
        properties: {
          id: idSchema,
          conv: idSchema,
          seq: { type: 'integer', minimum: 1 },
          reporter: idSchema,
          sender: idSchema,
          reason: { type: 'string', maxLength: defaultLimits.maxReasonChars },
          createdAt: { type: 'integer', description: 'epoch ms' },
          status: { type: 'string', enum: ['open', 'resolved'] },
          action: { type: 'string', enum: ['dismiss', 'delete_message', 'block_sender'] },
          resolvedBy: idSchema,
          resolvedAt: { type: 'integer' },
        },
      },
      Location: jsonSchemaOf(Location),
      CreateServiceRequest: jsonSchemaOf(CreateServiceRequest),
      Settings: jsonSchemaOf(Settings),
      OrderEvent: jsonSchemaOf(OrderEventBody),
      Status: { type: 'string', enum: ['created', 'assigned', 'in_progress', 'resolved', 'closed', 'disputed', 'cancelled'] },
      ServiceRequest: {
        type: 'object',
        required: ['id', 'status', 'serviceCenterId', 'createdAt', 'customerId', 'productId', 'brand', 'location', 'description'],
        properties: {
          id: { type: 'string' },
          status: { $ref: '#/components/schemas/Status' },
          serviceCenterId: { type: ['string', 'null'] },
          technicianId: { type: 'string' },
          signatureUrl: { type: 'string' },
          routingReason: { type: 'string', description: 'why the request is still `created` (no covering center)' },
          billable: { type: 'boolean', description: 'accepted past its warranty: the repair is billed (issue 17)' },
          createdAt: { type: 'string', format: 'date-time' },
          customerId: { type: 'string' },
          productId: { type: 'string' },
          brand: { type: 'string' },
          location: { $ref: '#/components/schemas/Location' },
          description: { type: 'string' },
          history: {
            type: 'array',
            description: 'status changes, oldest first (GET only)',
            items: {
              type: 'object',
              properties: { seq: { type: 'integer' }, from: { type: ['string', 'null'] }, to: { type: 'string' }, by: { type: 'string' }, reason: { type: 'string' }, at: { type: 'string', format: 'date-time' } },
            },
          },
        },
      },
    },
  },
  security: [{ bearer: [] }],
  paths: {
    '/api/v1/service-requests': {
      post: {
        summary: 'Open a service request: validate the product warranty, route to a service center, persist, announce ticket.created',
        parameters: [{ name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', maxLength: TICKET_IDEMPOTENCY_KEY_MAX_CHARS }, description: 'scoped per user; the same key and body return the original response' }],
        requestBody: jsonBody(CreateServiceRequest, true, 'CreateServiceRequest'),
        responses: {
          '201': ticketResponse('created (or the original response for a repeated key and body)'),
          ...errors(400, 401, 403, 415, 422, 503),
        },
        description: '400 malformed JSON, missing fields, text with U+0000 or lone surrogates, or no Idempotency-Key; 403 not a customer; 415 not application/json; 422 unknown product, expired warranty, brand mismatch, or the key reused with a different body; 503 product or service-center service unavailable (nothing is created).',
      },
      get: {
        summary: 'List service requests the caller may see, newest first (issue 17)',
        description:
          'customer/user: their own; agent: their center\'s (tickets whose assigned center lists them as agent); technician: their assignments; admin/dispatcher: all (audited as `list_tickets` when the page holds tickets they are not a participant of). Several roles: the union; none of these → 403. ' +
          'Filters combine with AND and with the role. `q` is full-text (Postgres `simple` configuration, `websearch_to_tsquery` syntax: words, "phrases", or, -word) over the description and the ticket\'s chat messages (deleted ones excluded). ' +
          'Pages follow (createdAt DESC, id DESC); pass `next` as `cursor`. Every bad parameter → 400 naming it.',
        parameters: queryParameters(TicketListQuery),
        responses: {
          '200': {
            description: 'one page',
            content: { 'application/json': { schema: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: { $ref: '#/components/schemas/ServiceRequest' } }, next: { type: 'string' } } } } },
          },
          ...errors(400, 401, 403, 503),
        },
      },
    },
    '/api/v1/service-requests/{id}': {
      get: { summary: 'A service request with its history (participants and admins)', parameters: [idParam], responses: { '200': ticketResponse('the ticket'), ...errors(400, 401, 403, 404) } },
    },
    '/api/v1/service-requests/{id}/status': {
      patch: {
        summary: 'Move the ticket through its lifecycle',
        description:
          'created→assigned (routing only), created|assigned→cancelled (customer), assigned|disputed→in_progress and in_progress→resolved (agents of the assigned center or the assigned technician; resolving needs a signature), resolved→closed (customer or admin), resolved→disputed (customer, at most 10 times). Wrong role → 403 (wins over 409); invalid move → 409; both carry the current `state`.',
        parameters: [idParam],
        requestBody: jsonBody(TicketStatusChange),
        responses: { '200': ticketResponse('the ticket after the change'), ...errors(400, 401, 403, 404, 409, 415, 503) },
      },
    },
    '/api/v1/service-requests/{id}/route': {
      post: {
        summary: 'Try routing again a request still `created` (customer, dispatcher or admin)',
        description: 'A retry by a dispatcher or admin is audited (`route_ticket`).',
        parameters: [idParam],
        responses: { '200': ticketResponse('the ticket (assigned, or still created with routingReason)'), ...errors(400, 401, 403, 404, 409, 503) },
      },
    },
    '/api/v1/service-requests/{id}/reassign': {
      post: {
        summary: 'Reassign to another service center and/or technician (dispatcher or admin)',
        description:
          'Allowed in created, assigned, in_progress, disputed (created → assigned when a center is set). The center must exist in the service-center service and a technician must be one of its technicians (else 422); naming only a technician keeps the current center; a new center without a technician leaves the ticket to its agents. The old staff leave the room at once and the new join it (a `state` frame to both). Emits `ticket.reassigned`; audited (`reassign_ticket`). The same center and technician again → 200, nothing written.',
        parameters: [idParam],
        requestBody: jsonBody(ReassignTicket),
        responses: { '200': ticketResponse('the ticket after the reassign'), ...errors(400, 401, 403, 404, 409, 415, 422, 503) },
      },
    },
    '/api/v1/service-requests/{id}/cancel': {
      post: {
        summary: 'Force-cancel from any open status (dispatcher or admin); the reason is required',
        description: 'created, assigned, in_progress, resolved or disputed → cancelled; closed or cancelled → 409. A history row and `ticket.status_changed`; audited (`cancel_ticket`).',
        parameters: [idParam],
        requestBody: jsonBody(CancelTicket),
        responses: { '200': ticketResponse('the cancelled ticket'), ...errors(400, 401, 403, 404, 409, 415, 503) },
      },
    },
    '/api/v1/service-requests/{id}/reopen': {
      post: {
        summary: 'Reopen a closed ticket within TICKET_REOPEN_WINDOW_MS of its close (dispatcher or admin)',
        description: 'closed → in_progress (the center and technician stay assigned); past the window → 409. A history row and `ticket.status_changed`; audited (`reopen_ticket`). At most 10 reopens.',
        parameters: [idParam],
        requestBody: jsonBody(ReopenTicket, false),
        responses: { '200': ticketResponse('the reopened ticket'), ...errors(400, 401, 403, 404, 409, 415, 503) },
      },
    },
    '/api/v1/service-requests/{id}/signature': {
      post: {
        summary: 'Upload the customer signature (PNG) while in_progress (assigned technician or an agent of the center)',
        parameters: [idParam],
        requestBody: { required: true, content: { 'multipart/form-data': { schema: { type: 'object', required: ['file'], properties: { file: { type: 'string', format: 'binary', contentMediaType: 'image/png' } } } } } },
        responses: {
          '201': { description: 'stored', content: { 'application/json': { schema: { type: 'object', properties: { signatureUrl: { type: 'string' } } } } } },
          ...errors(400, 401, 403, 404, 409, 413, 415, 503),
        },
      },
      get: {
        summary: 'The signature image (participants, admins and dispatchers), streamed from the blob store',
        parameters: [idParam],
        responses: {
          '200': { description: 'the PNG', headers: { 'content-length': { schema: { type: 'integer' } } }, content: { 'image/png': {} } },
          ...errors(400, 401, 403, 404, 503),
        },
      },
    },
    '/api/v1/me/settings': {
      get: {
        summary: 'The caller\'s own settings',
        responses: { '200': { description: 'the settings', content: { 'application/json': { schema: { $ref: '#/components/schemas/Settings' } } } }, ...errors(401) },
      },
      put: {
        summary: 'Change the caller\'s own settings: `presence: false` hides their presence from DM peers and shows them no one\'s (reciprocal)',
        requestBody: jsonBody(Settings, true, 'Settings'),
        responses: { '200': { description: 'the settings after the change', content: { 'application/json': { schema: { $ref: '#/components/schemas/Settings' } } } }, ...errors(400, 401, 413, 415) },
        description: '400 an unknown setting or `presence` not a boolean; 413 a body over SETTINGS_BODY_MAX_BYTES; 415 not application/json.',
      },
    },
    '/api/v1/conversations/{id}/attachments': {
      post: {
        summary: 'Upload a file to send in a message of this conversation (participants of a conversation that is not read-only)',
        description:
          'The type is sniffed from the bytes (PNG, JPEG, GIF, WebP, PDF; plain text = valid UTF-8 without NUL), never taken from the request: a type outside ATTACHMENT_TYPES → 415. ' +
          'Over ATTACHMENT_BYTES_MAX → 413 while reading. The file name is sanitized (last path segment, no control or bidi characters, at most ' + ATTACHMENT_NAME_MAX_CHARS + ' characters). ' +
          'Send it with the WebSocket frame `send {conv, cmid, body, att: [id]}`; an upload no message carries is removed after ATTACHMENT_ORPHAN_TTL_MS.',
        parameters: [{ ...idParam, description: 'conversation id' }],
        requestBody: { required: true, content: { 'multipart/form-data': { schema: { type: 'object', required: ['file'], properties: { file: { type: 'string', format: 'binary' } } } } } },
        responses: {
          '201': { description: 'stored', content: { 'application/json': { schema: { $ref: '#/components/schemas/Attachment' } } } },
          ...errors(400, 401, 403, 404, 409, 413, 415, 503),
        },
      },
    },
    '/api/v1/attachments/{id}': {
      get: {
        summary: 'The bytes of an attachment (participants of its conversation and admins)',
        description:
          'Content-Type is the sniffed type; Content-Disposition inline for images, attachment otherwise (RFC 5987 filename*); X-Content-Type-Options: nosniff. ' +
          'ETag is the SHA-256 of the bytes: If-None-Match → 304. One Range (bytes=a-b, a-, -n) → 206 with Content-Range, honoured while If-Range (if given) is the ETag; past the end → 416; several ranges → 200 with the whole body.',
        parameters: [
          { ...idParam, description: 'attachment id' },
          { name: 'Range', in: 'header', required: false, schema: { type: 'string' } },
          { name: 'If-None-Match', in: 'header', required: false, schema: { type: 'string' } },
          { name: 'If-Range', in: 'header', required: false, schema: { type: 'string' } },
        ],
        responses: {
          '200': { description: 'the bytes', headers: { ETag: { schema: { type: 'string' } }, 'Content-Disposition': { schema: { type: 'string' } } }, content: { 'application/octet-stream': {} } },
          '206': { description: 'the requested range', headers: { 'Content-Range': { schema: { type: 'string' } } }, content: { 'application/octet-stream': {} } },
          '304': { description: 'not modified (If-None-Match matched the ETag)' },
          '416': { description: 'range not satisfiable; Content-Range: bytes */size', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
          ...errors(400, 401, 403, 404, 503),
        },
      },
    },
    '/api/v1/conversations/{id}/messages': {
      get: {
        summary: 'Message history of a conversation (participants and admins), newest first',
        parameters: [idParam, ...queryParameters(HistoryQuery)],
        responses: { '200': { description: '{messages, next?}' }, ...errors(400, 401, 403, 404) },
      },
    },
    '/api/v1/me/blocks/{user}': {
      put: {
        summary: 'Block a user: DMs between the two refuse open and send (403 blocked) both ways; the DM leaves your inbox',
        parameters: [userParam],
        responses: { '204': { description: 'blocked (idempotent)' }, ...errors(400, 401, 503) },
      },
      delete: {
        summary: 'Unblock a user',
        parameters: [userParam],
        responses: { '204': { description: 'not blocked (idempotent)' }, ...errors(400, 401, 503) },
      },
    },
    '/api/v1/me/blocks': {
      get: {
        summary: 'The users you blocked, newest first',
        responses: { '200': { description: '{blocked: [{user, since}]}' }, ...errors(401, 503) },
      },
    },
    '/api/v1/me/conversations/{id}/mute': {
      put: { summary: 'Mute a conversation: no notifications for it (its pending one is dropped)', parameters: [{ ...idParam, description: 'conversation id' }], responses: { '204': { description: 'muted' }, ...errors(400, 401, 403, 404, 503) } },
      delete: { summary: 'Unmute a conversation', parameters: [{ ...idParam, description: 'conversation id' }], responses: { '204': { description: 'unmuted' }, ...errors(400, 401, 403, 404, 503) } },
    },
    '/api/v1/notifications/push-key': {
      get: { summary: "The node's VAPID public key (base64url) for PushManager.subscribe; null when Web Push is off", security: [], responses: { '200': { description: '{publicKey: string | null}' } } },
    },
    '/api/v1/me/push-subscriptions': {
      post: {
        summary: "Keep a browser's PushSubscription for Web Push notifications (at most 10 per user; more → 409)",
        requestBody: jsonBody(PushSubscriptionBody),
        responses: { '201': { description: '{endpoint}: kept (again, for one already kept)' }, ...errors(400, 401, 409, 413, 415, 503) },
      },
      delete: {
        summary: 'Remove a push subscription by its endpoint',
        requestBody: jsonBody(PushSubscriptionRemoval),
        responses: { '204': { description: 'removed' }, ...errors(400, 401, 404, 415, 503) },
      },
    },
    '/api/v1/admin/notifications/dead-letters': {
      get: {
        summary: 'Notifications given up on (admins), oldest first',
        parameters: queryParameters(DeadLettersQuery),
        responses: { '200': { description: '{deadLetters, next?}' }, ...errors(400, 401, 403, 503) },
      },
    },
    '/api/v1/admin/notifications/dead-letters/replay': {
      post: {
        summary: 'Deliver dead letters again (the named keys, or the oldest 1000), each with its idempotency key',
        requestBody: jsonBody(ReplayDeadLetters, false),
        responses: { '200': { description: '{replayed, more}' }, ...errors(400, 401, 403, 415, 503) },
      },
    },
    '/api/v1/admin/users/{id}/export': {
      get: { summary: "The user's conversations and the messages they sent, as streamed JSON (audited)", parameters: [userIdParam], responses: { '200': { description: '{user, exportedAt, conversations: [{…, messages}]}', content: { 'application/json': {} } }, ...errors(400, 401, 403, 503) } },
    },
    '/api/v1/admin/users/{id}/erase': {
      post: {
        summary: "Erase the user: bodies and attachments tombstoned, their id replaced by an opaque one, their receipts, settings, blocks, connections and notifications removed (idempotent, audited)",
        parameters: [userIdParam],
        responses: { '200': { description: '{user, tombstone, erasedAt, changed}' }, ...errors(400, 401, 403, 503) },
      },
    },
    '/api/v1/admin/audit': {
      get: {
        summary: 'The audit trail (admins): admin reads and moderation steps, newest first',
        parameters: queryParameters(AuditQuery),
        responses: { '200': { description: '{entries: [{id, at, actor, action, target?, detail}], next?}' }, ...errors(400, 401, 403, 503) },
      },
    },
    '/api/v1/admin/reports': {
      get: {
        summary: 'The moderation queue (admins), oldest first',
        parameters: queryParameters(ReportsQuery),
        responses: {
          '200': { description: '{reports, next?}', content: { 'application/json': { schema: { type: 'object', properties: { reports: { type: 'array', items: { $ref: '#/components/schemas/Report' } }, next: { type: 'string' } } } } } },
          ...errors(400, 401, 403, 503),
        },
      },
    },
    '/api/v1/admin/reports/{id}/resolve': {
      post: {
        summary: 'Resolve a report (admins): dismiss, delete_message (a tombstone, fanned out), or block_sender (the reporter blocks the sender)',
        parameters: [{ ...idParam, description: 'report id' }],
        requestBody: jsonBody(ResolveReport),
        responses: {
          '200': { description: 'the report, resolved (also for a repeat of the same action)', content: { 'application/json': { schema: { $ref: '#/components/schemas/Report' } } } },
          ...errors(400, 401, 403, 404, 409, 415, 503),
        },
      },
    },
    '/api/v1/admin/users/{id}/revoke': {
      post: {
        summary: 'Revoke a user\'s sessions (admins; audited): their sockets close everywhere (4003), tokens issued until now are refused (401)',
        parameters: [{ ...idParam, description: 'user id' }],
        responses: {
          '200': { description: '{user, revokedAt} (epoch ms; tokens with iat * 1000 <= revokedAt are refused)' },
          ...errors(400, 401, 403, 503),
        },
      },
    },
    '/api/v1/events': {
      post: {
        summary: 'Order-event intake (webhook): the event goes to its order\'s actor; 202 once its effect (or its duplicate-ness) is durable',
        description:
          'Authenticated by `X-Signature: t=<unix ms>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` with EVENTS_HMAC_SECRET (not a bearer token), `t` within EVENTS_MAX_SKEW_MS → else 401. ' +
          'Without EVENTS_HMAC_SECRET → 503. A W3C `traceparent` becomes the parent of the event\'s spans.',
        security: [],
        parameters: [
          { name: 'X-Signature', in: 'header', required: true, schema: { type: 'string' }, description: 't=<unix ms>,v1=<hex HMAC-SHA256>' },
          { name: 'traceparent', in: 'header', required: false, schema: { type: 'string' } },
        ],
        requestBody: jsonBody(OrderEventBody, true, 'OrderEvent'),
        responses: { '202': { description: '{accepted: true, id}' }, ...errors(400, 401, 413, 415, 503) },
      },
    },
    '/api/v1/admin/conversations': {
      get: {
        summary: 'Conversations (admins; audited `list_conversations`), filtered, paged',
        parameters: queryParameters(AdminConversationsQuery),
        responses: { '200': { description: '{conversations, next?}' }, ...errors(400, 401, 403, 503) },
      },
    },
    '/api/v1/admin/conversations/{id}/messages': {
      get: {
        summary: 'Message history of any conversation (admins; audited `read_messages`), newest first',
        parameters: [{ ...idParam, description: 'conversation id' }, ...queryParameters(HistoryQuery)],
        responses: { '200': { description: '{messages, next?, retainedFrom?}' }, ...errors(400, 401, 403, 404, 503) },
      },
    },
    '/api/v1/connections/{a}/{b}': {
      put: {
        summary: 'Make two users first-degree connections (admins; only with the embedded connections table, else 409)',
        parameters: [{ ...userParam, name: 'a' }, { ...userParam, name: 'b' }],
        responses: { '204': { description: 'connected (idempotent)' }, ...errors(400, 401, 403, 409, 503) },
      },
      delete: {
        summary: 'Remove a connection (admins; only with the embedded connections table, else 409)',
        parameters: [{ ...userParam, name: 'a' }, { ...userParam, name: 'b' }],
        responses: { '204': { description: 'not connected (idempotent)' }, ...errors(400, 401, 403, 409, 503) },
      },
    },
    '/api/v1/openapi.json': {
      get: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': {} } } } },
    },
    '/api/v1/dev/token': {
      get: {
        summary: 'Dev mode only (no JWT_* key configured): a token for any user, signed with the node\'s dev secret; not registered otherwise (404)',
        security: [],
        parameters: queryParameters(DevTokenQuery),
        responses: { '200': { description: '{token, sub, roles}' }, ...errors(400, 404) },
      },
    },
    '/cluster': {
      get: { summary: 'The operator view of the cluster: nodes, shard owners, leases (admins)', responses: { '200': { description: 'the cluster view', content: { 'application/json': {} } }, ...errors(401, 403, 503) } },
    },
    '/healthz': {
      get: { summary: 'Liveness: the process answers', security: [], responses: { '200': { description: '{status: "ok"}' } } },
    },
    '/readyz': {
      get: {
        summary: 'Readiness: every check of the node passes (bus, database, shards)',
        security: [],
        responses: { '200': { description: '{status: "ok", checks}' }, '503': { description: '{status: "fail", checks}' } },
      },
    },
    '/metrics': {
      get: { summary: 'Prometheus metrics of the node (every thread)', security: [], responses: { '200': { description: 'Prometheus text format', content: { 'text/plain': {} } }, ...errors(503) } },
    },
    '/v1/ws': {
      get: {
        summary: 'The realtime WebSocket (binary msgpack frames, docs/protocol.md): an HTTP upgrade, authenticated by the bearer token or `access_token` in the query',
        parameters: [{ name: 'access_token', in: 'query', required: false, schema: { type: 'string' }, description: 'the JWT, for clients that cannot set headers' }],
        responses: { '101': { description: 'switching protocols' }, ...errors(401, 403, 429, 503) },
      },
    },
    '/': {
      get: { summary: 'The web client (HTML)', security: [], responses: { '200': { description: 'the page', content: { 'text/html': {} } } } },
    },
    '/ops': {
      get: { summary: 'The operator page (HTML)', security: [], responses: { '200': { description: 'the page', content: { 'text/html': {} } } } },
    },
    '/assets/{name}': {
      get: {
        summary: 'A script or stylesheet of the web pages',
        security: [],
        parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'the asset', content: { 'text/javascript': {}, 'text/css': {} } }, ...errors(404, 500) },
      },
    },
    '/sw.js': {
      get: { summary: 'The Web Push service worker, at the root so its scope is the whole origin', security: [], responses: { '200': { description: 'the script', content: { 'text/javascript': {} } } } },
    },
  },
} as const;

/*
 * Issue 17, over every route above (and those added later): each POST of the ticket API takes an
 * Idempotency-Key (src/http/idempotency.ts), and each /api route may answer 429 (HTTP_RATE_*).
 */
const idempotencyKeyParam = {
  name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', minLength: 1, maxLength: TICKET_IDEMPOTENCY_KEY_MAX_CHARS, pattern: '^[\\x21-\\x7e]+$' },
  description: 'required (400 without); per user, route and ticket; the same key and request return the original response (2xx and 4xx without retryMs are kept for IDEMPOTENCY_TTL_MS), another request → 422, the first still running → 409 {retryMs}',
};
const rateLimited = {
  description: 'rate limited per user or per client address (HTTP_RATE_*): nothing was done; retry after Retry-After seconds (retryMs in the body)',
  headers: { 'Retry-After': { schema: { type: 'integer', minimum: 1 }, description: 'seconds, rounded up' } },
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
};
type Operation = { parameters?: { name: string }[]; responses?: Record<string, unknown> };
for (const [path, item] of Object.entries(openApiDocument.paths as unknown as Record<string, Record<string, Operation>>)) {
  if (!path.startsWith('/api/')) continue;
  for (const [method, op] of Object.entries(item)) {
    op.responses = { ...op.responses, '429': rateLimited };
    if (method === 'post' && path.startsWith('/api/v1/service-requests/')) {
      if (!op.parameters?.some((p) => p.name === 'Idempotency-Key')) op.parameters = [...(op.parameters ?? []), idempotencyKeyParam];
      op.responses = { ...errors(400, 409, 422), ...op.responses };
    }
  }
}
