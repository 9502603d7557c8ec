/** The ES256 verify pool: worker threads accept good tokens, refuse bad ones, and a full queue refuses at once. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, importPKCS8 } from 'jose';
import { loadConfig } from '../../src/config.ts';
import { AuthError, createVerifier, VerifierUnavailableError, type Verifier } from '../../src/auth/auth.ts';
import { VerifyPool } from '../../src/auth/verify-pool.ts';

const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const signingKey = await importPKCS8(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'ES256');
const sign = (sub: string, exp: string | number = '1h') =>
  new SignJWT({ roles: ['rider'] }).setProtectedHeader({ alg: 'ES256' }).setSubject(sub).setExpirationTime(exp).sign(signingKey);

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers) await close();
});

function pooled(env: Record<string, string> = {}): Verifier {
  const v = createVerifier(loadConfig({ JWT_PUBLIC_KEY: publicKeyPem, DATA_DIR: '/tmp', JWT_VERIFY_THREADS: '2', ...env }));
  closers.push(() => v.close());
  return v;
}

test('with JWT_PUBLIC_KEY the verifier runs in the pool and accepts valid ES256 tokens', async () => {
  const v = pooled();
  assert.equal(v.mode, 'pool');
  assert.equal(v.algorithm, 'ES256');
  const subs = Array.from({ length: 100 }, (_, i) => `rider-${i}`);
  const principals = await Promise.all(subs.map(async (sub) => v.verify(await sign(sub))));
  assert.deepEqual(principals.map(({ sub, roles }) => ({ sub, roles })), subs.map((sub) => ({ sub, roles: ['rider'] })));
  for (const p of principals) assert.ok(p.exp > Date.now() / 1000, 'the principal carries the token\'s exp');
});

test('the pool refuses expired tokens, foreign signatures and garbage with AuthError, in the same batch as good ones', async () => {
  const v = pooled();
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const foreign = await new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setSubject('eve').setExpirationTime('1h')
    .sign(await importPKCS8(other.export({ type: 'pkcs8', format: 'pem' }).toString(), 'ES256'));
  const results = await Promise.allSettled([
    v.verify(await sign('late', Math.floor(Date.now() / 1000) - 60)),
    v.verify(foreign),
    v.verify('not.a.jwt'),
    v.verify(await sign('fine')),
  ]);
  for (const r of results.slice(0, 3)) assert.ok(r.status === 'rejected' && r.reason instanceof AuthError, String(r.status === 'rejected' && r.reason));
  const fine = results[3];
  assert.ok(fine.status === 'fulfilled');
  assert.deepEqual({ sub: fine.value.sub, roles: fine.value.roles }, { sub: 'fine', roles: ['rider'] });
});

test('a full queue rejects at once with VerifierUnavailableError (retryMs) and the queued tokens still get their answer', async () => {
  const pool = new VerifyPool({ threads: 1, queueMax: 2, worker: { algorithm: 'ES256', publicKeyPem } });
  closers.push(() => pool.close());
  const tokens = await Promise.all([sign('a'), sign('b'), sign('c'), sign('d')]);
  const settled = await Promise.allSettled(tokens.map((t) => pool.verify(t)));
  assert.deepEqual(settled.slice(0, 2).map((r) => r.status === 'fulfilled' && r.value.sub), ['a', 'b']);
  for (const r of settled.slice(2)) {
    assert.ok(r.status === 'rejected' && r.reason instanceof VerifierUnavailableError, 'beyond queueMax: refused');
    assert.ok(r.reason.retryMs > 0);
  }
  assert.equal(pool.depth, 0);
  assert.equal((await pool.verify(tokens[3])).sub, 'd', 'once answered, the queue takes tokens again');
});

test('JWT_VERIFY_THREADS=0 verifies ES256 inline; HS256 is always inline', async () => {
  const inline = createVerifier(loadConfig({ JWT_PUBLIC_KEY: publicKeyPem, DATA_DIR: '/tmp', JWT_VERIFY_THREADS: '0' }));
  assert.equal(inline.mode, 'inline');
  assert.equal((await inline.verify(await sign('x'))).sub, 'x');
  await assert.rejects(inline.verify(await sign('y', Math.floor(Date.now() / 1000) - 1)), AuthError);
  assert.equal(createVerifier(loadConfig({ JWT_SECRET: 'hs-secret-hs-secret-hs-secret-hs', DATA_DIR: '/tmp' })).mode, 'inline');
});

test('a key that does not fit the pinned algorithm stops the node at start', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  assert.throws(() => createVerifier(loadConfig({ JWT_PUBLIC_KEY: rsa, JWT_ALGORITHM: 'ES256', DATA_DIR: '/tmp' })), AuthError);
  assert.throws(() => createVerifier(loadConfig({ JWT_PUBLIC_KEY: publicKeyPem, JWT_ALGORITHM: 'RS256', DATA_DIR: '/tmp' })), AuthError);
});
