/**
 * The uWebSockets.js edge: auth before the upgrade (401, no socket), per-socket state,
 * explicit payload/backpressure/idle bounds, frames to the router, HTTP routes.
 */
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { encodeFrame } from '../../protocol/codec.ts';
import { CloseCode } from '../../protocol/errors.ts';
import { type Config, UWS_MAX_BACKPRESSURE_BYTES } from '../config.ts';
import { ShardClient } from '../rpc/shard-client.ts';
import { FrameRouter, type FrameDeps } from './frames.ts';
import { registerHttp, respond, type HttpDeps } from '../http/routes.ts';
import { TokenBucket } from './rate-limit.ts';
import type { Socket, SocketData, SocketRegistry } from './sockets.ts';
import { loadUws } from '../uws.ts';
import { tokenFrom, VerifierUnavailableError } from '../auth/auth.ts';
import { registerAdmin, registerOrderEvents } from '../http/admin-events.ts';
import { registerStatic } from '../http/static.ts';
import { registerTickets } from '../http/tickets.ts';

export interface Edge {
  app: TemplatedApp;
  port: number;
  /** Stop accepting, close every socket with `code`; resolves once every socket is closed. */
  close(code: number, reason: string): Promise<void>;
}

const textDecoder = new TextDecoder();

export async function startEdge(config: Config, edgeDeps: Omit<FrameDeps & HttpDeps, 'shards'> & { registry: SocketRegistry }): Promise<Edge> {
  const shards = new ShardClient(edgeDeps.bus, edgeDeps.subjects, { shardCount: config.shardCount, timeoutMs: config.limits.busRequestTimeoutMs, attemptMs: config.leaseTtlMs });
  const deps = { ...edgeDeps, shards };
  const uws = loadUws();
  const app = uws.App();
  const router = new FrameRouter(deps);
  const open = new Set<Socket>();
  const perIp = new Map<string, number>();

  if (config.role !== 'shard') app.ws<SocketData>('/v1/ws', {
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

    upgrade: (res, req, context) => {
      const token = tokenFrom(req.getHeader('authorization'), req.getQuery() ?? '');
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      const ip = textDecoder.decode(res.getRemoteAddressAsText());
      let aborted = false;
      res.onAborted(() => (aborted = true));
      if (!token) return respond(res, 401, { code: 401, message: 'missing token' });
      deps.verifier.verify(token).then(
        (p) => {
          if (aborted) return;
          if (deps.registry.socketsOf(p.sub) >= config.limits.maxConnsPerUser) {
            return respond(res, 429, { code: 429, message: `more than ${config.limits.maxConnsPerUser} connections for this user`, retryMs: 5000 });
          }
          if (config.limits.maxConnsPerIp > 0 && (perIp.get(ip) ?? 0) >= config.limits.maxConnsPerIp) {
            return respond(res, 429, { code: 429, message: `more than ${config.limits.maxConnsPerIp} connections from this address`, retryMs: 5000 });
          }
          const data: SocketData = {
            user: p.sub, roles: p.roles, ip, closed: false, badFrames: 0, badWindowStart: Date.now(),
            frames: new TokenBucket(config.limits.rateFramesPerS, config.limits.rateFramesPerS * 2, Date.now()),
            inflight: 0, observing: new Set(),
          };
          // Not wrapped in res.cork(): in uWS v20.30 a cork around an asynchronous upgrade can
          // misread the reallocated socket and close it right after `open` (uWebSockets #1928,
          // fixed upstream by #1929). Without the cork uWS prints a warning instead.
          res.upgrade(data, key, protocol, extensions, context);
        },
        (e: unknown) => {
          if (aborted) return;
          // The token was not judged (verify queue full, pool failed): refuse for now, not for good.
          if (e instanceof VerifierUnavailableError) return respond(res, 503, { code: 503, message: e.message, retryMs: e.retryMs });
          respond(res, 401, { code: 401, message: e instanceof Error ? e.message : 'invalid token' });
        },
      );
    },

    open: (ws) => {
      const data = ws.getUserData();
      open.add(ws);
      perIp.set(data.ip, (perIp.get(data.ip) ?? 0) + 1);
      deps.metrics.socketsOpen.inc();
      deps.log.trace({ user: data.user }, 'socket open');
      deps.registry.addUserSocket(ws);
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
        router.send(ws, { t: 'err', code: 500, msg: 'internal error' });
      }
    },

    close: (ws, code, message) => {
      if (code !== CloseCode.normal) deps.log.debug({ user: ws.getUserData().user, code, reason: Buffer.from(message).toString() }, 'socket closed');
      ws.getUserData().closed = true;
      if (open.delete(ws)) {
        deps.metrics.socketsOpen.dec();
        const ip = ws.getUserData().ip;
        const left = (perIp.get(ip) ?? 1) - 1;
        if (left > 0) perIp.set(ip, left);
        else perIp.delete(ip);
      }
      deps.registry.removeSocket(ws);
    },
  });

  registerHttp(app, deps);
  registerStatic(app, deps);
  registerOrderEvents(app, deps);
  registerAdmin(app, deps);
  registerTickets(app, deps);
  app.any('/*', (res) => respond(res, 404, { code: 404, message: 'no such route' }));

  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(config.host, config.port, (s) => (s ? resolve(s) : reject(new Error(`cannot listen on ${config.host}:${config.port}`))));
  });
  return {
    app,
    port: uws.us_socket_local_port(listenSocket),
    async close(code = CloseCode.restart, reason = 'service restart') {
      uws.us_listen_socket_close(listenSocket);
      for (const ws of [...open]) {
        ws.getUserData().closed = true;
        ws.end(code, reason);
      }
      // Graceful first; whatever has not finished its close handshake in time is cut.
      for (let waited = 0; open.size > 0 && waited < 2_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
      for (const ws of [...open]) ws.close();
    },
  };
}
