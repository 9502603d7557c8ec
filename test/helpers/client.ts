/**
 * A test client speaking only PROTOCOL.md (binary msgpack frames over `ws`). Frames are
 * buffered; `next`/`waitFor` consume them in arrival order, so tests read like transcripts.
 */
import WebSocket from 'ws';
import { Packr, unpack } from 'msgpackr';

const packr = new Packr({ useRecords: false });
export type Frame = Record<string, any> & { t: string };

export class TestClient {
  private buffer: Frame[] = [];
  private waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  private nextRid = 1;
  readonly closed: Promise<{ code: number; reason: string }>;
  hello!: Frame;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const f = unpack(data) as Frame;
      const i = this.waiters.findIndex((w) => w.pred(f));
      if (i >= 0) this.waiters.splice(i, 1)[0].resolve(f);
      else this.buffer.push(f);
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static connect(url: string, token?: string): Promise<TestClient> {
    const full = token ? `${url}?token=${encodeURIComponent(token)}` : url;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(full, { perMessageDeflate: false, ...(process.env.HS_TIMEOUT ? { handshakeTimeout: Number(process.env.HS_TIMEOUT) } : {}) });
      const client = new TestClient(ws);
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
      ws.once('open', () => {
        client.waitFor((f) => f.t === 'hello', 5000).then((h) => {
          client.hello = h;
          resolve(client);
        }, reject);
      });
    });
  }

  send(frame: Record<string, unknown>): void {
    this.ws.send(packr.pack(frame));
  }

  sendRaw(data: Buffer | string, binary = true): void {
    this.ws.send(data, { binary });
  }

  /** Sends with a fresh rid and resolves with the frame carrying that rid (reply or err). */
  async request(frame: Record<string, unknown>, timeoutMs = 5000): Promise<Frame> {
    const rid = this.nextRid++;
    this.send({ ...frame, rid });
    return this.waitFor((f) => f.rid === rid, timeoutMs);
  }

  /**
   * `request`, sent again after `retryMs` while the answer is a transient `err` (PROTOCOL.md,
   * Errors), as a real client does; for setup steps a test does not measure. Same rid rules.
   */
  async requestRetrying(frame: Record<string, unknown>, timeoutMs = 20_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.request(frame, Math.max(1, deadline - Date.now()));
      if (r.t !== 'err' || typeof r.retryMs !== 'number' || Date.now() + r.retryMs >= deadline) return r;
      await new Promise((resolve) => setTimeout(resolve, r.retryMs as number));
    }
  }

  waitFor(pred: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const i = this.buffer.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.buffer.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const waiter = { pred, resolve: (f: Frame) => (clearTimeout(timer), resolve(f)) };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`timed out waiting for a frame; buffered: ${JSON.stringify(this.buffer.slice(-5))}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Frames received so far and not consumed. */
  drain(pred: (f: Frame) => boolean = () => true): Frame[] {
    const out = this.buffer.filter(pred);
    this.buffer = this.buffer.filter((f) => !pred(f));
    return out;
  }

  close(): void {
    this.ws.close();
  }
}
