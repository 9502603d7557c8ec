/**
 * A real Web Push endpoint on loopback for the notification tests (no mock): it plays both the
 * push service and the browser. subscribe() makes a subscription the way a browser does — a
 * P-256 key pair and a 16-byte auth secret (node:crypto) — and keeps its private key; every
 * POST to it is checked and decrypted here:
 *   - VAPID (RFC 8292): `Authorization: vapid t=<JWT>, k=<public key>`; the JWT is ES256, signed
 *     by k, k is the node's NOTIFY_VAPID_PUBLIC_KEY, `aud` is the endpoint's origin, `exp` within
 *     24 h, `sub` the configured subject;
 *   - the payload (RFC 8291, `Content-Encoding: aes128gcm`, RFC 8188 framing): the ECDH secret of
 *     the subscription's private key and the sender's key (the header's keyid), HKDF with the auth
 *     secret, AES-128-GCM, one record with its 0x02 padding delimiter.
 * A subscription marked `gone` is answered 410 (the push service's "unsubscribed").
 */
import assert from 'node:assert/strict';
import { createDecipheriv, createECDH, createPublicKey, type ECDH, hkdfSync, randomBytes, verify } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PushReceived {
  sub: string;
  status: number;
  at: number;
  ttl: number;
  payload: { id: string; type: string; title: string; body: string; conversations: number; messages: number; conv?: string; createdAt: number };
}

export interface BrowserSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

interface Held {
  ecdh: ECDH;
  auth: Buffer;
}

/** Decrypts an RFC 8291 aes128gcm body with the subscription's private key and auth secret. */
export function decryptAes128gcm(body: Buffer, ecdh: ECDH, auth: Buffer): Buffer {
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20];
  const asPublic = body.subarray(21, 21 + idlen);
  const ct = body.subarray(21 + idlen);
  assert.equal(idlen, 65, 'keyid: the sender\'s uncompressed P-256 key');
  assert.ok(ct.length <= rs, 'one record');
  const shared = ecdh.computeSecret(asPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), ecdh.getPublicKey(), asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', shared, auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const d = createDecipheriv('aes-128-gcm', cek, nonce);
  d.setAuthTag(ct.subarray(ct.length - 16));
  const padded = Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  assert.equal(padded[end], 2, 'the last record\'s padding delimiter');
  return padded.subarray(0, end);
}

/** Checks `Authorization: vapid t=…, k=…` (RFC 8292) for a POST to `endpoint`. */
export function verifyVapid(header: string, endpoint: string, publicKey: string, subject: string): void {
  const m = /^vapid t=([A-Za-z0-9_.-]+), ?k=([A-Za-z0-9_-]+)$/.exec(header);
  assert.ok(m, `vapid authorization header: ${header}`);
  const [, jwt, k] = m;
  assert.equal(k, publicKey, 'k is the node\'s VAPID public key');
  const [h, p, s] = jwt.split('.');
  assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url').toString()), { typ: 'JWT', alg: 'ES256' });
  const kb = Buffer.from(k, 'base64url');
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: kb.subarray(1, 33).toString('base64url'), y: kb.subarray(33, 65).toString('base64url') }, format: 'jwk' });
  assert.ok(verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url')), 'the JWT is signed by k');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as { aud: string; exp: number; sub: string };
  assert.equal(claims.aud, new URL(endpoint).origin);
  assert.equal(claims.sub, subject);
  const now = Date.now() / 1000;
  assert.ok(claims.exp > now && claims.exp <= now + 24 * 3600 + 60, `exp within 24 h: ${claims.exp}`);
}

export class PushEndpoint {
  readonly got: PushReceived[] = [];
  /** Requests that failed a check (bad VAPID, undecryptable), answered 400. */
  readonly bad: string[] = [];
  /** Subscriptions answered 410 Gone. */
  readonly gone = new Set<string>();
  private readonly held = new Map<string, Held>();
  private server!: Server;
  url = '';

  constructor(private readonly vapid: { publicKey: string; subject: string }) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const id = (req.url ?? '').replace(/^\/push\//, '');
        const h = this.held.get(id);
        if (req.method !== 'POST' || !h) return void res.writeHead(404).end();
        if (this.gone.has(id)) {
          this.got.push({ sub: id, status: 410, at: Date.now(), ttl: Number(req.headers.ttl), payload: undefined as never });
          return void res.writeHead(410).end();
        }
        try {
          assert.equal(req.headers['content-encoding'], 'aes128gcm');
          assert.ok(Number(req.headers.ttl) > 0, 'a TTL header');
          verifyVapid(String(req.headers.authorization ?? ''), `${this.url}/push/${id}`, this.vapid.publicKey, this.vapid.subject);
          const payload = JSON.parse(decryptAes128gcm(Buffer.concat(chunks), h.ecdh, h.auth).toString()) as PushReceived['payload'];
          this.got.push({ sub: id, status: 201, at: Date.now(), ttl: Number(req.headers.ttl), payload });
          res.writeHead(201).end();
        } catch (e) {
          this.bad.push(String(e));
          res.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }

  /** A new subscription as a browser's PushSubscription.toJSON() gives it; `id` names it here. */
  subscribe(id: string): BrowserSubscription {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = randomBytes(16);
    this.held.set(id, { ecdh, auth });
    return { endpoint: `${this.url}/push/${id}`, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } };
  }

  of(id: string): PushReceived[] {
    return this.got.filter((g) => g.sub === id);
  }
}
