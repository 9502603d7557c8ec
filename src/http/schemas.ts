/**
 * Every JSON request body and every query of the HTTP API, defined once (issue 18): the routes
 * validate through these (protocol/schema.ts `parseBody`, `parseQuery`) and the OpenAPI document
 * (openapi.ts) renders the same objects. Bounds come from src/config.ts, ids follow
 * protocol/ids.ts (`IdSchema`). What JSON Schema cannot say stays in the route after the schema:
 * text faults (protocol/text.ts: control characters in single-line fields), dates, cursors, URLs
 * and key bytes.
 *
 * Library: TypeBox (JSON Schema as it is written) compiled by ajv. Measured on the order-event
 * intake body (`npm run bench -- schema-cost --n 2000 --rounds 500`, Node 20.20, ns per
 * validation of a parsed body, an invalid one including its ChatError; range of 4 runs on a
 * shared machine):
 *
 *   variant                      valid      invalid
 *   hand-written (before)      189-251    5254-6279
 *   TypeBox + ajv (chosen)     232-304    5437-6403
 *   TypeBox TypeCompiler       172-240    7823-8766
 *   zod 4                      318-847   11337-13851
 *
 * ajv and the TypeCompiler are within ~60 ns on valid bodies (noise next to the HMAC check and
 * the shard round trip); ajv refuses ~2 us cheaper and compiles all of JSON Schema, where the
 * TypeCompiler takes TypeBox kinds only (the event's type-dependent requirements need
 * `if`/`then`, or a union whose refusals no longer name the field). zod costs 1.5-3x on valid
 * and 2x on invalid bodies, and its JSON Schema would be a conversion, not the definition.
 */
import { type Static, Type } from '@sinclair/typebox';
import { defaultLimits } from '../../protocol/frames.ts';
import { idCharsMax, idRuleText } from '../../protocol/ids.ts';
import { IdSchema } from '../../protocol/schema.ts';
import { ChatError, ErrorCode } from '../../protocol/errors.ts';
import { controlFault, lineFault, textFault } from '../../protocol/text.ts';
import { ticketStatuses } from '../../actors/ticket.ts';
import {
  NOTIFY_REPLAY_MAX, PUSH_ENDPOINT_MAX_CHARS, TICKET_DESCRIPTION_MAX_CHARS, TICKET_LIST_LIMIT_DEFAULT, TICKET_LIST_LIMIT_MAX,
  TICKET_LIST_QUERY_MAX_CHARS, TICKET_REASON_MAX_CHARS, TICKET_STATUS_MAX_CHARS,
} from '../config.ts';
import { OrderEventBody } from '../integrations/order-events.ts';
import { reportActions } from '../persist/moderation.ts';

export { IdSchema, OrderEventBody };

/** A non-blank string of at most `max` characters (its text faults are checked after the schema: `textChecked`). */
export const Text = (max: number, options: Record<string, unknown> = {}) =>
  Type.String({ minLength: 1, maxLength: max, pattern: '\\S', 'x-expected': `expected a non-empty string of at most ${max} characters`, ...options });

/** An integer in [min, max] (a query parameter's decimal digits). */
const Int = (min: number, max: number, options: Record<string, unknown> = {}) =>
  Type.Integer({ minimum: min, maximum: max, 'x-expected': `expected an integer in [${min}, ${max}]`, ...options });

/** An id, or null for none (the dispatcher bodies accept both). */
const OptionalId = Type.Optional(Type.Union([IdSchema, Type.Null()], { 'x-expected': IdSchema['x-expected'] as string }));
const OptionalReason = Type.Optional(Type.Union([Text(TICKET_REASON_MAX_CHARS), Type.Null()], { 'x-expected': `expected a non-empty string of at most ${TICKET_REASON_MAX_CHARS} characters` }));

/** Product ids and brands: names from the catalogue, not our ids; the same length bound as ids. */
const catalogueName = Text(idCharsMax);

