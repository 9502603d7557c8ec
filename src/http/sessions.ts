/**
 * Session revocation over HTTP (issue 16):
 *   POST /api/v1/admin/users/{id}/revoke   every socket of the user, on every node, closes (4003);
 *                                          tokens issued until now are refused from then on
 * Audited first (an action that cannot be audited is refused, 503), then stored durably (the
 * moment only moves forward: a repeat revokes again, later), then announced on the bus to every
 * edge thread of the cluster (src/edge/sessions.ts). Answers `{user, revokedAt}` (epoch ms).
 */
import type { TemplatedApp } from 'uWebSockets.js';
import { ChatError, ErrorCode } from '../../protocol/errors.ts';
import { requireId } from '../../protocol/ids.ts';
import type { Revocation, RevocationStore } from '../persist/revocations.ts';
import { authenticate, type HttpDeps, route } from './routes.ts';

/** `sessions.announce`: the edge's Sessions (src/edge/sessions.ts), which closes the sockets and tells every other edge thread. */
export function registerSessions(app: TemplatedApp, d: HttpDeps & { sessions: { announce(r: Revocation): void } }, store: RevocationStore): void {
  app.post('/api/v1/admin/users/:id/revoke', route(d.log, async ({ auth, query, params }) => {
    const p = await authenticate(d.verifier, auth, query);
    if (!p.roles.includes('admin')) throw new ChatError(ErrorCode.forbidden, 'admin role required');
    const user = requireId(params[0], 'id');
    await d.audit.record({ actor: p.sub, action: 'revoke_user', target: user });
    // A database that does not answer in time fails the request (503 {retryMs}): nothing is announced then.
    const revokedAt = await store.revoke(user, Date.now(), p.sub);
    d.sessions.announce({ user, revokedAt });
    return { status: 200, body: { user, revokedAt } };
  }));
}
