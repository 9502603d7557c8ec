/**
 * A user's data, for admins (issue 16): export and erase, both audited and idempotent.
 *   GET  /api/v1/admin/users/{id}/export  JSON, streamed: the user's conversations (tickets with
 *                                         their status history) and the messages they sent
 *   POST /api/v1/admin/users/{id}/erase   bodies and attachments tombstoned, receipts, settings,
 *                                         blocks and connections removed, the id replaced by an
 *                                         opaque tombstone in others' histories; the user's
 *                                         sessions are revoked first (sockets closed 4003, older
 *                                         tokens refused), so nothing new is written while it runs
 */
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { encode } from '../../protocol/codec.ts';
import { ChatError, ErrorCode, RetryAfterMs } from '../../protocol/errors.ts';
import { requireId } from '../../protocol/ids.ts';
import { EXPORT_PAGE_ROWS } from '../config.ts';
import { UsersTable } from '../persist/users.ts';
import type { RevocationStore } from '../persist/revocations.ts';
import { authenticate, closesAfterResponse, respondError, route } from './routes.ts';
import { revokeSessions, type RevokeDeps } from './sessions.ts';

export function registerUsers(app: TemplatedApp, d: RevokeDeps, revocations: RevocationStore): void {
  const users = new UsersTable(d.pool);
  const admin = async (auth: string, query: string) => {
    const p = await authenticate(d.verifier, auth, query);
    if (!p.roles.includes('admin')) throw new ChatError(ErrorCode.forbidden, 'admin role required');
    return p;
  };

  app.get('/api/v1/admin/users/:id/export', (res, req) => {
    const state = { aborted: false };
    res.onAborted(() => (state.aborted = true));
    const auth = req.getHeader('authorization');
    const query = req.getQuery() ?? '';
    const rawId = req.getParameter(0) ?? '';
    const start = async () => {
      const p = await admin(auth, query);
      const user = requireId(decodeOr(rawId), 'id');
      await d.audit.record({ actor: p.sub, action: 'export_user', target: user });
      return user;
    };
    start().then(
      (user) => streamExport(res, state, users, user).catch((e: unknown) => {
        d.log.warn({ err: e }, 'export failed mid-stream');
        if (!state.aborted) res.close(); // headers are out: cutting the connection says the body is short
      }),
      (e: unknown) => {
        if (state.aborted) return;
        if (e instanceof ChatError) return respondError(res, e.code, e.message, { ...e.extra });
        d.log.error({ err: e }, 'export refused');
        respondError(res, ErrorCode.unavailable, 'dependency unavailable', { retryMs: RetryAfterMs.dependency });
      },
    );
  });

  app.post('/api/v1/admin/users/:id/erase', route(d.log, async ({ auth, query, params }) => {
    const p = await admin(auth, query);
    const user = requireId(params[0], 'id');
    await d.audit.record({ actor: p.sub, action: 'erase_user', target: user });
    // An erased user must not go on writing (or reading) with a token issued before: revoked first.
    await revokeSessions(d, revocations, user, p.sub);
    const { erasure, convs } = await users.erase(user, p.sub, Date.now());
    // Actors of these conversations hold the old rows in memory: every shard host reloads them.
    if (convs.length) d.bus.publish(d.subjects.conversationsRewritten(), encode({ convs }));
    return { status: 200, body: erasure };
  }));
}

/**
 * Writes the export as one JSON document, page by page: a slow client holds back the reads
 * (uWS backpressure) instead of the node buffering a user's whole history.
 */
async function streamExport(res: HttpResponse, state: { aborted: boolean }, users: UsersTable, user: string): Promise<void> {
  const out = new ChunkWriter(res, state);
  await out.write(`{"user":${JSON.stringify(user)},"exportedAt":${Date.now()},"conversations":[`, true);
  let first = true;
  for (let after = ''; !state.aborted;) {
    const convs = await users.conversations(user, after, EXPORT_PAGE_ROWS);
    for (const c of convs) {
      const history = c.kind === 'ticket' ? await users.ticketHistory(c.id) : undefined;
      await out.write(`${first ? '' : ','}${JSON.stringify({ ...c, ...(history ? { history } : {}) }).slice(0, -1)},"messages":[`);
      first = false;
      let firstMsg = true;
      for (let seq = 0; !state.aborted;) {
        const msgs = await users.messages(user, c.id, seq, EXPORT_PAGE_ROWS);
        if (msgs.length) await out.write(`${firstMsg ? '' : ','}${msgs.map((m) => JSON.stringify(m)).join(',')}`);
        firstMsg &&= msgs.length === 0;
        if (msgs.length < EXPORT_PAGE_ROWS) break;
        seq = msgs[msgs.length - 1].seq;
      }
      await out.write(']}');
    }
    if (convs.length < EXPORT_PAGE_ROWS) break;
    after = convs[convs.length - 1].id;
  }
  out.end(']}');
}

/** Chunked writes with uWS backpressure: waits for the socket to drain before the next chunk. */
class ChunkWriter {
  constructor(private readonly res: HttpResponse, private readonly state: { aborted: boolean }) {}

  async write(chunk: string, head = false): Promise<void> {
    if (this.state.aborted) return;
    let ok = true;
    this.res.cork(() => {
      if (head) this.res.writeStatus('200 OK').writeHeader('content-type', 'application/json').writeHeader('content-disposition', 'attachment; filename="export.json"');
      ok = this.res.write(chunk);
    });
    if (!ok) await new Promise<void>((resolve) => this.res.onWritable(() => (resolve(), true)));
  }

  end(chunk: string): void {
    if (this.state.aborted) return;
    this.res.cork(() => this.res.end(chunk, closesAfterResponse()));
  }
}

/** A path segment decoded, or as it came when it is not valid percent-encoding (then requireId refuses it). */
function decodeOr(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
