/**
 * The OpenAPI document (src/http/openapi.ts) is valid OpenAPI 3.1, names exactly the routes a
 * node serves, and its request schemas are the ones the routes validate with (issue 18: one
 * schema per body and query, src/http/schemas.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { TSchema } from '@sinclair/typebox';
import type { TemplatedApp } from 'uWebSockets.js';
import { check } from '../../protocol/schema.ts';
import { loadConfig } from '../../src/config.ts';
import { registerRoutes } from '../../src/edge/app.ts';
import { openApiDocument } from '../../src/http/openapi.ts';
import * as S from '../../src/http/schemas.ts';
import { createLogger } from '../../src/log.ts';

type Doc = { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };
type Operation = { parameters?: Array<{ name: string; in: string; required?: boolean; schema: Record<string, unknown> }>; requestBody?: { content: Record<string, { schema?: Record<string, unknown> }> } };
const doc = JSON.parse(JSON.stringify(openApiDocument)) as Doc;

test('the document is valid OpenAPI 3.1', async () => {
  const res = await new Validator().validate(JSON.parse(JSON.stringify(openApiDocument)));
  assert.equal(res.valid, true, JSON.stringify(res.errors, null, 2));
});

/** `METHOD /path/{param}` of every route a node registers, from a recording stand-in for uWS's app. */
function servedRoutes(devMode: boolean): string[] {
  const routes: string[] = [];
  const app = {} as Record<string, unknown>;
  for (const [method, name] of [['get', 'GET'], ['post', 'POST'], ['put', 'PUT'], ['patch', 'PATCH'], ['del', 'DELETE'], ['ws', 'GET'], ['any', 'ANY'], ['options', 'OPTIONS'], ['head', 'HEAD']]) {
    app[method] = (pattern: string) => {
      routes.push(`${name} ${pattern.replace(/:(\w+)/g, '{$1}')}`);
      return app;
    };
  }
  const config = loadConfig({ DATA_DIR: mkdtempSync(join(tmpdir(), 'openapi-')) });
  const deps = {
    config, log: createLogger('silent'), verifier: { devMode }, pool: {}, store: {}, bus: {}, subjects: {}, shards: {}, metrics: {}, audit: {}, sessions: { announce() {} },
  };
  const parts = { router: {}, sockets: {}, blobs: {}, revocationStore: {} };
  registerRoutes(app as unknown as TemplatedApp, config, deps as unknown as Parameters<typeof registerRoutes>[2], parts as unknown as Parameters<typeof registerRoutes>[3]);
  return routes;
}

