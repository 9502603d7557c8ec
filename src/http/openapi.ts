/** OpenAPI 3.1 description of the HTTP API, served at GET /api/v1/openapi.json. */
import { idCharsMax, idPattern } from '../../protocol/ids.ts';
import { TICKET_DESCRIPTION_MAX_CHARS, TICKET_IDEMPOTENCY_KEY_MAX_CHARS, TICKET_REASON_MAX_CHARS } from '../config.ts';

const error = {
  description: 'JSON error',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
};
const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), error]));
/** Every id follows protocol/ids.ts; one outside it is 400. */
const idSchema = { type: 'string', pattern: idPattern.source, maxLength: idCharsMax };
const idParam = { name: 'id', in: 'path', required: true, schema: idSchema, description: 'service-request id (also its chat conversation id)' };
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
      Location: {
        type: 'object',
        required: ['lat', 'lon'],
        properties: { lat: { type: 'number', minimum: -90, maximum: 90 }, lon: { type: 'number', minimum: -180, maximum: 180 } },
      },
      CreateServiceRequest: {
        type: 'object',
        required: ['productId', 'brand', 'location', 'description'],
        properties: {
          productId: { type: 'string', maxLength: 128 },
          brand: { type: 'string', maxLength: 128 },
          location: { $ref: '#/components/schemas/Location' },
          description: { type: 'string', maxLength: TICKET_DESCRIPTION_MAX_CHARS },
        },
      },
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
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/CreateServiceRequest' } } } },
        responses: {
          '201': ticketResponse('created (or the original response for a repeated key and body)'),
          ...errors(400, 401, 403, 415, 422, 503),
        },
        description: '400 malformed JSON, missing fields, text with U+0000 or lone surrogates, or no Idempotency-Key; 403 not a customer; 415 not application/json; 422 unknown product, expired warranty, brand mismatch, or the key reused with a different body; 503 product or service-center service unavailable (nothing is created).',
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
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['status'], properties: { status: { $ref: '#/components/schemas/Status' }, reason: { type: 'string', maxLength: TICKET_REASON_MAX_CHARS } } } } } },
        responses: { '200': ticketResponse('the ticket after the change'), ...errors(400, 401, 403, 404, 409, 415, 503) },
      },
    },
    '/api/v1/service-requests/{id}/route': {
      post: {
        summary: 'Try routing again a request still `created` (customer or admin)',
        parameters: [idParam],
        responses: { '200': ticketResponse('the ticket (assigned, or still created with routingReason)'), ...errors(400, 401, 403, 404, 409, 503) },
      },
    },
    '/api/v1/service-requests/{id}/signature': {
      post: {
        summary: 'Upload the customer signature (PNG) while in_progress (assigned technician or an agent of the center)',
        parameters: [idParam],
        requestBody: { required: true, content: { 'multipart/form-data': { schema: { type: 'object', required: ['file'], properties: { file: { type: 'string', format: 'binary', contentMediaType: 'image/png' } } } } } },
        responses: {
          '201': { description: 'stored', content: { 'application/json': { schema: { type: 'object', properties: { signatureUrl: { type: 'string' } } } } } },
          ...errors(400, 401, 403, 404, 409, 413, 415),
        },
      },
      get: {
        summary: 'The signature image (participants and admins)',
        parameters: [idParam],
        responses: { '200': { description: 'the PNG', content: { 'image/png': {} } }, ...errors(400, 401, 403, 404) },
      },
    },
    '/api/v1/conversations/{id}/messages': {
      get: {
        summary: 'Message history of a conversation (participants and admins), newest first',
        parameters: [idParam, { name: 'before', in: 'query', schema: { type: 'integer' } }, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100 } }],
        responses: { '200': { description: '{messages, next?}' }, ...errors(400, 401, 403, 404) },
      },
    },
  },
} as const;
