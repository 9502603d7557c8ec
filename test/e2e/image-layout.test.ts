/**
 * The Docker image's layout, proven without a Docker engine (none runs on our machines): the
 * files the Dockerfile's COPY lines name are assembled into a temporary folder stage by stage,
 * the dependency stage runs the same `npm ci --omit=dev`, and the node is started from the
 * result as the image's CMD starts it. It must serve /readyz, the web chat and the console (both
 * bundled at runtime from what was copied), a DM round trip and /metrics; and the runtime
 * node_modules must hold no bench or test package.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { TestClient } from '../helpers/client.ts';
import { TestNode, token, uid } from '../helpers/node.ts';
import { until } from '../helpers/until.ts';

const root = new URL('../../', import.meta.url).pathname;

interface Copy {
  from?: string;
  sources: string[];
  dest: string;
}

/** The COPY instructions of each stage, in order (no ADD, no globs: the test refuses them). */
export function dockerStages(dockerfile: string): Copy[][] {
  const stages: Copy[][] = [];
  const lines = dockerfile.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim());
  for (const line of lines) {
    if (/^FROM\s/i.test(line)) stages.push([]);
    assert.ok(!/^ADD\s/i.test(line), `ADD is not understood by this test: ${line}`);
    const m = /^COPY\s+(.*)$/i.exec(line);
    if (!m) continue;
    const words = m[1].split(/\s+/);
    const from = words[0].startsWith('--from=') ? words.shift()!.slice('--from='.length) : undefined;
    assert.ok(words.every((w) => !w.startsWith('--') && !/[*?]/.test(w)), `unsupported COPY: ${line}`);
    stages.at(-1)!.push({ from, sources: words.slice(0, -1), dest: words.at(-1)! });
  }
  return stages;
}

/** Copies `c`'s sources (from the checkout, or from a built stage's folder) into `into` (WORKDIR). */
function applyCopy(c: Copy, into: string, stageDirs: Map<string, string>): void {
  for (const src of c.sources) {
    const base = c.from ? stageDirs.get(c.from) : root;
    assert.ok(base, `COPY --from=${c.from}: unknown stage`);
    const from = c.from ? join(base, src.replace(/^\/app\/?/, '')) : join(base, src);
    assert.ok(existsSync(from), `COPY source ${src} is missing`);
    const to = c.dest.endsWith('/') ? join(into, c.dest, src.split('/').at(-1)!) : join(into, c.dest);
    mkdirSync(dirname(to), { recursive: true });
    if (c.from) renameSync(from, to); // node_modules: moved, not copied (hundreds of MB)
    else cpSync(from, to, { recursive: true });
  }
}

describe('the Docker image layout', { timeout: 600_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'image-'));
  const depsDir = join(work, 'deps');
  const appDir = join(work, 'app');
  let node: TestNode;

  before(() => {
    const stages = dockerStages(readFileSync(join(root, 'Dockerfile'), 'utf8'));
    assert.equal(stages.length, 2, 'a dependency stage and the runtime');
    mkdirSync(depsDir);
    for (const c of stages[0]) applyCopy(c, depsDir, new Map());
    execFileSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], { cwd: depsDir, stdio: 'pipe', timeout: 480_000 });
    mkdirSync(appDir);
    for (const c of stages[1]) applyCopy(c, appDir, new Map([['deps', depsDir]]));
  });
  after(async () => {
    await node?.kill('SIGTERM');
    rmSync(work, { recursive: true, force: true });
  });

  test('the runtime holds no bench or test package', () => {
    for (const dev of ['ws', 'socket.io', 'socket.io-client', 'redis', '@socket.io/redis-adapter', 'playwright-core', 'azurite', 'typescript']) {
      assert.equal(existsSync(join(appDir, 'node_modules', dev)), false, `${dev} is a dev dependency and must not be in the image`);
    }
  });

  test('a node started from it serves readiness, both pages, a DM round trip and metrics', async () => {
    node = await new TestNode({ root: appDir }).start(120_000);
    for (const path of ['/', '/ops', '/assets/app.js', '/assets/ops.js']) {
      const r = await fetch(`${node.http}${path}`);
      assert.equal(r.status, 200, `${path}: ${r.status} ${(await r.text()).slice(0, 300)}`);
    }
    const [a, b] = [uid('img-a'), uid('img-b')];
    const admin = await token('ops', ['admin']);
    const put = await fetch(`${node.http}/api/v1/connections/${a}/${b}`, { method: 'PUT', headers: { authorization: `Bearer ${admin}` } });
    assert.ok(put.ok, `connections: ${put.status}`);
    const ca = await TestClient.connect(node.url, await token(a));
    const cb = await TestClient.connect(node.url, await token(b));
    const conv = (await ca.requestRetrying({ t: 'open', with: b })).conv.id as string;
    await cb.requestRetrying({ t: 'join', conv });
    assert.equal((await ca.requestRetrying({ t: 'send', conv, cmid: 'c1', body: 'from the image' })).t, 'ack');
    assert.equal((await cb.waitFor((f) => f.t === 'msg' && f.cmid === 'c1')).body, 'from the image');
    ca.close();
    cb.close();
    // Shard threads report their counters to the main thread periodically: wait for the ack to show.
    await until('the ack counted in /metrics', async () => {
      const text = await (await fetch(`${node.http}/metrics`, { headers: { authorization: `Bearer ${admin}` } })).text();
      return /^chat_messages_acked_total\s+[1-9]/m.test(text) ? true : undefined;
    });
  });
});
