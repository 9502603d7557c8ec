/**
 * JWT verification with `jose`, algorithm pinned by configuration: HS256 with JWT_SECRET, or
 * RS256/ES256 with JWT_PUBLIC_KEY. `exp` and `sub` are required; `none` is never accepted.
 * Without configuration a dev secret is generated under DATA_DIR (see `npm run token`).
 */
import { createPublicKey, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jwtVerify } from 'jose';
import type { Config } from '../config.ts';

export interface Principal {
  sub: string;
  roles: string[];
}

export class AuthError extends Error {
  override name = 'AuthError';
}

export const knownRoles = ['user', 'customer', 'vendor', 'rider', 'technician', 'agent', 'admin'];
const maxSubChars = 128;

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
  verify(token: string): Promise<Principal>;
  algorithm: string;
  devMode: boolean;
}

function publicKeyAlgorithm(key: KeyObject, configured: string | undefined): string {
  if (configured) return configured;
  if (key.asymmetricKeyType === 'ec') return 'ES256';
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  throw new AuthError(`JWT_PUBLIC_KEY: unsupported key type ${key.asymmetricKeyType}`);
}

export function createVerifier(config: Config): Verifier {
  const { jwt } = config;
  let key: Uint8Array | KeyObject;
  let algorithm: string;
  let devMode = false;
  if (jwt.publicKeyPem) {
    key = createPublicKey(jwt.publicKeyPem.replace(/\\n/g, '\n'));
    algorithm = publicKeyAlgorithm(key, jwt.algorithm);
    if (!['RS256', 'ES256'].includes(algorithm)) throw new AuthError(`JWT_ALGORITHM=${algorithm}: with a public key use RS256 or ES256`);
  } else {
    const secret = jwt.secret ?? ensureDevSecret(config.dataDir);
    devMode = jwt.secret === undefined;
    // A KeyObject, not bytes: jose would otherwise import the raw secret on every verify.
    key = createSecretKey(Buffer.from(secret, 'utf8'));
    algorithm = 'HS256';
    if (jwt.algorithm && jwt.algorithm !== 'HS256') throw new AuthError(`JWT_ALGORITHM=${jwt.algorithm}: with JWT_SECRET use HS256`);
  }
  const options = { algorithms: [algorithm], issuer: jwt.issuer, audience: jwt.audience, requiredClaims: ['exp', 'sub'] };
  return {
    algorithm,
    devMode,
    async verify(token: string): Promise<Principal> {
      let payload;
      try {
        ({ payload } = await jwtVerify(token, key, options));
      } catch (e) {
        throw new AuthError(e instanceof Error ? e.message : 'invalid token');
      }
      const sub = payload.sub;
      if (typeof sub !== 'string' || sub.length === 0 || sub.length > maxSubChars) throw new AuthError('sub: expected a user id');
      const raw = (payload as { roles?: unknown }).roles;
      const roles = Array.isArray(raw) ? raw.filter((r): r is string => typeof r === 'string' && knownRoles.includes(r)) : [];
      return { sub, roles: roles.length > 0 ? roles : ['user'] };
    },
  };
}

/** The token from `Authorization: Bearer …` or, for browsers, the `token` query parameter. */
export function tokenFrom(authorization: string, query: string): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization);
  if (m) return m[1];
  const t = new URLSearchParams(query).get('token');
  return t || undefined;
}