// --- bodies ---

export const Location = Type.Object({
  lat: Type.Number({ minimum: -90, maximum: 90, 'x-expected': 'expected a number in [-90, 90]' }),
  lon: Type.Number({ minimum: -180, maximum: 180, 'x-expected': 'expected a number in [-180, 180]' }),
}, { 'x-expected': 'expected {lat, lon}' });

/** POST /api/v1/service-requests */
export const CreateServiceRequest = Type.Object({
  productId: catalogueName,
  brand: catalogueName,
  location: Location,
  description: Text(TICKET_DESCRIPTION_MAX_CHARS, { description: 'may span lines (tabs and newlines)' }),
});
export type CreateServiceRequest = Static<typeof CreateServiceRequest>;

/** PATCH /api/v1/service-requests/{id}/status (the actor judges the move: 403, 409) */
export const TicketStatusChange = Type.Object({
  status: Text(TICKET_STATUS_MAX_CHARS, { description: `the status to move to: one of ${ticketStatuses.join(', ')}` }),
  reason: Type.Optional(Text(TICKET_REASON_MAX_CHARS)),
});

/** POST …/reassign: a center, a technician or both (null = not named) */
export const ReassignTicket = Type.Object({ centerId: OptionalId, technicianId: OptionalId, reason: OptionalReason });
/** POST …/cancel */
export const CancelTicket = Type.Object({ reason: Text(TICKET_REASON_MAX_CHARS) });
/** POST …/reopen (the body is optional) */
export const ReopenTicket = Type.Object({ reason: OptionalReason });

/** POST /api/v1/admin/reports/{id}/resolve */
export const ResolveReport = Type.Object({
  action: Type.Union(reportActions.map((a) => Type.Literal(a)), { 'x-expected': `expected one of ${reportActions.join(', ')}` }),
});

const Endpoint = Type.String({ minLength: 1, maxLength: PUSH_ENDPOINT_MAX_CHARS, 'x-expected': `expected an http(s) URL of at most ${PUSH_ENDPOINT_MAX_CHARS} characters`, description: 'an http(s) URL' });
const base64url = '^[A-Za-z0-9_-]+={0,2}$';
/** POST /api/v1/me/push-subscriptions: a browser's PushSubscription.toJSON() */
export const PushSubscriptionBody = Type.Object({
  endpoint: Endpoint,
  expirationTime: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  keys: Type.Object({
    p256dh: Type.String({ pattern: base64url, 'x-expected': 'expected base64url of an uncompressed P-256 public key (65 bytes)' }),
    auth: Type.String({ pattern: base64url, 'x-expected': 'expected base64url of the authentication secret (16 bytes)' }),
  }, { 'x-expected': 'expected {p256dh, auth}' }),
});
/** DELETE /api/v1/me/push-subscriptions */
export const PushSubscriptionRemoval = Type.Object({ endpoint: Endpoint });

/** A notification's key as the table makes them (`ntf-` and an md5, `-push-` and another on a push subscription). */
export const notificationKeyPattern = '^ntf-[0-9a-f]{32}(-push-[0-9a-f]{32})?$';
/** POST /api/v1/admin/notifications/dead-letters/replay (no body, or no keys: all, oldest first) */
export const ReplayDeadLetters = Type.Object({
  keys: Type.Optional(Type.Array(Type.String({ pattern: notificationKeyPattern }), {
    maxItems: NOTIFY_REPLAY_MAX, 'x-expected': `expected at most ${NOTIFY_REPLAY_MAX} notification keys (ntf-…)`,
  })),
});

/** PUT /api/v1/me/settings */
export const Settings = Type.Object({
  presence: Type.Optional(Type.Boolean({
    default: true, 'x-expected': 'expected true or false',
    description: 'false: DM peers see the user offline without lastSeen, and the user sees no one\'s presence',
  })),
}, { additionalProperties: false });

// --- queries ---

