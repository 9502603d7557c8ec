/**
 * Token signers for the connection-storm scenario: HS256 (target.ts `syncSigner`, the server's
 * secret) or ES256 with a key pair generated per run, whose public key the spawned server gets
 * as JWT_PUBLIC_KEY. Synchronous node:crypto, checked against jose's jwtVerify once.
 */
import { createPublicKey, generateKeyPairSync, sign as signBytes } from 'node:crypto';
import { jwtVerify } from 'jose';
import { syncSigner, type SyncSigner } from './target.ts';

const TOKEN_TTL_S = 3600;

export type BenchAlgorithm = 'HS256' | 'ES256';

export interface Es256Keys {
  /** SPKI PEM with `\n` escaped: the form JWT_PUBLIC_KEY accepts in one env line. */
  publicKeyEnv: string;
  sign: SyncSigner;
}

export async function es256Keys(): Promise<Es256Keys> {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const header = Buffer.from(JSON.stringify({ alg: 'ES256' })).toString('base64url');
  const sign: SyncSigner = (sub, roles) => {
    const nowS = Math.floor(Date.now() / 1000);
    const claims = Buffer.from(JSON.stringify({ roles, sub, iat: nowS, exp: nowS + TOKEN_TTL_S })).toString('base64url');
    const input = `${header}.${claims}`;
    // JWS wants r‖s (IEEE P1363), not node's default DER.
    return `${input}.${signBytes('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  };
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const { payload } = await jwtVerify(sign('bench-signer-check', ['user']), createPublicKey(pem), { algorithms: ['ES256'] });
  if (payload.sub !== 'bench-signer-check') throw new Error('es256Keys: jose does not accept our token');
  return { publicKeyEnv: pem.replace(/\n/g, '\\n'), sign };
}

/** The signer for `alg`, and the server env that makes the server verify it. */
export async function signerFor(alg: BenchAlgorithm, hsSecret: string): Promise<{ sign: SyncSigner; serverEnv: Record<string, string> }> {
  if (alg === 'HS256') return { sign: await syncSigner(new TextEncoder().encode(hsSecret)), serverEnv: { JWT_SECRET: hsSecret } };
  const keys = await es256Keys();
  // An empty JWT_SECRET reads as unset: spawnTarget always passes one.
  return { sign: keys.sign, serverEnv: { JWT_SECRET: '', JWT_PUBLIC_KEY: keys.publicKeyEnv, JWT_ALGORITHM: 'ES256' } };
}
