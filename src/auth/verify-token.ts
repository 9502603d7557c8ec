/**
 * Synchronous JWT (compact JWS) verification with node:crypto: the one code path behind the
 * inline HS256 verifier and the ES256/RS256 verify-pool workers.
 *
 * Why not `jose.jwtVerify` here: jose verifies through WebCrypto, an async job per token with a
 * thread-pool round trip. Measured on the 2-core bench box (5000 tokens, 64 in flight): jose
 * HS256 ≈ 100 µs of CPU per token against 6 µs for createHmac; jose ES256 ≈ 140 µs against
 * 105 µs for a synchronous `crypto.verify`. jose stays the reference: the unit tests check this
 * module accepts and refuses exactly what jose's `jwtVerify` does for the same options.
 *
 * Semantics mirror jose's `jwtVerify(token, key, {algorithms: [alg], issuer, audience,
 * requiredClaims: ['exp', 'sub']})` with clock tolerance 0: the header must be a JSON object whose
 * `alg` is the pinned algorithm (so `none` never passes), `crit` is refused (we recognise no
 * extension; jose accepts only `b64`, which JWTs must not use anyway), the claims must be a JSON
 * object, `exp` and `sub` present, `exp`/`nbf`/`iat` numbers when present, `exp > now`,
 * `nbf <= now`, `iss` equal and `aud` containing the configured values when set. One addition:
 * `sub` must be an id by protocol/ids.ts (jose accepts any string).
 */
import { createHmac, timingSafeEqual, verify as verifySignature, type KeyObject } from 'node:crypto';
import { idRuleText, isValidId } from '../../protocol/ids.ts';
import { TOKEN_CHARS_MAX } from '../config.ts';

export interface Principal {
  sub: string;
  roles: string[];
  /** The token's `exp` (epoch seconds): a socket opened with it is closed then unless refreshed (`auth`). */
  exp: number;
  /** The token's `iat` (epoch seconds) when present: a revocation refuses tokens issued until its moment. */
  iat?: number;
}

export class AuthError extends Error {
  override name = 'AuthError';
}

export type JwtAlgorithm = 'HS256' | 'RS256' | 'ES256';

/** What a token is checked against: pinned algorithm, key and the optional iss/aud. */
export interface TokenCheck {
  algorithm: JwtAlgorithm;
  /** A secret KeyObject for HS256, a public one for RS256/ES256. */
  key: KeyObject;
  issuer?: string;
  audience?: string;
}

export const knownRoles = ['user', 'customer', 'vendor', 'rider', 'technician', 'agent', 'admin', 'dispatcher'];
const base64url = /^[A-Za-z0-9_-]*$/;

/** Verifies `token` at `nowS` (epoch seconds); the principal, or an AuthError saying why not. */
export function verifyToken(token: string, check: TokenCheck, nowS = Math.floor(Date.now() / 1000)): Principal {
  if (token.length > TOKEN_CHARS_MAX) throw new AuthError('token too long');
  const parts = token.split('.');
  if (parts.length !== 3) throw new AuthError('Invalid Compact JWS');
  const [headerB64, payloadB64, signatureB64] = parts;
  if (!base64url.test(headerB64) || !base64url.test(payloadB64) || !base64url.test(signatureB64)) {
    throw new AuthError('JWS is not base64url');
  }
  const header = parseObject(headerB64, 'JWS Protected Header is invalid');
  if (typeof header.alg !== 'string' || header.alg === '') throw new AuthError('JWS "alg" (Algorithm) Header Parameter missing or invalid');
  if (header.alg !== check.algorithm) throw new AuthError('"alg" (Algorithm) Header Parameter value not allowed');
  if (header.crit !== undefined) throw new AuthError('"crit" Header Parameter is not supported');
  if (!signatureValid(`${headerB64}.${payloadB64}`, Buffer.from(signatureB64, 'base64url'), check)) {
    throw new AuthError('signature verification failed');
  }
  const claims = parseObject(payloadB64, 'JWT Claims Set must be a top-level JSON object');
  checkClaims(claims, check, nowS);
  return principalOf(claims);
}

function signatureValid(signingInput: string, signature: Buffer, check: TokenCheck): boolean {
  if (check.algorithm === 'HS256') {
    const expected = createHmac('sha256', check.key).update(signingInput).digest();
    return expected.length === signature.length && timingSafeEqual(expected, signature);
  }
  try {
    // JWS ES256 signatures are raw r‖s (IEEE P1363), not DER.
    const key = check.algorithm === 'ES256' ? { key: check.key, dsaEncoding: 'ieee-p1363' as const } : check.key;
    return verifySignature('sha256', Buffer.from(signingInput), key, signature);
  } catch {
    return false; // malformed signature bytes
  }
}

function parseObject(segmentB64: string, message: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(segmentB64, 'base64url')));
  } catch {
    throw new AuthError(message);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new AuthError(message);
  return value as Record<string, unknown>;
}

function checkClaims(claims: Record<string, unknown>, check: TokenCheck, nowS: number): void {
  for (const claim of ['exp', 'sub', ...(check.issuer !== undefined ? ['iss'] : []), ...(check.audience !== undefined ? ['aud'] : [])]) {
    if (!Object.hasOwn(claims, claim)) throw new AuthError(`missing required "${claim}" claim`);
  }
  if (check.issuer !== undefined && claims.iss !== check.issuer) throw new AuthError('unexpected "iss" claim value');
  if (check.audience !== undefined && !audienceMatches(claims.aud, check.audience)) throw new AuthError('unexpected "aud" claim value');
  for (const claim of ['iat', 'nbf', 'exp']) {
    if (claims[claim] !== undefined && typeof claims[claim] !== 'number') throw new AuthError(`"${claim}" claim must be a number`);
  }
  if (claims.nbf !== undefined && (claims.nbf as number) > nowS) throw new AuthError('"nbf" claim timestamp check failed');
  if ((claims.exp as number) <= nowS) throw new AuthError('"exp" claim timestamp check failed');
}

function audienceMatches(aud: unknown, expected: string): boolean {
  return typeof aud === 'string' ? aud === expected : Array.isArray(aud) && aud.includes(expected);
}

function principalOf(claims: Record<string, unknown>): Principal {
  const sub = claims.sub;
  // Beyond jose: `sub` becomes the user id everywhere (subjects, rows, logs), so it must satisfy
  // the id rule; a `sub` of `>` would otherwise subscribe to every user's messages.
  if (!isValidId(sub)) throw new AuthError(`sub: expected a user id of ${idRuleText}`);
  const raw = claims.roles;
  const roles = Array.isArray(raw) ? raw.filter((r): r is string => typeof r === 'string' && knownRoles.includes(r)) : [];
  const principal: Principal = { sub, roles: roles.length > 0 ? roles : ['user'], exp: claims.exp as number };
  if (claims.iat !== undefined) principal.iat = claims.iat as number;
  return principal;
}