const historyLimit = Int(1, defaultLimits.historyLimitMax);
const uint = Int(0, Number.MAX_SAFE_INTEGER);

/** GET /api/v1/conversations/{id}/messages, GET /api/v1/admin/conversations/{id}/messages */
export const HistoryQuery = Type.Object({
  before: Type.Optional(Int(0, Number.MAX_SAFE_INTEGER, { description: 'seq: messages before it (`next` of the previous page)' })),
  limit: Type.Optional(historyLimit),
});

const line = (description: string) => Type.String({ description });
/** GET /api/v1/admin/conversations */
export const AdminConversationsQuery = Type.Object({
  kind: Type.Optional(line('conversation kind (dm, order, ticket)')),
  state: Type.Optional(line('conversation state')),
  participant: Type.Optional(IdSchema),
  before: Type.Optional(line('`next` of the previous page (opaque)')),
  limit: Type.Optional(historyLimit),
});

/** GET /api/v1/admin/audit */
export const AuditQuery = Type.Object({
  actor: Type.Optional(IdSchema),
  target: Type.Optional({ ...IdSchema, description: 'a conversation, ticket or user id' }),
  cursor: Type.Optional({ ...uint, description: '`next` of the previous page' }),
  limit: Type.Optional(historyLimit),
});

const moment = (description: string) => Type.String({ description: `${description}: epoch ms, or ISO 8601 date / date-time with zone` });
/** GET /api/v1/service-requests */
export const TicketListQuery = Type.Object({
  status: Type.Optional(Type.Union(ticketStatuses.map((s) => Type.Literal(s)), { 'x-expected': `one of ${ticketStatuses.join(', ')}` })),
  center: Type.Optional({ ...IdSchema, description: 'serviceCenterId' }),
  technician: Type.Optional({ ...IdSchema, description: 'technicianId' }),
  createdFrom: Type.Optional(moment('inclusive')),
  createdTo: Type.Optional(moment('exclusive')),
  q: Type.Optional(Text(TICKET_LIST_QUERY_MAX_CHARS, { description: 'full-text search (websearch_to_tsquery syntax)' })),
  cursor: Type.Optional(Type.String({ description: 'the `next` of the previous page (opaque)' })),
  limit: Type.Optional(Int(1, TICKET_LIST_LIMIT_MAX, { default: TICKET_LIST_LIMIT_DEFAULT })),
});

/** GET /api/v1/admin/reports */
export const ReportsQuery = Type.Object({
  status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('resolved')], { 'x-expected': 'expected open or resolved' })),
  cursor: Type.Optional(Type.String({ description: '`next` of the previous page' })),
  limit: Type.Optional(historyLimit),
});

/** GET /api/v1/admin/notifications/dead-letters */
export const DeadLettersQuery = Type.Object({
  cursor: Type.Optional(Type.String({ description: '`next` of the previous page' })),
  limit: Type.Optional(historyLimit),
});

/** GET /api/v1/dev/token (dev mode only) */
export const DevTokenQuery = Type.Object({
  sub: { ...IdSchema, 'x-expected': `expected a user id of ${idRuleText}` },
  roles: Type.Optional(Type.String({ description: 'comma-separated roles (unknown ones dropped; default user)' })),
});

// --- checks past the schema ---

/** A single-line text field (names, statuses, reasons, query filters): no control character, no lone surrogate; 400 naming it. */
export function singleLine(v: string, name: string): string {
  const fault = lineFault(v);
  if (fault) throw new ChatError(ErrorCode.badFrame, `${name}: ${fault}`);
  return v;
}

/** Multi-line text (a description): tabs and newlines allowed, other control characters, NUL and lone surrogates not. */
export function multiLine(v: string, name: string): string {
  const fault = textFault(v) ?? (/[\u0001-\u0008\u000b-\u001f\u007f]/.test(v) ? controlFault : undefined);
  if (fault) throw new ChatError(ErrorCode.badFrame, `${name}: ${fault}`);
  return v;
}
