/**
 * The fenced code blocks of README.md and of every page of docs/ are tests (the convention is
 * written in docs/testing.md "The docs are tested"): every block carries an info string; `sh` and
 * `ts` blocks run, README.md first and then the docs pages in the order of `docsOrder`, against
 * one node this test starts as the README describes (dev mode, example catalogue), with
 * `localhost:9001` read as that node's address; a page may rely on an earlier block's state (the
 * connection of alice and bob, the catalogue the dispatcher's day routes against).
 * `sh no-test` / `ts no-test` are excluded on purpose (they do not terminate, open a browser, run
 * the suite or a benchmark); `text` is not code. Anything else fails, so a new block is either run
 * or excluded by choice, and an example that stops working fails.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestNode } from '../helpers/node.ts';

const root = new URL('../../', import.meta.url).pathname;
/**
 * The docs pages, in the order their blocks run (after README.md's). Every `docs/*.md` must be
 * listed, so a new page is placed on purpose: a page whose blocks need another's state comes after it.
 */
export const docsOrder = [
  'docs/features.md',
  'docs/protocol.md',
  'docs/configuration.md',
  'docs/web-chat.md',
  'docs/tickets.md',
  'docs/order-events.md',
  'docs/operations.md',
  'docs/benchmarks.md',
  'docs/testing.md',
  'docs/architecture.md',
  'docs/design-notes.md',
];
/** Every file whose blocks are tested, in run order. */
export const documents = ['README.md', ...docsOrder];

