/** JWT verification: algorithm pinned by configuration, exp and sub required, roles filtered. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, importPKCS8 } from 'jose';
import { loadConfig } from '../../src/config.ts';
import { AuthError, createVerifier } from '../../src/auth/auth.ts';

function pair(type: 'ec' | 'rsa') {
  const { publicKey, privateKey } = type === 'ec'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { pub: publicKey.export({ type: 'spki', format: 'pem' }).toString(), priv: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

async function sign(alg: string, privPem: string, claims: Record<string, unknown> = { roles: ['user', 'bogus'] }, exp = '1h') {
  return new SignJWT(claims).setProtectedHeader({ alg }).setSubject('alice').setExpirationTime(exp).sign(await importPKCS8(privPem, alg));
}

for (const [type, alg] of [['ec', 'ES256'], ['rsa', 'RS256']] as const) {
  test(`${alg} tokens verify against JWT_PUBLIC_KEY; roles outside the known set are dropped`, async () => {
    const { pub, priv } = pair(type);
    const v = createVerifier(loadConfig({ JWT_PUBLIC_KEY: pub, DATA_DIR: '/tmp' }));
    assert.equal(v.algorithm, alg);
    const { sub, roles } = await v.verify(await sign(alg, priv));
    assert.deepEqual({ sub, roles }, { sub: 'alice', roles: ['user'] });
  });

  test(`${alg}: a token signed by another key, an expired one, or one without exp is refused`, async () => {
    const { pub } = pair(type);
    const other = pair(type);
    const v = createVerifier(loadConfig({ JWT_PUBLIC_KEY: pub, DATA_DIR: '/tmp' }));
    await assert.rejects(v.verify(await sign(alg, other.priv)), AuthError);
    await assert.rejects(v.verify(await sign(alg, other.priv, {}, '-1m')), AuthError);
    const noExp = await new SignJWT({}).setProtectedHeader({ alg }).setSubject('a').sign(await importPKCS8(other.priv, alg));
    await assert.rejects(v.verify(noExp), AuthError);
  });
}

test('the algorithm is pinned: an HS256 token is refused where ES256 is configured', async () => {
  const { pub } = pair('ec');
  const v = createVerifier(loadConfig({ JWT_PUBLIC_KEY: pub, DATA_DIR: '/tmp' }));
  const hs = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('a').setExpirationTime('1h').sign(new TextEncoder().encode(pub));
  await assert.rejects(v.verify(hs), AuthError);
});

test('JWT_ISSUER and JWT_AUDIENCE are checked when set', async () => {
  const secret = 'issuer-audience-test-secret-0123456789';
  const v = createVerifier(loadConfig({ JWT_SECRET: secret, JWT_ISSUER: 'idp', JWT_AUDIENCE: 'chat', DATA_DIR: '/tmp' }));
  const key = new TextEncoder().encode(secret);
  const good = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('a').setIssuer('idp').setAudience('chat').setExpirationTime('1h').sign(key);
  const wrong = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('a').setIssuer('evil').setAudience('chat').setExpirationTime('1h').sign(key);
  assert.equal((await v.verify(good)).sub, 'a');
  await assert.rejects(v.verify(wrong), AuthError);
});
