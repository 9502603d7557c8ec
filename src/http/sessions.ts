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

/** What revoking needs: the edge's Sessions (src/edge/sessions.ts), which closes the sockets and tells every other edge thread. */
export type RevokeDeps = HttpDeps & { sessions: { announce(r: Revocation): void } };

/**
 * Revokes every session of `user` now: stored first (a database that does not answer in time
 * rejects, 503 {retryMs}, and nothing is announced), then announced. Resolves with the moment.
 */
export async function revokeSessions(d: RevokeDeps, store: RevocationStore, user: string, by: string): Promise<number> {
  const revokedAt = await store.revoke(user, Date.now(), by);
  d.sessions.announce({ user, revokedAt });
  return revokedAt;
}

export function registerSessions(app: TemplatedApp, d: RevokeDeps, store: RevocationStore): void {
  app.post('/api/v1/admin/users/:id/revoke', route(d.log, async ({ auth, query, params }) => {
    const p = await authenticate(d.verifier, auth, query);
    if (!p.roles.includes('admin')) throw new ChatError(ErrorCode.forbidden, 'admin role required');
    const user = requireId(params[0], 'id');
    await d.audit.record({ actor: p.sub, action: 'revoke_user', target: user });
    const revokedAt = await revokeSessions(d, store, user, p.sub);
    return { status: 200, body: { user, revokedAt } };
  }));
}
