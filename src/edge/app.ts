/**
 * The uWebSockets.js edge: one uWS app per edge thread with the WebSocket route
 * (socket-behavior.ts) and the REST API (src/http); listens, and closes every socket on stop.
 */
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { CloseCode, ErrorCode } from '../../protocol/errors.ts';
import type { Config } from '../config.ts';
import { ShardClient } from '../rpc/shard-client.ts';
import { FrameRouter, type FrameDeps } from './frames.ts';
import { registerHttp, respondError, type HttpDeps } from '../http/routes.ts';
import { OpenSockets, socketBehavior, type SocketDeps } from './socket-behavior.ts';
import type { SocketData, SocketRegistry } from './sockets.ts';
import { loadUws } from '../uws.ts';
import { registerAdmin, registerOrderEvents } from '../http/admin-events.ts';
import { registerStatic } from '../http/static.ts';
import { registerTickets } from '../http/tickets.ts';
import { registerModeration } from '../http/moderation.ts';
import { registerUsers } from '../http/users.ts';
import { AuditLog } from '../persist/audit.ts';
import { registerAttachments } from '../http/attachments.ts';
import { type BlobStore, createBlobStore } from '../integrations/blobs.ts';
import { registerSettings } from '../http/settings.ts';
import { registerNotifications } from '../http/notifications.ts';
import { RevocationCache, withRevocations } from '../auth/revocations.ts';
import { type Revocation, RevocationStore } from '../persist/revocations.ts';
import { Sessions } from './sessions.ts';
import { registerSessions } from '../http/sessions.ts';

export interface Edge {
  app: TemplatedApp;
  port: number;
  /** Stop accepting, close every socket with `code`; resolves once every socket is closed. */
  close(code: number, reason: string): Promise<void>;
}

/**
 * Every route of a node's uWS app: the WebSocket, the REST API and the web pages, then the 404
 * catch-all. test/repo/openapi.test.ts registers them on a recording app and holds them to the
 * OpenAPI document (src/http/openapi.ts).
 */
export function registerRoutes(
  app: TemplatedApp,
  config: Config,
  deps: HttpDeps & SocketDeps & { sessions: { announce(r: Revocation): void } },
  parts: { router: FrameRouter; sockets: OpenSockets; blobs: BlobStore; revocationStore: RevocationStore },
): void {
  if (config.role !== 'shard') app.ws<SocketData>('/v1/ws', socketBehavior(config, deps, parts.router, parts.sockets));
  registerHttp(app, deps);
  registerStatic(app, deps);
  registerOrderEvents(app, deps);
  registerAdmin(app, deps);
  registerTickets(app, deps, parts.blobs);
  registerAttachments(app, deps, parts.blobs);
  registerSettings(app, deps);
  registerModeration(app, deps);
  registerNotifications(app, deps);
  registerSessions(app, deps, parts.revocationStore);
  registerUsers(app, deps, parts.revocationStore);
  app.any('/*', (res) => respondError(res, ErrorCode.notFound, 'no such route'));
}

export async function startEdge(config: Config, edgeDeps: Omit<FrameDeps & HttpDeps, 'shards' | 'audit' | 'sessions'> & { registry: SocketRegistry }): Promise<Edge> {
  const shards = ShardClient.forNode(edgeDeps.bus, edgeDeps.subjects, config);
  const sockets = new OpenSockets();
  // One verifier for the upgrade, the HTTP routes and `auth` frames: revoked tokens refused by all (issue 16).
  const revocationStore = new RevocationStore(edgeDeps.pool, config.sessions.revocationDbTimeoutMs);
  const revocations = new RevocationCache(revocationStore, { cacheMax: config.sessions.revocationCacheMax, ttlMs: config.sessions.revocationCacheTtlMs }, edgeDeps.log);
  // Every revocation held before the first upgrade (then none needs a read); if the table cannot
  // be read now, users are read as they connect and the next poll loads them all.
  await revocations.loadAll().catch((e: unknown) => edgeDeps.log.warn({ err: e }, 'revocations not loaded at start; read per user until the next poll'));
  const verifier = withRevocations(edgeDeps.verifier, revocations);
  const sessions = new Sessions({ ...edgeDeps, verifier, revocations, store: revocationStore, sockets });
  const deps = { ...edgeDeps, verifier, shards, sessions, audit: new AuditLog(edgeDeps.pool, edgeDeps.log) };
  const uws = loadUws();
  // With TLS_* the edge speaks wss:// and https:// itself; each edge thread loads the files.
  const app = config.tls
    ? uws.SSLApp({ cert_file_name: config.tls.certFile, key_file_name: config.tls.keyFile, passphrase: config.tls.passphrase })
    : uws.App();
  const router = new FrameRouter(deps);
  // One blob store for signatures and attachments (BLOB_STORE: files under BLOB_DIR, or Azure).
  registerRoutes(app, config, deps, { router, sockets, blobs: createBlobStore(config), revocationStore });

  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(config.host, config.port, (s) => (s ? resolve(s) : reject(new Error(`cannot listen on ${config.host}:${config.port}`))));
  });
  return {
    app,
    port: uws.us_socket_local_port(listenSocket),
    async close(code = CloseCode.restart, reason = 'service restart') {
      uws.us_listen_socket_close(listenSocket);
      sessions.stop();
      for (const ws of [...sockets.all]) {
        ws.getUserData().closed = true;
        ws.end(code, reason);
      }
      // Graceful first; whatever has not finished its close handshake in time is cut.
      for (let waited = 0; sockets.all.size > 0 && waited < 2_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
      for (const ws of [...sockets.all]) ws.close();
    },
  };
}
