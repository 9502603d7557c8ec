/**
 * A verify-pool worker (piscina): verifies a batch of ES256/RS256 tokens synchronously against
 * the key it was started with. Nothing crosses back but plain results: errors are strings, so
 * no class identity has to survive structured cloning.
 */
import { createPublicKey } from 'node:crypto';
import { workerData } from 'piscina';
import { AuthError, verifyToken, type TokenCheck } from './verify-token.ts';
import type { VerifyResult, VerifyWorkerData } from './verify-pool.ts';

const data = workerData as VerifyWorkerData;
const check: TokenCheck = {
  algorithm: data.algorithm,
  key: createPublicKey(data.publicKeyPem),
  issuer: data.issuer,
  audience: data.audience,
};

export default function verifyBatch(tokens: string[]): VerifyResult[] {
  const nowS = Math.floor(Date.now() / 1000);
  return tokens.map((token) => {
    try {
      return verifyToken(token, check, nowS);
    } catch (e) {
      return { error: e instanceof AuthError ? e.message : 'invalid token' };
    }
  });
}
