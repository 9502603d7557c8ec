/** HTTP routes authenticate bearer tokens: bad tokens are 401, an overloaded verifier is 503. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatError } from '../../protocol/errors.ts';
import { authenticate } from '../../src/http/routes.ts';
import { AuthError, type Verifier } from '../../src/auth/auth.ts';
import { VerifierUnavailableError } from '../../src/auth/verify-pool.ts';

const failing = (e: Error): Verifier => ({ verify: async () => { throw e; } }) as unknown as Verifier;

async function statusOf(v: Verifier, auth = 'Bearer x.y.z'): Promise<{ status: number; extra: Record<string, unknown> }> {
  try {
    await authenticate(v, auth, '');
  } catch (e) {
    assert.ok(e instanceof ChatError);
    return { status: e.code, extra: { ...e.extra } };
  }
  throw new Error('authenticated');
}

test('no token → 401; a refused token → 401; a full verification queue → 503 with retryMs', async () => {
  assert.equal((await statusOf(failing(new AuthError('expired')), '')).status, 401);
  assert.equal((await statusOf(failing(new AuthError('expired')))).status, 401);
  assert.deepEqual(await statusOf(failing(new VerifierUnavailableError('verification queue full', 250))), { status: 503, extra: { retryMs: 250 } });
});
