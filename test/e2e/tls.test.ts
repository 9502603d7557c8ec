/**
 * WSS and HTTPS without a proxy (TLS_CERT_FILE / TLS_KEY_FILE / TLS_KEY_PASSPHRASE_FILE): a
 * certificate made by `openssl` here, a real TLS handshake verified against it, the JWT checked
 * at the upgrade, a DM round trip over wss://; and files that are missing, garbage, of another
 * key or locked by another passphrase stop the node with a message naming the flag.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import WebSocket from 'ws';
import { Packr, unpack } from 'msgpackr';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { TestNode, token, uid } from '../helpers/node.ts';
import { makeCertificate } from '../helpers/tls.ts';

const packr = new Packr({ useRecords: false });

/** A wss:// socket that trusts only `ca`; resolves with the first frame (hello) or the refusal status. */
function openWss(url: string, ca: string, onFrame: (f: Record<string, unknown>) => void): Promise<{ ws: WebSocket; hello?: Record<string, unknown>; status?: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { ca, perMessageDeflate: false });
    ws.once('unexpected-response', (_req, res) => resolve({ ws, status: res.statusCode }));
    ws.once('error', reject);
    ws.on('message', (data: Buffer) => {
      const f = unpack(data) as Record<string, unknown>;
      if (f.t === 'hello') resolve({ ws, hello: f });
      else onFrame(f);
    });
  });
}

