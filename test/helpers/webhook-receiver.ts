/**
 * A real webhook receiver on loopback for the notification tests (no mock): verifies every
 * request's signature with the order-event intake's verifySignature, checks the Idempotency-Key
 * header against the body's id, records every delivery, and answers 503 while told to fail (400 while told to refuse).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySignature } from '../../src/integrations/order-events.ts';

export interface Received {
  key: string;
  status: number;
  at: number;
  body: { id: string; user: string; conversations: number; messages: number; items: { conv: string; messages: number; firstSeq: number; lastSeq: number }[]; text: string };
}

export class WebhookReceiver {
  readonly secret = `notify-test-secret-${Math.random().toString(36).slice(2)}`;
  readonly got: Received[] = [];
  readonly badSignatures: string[] = [];
  /** Users whose notifications are answered 503. */
  readonly failing = new Set<string>();
  /** Users whose notifications are refused with 400 (retrying cannot help). */
  readonly refusing = new Set<string>();
  /** Users whose next N notifications are answered 503. */
  readonly failTimes = new Map<string, number>();
  /** Each answer waits this long (overlapping deliveries in flight). */
  answerDelayMs = 0;
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        try {
          verifySignature(String(req.headers['x-signature'] ?? ''), raw, this.secret, 60_000, Date.now());
        } catch (e) {
          this.badSignatures.push(String(e));
          return void res.writeHead(401).end();
        }
        const body = JSON.parse(raw.toString()) as Received['body'];
        assert.equal(req.headers['idempotency-key'], body.id, 'the header and the body carry the same key');
        const left = this.failTimes.get(body.user) ?? 0;
        if (left > 0) this.failTimes.set(body.user, left - 1);
        const status = this.refusing.has(body.user) ? 400 : this.failing.has(body.user) || left > 0 ? 503 : 200;
        setTimeout(() => {
          this.got.push({ key: body.id, status, at: Date.now(), body });
          res.writeHead(status).end();
        }, this.answerDelayMs);
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }

  of(user: string): Received[] {
    return this.got.filter((g) => g.body.user === user);
  }

  accepted(user: string): Received[] {
    return this.of(user).filter((g) => g.status === 200);
  }
}
