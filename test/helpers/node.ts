/**
 * Starts a real node as a child process for end-to-end tests. With DATABASE_URL set (CI) each
 * node gets its own schema; without it, its own embedded PGlite under a temp DATA_DIR.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';

const root = new URL('../../', import.meta.url).pathname;
export const testSecret = 'test-secret-that-is-long-enough-for-hs256';

export interface NodeOptions {
  env?: Record<string, string>;
  dataDir?: string;
  schema?: string;
  /** The directory the node runs from (default: this checkout); the image test assembles another. */
  root?: string;
}

export class TestNode {
  child!: ChildProcess;
  log = '';
  readonly port: number;
  readonly dataDir: string;
  readonly schema: string;
  readonly env: Record<string, string>;
  private readonly root: string;

  constructor(opts: NodeOptions = {}) {
    this.root = opts.root ?? root;
    // Below Linux's ephemeral range (32768+), so a busy client side cannot have taken it.
    this.port = 12000 + Math.floor(Math.random() * 20000);
    this.dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'chat-test-'));
    this.schema = opts.schema ?? opts.env?.DATABASE_SCHEMA ?? `t_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    this.env = { ...opts.env };
  }

  /** Exit code and signal once the process has exited. */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return resolve({ code: this.child.exitCode, signal: this.child.signalCode });
      this.child.once('exit', (code, signal) => resolve({ code, signal }));
    });
  }

  /** Whether the node serves wss:// and https:// (TLS_CERT_FILE given). */
  get tls(): boolean {
    return Boolean(this.env.TLS_CERT_FILE);
  }

  get url(): string {
    return `${this.tls ? 'wss' : 'ws'}://127.0.0.1:${this.port}/v1/ws`;
  }

  get http(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /**
   * A small HTTP call to this node, over TLS trusting only the node's own certificate (fetch
   * cannot be given a CA in Node 20): status and body text.
   */
  async fetch(path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; text: string }> {
    if (!this.tls) {
      const r = await fetch(`${this.http}${path}`, init);
      return { status: r.status, text: await r.text() };
    }
    const ca = readFileSync(this.env.TLS_CERT_FILE, 'utf8');
    return new Promise((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: this.port, path, method: init.method ?? 'GET', headers: init.headers, ca, servername: 'localhost' }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.once('error', reject).end(init.body);
    });
  }

  async start(timeoutMs = 60_000): Promise<this> {
    this.log = '';
    // NATS_URL reaches a node only when its test asks for cluster mode: test runs export it for
    // the cluster suites, and single-node suites must not join one cluster by accident.
    const { NATS_URL: _nats, ...inherited } = process.env;
    this.child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: this.root,
      env: {
        ...inherited,
        PORT: String(this.port),
        HOST: '127.0.0.1',
        DATA_DIR: this.dataDir,
        DATABASE_SCHEMA: this.schema,
        JWT_SECRET: testSecret,
        LOG_LEVEL: 'warn',
        SHARD_THREADS: '2',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d) => (this.log += d));
    this.child.stderr!.on('data', (d) => (this.log += d));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`node exited ${this.child.exitCode}: ${this.log}`);
      try {
        if ((await this.fetch('/readyz')).status === 200) return this;
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`node not ready in ${timeoutMs} ms: ${this.log}`);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return resolve(this.child.exitCode);
      this.child.once('exit', (code) => resolve(code));
      this.child.kill(signal);
    });
  }
}

export async function token(sub: string, roles: string[] = ['user'], opts: { secret?: string; expSec?: number } = {}): Promise<string> {
  return new SignJWT({ roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (opts.expSec ?? 3600))
    .sign(new TextEncoder().encode(opts.secret ?? testSecret));
}

export async function connectUsers(node: TestNode, a: string, b: string): Promise<void> {
  const r = await node.fetch(`/api/v1/connections/${a}/${b}`, { method: 'PUT', headers: { authorization: `Bearer ${await token('ops', ['admin'])}` } });
  if (r.status !== 204) throw new Error(`connect ${a} ${b}: ${r.status} ${r.text}`);
}

let uniq = 0;
/** A user id unique to this test run. */
export function uid(name: string): string {
  return `${name}-${process.pid}-${++uniq}`;
}
