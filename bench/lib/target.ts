/**
 * The server a scenario talks to: either an already running one (--url) or one the bench spawns
 * in a fresh temp dir. Shared by every scenario, together with the token signer (JWT HS256, the
 * same claims for every scenario: `sub` + `roles`).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { ServerProcess, freePort } from './server-process.ts';
import { makeCertificate, tlsEnv } from './tls.ts';
import { writeAboveLiveLine } from './live-line.ts';

/** The repository root (this file is bench/lib/target.ts): spawned servers run from here. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_SERVER_CMD = 'node --import tsx src/main.ts';
const TOKEN_TTL_S = 3600;

/** Progress goes to stderr: stdout carries only the result line. */
export function progress(message: string): void {
  writeAboveLiveLine(process.stderr, `bench: ${message}\n`); // above a sweep's or soak's live status line, if any
}

/** Where the bench talks to, plus the secret its tokens must be signed with. */
export interface Target {
  httpBase: string;
  wsUrl: string;
  secret: string;
  server?: ServerProcess;
  tempDir?: string;
  /** Set when the server serves wss:// and https:// (`--tls`): its self-signed certificate, the CA to trust (PEM). */
  ca?: string;
}

export function externalTarget(urlText: string, dataDir: string | undefined): Target {
  const url = new URL(urlText);
  const host = url.host;
  const secret = process.env.JWT_SECRET ?? readDevSecret(dataDir);
  return { httpBase: `http://${host}`, wsUrl: `ws://${host}/v1/ws`, secret };
}

function readDevSecret(dataDir: string | undefined): string {
  if (!dataDir) throw new Error('--url needs JWT_SECRET in the environment or --data-dir holding dev-jwt-secret');
  return readFileSync(path.join(dataDir, 'dev-jwt-secret'), 'utf8').trim();
}

export interface SpawnOptions {
  serverCmd: string;
  preferredPort: number;
  /** Extra environment (DATA_DIR, JWT_SECRET and PORT are set here). */
  env?: Record<string, string>;
  /** Best-effort `ulimit -n` for the server (capped at the hard limit). */
  maxOpenFiles?: number;
  /**
   * `--tls`: a self-signed certificate is made in the temp dir (openssl) and the server gets
   * TLS_CERT_FILE / TLS_KEY_FILE; the target's URLs are then https:// and wss://.
   */
  tls?: boolean;
}

/** Spawns the server in a fresh temp dir and waits for /readyz; keeps the temp dir on failure. */
export async function spawnTarget(options: SpawnOptions): Promise<Target> {
  const tempDir = mkdtempSync(path.join(os.tmpdir(), 'chat-bench-'));
  const dataDir = path.join(tempDir, 'data');
  mkdirSync(dataDir);
  const secret = process.env.JWT_SECRET ?? randomBytes(32).toString('hex');
  const port = await freePort(options.preferredPort);
  let cert;
  try {
    cert = options.tls ? makeCertificate(tempDir) : undefined;
  } catch (error) {
    rmSync(tempDir, { recursive: true, force: true });
    throw error;
  }
  const server = ServerProcess.start({
    command: options.serverCmd,
    cwd: PROJECT_ROOT,
    port,
    logFile: path.join(tempDir, 'server.log'),
    env: { DATA_DIR: dataDir, JWT_SECRET: secret, ...options.env, ...(cert ? tlsEnv(cert) : {}) },
    maxOpenFiles: options.maxOpenFiles,
    tlsCa: cert?.ca,
  });
  const s = cert ? 's' : '';
  const target: Target = { httpBase: `http${s}://127.0.0.1:${port}`, wsUrl: `ws${s}://127.0.0.1:${port}/v1/ws`, secret, server, tempDir, ca: cert?.ca };
  progress(`started \`${options.serverCmd}\` (pid ${server.pid}) on port ${port}${cert ? ' with TLS (self-signed certificate)' : ''}`);
  try {
    await server.waitReady();
  } catch (error) {
    await server.stop();
    progress(`server data and log kept in ${tempDir}`);
    throw error;
  }
  return target;
}

/** Runs `fn` against `target`, then releases it: its data is kept when `fn` threw or `keepData`. */
export async function withTarget<T>(target: Target, keepData: boolean, fn: (target: Target) => Promise<T>): Promise<T> {
  let failed = true;
  try {
    const result = await fn(target);
    failed = false;
    return result;
  } finally {
    await releaseTarget(target, failed || keepData);
  }
}

/** Stops a spawned server; removes its temp dir unless the run failed or --keep-data. */
export async function releaseTarget(target: Target, keep: boolean): Promise<void> {
  await target.server?.stop();
  if (!target.tempDir) return;
  if (keep) progress(`server data and log kept in ${target.tempDir}`);
  else rmSync(target.tempDir, { recursive: true, force: true });
}

export async function signToken(key: Uint8Array, sub: string, roles: string[], nowS = Math.floor(Date.now() / 1000)): Promise<string> {
  return new SignJWT({ roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt(nowS)
    .setExpirationTime(nowS + TOKEN_TTL_S)
    .sign(key);
}

export type SyncSigner = (sub: string, roles: string[]) => string;

/**
 * The same token as `signToken`, byte for byte (header `{"alg":"HS256"}`, claims in jose's order
 * roles, sub, iat, exp), signed synchronously with node:crypto. jose signs through WebCrypto:
 * an async job and a key import per token, ~0.3 ms of CPU and a thread-pool round trip, which
 * halves the connect rate a scenario opening 100k sockets can reach. Checked against jose once.
 */
export async function syncSigner(key: Uint8Array): Promise<SyncSigner> {
  const secret = Buffer.from(key);
  const header = Buffer.from(JSON.stringify({ alg: 'HS256' })).toString('base64url');
  const sign = (sub: string, roles: string[], nowS = Math.floor(Date.now() / 1000)): string => {
    const claims = { roles, sub, iat: nowS, exp: nowS + TOKEN_TTL_S };
    const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  };
  const nowS = Math.floor(Date.now() / 1000);
  const reference = await signToken(key, 'bench-signer-check', ['user'], nowS);
  if (sign('bench-signer-check', ['user'], nowS) !== reference) throw new Error('syncSigner: token differs from jose SignJWT');
  return (sub, roles) => sign(sub, roles);
}
