/**
 * Sessions on an edge thread (issue 16):
 * - **Expiry.** A socket lives until its token's `exp`: a sweep every SESSION_SWEEP_MS closes the
 *   sockets past it with 4001 (CloseCode.sessionExpired). An `auth {rid, token}` frame with a
 *   fresh token of the same user, verified like the upgrade's (signature, claims, revocation),
 *   moves the socket's `exp` to the new token's → `ok`; a bad, expired, revoked or other user's
 *   token → `err 401`, and the socket keeps its old `exp`.
 * - **Revocation.** `POST /api/v1/admin/users/{id}/revoke` stores the moment (Postgres) and
 *   announces it on the bus subject every edge thread of the cluster subscribes to
 *   (Subjects.sessionsRevoked): each thread closes the user's sockets whose token was issued until
 *   then with 4003 (CloseCode.sessionRevoked) and keeps the moment in its revocation cache (which
 *   refuses those tokens from then on). A poll of the recent revocations every
 *   REVOCATION_CACHE_TTL_MS is the backstop of a lost message.
 */
import { decode, encode } from '../../protocol/codec.ts';
import { ChatError, CloseCode, ErrorCode } from '../../protocol/errors.ts';
import { AuthError, type Principal, VerifierUnavailableError, type Verifier } from '../auth/auth.ts';
import { isRevoked, type RevocationCache } from '../auth/revocations.ts';
import type { Bus, Subjects, Subscription } from '../bus/bus.ts';
import { type Config, REVOCATION_POLL_MAX, REVOCATION_POLL_OVERLAP_MS, SESSION_REFRESH_MIN_INTERVAL_MS, SESSION_SWEEP_MS } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Revocation, RevocationStore } from '../persist/revocations.ts';
import type { Socket, SocketRegistry } from './sockets.ts';

export interface SessionsDeps {
  config: Config;
  /** The edge's verifier, revocation check included (withRevocations). */
  verifier: Verifier;
  revocations: RevocationCache;
  store: RevocationStore;
  registry: SocketRegistry;
  /** This edge's open sockets (OpenSockets of socket-behavior.ts). */
  sockets: { readonly all: ReadonlySet<Socket> };
  bus: Bus;
  subjects: Subjects;
  log: Logger;
  metrics: Metrics;
}

export class Sessions {
  private readonly sub: Subscription;
  private readonly timers: NodeJS.Timeout[];
  /** Start of the last successful poll of the revocation table (epoch ms). */
  private polledAt = Date.now();
  private polling = false;

  constructor(private readonly d: SessionsDeps) {
    this.sub = d.bus.subscribe(d.subjects.sessionsRevoked(), (bytes) => {
      let r: Revocation;
      try {
        r = decode(bytes) as Revocation;
      } catch {
        return;
      }
      if (typeof r?.user === 'string' && typeof r.revokedAt === 'number') this.revoked(r.user, r.revokedAt);
    });
    this.timers = [
      setInterval(() => this.sweep(), SESSION_SWEEP_MS).unref(),
      setInterval(() => void this.poll(), d.config.sessions.revocationCacheTtlMs).unref(),
    ];
  }

  /** Announces a revocation to every edge thread of the cluster, this one first. */
  announce(r: Revocation): void {
    this.revoked(r.user, r.revokedAt);
    this.d.bus.publish(this.d.subjects.sessionsRevoked(), encode(r));
  }

  /** `user`'s tokens issued until `revokedAt` are revoked: remembered, and this thread's sockets opened with them closed (4003). */
  revoked(user: string, revokedAt: number): void {
    this.d.revocations.note(user, revokedAt);
    for (const ws of this.d.registry.userSockets(user)) {
      const data = ws.getUserData();
      if (data.closed || !isRevoked(data.iat, revokedAt)) continue;
      this.close(ws, CloseCode.sessionRevoked, 'session revoked');
    }
  }

  /**
   * `auth {token}`: verified like the upgrade's token; the same user → the socket lives until the
   * new token's `exp`, with its roles (an admin who is no more stops observing). Rejects with the
   * ChatError to answer: 401 (bad, expired, revoked, another user's), 429 (too soon), 503 (not judged now).
   */
  async refresh(ws: Socket, token: string): Promise<void> {
    const data = ws.getUserData();
    const now = Date.now();
    const waitMs = data.authAt + SESSION_REFRESH_MIN_INTERVAL_MS - now;
    if (waitMs > 0) throw new ChatError(ErrorCode.rateLimited, `auth: at most one per ${SESSION_REFRESH_MIN_INTERVAL_MS} ms`, { retryMs: waitMs });
    data.authAt = now;
    let p: Principal;
    try {
      p = await this.d.verifier.verify(token);
    } catch (e) {
      if (e instanceof VerifierUnavailableError) throw new ChatError(ErrorCode.unavailable, e.message, { retryMs: e.retryMs });
      throw new ChatError(ErrorCode.unauthenticated, e instanceof AuthError ? e.message : 'invalid token');
    }
    if (p.sub !== data.user) throw new ChatError(ErrorCode.unauthenticated, 'token is for another user: a socket keeps its user');
    if (data.closed) return;
    data.exp = p.exp;
    data.iat = p.iat;
    // A role that let this socket observe is gone: it stops observing (it may join again as what it is now).
    const lost = ['admin', 'dispatcher'].some((r) => data.roles.includes(r) && !p.roles.includes(r));
    if (lost) for (const conv of [...(data.observing ?? [])]) this.d.registry.unobserve(ws, conv);
    data.roles = p.roles;
  }

  stop(): void {
    this.sub.unsubscribe();
    for (const t of this.timers) clearInterval(t);
  }

  /** Closes the sockets whose token's `exp` has passed (4001). */
  private sweep(): void {
    const nowS = Date.now() / 1000;
    const expired: Socket[] = [];
    for (const ws of this.d.sockets.all) {
      const data = ws.getUserData();
      if (!data.closed && data.exp <= nowS) expired.push(ws);
    }
    for (const ws of expired) this.close(ws, CloseCode.sessionExpired, 'token expired');
  }

  /** The backstop of a lost bus message: the revocations since the previous poll (with an overlap), applied again. */
  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    const startedAt = Date.now();
    try {
      const since = this.polledAt - this.d.config.sessions.revocationCacheTtlMs - REVOCATION_POLL_OVERLAP_MS;
      const found = await this.d.store.since(since, REVOCATION_POLL_MAX);
      for (const r of found) this.revoked(r.user, r.revokedAt);
      // Cut at its bound: older ones of the window may be missing from the full set; hold it anew.
      if (found.length >= REVOCATION_POLL_MAX) this.d.revocations.forgetAll();
      if (this.d.revocations.wantsLoad) await this.d.revocations.loadAll();
      this.polledAt = startedAt;
    } catch (e) {
      this.d.log.warn({ err: e }, 'revocation poll failed; the next one covers its window');
    } finally {
      this.polling = false;
    }
  }

  private close(ws: Socket, code: number, reason: string): void {
    ws.getUserData().closed = true;
    this.d.metrics.closes.inc({ code: String(code) });
    ws.end(code, reason);
  }
}