describe('TLS on the edge', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tls-'));
  const files = makeCertificate(dir);
  const ca = readFileSync(files.cert, 'utf8');
  // The passphrase-locked key: the harder path, and the plain key is checked by the config tests.
  const node = new TestNode({ env: { TLS_CERT_FILE: files.cert, TLS_KEY_FILE: files.lockedKey, TLS_KEY_PASSPHRASE_FILE: files.passFile } });

  before(() => node.start());
  after(() => node.kill('SIGTERM'));

  test('the handshake verifies against the certificate, and HTTPS serves /readyz', async () => {
    const socket = connect({ host: '127.0.0.1', port: node.port, ca, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    assert.equal(socket.authorized, true, String(socket.authorizationError));
    assert.match(String(socket.getProtocol()), /^TLSv1\.[23]$/);
    socket.destroy();
    const status = await new Promise<number>((resolve, reject) => {
      request({ host: '127.0.0.1', port: node.port, path: '/readyz', ca, servername: 'localhost' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).once('error', reject).end();
    });
    assert.equal(status, 200);
  });

  test('plain HTTP on the TLS port gets no answer', async () => {
    await assert.rejects(fetch(`http://127.0.0.1:${node.port}/readyz`, { signal: AbortSignal.timeout(3000) }));
  });

  test('wss: a refused token is 401 at the upgrade; a DM round trip between two users', async () => {
    const base = `wss://127.0.0.1:${node.port}/v1/ws`;
    const refused = await openWss(`${base}?token=not-a-jwt`, ca, () => {});
    assert.equal(refused.status, 401);

    const [a, b] = [uid('tls-a'), uid('tls-b')];
    const put = (await node.fetch(`/api/v1/connections/${a}/${b}`, { method: 'PUT', headers: { authorization: `Bearer ${await token('ops', ['admin'])}` } })).status;
    assert.ok(put >= 200 && put < 300, `connections: ${put}`);

    const framesB: Record<string, unknown>[] = [];
    const framesA: Record<string, unknown>[] = [];
    const sa = await openWss(`${base}?token=${await token(a)}`, ca, (f) => framesA.push(f));
    const sb = await openWss(`${base}?token=${await token(b)}`, ca, (f) => framesB.push(f));
    assert.equal(sa.hello?.user, a);
    const until = async <T>(what: string, f: () => T | undefined): Promise<T> => {
      for (let i = 0; i < 200; i++) {
        const v = f();
        if (v !== undefined) return v;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`timed out: ${what}`);
    };
    // Requests are retried on 503 as a client does (the node may still be taking its shards).
    const ask = async (ws: WebSocket, frames: Record<string, unknown>[], frame: Record<string, unknown>, rid: number): Promise<Record<string, unknown>> => {
      for (let attempt = 0; ; attempt++) {
        const r = attempt * 1000 + rid;
        ws.send(packr.pack({ ...frame, rid: r }));
        const reply = await until(`reply ${r}`, () => frames.find((f) => f.rid === r));
        if (reply.t !== 'err' || typeof reply.retryMs !== 'number' || attempt > 20) return reply;
        await new Promise((res) => setTimeout(res, reply.retryMs as number));
      }
    };
    const opened = await ask(sa.ws, framesA, { t: 'open', with: b }, 1);
    const conv = (opened.conv as { id: string }).id;
    assert.equal((await ask(sb.ws, framesB, { t: 'join', conv }, 2)).t, 'conv');
    assert.equal((await ask(sa.ws, framesA, { t: 'send', conv, cmid: 'tls-1', body: 'over wss' }, 3)).t, 'ack');
    const msg = await until('the message at b', () => framesB.find((f) => f.t === 'msg' && f.cmid === 'tls-1'));
    assert.equal(msg.body, 'over wss');
    sa.ws.close();
    sb.ws.close();
  });
});

describe('TLS flags are checked at start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tls-bad-'));
  const files = makeCertificate(dir);
  const other = makeCertificate(mkdtempSync(join(tmpdir(), 'tls-other-')));
  const garbage = join(dir, 'garbage.pem');
  writeFileSync(garbage, 'not a certificate\n');
  const wrongPass = join(dir, 'wrong-pass.txt');
  writeFileSync(wrongPass, 'wrong\n');

  const refusals: [string, Record<string, string>, RegExp][] = [
    ['a cert without a key', { TLS_CERT_FILE: files.cert }, /TLS_CERT_FILE and TLS_KEY_FILE go together/],
    ['a missing cert file', { TLS_CERT_FILE: join(dir, 'absent.pem'), TLS_KEY_FILE: files.key }, /TLS_CERT_FILE=.*absent\.pem: cannot read it \(ENOENT\)/],
    ['a cert that is not PEM', { TLS_CERT_FILE: garbage, TLS_KEY_FILE: files.key }, /TLS_CERT_FILE=.*: not a PEM certificate/],
    ['a key that is not PEM', { TLS_CERT_FILE: files.cert, TLS_KEY_FILE: garbage }, /TLS_KEY_FILE=.*: not a PEM private key/],
    ['the key of another certificate', { TLS_CERT_FILE: files.cert, TLS_KEY_FILE: other.key }, /TLS_KEY_FILE=.* is not the key of TLS_CERT_FILE/],
    ['a locked key without its passphrase file', { TLS_CERT_FILE: files.cert, TLS_KEY_FILE: files.lockedKey }, /TLS_KEY_FILE=.*: not a PEM private key/],
    ['a locked key with the wrong passphrase', { TLS_CERT_FILE: files.cert, TLS_KEY_FILE: files.lockedKey, TLS_KEY_PASSPHRASE_FILE: wrongPass }, /TLS_KEY_FILE=.*TLS_KEY_PASSPHRASE_FILE/],
  ];
  for (const [what, env, message] of refusals) {
    test(`${what} is refused naming the flag`, () => {
      assert.throws(() => loadConfig(env), (e: unknown) => e instanceof ConfigError && message.test(e.message));
    });
  }

  test('the plain key and the locked key with its passphrase are accepted', () => {
    assert.equal(loadConfig({ TLS_CERT_FILE: files.cert, TLS_KEY_FILE: files.key }).tls?.passphrase, undefined);
    assert.equal(loadConfig({ TLS_CERT_FILE: files.cert, TLS_KEY_FILE: files.lockedKey, TLS_KEY_PASSPHRASE_FILE: files.passFile }).tls?.passphrase, 'correct horse battery staple');
  });

  test('a node given a bad file exits at start with the message', async () => {
    const node = new TestNode({ env: { TLS_CERT_FILE: files.cert, TLS_KEY_FILE: other.key } });
    await assert.rejects(node.start(30_000), /exited 78: refusing to start: TLS_KEY_FILE=.* is not the key of TLS_CERT_FILE/s);
  });
});
