/**
 * ES256 at the upgrade through the verify pool: valid tokens get a socket and `hello`, bad ones
 * 401, and an upgrade storm beyond JWT_VERIFY_QUEUE_MAX gets HTTP 503 JSON — the node stays up.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, importPKCS8 } from 'jose';
import WebSocket from 'ws';
import { TestClient } from '../helpers/client.ts';
import { TestNode, uid } from '../helpers/node.ts';

const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingKey = await importPKCS8(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'ES256');
const sign = (sub: string, expS = 3600) =>
  new SignJWT({ roles: ['user'] }).setProtectedHeader({ alg: 'ES256' }).setSubject(sub).setExpirationTime(Math.floor(Date.now() / 1000) + expS).sign(signingKey);

const node = new TestNode({
  env: {
    JWT_SECRET: '', // TestNode's default HS256 secret off: the public key decides
    JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString().replace(/\n/g, '\\n'),
    JWT_VERIFY_THREADS: '1',
    JWT_VERIFY_QUEUE_MAX: '1',
    SHARD_THREADS: '1',
  },
});
before(() => node.start());
after(() => node.kill('SIGTERM'));

/** 101 with `hello`, or the refused upgrade's status and JSON body. */
function upgrade(url: string): Promise<{ status: number; body?: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('message', () => (ws.terminate(), resolve({ status: 101 })));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d) => (text += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    ws.once('error', reject);
  });
}

test('a valid ES256 token connects and gets hello; expired and foreign ones get 401', async () => {
  const alice = uid('alice');
  const c = await TestClient.connect(node.url, await sign(alice));
  assert.equal(c.hello.user, alice);
  c.close();
  assert.deepEqual((await upgrade(`${node.url}?token=${await sign('late', -60)}`)).status, 401);
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const foreign = await new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setSubject('eve').setExpirationTime('1h')
    .sign(await importPKCS8(other.export({ type: 'pkcs8', format: 'pem' }).toString(), 'ES256'));
  assert.equal((await upgrade(`${node.url}?token=${foreign}`)).status, 401);
});

test('upgrades beyond JWT_VERIFY_QUEUE_MAX get 503 {code, retryMs}; the rest connect and the node keeps serving', async () => {
  const tokens = await Promise.all(Array.from({ length: 200 }, (_, i) => sign(uid(`storm${i}`))));
  const results = await Promise.all(tokens.map((t) => upgrade(`${node.url}?token=${t}`)));
  const refused = results.filter((r) => r.status === 503);
  assert.ok(refused.length > 0, 'a queue of 1 under 200 simultaneous upgrades overflows');
  assert.ok(results.some((r) => r.status === 101), 'some upgrades still succeed');
  assert.deepEqual(results.filter((r) => r.status !== 503 && r.status !== 101), []);
  assert.equal(refused[0].body?.code, 503);
  assert.ok(typeof refused[0].body?.retryMs === 'number' && refused[0].body.retryMs > 0);
  assert.equal((await upgrade(`${node.url}?token=${await sign(uid('after'))}`)).status, 101);
  assert.equal((await fetch(`${node.http}/healthz`)).status, 200);
});
