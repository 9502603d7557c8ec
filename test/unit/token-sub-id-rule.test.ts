/**
 * A token's `sub` becomes the user id everywhere (bus subjects, rows, logs): a validly signed
 * token whose `sub` breaks the id rule (protocol/ids.ts) is refused with a reason naming `sub`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createSecretKey } from 'node:crypto';
import { AuthError, verifyToken } from '../../src/auth/verify-token.ts';

const key = createSecretKey(Buffer.from('a-secret-that-is-long-enough-for-hs256!'));
const check = { algorithm: 'HS256' as const, key };
const nowS = Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function tokenFor(sub: unknown): string {
  const input = `${b64({ alg: 'HS256' })}.${b64({ sub, exp: nowS + 600 })}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

test('a sub of >, *, control characters, NUL, spaces, non-ASCII, /, % or 129 chars is refused naming sub', () => {
  for (const sub of ['>', '*', 'a\nb', 'a\u0000b', '\u0000', 'a b', ' ', 'ü', 'a/b', 'a%2E', 'x'.repeat(129), '', 42, null]) {
    assert.throws(() => verifyToken(tokenFor(sub), check, nowS), (e: unknown) => e instanceof AuthError && /^sub: /.test(e.message), JSON.stringify(sub));
  }
});

test('subs inside the id rule pass unchanged, up to 128 chars', () => {
  for (const sub of ['alice', 'a.b', 'a', 'user@example.com', 'tenant:42|x', 'x'.repeat(128)]) {
    assert.equal(verifyToken(tokenFor(sub), check, nowS).sub, sub);
  }
});
