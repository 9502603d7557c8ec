/**
 * The synchronous verifier (verify-token.ts) judges every token exactly as jose's jwtVerify does
 * with the options the node used to pass it: a table of good and bad tokens, per algorithm.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createSecretKey, generateKeyPairSync, sign as signBytes, type KeyObject } from 'node:crypto';
import { jwtVerify } from 'jose';
import { AuthError, verifyToken, type JwtAlgorithm } from '../../src/auth/verify-token.ts';

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const nowS = Math.floor(Date.now() / 1000);

interface Keys {
  sign(input: string): Buffer;
  verifyKey: KeyObject;
}

function keysFor(alg: JwtAlgorithm): Keys {
  if (alg === 'HS256') {
    const key = createSecretKey(Buffer.from('a-secret-that-is-long-enough-for-hs256!'));
    return { sign: (input) => createHmac('sha256', key).update(input).digest(), verifyKey: key };
  }
  const { publicKey, privateKey } = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const options = alg === 'ES256' ? { key: privateKey, dsaEncoding: 'ieee-p1363' as const } : privateKey;
  return { sign: (input) => signBytes('sha256', Buffer.from(input), options), verifyKey: publicKey };
}

/** A compact JWS over raw header/claims values (anything, even invalid ones), signed with `keys`. */
function jws(keys: Keys, header: unknown, claims: unknown): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${keys.sign(input).toString('base64url')}`;
}

function cases(alg: JwtAlgorithm, keys: Keys, other: Keys): Array<[string, string]> {
  const h = { alg };
  const ok = { sub: 'alice', roles: ['user'], iat: nowS, exp: nowS + 600 };
  const good = jws(keys, h, ok);
  const [gh, gp, gs] = good.split('.');
  return [
    ['a good token', good],
    ['a good token with iss and aud', jws(keys, h, { ...ok, iss: 'idp', aud: ['x', 'chat'] })],
    ['typ JWT and kid in the header', jws(keys, { ...h, typ: 'JWT', kid: 'k1' }, ok)],
    ['signed by another key', jws(other, h, ok)],
    ['signature of another token', `${gh}.${b64({ ...ok, sub: 'root' })}.${gs}`],
    ['empty signature', `${gh}.${gp}.`],
    ['alg none', `${b64({ alg: 'none' })}.${gp}.`],
    ['another alg in the header', jws(keys, { alg: alg === 'HS256' ? 'HS384' : 'PS256' }, ok)],
    ['alg missing', jws(keys, {}, ok)],
    ['crit header', jws(keys, { ...h, crit: ['exp'] }, ok)],
    ['header not an object', jws(keys, [alg], ok)],
    ['claims an array', jws(keys, h, [ok])],
    ['claims not JSON', jws(keys, h, 'not json')],
    ['expired', jws(keys, h, { ...ok, exp: nowS - 60 })],
    ['exp exactly now', jws(keys, h, { ...ok, exp: nowS })],
    ['exp missing', jws(keys, h, { sub: 'alice' })],
    ['exp a string', jws(keys, h, { ...ok, exp: String(nowS + 600) })],
    ['sub missing', jws(keys, h, { exp: nowS + 600 })],
    ['nbf in the future', jws(keys, h, { ...ok, nbf: nowS + 600 })],
    ['nbf in the past', jws(keys, h, { ...ok, nbf: nowS - 600 })],
    ['iat a string', jws(keys, h, { ...ok, iat: 'yesterday' })],
    ['two segments', `${gh}.${gp}`],
    ['four segments', `${good}.x`],
    ['garbage', 'not-a-jwt'],
  ];
}

async function joseAccepts(token: string, key: KeyObject, alg: JwtAlgorithm, issuer?: string, audience?: string): Promise<boolean> {
  try {
    await jwtVerify(token, key, { algorithms: [alg], issuer, audience, requiredClaims: ['exp', 'sub'] });
    return true;
  } catch {
    return false;
  }
}

function oursAccepts(token: string, key: KeyObject, alg: JwtAlgorithm, issuer?: string, audience?: string): boolean {
  try {
    verifyToken(token, { algorithm: alg, key, issuer, audience }, nowS);
    return true;
  } catch (e) {
    assert.ok(e instanceof AuthError, `not an AuthError: ${String(e)}`);
    return false;
  }
}

for (const alg of ['HS256', 'ES256', 'RS256'] as const) {
  test(`${alg}: every token in the table is accepted or refused exactly as jose jwtVerify does`, async () => {
    const keys = keysFor(alg);
    const table = cases(alg, keys, keysFor(alg));
    for (const [issuer, audience] of [[undefined, undefined], ['idp', 'chat'], ['other-idp', 'chat']] as const) {
      for (const [name, token] of table) {
        const expected = await joseAccepts(token, keys.verifyKey, alg, issuer, audience);
        assert.equal(oursAccepts(token, keys.verifyKey, alg, issuer, audience), expected, `${name} (iss ${issuer}, aud ${audience}): jose says ${expected}`);
      }
    }
    assert.equal(oursAccepts(table[0][1], keys.verifyKey, alg), true, 'the good token must pass');
  });
}

test('roles outside the known set are dropped; none left means ["user"]', () => {
  const keys = keysFor('HS256');
  const check = { algorithm: 'HS256' as const, key: keys.verifyKey };
  assert.deepEqual(verifyToken(jws(keys, { alg: 'HS256' }, { sub: 'a', exp: nowS + 60, roles: ['admin', 'root', 7] }), check, nowS), { sub: 'a', roles: ['admin'], exp: nowS + 60 });
  assert.deepEqual(verifyToken(jws(keys, { alg: 'HS256' }, { sub: 'a', exp: nowS + 60, roles: 'admin' }), check, nowS), { sub: 'a', roles: ['user'], exp: nowS + 60 });
});
