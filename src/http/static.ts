/**
 * The web chat (`/`), the operator console (`/ops`), their assets (`/assets/*`) and the web
 * chat's service worker (`/sw.js`, Web Push notifications), bundled from
 * web/ with esbuild's JS API on the first request and kept in memory. No CDN, nothing external.
 * In dev mode only (no JWT configuration) `GET /api/v1/dev/token?sub=…&roles=…` mints tokens
 * with the generated dev secret, to power the pages' user picker.
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { SignJWT } from 'jose';
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { ensureDevSecret, knownRoles } from '../auth/auth.ts';
import { ErrorCode } from '../../protocol/errors.ts';
import { type HttpDeps, respond, respondError, route } from './routes.ts';
import { parseQuery } from '../../protocol/schema.ts';
import { DevTokenQuery } from './schemas.ts';

const webDir = new URL('../../web/', import.meta.url).pathname;
const entryPoints = ['app.ts', 'ops.ts', 'sw.ts'];
const pages: Record<string, string> = { '/': 'index.html', '/ops': 'ops.html' };
const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

interface Asset {
  type: string;
  body: string;
}

let built: Promise<Map<string, Asset>> | undefined;

/** Every page and asset by file name, built once per process (a failed build is retried next time). */
export function webAssets(): Promise<Map<string, Asset>> {
  built ??= build().catch((e: unknown) => {
    built = undefined;
    throw e;
  });
  return built;
}

async function build(): Promise<Map<string, Asset>> {
  const esbuild = await import('esbuild');
  const out = await esbuild.build({
    absWorkingDir: webDir,
    entryPoints,
    outdir: join(webDir, 'dist'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2020'],
    minify: true,
    legalComments: 'none',
    write: false,
    logLevel: 'silent',
  });
  const assets = new Map<string, Asset>();
  for (const f of out.outputFiles) assets.set(basename(f.path), { type: types['.js'], body: f.text });
  for (const name of ['index.html', 'ops.html', 'style.css']) {
    assets.set(name, { type: types[name.slice(name.lastIndexOf('.'))], body: await readFile(join(webDir, name), 'utf8') });
  }
  return assets;
}

function sendAsset(res: HttpResponse, file: string, d: HttpDeps): void {
  let aborted = false;
  res.onAborted(() => (aborted = true));
  webAssets().then(
    (assets) => {
      if (aborted) return;
      const a = assets.get(file);
      if (!a) return respondError(res, ErrorCode.notFound, 'no such asset');
      respond(res, 200, a.body, a.type);
    },
    (e: unknown) => {
      d.log.error({ err: e }, 'web bundle failed');
      if (!aborted) respondError(res, ErrorCode.internal, 'web bundle failed');
    },
  );
}

/** Called right after registerHttp, before the catch-all 404. */
export function registerStatic(app: TemplatedApp, d: HttpDeps): void {
  for (const [path, file] of Object.entries(pages)) app.get(path, (res) => sendAsset(res, file, d));
  // uWS request data is only readable synchronously: the name is taken before any await.
  app.get('/assets/:name', (res, req) => sendAsset(res, req.getParameter(0) ?? '', d));
  // The Web Push service worker (web/sw.ts) at the root, so its scope is the whole origin.
  app.get('/sw.js', (res) => sendAsset(res, 'sw.js', d));

  if (!d.verifier.devMode) return; // never without dev mode: it would mint tokens for anyone
  const secret = new TextEncoder().encode(ensureDevSecret(d.config.dataDir));
  app.get(
    '/api/v1/dev/token',
    route(d.log, async ({ query }) => {
      const q = parseQuery(DevTokenQuery, query);
      const sub = q.sub;
      const roles = (q.roles ?? 'user').split(',').filter((r) => knownRoles.includes(r));
      let jwt = new SignJWT({ roles: roles.length > 0 ? roles : ['user'] })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(sub)
        .setIssuedAt()
        .setExpirationTime('12h');
      if (d.config.jwt.issuer) jwt = jwt.setIssuer(d.config.jwt.issuer);
      if (d.config.jwt.audience) jwt = jwt.setAudience(d.config.jwt.audience);
      return { status: 200, body: { token: await jwt.sign(secret), sub, roles } };
    }),
  );
}
