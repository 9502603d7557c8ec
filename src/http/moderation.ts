/**
 * Block and report over HTTP (issue 15):
 *   PUT/DELETE /api/v1/me/blocks/{user}, GET /api/v1/me/blocks   a user's own blocks
 *   GET  /api/v1/admin/reports?status&cursor&limit                the moderation queue
 *   POST /api/v1/admin/reports/{id}/resolve {action}              dismiss | delete_message | block_sender
 * A block takes effect at once on every node: the pair's cached connection answer is dropped
 * through the bus (the same subject a connection change uses). Every moderation step is audited
 * (the audit log) and announced as a domain event (the outbox, or the bus on a single node).
 */
import type { TemplatedApp } from 'uWebSockets.js';
import { encode } from '../../protocol/codec.ts';
import { ChatError, ErrorCode, errorCodeOf } from '../../protocol/errors.ts';
import { requireJson } from '../../protocol/json-body.ts';
import { parseBody, parseQuery } from '../../protocol/schema.ts';
import { requireId } from '../../protocol/ids.ts';
import { BlocksTable, type Report, type ReportAction, ReportsTable, type ReportStatus } from '../persist/moderation.ts';
import type { Principal } from '../auth/auth.ts';
import type { CacheNews } from '../presence/service.ts';
import { BLOCKS_LISTED_MAX } from '../config.ts';
import { authenticate, type HttpDeps, route } from './routes.ts';
import { ReportsQuery, ResolveReport } from './schemas.ts';

export function registerModeration(app: TemplatedApp, d: HttpDeps): void {
  const blocks = new BlocksTable(d.pool);
  const reports = new ReportsTable(d.pool);
  const pairChanged = (a: string, b: string) => {
    d.bus.publish(d.subjects.connectionsChanged(), encode({ a, b }));
    // Presence: peer lists are read again without the pair (blocked users see no presence of each other).
    d.bus.publish(d.subjects.presenceCache(), encode({ blocks: [a, b] } satisfies CacheNews));
  };

  const blockRoute = (block: boolean) =>
    route(d.log, async ({ auth, query, params }) => {
      const p = await authenticate(d.verifier, auth, query);
      const user = requireId(params[0], 'user');
      if (user === p.sub) throw new ChatError(ErrorCode.badFrame, 'you cannot block yourself');
      if (block) await blocks.block(p.sub, user, Date.now());
      else await blocks.unblock(p.sub, user);
      pairChanged(p.sub, user);
      await d.audit.record({ actor: p.sub, action: block ? 'block' : 'unblock', target: user });
      return { status: 204 };
    });
  app.put('/api/v1/me/blocks/:user', blockRoute(true));
  app.del('/api/v1/me/blocks/:user', blockRoute(false));
  app.get('/api/v1/me/blocks', route(d.log, async ({ auth, query }) => {
    const p = await authenticate(d.verifier, auth, query);
    return { status: 200, body: { blocked: await blocks.list(p.sub, BLOCKS_LISTED_MAX) } };
  }));

  app.get('/api/v1/admin/reports', route(d.log, async ({ auth, query }) => {
    const p = await requireAdmin(d, auth, query);
    const { status, cursor, limit = 50 } = parseQuery(ReportsQuery, query);
    let page;
    try {
      page = await reports.list(status as ReportStatus | undefined, cursor, limit);
    } catch (e) {
      if (e instanceof RangeError) throw new ChatError(ErrorCode.badFrame, 'cursor: not a cursor from a previous page');
      throw e;
    }
    await d.audit.record({ actor: p.sub, action: 'list_reports', detail: { status: status ?? 'any' } });
    return { status: 200, body: page };
  }));

  app.post('/api/v1/admin/reports/:id/resolve', route(d.log, async ({ auth, query, params, headers, body }) => {
    const p = await requireAdmin(d, auth, query);
    requireJson(headers['content-type']);
    const id = requireId(params[0], 'id');
    const action = parseBody(ResolveReport, body).action as ReportAction;
    const report = await reports.get(id);
    if (!report) throw new ChatError(ErrorCode.notFound, 'no such report');
    if (report.status === 'resolved') {
      // A repeat of the same resolution is answered as it was; another one is a conflict.
      if (report.action === action) return { status: 200, body: report };
      throw new ChatError(ErrorCode.conflict, `already resolved: ${report.action}`);
    }
    await carryOut(d, blocks, report, action, p);
    if (action === 'block_sender') pairChanged(report.reporter, report.sender); // the other actions change no pair
    const now = Date.now();
    const event = { id: `report.resolved:${id}`, type: 'report.resolved', payload: { id, conv: report.conv, seq: report.seq, action, by: p.sub } };
    const changed = await reports.resolve(id, action, p.sub, now, event, d.config.outbox.enabled);
    if (changed && !d.config.outbox.enabled) d.bus.publish(d.subjects.event(event.type), encode({ ...event, ts: now }));
    await d.audit.record({ actor: p.sub, action: 'resolve_report', target: report.conv, detail: { report: id, resolution: action, seq: report.seq } });
    return { status: 200, body: (await reports.get(id)) ?? report };
  }, { body: true, headers: ['content-type'] }));
}

async function requireAdmin(d: HttpDeps, auth: string, query: string): Promise<Principal> {
  const p = await authenticate(d.verifier, auth, query);
  if (!p.roles.includes('admin')) throw new ChatError(ErrorCode.forbidden, 'admin role required');
  return p;
}

/** The resolution's effect, before the report is marked: a failure leaves it open to retry. */
async function carryOut(d: HttpDeps, blocks: BlocksTable, r: Report, action: ReportAction, admin: Principal): Promise<void> {
  if (action === 'block_sender') return blocks.block(r.reporter, r.sender, Date.now());
  if (action !== 'delete_message') return;
  // The conversation's actor deletes it, as for an admin's `del` frame: a tombstone, fanned out.
  const reply = await d.shards.askDecoded({ c: r.conv, u: admin.sub, r: admin.roles, f: { t: 'del', conv: r.conv, seq: r.seq } });
  if (reply.t === 'err') {
    throw new ChatError(errorCodeOf(reply.code, ErrorCode.unavailable), reply.msg ?? 'not deleted', reply.retryMs === undefined ? {} : { retryMs: reply.retryMs });
  }
}
