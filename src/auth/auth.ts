/**
 * JWT verification, algorithm pinned by configuration: HS256 with JWT_SECRET, or RS256/ES256
 * with JWT_PUBLIC_KEY. `exp` and `sub` are required; `none` is never accepted (verify-token.ts).
 * Without configuration a dev secret is generated under DATA_DIR (see `npm run token`).
 *
 * Where a token is checked: on the edge's event loop, synchronously, by default; ES256/RS256 in
 * the verify pool's worker threads with JWT_VERIFY_THREADS ≥ 1. Measured (`bench storm`, 2
 * cores): inline ES256 sustains 3818 conn/s, pooled 1000 — the verify (≈ 105 µs) leaves the
 * loop, but the upgrade then completes outside uWS's callback and cannot be corked in v20.30
 * (#1928), which costs ≈ 400 µs of loop time instead of ≈ 50 µs. HS256 (≈ 6 µs) is always inline.
 */
import { createPublicKey, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.ts';
import { VerifyPool } from './verify-pool.ts';
import { AuthError, verifyToken, type JwtAlgorithm, type Principal, type TokenCheck } from './verify-token.ts';

export { AuthError, knownRoles, type Principal } from './verify-token.ts';
export { VerifierUnavailableError } from './verify-pool.ts';

/** RSA keys below this are refused at start (RFC 7518 §3.3, and jose's own floor). */
const rsaModulusBitsMin = 2048;

export function devSecretPath(dataDir: string): string {
  return join(dataDir, 'dev-jwt-secret');
}

/** Reads the dev secret, creating it on first use. */
export function ensureDevSecret(dataDir: string): string {
  const path = devSecretPath(dataDir);
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    mkdirSync(dataDir, { recursive: true });
    const secret = randomBytes(32).toString('hex');
    writeFileSync(path, secret, { mode: 0o600, flag: 'wx' });
    return secret;
  }
}

export interface Verifier {
  /** Resolves with the principal; rejects with AuthError (→ 401) or VerifierUnavailableError (→ 503). */
  verify(token: string): Promise<Principal>;
  algorithm: string;
  devMode: boolean;
  /** `pool`: ES256/RS256 in worker threads; `inline`: on the calling thread. */
  mode: 'inline' | 'pool';
  /** Stops the pool's threads (no-op inline). */
  close(): Promise<void>;
}

function publicKeyAlgorithm(key: KeyObject, configured: string | undefined): 'RS256' | 'ES256' {
  if (configured === 'RS256' || configured === 'ES256') return configured;
  if (configured) throw new AuthError(`JWT_ALGORITHM=${configured}: with a public key use RS256 or ES256`);
  if (key.asymmetricKeyType === 'ec') return 'ES256';
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  throw new AuthError(`JWT_PUBLIC_KEY: unsupported key type ${key.asymmetricKeyType}`);
}

/** A key that cannot verify the pinned algorithm is a configuration error, not 401s forever. */
function assertKeyFits(key: KeyObject, algorithm: JwtAlgorithm): void {
  const details = key.asymmetricKeyDetails;
  if (algorithm === 'ES256' && (key.asymmetricKeyType !== 'ec' || details?.namedCurve !== 'prime256v1')) {
    throw new AuthError('JWT_PUBLIC_KEY: ES256 needs a P-256 EC public key');
  }
  if (algorithm === 'RS256' && (key.asymmetricKeyType !== 'rsa' || (details?.modulusLength ?? 0) < rsaModulusBitsMin)) {
    throw new AuthError(`JWT_PUBLIC_KEY: RS256 needs an RSA public key of at least ${rsaModulusBitsMin} bits`);
  }
}

export function createVerifier(config: Config): Verifier {
  const { jwt } = config;
  if (jwt.publicKeyPem) {
    const publicKeyPem = jwt.publicKeyPem.replace(/\\n/g, '\n');
    const key = createPublicKey(publicKeyPem);
    const algorithm = publicKeyAlgorithm(key, jwt.algorithm);
    assertKeyFits(key, algorithm);
    if (jwt.verifyThreads === 0) return inlineVerifier({ algorithm, key, issuer: jwt.issuer, audience: jwt.audience }, false);
    const pool = new VerifyPool({
      threads: jwt.verifyThreads,
      queueMax: jwt.verifyQueueMax,
      worker: { algorithm, publicKeyPem: key.export({ type: 'spki', format: 'pem' }).toString(), issuer: jwt.issuer, audience: jwt.audience },
    });
    return { algorithm, devMode: false, mode: 'pool', verify: (token) => pool.verify(token), close: () => pool.close() };
  }
  const secret = jwt.secret ?? ensureDevSecret(config.dataDir);
  if (jwt.algorithm && jwt.algorithm !== 'HS256') throw new AuthError(`JWT_ALGORITHM=${jwt.algorithm}: with JWT_SECRET use HS256`);
  const key = createSecretKey(Buffer.from(secret, 'utf8'));
  return inlineVerifier({ algorithm: 'HS256', key, issuer: jwt.issuer, audience: jwt.audience }, jwt.secret === undefined);
}

function inlineVerifier(check: TokenCheck, devMode: boolean): Verifier {
  return {
    algorithm: check.algorithm,
    devMode,
    mode: 'inline',
    // Async for the interface's sake; a bad token rejects rather than throws.
    verify: async (token) => verifyToken(token, check),
    close: async () => {},
  };
}

/** The token from `Authorization: Bearer …` or, for browsers, the `token` query parameter. */
export function tokenFrom(authorization: string, query: string): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization);
  if (m) return m[1];
  const t = new URLSearchParams(query).get('token');
  return t || undefined;
}