export interface Block {
  /** Repository-relative file the block is in. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  info: string;
  code: string;
}

/** Fenced blocks (``` or ~~~, at the start of a line) with their info strings. */
export function fencedBlocks(md: string, file = 'README.md'): Block[] {
  const blocks: Block[] = [];
  let open: { fence: string; line: number; info: string; body: string[] } | undefined;
  md.split('\n').forEach((text, i) => {
    if (!open) {
      const m = /^(`{3,}|~{3,})(.*)$/.exec(text);
      if (m) open = { fence: m[1], line: i + 1, info: m[2].trim(), body: [] };
      return;
    }
    const close = new RegExp(`^${open.fence[0]}{${open.fence.length},}\\s*$`);
    if (close.test(text)) {
      blocks.push({ file, line: open.line, info: open.info, code: open.body.join('\n') });
      open = undefined;
    } else {
      open.body.push(text);
    }
  });
  assert.equal(open, undefined, `${file}: the block opened at line ${open?.line} is never closed`);
  return blocks;
}

type Handling = 'run' | 'excluded' | 'not code';
const infoStrings: Record<string, Handling> = { sh: 'run', ts: 'run', 'sh no-test': 'excluded', 'ts no-test': 'excluded', text: 'not code' };

/**
 * Commands a block tagged to run must never hold: they do not terminate (`npm start`), change the
 * shared tree (`npm ci` reinstalls node_modules under everyone's feet, `git stash/reset/checkout`),
 * run the suite or a benchmark, or reach for other hosts. Such a block fails the test unrun: its
 * info string must say `no-test`.
 */
const neverRun = /\bnpm\s+(ci|install|i|start|test|run\s+(bench|start|test))\b|\bnpx\s+playwright\b|\bdocker\b|\bopen\s+["']?https?:|\bgit\s+(stash|reset|checkout|clean)\b|\brm\s+-\w*r/;

/** A block that has not finished by then is hung (a server it waits for, a prompt): fail, don't wait forever. */
const blockTimeoutMs = 60_000;
/** Where the README's examples point. */
const readmeAddress = 'localhost:9001';

const blocks = documents.flatMap((file) => fencedBlocks(readFileSync(join(root, file), 'utf8'), file));
const where = (b: Block) => `${b.file}:${b.line}`;
let node: TestNode;
let scratch: string;

before(async () => {
  node = await new TestNode({
    env: {
      JWT_SECRET: '', // dev mode, as after `npm ci && npm start`: the node makes the dev secret under DATA_DIR
      PRODUCTS_FILE: 'examples/products.json',
      SERVICE_CENTERS_FILE: 'examples/service-centers.json',
    },
  }).start();
  mkdirSync(join(root, 'test/artifacts'), { recursive: true });
  // Inside the repository, so `ws` and the SDK resolve as they do for a reader at the root.
  scratch = mkdtempSync(join(root, 'test/artifacts/readme-'));
});

after(async () => {
  await node?.kill('SIGKILL');
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

interface Outcome {
  code: number | null;
  signal: string | null;
  output: string;
}

function runProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), blockTimeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

/** The environment a reader's shell has next to the node: its DATA_DIR (dev secret), no JWT settings. */
function readerEnv(): NodeJS.ProcessEnv {
  const { JWT_SECRET: _s, JWT_PUBLIC_KEY: _k, JWT_ISSUER: _i, JWT_AUDIENCE: _a, NODE_TEST_CONTEXT: _t, ...env } = process.env;
  return { ...env, DATA_DIR: node.dataDir };
}

function runBlock(block: Block): Promise<Outcome> {
  assert.doesNotMatch(block.code, neverRun, `${where(block)} must be tagged \`\`\`${block.info} no-test: it holds a command the test never runs`);
  const code = block.code.replaceAll(readmeAddress, `127.0.0.1:${node.port}`);
  if (block.info === 'sh') return runProcess('bash', ['-e', '-o', 'pipefail', '-c', code], readerEnv());
  // `./x` in the README means the repository root; the file runs from the scratch directory.
  const file = join(scratch, `block-${block.file.replace(/\W/g, '-')}-${block.line}.ts`);
  writeFileSync(file, code.replace(/(from\s+['"])\.\//g, `$1${root}`));
  return runProcess(process.execPath, ['--import', 'tsx', file], readerEnv());
}

test('docsOrder names every page of docs/ once, so the blocks of each page run in a chosen place', () => {
  const pages = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`).sort();
  assert.deepEqual([...docsOrder].sort(), pages, 'add a new docs page to docsOrder (and drop a removed one)');
  assert.equal(new Set(docsOrder).size, docsOrder.length, 'docsOrder lists a page twice');
});

test('every fenced block of README.md and docs/*.md says by its info string whether it is run, excluded or not code', () => {
  assert.ok(blocks.length > 5, `found the docs' blocks (${blocks.length})`);
  assert.ok(blocks.some((b) => b.file === 'README.md' && infoStrings[b.info] === 'run'), 'README.md has blocks that run');
  const unknown = blocks.filter((b) => !(b.info in infoStrings)).map((b) => `${where(b)} \`\`\`${b.info}`);
  assert.deepEqual(unknown, [], `allowed: ${Object.keys(infoStrings).map((i) => `\`\`\`${i}`).join(', ')}`);
  assert.ok(blocks.some((b) => infoStrings[b.info] === 'run'), 'some blocks are run');
  const unsafe = blocks.filter((b) => infoStrings[b.info] === 'run' && neverRun.test(b.code)).map(where);
  assert.deepEqual(unsafe, [], 'blocks tagged to run that hold a command never run here (tag them no-test)');
});

test('the runnable blocks of README.md, then of docs/, succeed in order against a node started as the README describes', async (t) => {
  for (const block of blocks.filter((b) => infoStrings[b.info] === 'run')) {
    await t.test(`${where(block)} ${block.info}: ${block.code.split('\n')[0].slice(0, 60)}`, async (t) => {
      const r = await runBlock(block);
      if (r.output.trim()) t.diagnostic(r.output.trim().slice(0, 400));
      assert.ok(r.code === 0, `${where(block)} exited ${r.code ?? r.signal}:\n${block.code}\n--- output ---\n${r.output}`);
    });
  }
});