test('every route the node serves is documented, and every documented route is served', () => {
  const served = new Set(servedRoutes(true).filter((r) => r !== 'ANY /*')); // the catch-all 404
  const documented = new Set(Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`)));
  assert.deepEqual([...served].filter((r) => !documented.has(r)).sort(), [], 'served, not documented');
  assert.deepEqual([...documented].filter((r) => !served.has(r)).sort(), [], 'documented, not served');
  assert.ok(!servedRoutes(false).includes('GET /api/v1/dev/token'), 'the dev token route exists in dev mode only');
});

const ajv = new Ajv2020({ strict: false, allErrors: true });
const deref = (s: Record<string, unknown>) => (typeof s.$ref === 'string' ? doc.components.schemas[s.$ref.replace('#/components/schemas/', '')] as Record<string, unknown> : s);
const bodySchema = (path: string, method: string) => deref(doc.paths[path][method].requestBody!.content['application/json'].schema!);
const querySchema = (path: string, method: string) => {
  const params = (doc.paths[path][method].parameters ?? []).filter((p) => p.in === 'query');
  return { type: 'object', properties: Object.fromEntries(params.map((p) => [p.name, p.schema])), required: params.filter((p) => p.required).map((p) => p.name) };
};

const ev = (o: Record<string, unknown> = {}) => ({ id: 'ev-1', type: 'order.accepted', occurredAt: '2026-01-01T00:00:00Z', data: { orderId: 'o.1', customerId: 'c', vendorId: 'v' }, ...o });
const ticket = (o: Record<string, unknown> = {}) => ({ productId: 'tv-1', brand: 'Acme', location: { lat: 1, lon: 2 }, description: 'a\nb', ...o });
const p256dh = Buffer.alloc(65, 4).toString('base64url');
const auth = Buffer.alloc(16, 1).toString('base64url');

/** Per documented operation: the schema the route validates with, and bodies (or parsed queries) it should accept or refuse. */
const samples: Array<[string, string, 'body' | 'query', TSchema, unknown[]]> = [
  ['/api/v1/events', 'post', 'body', S.OrderEventBody, [
    ev(), ev({ type: 'order.delivered', data: { orderId: 'o' } }), ev({ type: 'order.rider_assigned', data: { orderId: 'o', riderId: 'r' } }),
    ev({ type: 'order.rider_assigned', data: { orderId: 'o' } }), ev({ data: { orderId: 'o', customerId: 'c' } }), ev({ id: 'a b' }), ev({ type: 'x' }),
    ev({ data: [] }), ev({ id: 'x'.repeat(129) }), ev({ occurredAt: 5 }), { id: 'e' }, ev({ extra: true }),
  ]],
  ['/api/v1/service-requests', 'post', 'body', S.CreateServiceRequest, [
    ticket(), ticket({ brand: '' }), ticket({ brand: '  ' }), ticket({ productId: 'p'.repeat(129) }), ticket({ location: { lat: 91, lon: 0 } }),
    ticket({ location: { lat: 0 } }), ticket({ description: 'd'.repeat(2001) }), ticket({ extra: 1 }), { productId: 'x' },
  ]],
  ['/api/v1/service-requests/{id}/status', 'patch', 'body', S.TicketStatusChange, [{ status: 'closed' }, { status: 'closed', reason: 'r' }, { status: '' }, { reason: 'r' }, { status: 'x'.repeat(33) }]],
  ['/api/v1/service-requests/{id}/reassign', 'post', 'body', S.ReassignTicket, [{ centerId: 'c' }, { centerId: null, technicianId: 't', reason: null }, { centerId: 'a b' }, { reason: 5 }, {}]],
  ['/api/v1/service-requests/{id}/cancel', 'post', 'body', S.CancelTicket, [{ reason: 'r' }, {}, { reason: '' }, { reason: 'r'.repeat(501) }]],
  ['/api/v1/service-requests/{id}/reopen', 'post', 'body', S.ReopenTicket, [{}, { reason: 'r' }, { reason: null }, { reason: 1 }]],
  ['/api/v1/admin/reports/{id}/resolve', 'post', 'body', S.ResolveReport, [{ action: 'dismiss' }, { action: 'block_sender' }, { action: 'ban' }, {}]],
  ['/api/v1/me/push-subscriptions', 'post', 'body', S.PushSubscriptionBody, [
    { endpoint: 'https://push.example/x', keys: { p256dh, auth } }, { endpoint: 'https://push.example/x', expirationTime: null, keys: { p256dh, auth } },
    { endpoint: 'https://push.example/x', keys: { p256dh: '!', auth } }, { endpoint: 'https://push.example/x' }, { endpoint: 'h'.repeat(2049), keys: { p256dh, auth } },
  ]],
  ['/api/v1/me/push-subscriptions', 'delete', 'body', S.PushSubscriptionRemoval, [{ endpoint: 'https://push.example/x' }, {}, { endpoint: 3 }]],
  ['/api/v1/admin/notifications/dead-letters/replay', 'post', 'body', S.ReplayDeadLetters, [{}, { keys: [`ntf-${'a'.repeat(32)}`] }, { keys: ['ntf-x'] }, { keys: 'ntf' }]],
  ['/api/v1/me/settings', 'put', 'body', S.Settings, [{}, { presence: false }, { presence: 1 }, { other: true }]],
  ['/api/v1/service-requests', 'get', 'query', S.TicketListQuery, [{}, { status: 'closed', limit: 5, q: 'word' }, { status: 'done' }, { limit: 0 }, { limit: 101 }, { q: ' ' }, { center: 'a b' }]],
  ['/api/v1/conversations/{id}/messages', 'get', 'query', S.HistoryQuery, [{}, { before: 3, limit: 100 }, { limit: 101 }, { before: -1 }, { before: 'x' }]],
  ['/api/v1/admin/conversations/{id}/messages', 'get', 'query', S.HistoryQuery, [{ limit: 1 }, { limit: 0 }]],
  ['/api/v1/admin/conversations', 'get', 'query', S.AdminConversationsQuery, [{}, { kind: 'dm', participant: 'u1' }, { participant: 'a b' }]],
  ['/api/v1/admin/audit', 'get', 'query', S.AuditQuery, [{ actor: 'ops', cursor: 9 }, { target: '>' }, { cursor: -1 }]],
  ['/api/v1/admin/reports', 'get', 'query', S.ReportsQuery, [{ status: 'open' }, { status: 'gone' }]],
  ['/api/v1/admin/notifications/dead-letters', 'get', 'query', S.DeadLettersQuery, [{ cursor: 'x', limit: 5 }, { limit: 1000 }]],
  ['/api/v1/dev/token', 'get', 'query', S.DevTokenQuery, [{ sub: 'alice', roles: 'user,admin' }, {}, { sub: 'a b' }]],
];

test('each route\'s schema and its OpenAPI rendering accept and refuse the same bodies and queries', () => {
  const disagree: string[] = [];
  let accepted = 0;
  let refused = 0;
  for (const [path, method, where, schema, values] of samples) {
    const rendered = ajv.compile(where === 'body' ? bodySchema(path, method) : querySchema(path, method));
    for (const v of values) {
      let ours = true;
      try {
        check(schema, v);
      } catch {
        ours = false;
      }
      if (ours) accepted++;
      else refused++;
      if (rendered(v) !== ours) disagree.push(`${method.toUpperCase()} ${path} ${where} ${JSON.stringify(v).slice(0, 80)}: route ${ours ? 'accepts' : 'refuses'}, document ${ours ? 'refuses' : 'accepts'}`);
    }
  }
  assert.deepEqual(disagree, []);
  assert.ok(accepted > 15 && refused > 30, `both kinds sampled (${accepted} accepted, ${refused} refused)`);
});

test('every JSON request body and every query parameter list of the document comes from a schema the routes validate with', () => {
  // A body or query written by hand into the document would have no sample above: each must be listed there.
  const sampled = new Set(samples.map(([path, method, where]) => `${where} ${method} ${path}`));
  const missing: string[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (op.requestBody?.content['application/json'] && !sampled.has(`body ${method} ${path}`)) missing.push(`body ${method} ${path}`);
      const query = (op.parameters ?? []).filter((p) => p.in === 'query' && p.name !== 'access_token');
      if (query.length && !sampled.has(`query ${method} ${path}`)) missing.push(`query ${method} ${path}`);
    }
  }
  assert.deepEqual(missing, []);
});
