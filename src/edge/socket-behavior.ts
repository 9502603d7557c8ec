/**
 * The WebSocket route's behaviour: auth before the upgrade (401, no socket; 429 past the
 * per-user and per-address bounds; 503 {retryMs} when the verifier is overloaded), the hello, and
 * frames to the router. Payload, backpressure and idle bounds are explicit.
 */
import type { WebSocketBehavior } from 'uWebSockets.js';
import { encodeFrame } from '../../protocol/codec.ts';
import { CloseCode, ErrorCode, RetryAfterMs } from '../../protocol/errors.ts';
import type { ProtocolLimits } from '../../protocol/frames.ts';
import { tokenFrom, VerifierUnavailableError, type Verifier } from '../auth/auth.ts';
import { type Config, UWS_MAX_BACKPRESSURE_BYTES } from '../config.ts';
import { respondError } from '../http/routes.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { PresenceService } from '../presence/service.ts';
import { loadUws } from '../uws.ts';
import type { FrameRouter } from './frames.ts';
import { TokenBucket } from './rate-limit.ts';
import { edgeSocketIds, type Socket, type SocketData, type SocketRegistry } from './sockets.ts';

export interface SocketDeps {
  limits: ProtocolLimits;
  verifier: Verifier;
  registry: SocketRegistry;
  log: Logger;
  metrics: Metrics;
  /** Counts the user's sockets for DM peers' presence (issue 15); absent in tests of the edge alone. */
  presence?: PresenceService;
}

const textDecoder = new TextDecoder();

/** The edge's open sockets, and how many come from each address (MAX_CONNS_PER_IP). */
export class OpenSockets {
  readonly all = new Set<Socket>();
  private readonly perIp = new Map<string, number>();

  opened(ws: Socket): void {
    this.all.add(ws);
    const ip = ws.getUserData().ip;
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
  }

  /** False when the socket was not counted (closed twice). */
  closed(ws: Socket): boolean {
    if (!this.all.delete(ws)) return false;
    const ip = ws.getUserData().ip;
    const left = (this.perIp.get(ip) ?? 1) - 1;
    if (left > 0) this.perIp.set(ip, left);
    else this.perIp.delete(ip);
    return true;
  }

  fromIp(ip: string): number {
    return this.perIp.get(ip) ?? 0;
  }
}

export function socketBehavior(config: Config, deps: SocketDeps, router: FrameRouter, sockets: OpenSockets): WebSocketBehavior<SocketData> {
  const uws = loadUws();
  return {
    compression: uws.DISABLED,
    // Far over our own bound, so our check (close 1009) sees oversize frames: past this uWS
    // closes the TCP connection itself without a close frame (1006), see WS_PAYLOAD_CUT_BYTES.
    maxPayloadLength: config.limits.wsPayloadCutBytes,
    // Our write path enforces the real bound (SocketRegistry.write closes with 1013); uWS's
    // must stay far above it, or uWS drops the close frame itself and the client sees 1006.
    maxBackpressure: UWS_MAX_BACKPRESSURE_BYTES,
    closeOnBackpressureLimit: 0,
    sendPingsAutomatically: true,
    idleTimeout: config.limits.wsIdleTimeoutS,

    upgrade: upgradeHandler(config, deps, sockets),

    open: (ws) => {
      const data = ws.getUserData();
      sockets.opened(ws);
      deps.metrics.socketsOpen.inc();
      deps.log.trace({ user: data.user }, 'socket open');
      deps.registry.addUserSocket(ws);
      deps.presence?.opened(data.user);
      const limits = {
        ...deps.limits, rateMsgsPerS: config.limits.rateMsgsPerS, rateBurst: config.limits.rateBurst, typingTtlMs: config.actors.typingTtlMs,
        inflightMax: config.limits.inflightPerSocketMax,
      };
      ws.send(encodeFrame({ t: 'hello', user: data.user, node: config.nodeId, limits }), true);
    },

    message: (ws, message, isBinary) => {
      try {
        router.onMessage(ws, message, isBinary);
      } catch (e) {
        // A bug here must not take the socket (or the process) down unexplained.
        deps.log.error({ err: e, user: ws.getUserData().user }, 'frame handling failed');
        router.send(ws, { t: 'err', code: ErrorCode.internal, msg: 'internal error' });
      }
    },

    close: (ws, code, message) => {
      if (code !== CloseCode.normal) deps.log.debug({ user: ws.getUserData().user, code, reason: Buffer.from(message).toString() }, 'socket closed');
      ws.getUserData().closed = true;
      // Presence counts what OpenSockets counts: a socket closed twice is one close.
      if (sockets.closed(ws)) {
        deps.metrics.socketsOpen.dec();
        deps.presence?.closed(ws.getUserData().user);
      }
      deps.registry.removeSocket(ws);
    },
  };
}

/** Verifies the token before the upgrade: no socket for a refused one (401, 429 past a bound, 503 {retryMs} when the verifier is overloaded). */
function upgradeHandler(config: Config, deps: SocketDeps, sockets: OpenSockets): NonNullable<WebSocketBehavior<SocketData>['upgrade']> {
  const nextSid = edgeSocketIds();
  return (res, req, context) => {
    const token = tokenFrom(req.getHeader('authorization'), req.getQuery() ?? '');
    const key = req.getHeader('sec-websocket-key');
    const protocol = req.getHeader('sec-websocket-protocol');
    const extensions = req.getHeader('sec-websocket-extensions');
    const ip = textDecoder.decode(res.getRemoteAddressAsText());
    let aborted = false;
    res.onAborted(() => (aborted = true));
    if (!token) return respondError(res, ErrorCode.unauthenticated, 'missing token');
    deps.verifier.verify(token).then(
      (p) => {
        if (aborted) return;
        if (deps.registry.socketsOf(p.sub) >= config.limits.maxConnsPerUser) {
          return respondError(res, ErrorCode.rateLimited, `more than ${config.limits.maxConnsPerUser} connections for this user`, { retryMs: RetryAfterMs.connections });
        }
        if (config.limits.maxConnsPerIp > 0 && sockets.fromIp(ip) >= config.limits.maxConnsPerIp) {
          return respondError(res, ErrorCode.rateLimited, `more than ${config.limits.maxConnsPerIp} connections from this address`, { retryMs: RetryAfterMs.connections });
        }
        const data: SocketData = {
          user: p.sub, sid: nextSid(), roles: p.roles, ip, closed: false, badFrames: 0, badWindowStart: Date.now(),
          frames: new TokenBucket(config.limits.rateFramesPerS, config.limits.rateFramesPerS * 2, Date.now()),
          inflight: 0,
          // Closed at the token's exp unless refreshed with `auth` (src/edge/sessions.ts).
          exp: p.exp, iat: p.iat, authAt: 0,
        };
        // Not wrapped in res.cork(): in uWS v20.30 a cork around an asynchronous upgrade can
        // misread the reallocated socket and close it right after `open` (uWebSockets #1928,
        // fixed upstream by #1929). Without the cork uWS prints a warning instead.
        res.upgrade(data, key, protocol, extensions, context);
      },
      (e: unknown) => {
        if (aborted) return;
        // The token was not judged (verify queue full, pool failed): refuse for now, not for good.
        if (e instanceof VerifierUnavailableError) return respondError(res, ErrorCode.unavailable, e.message, { retryMs: e.retryMs });
        respondError(res, ErrorCode.unauthenticated, e instanceof Error ? e.message : 'invalid token');
      },
    );
  };
}
