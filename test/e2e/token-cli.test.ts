/**
 * `npm run token` (src/tools/token.ts) as people use it: `--help` is an answer, not a crash; a
 * usage error says what is wrong on stderr and exits 2; `npm run -s token` prints the token and
 * nothing else, so `ADMIN=$(npm run -s token -- …)` captures a token; the token verifies against
 * the secret a node would use (JWT_SECRET, or the dev secret under DATA_DIR).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jwtVerify } from 'jose';
import { testSecret } from '../helpers/node.ts';

const root = new URL('../../', import.meta.url).pathname;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  // No JWT configuration leaks in from the caller: each case says which secret it means.
  const { JWT_SECRET: _s, JWT_PUBLIC_KEY: _k, JWT_ISSUER: _i, JWT_AUDIENCE: _a, DATA_DIR: _d, ...inherited } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const tokenTool = (args: string[], env?: Record<string, string>) => run(process.execPath, ['--import', 'tsx', 'src/tools/token.ts', ...args], env);
const jwtShape = /^[\w-]+\.[\w-]+\.[\w-]+$/;

test('--help and -h print the usage on stdout and exit 0, without a stack trace', async () => {
  for (const flag of ['--help', '-h']) {
    const r = await tokenTool([flag]);
    assert.equal(r.code, 0, `${flag}: ${r.stderr}`);
    assert.match(r.stdout, /^usage: npm run -s token -- --sub <user id>/);
    assert.match(r.stdout, /--roles/);
    assert.equal(r.stderr, '');
  }
});

test('an unknown flag, a missing --sub, a bad user id, role or ttl: the reason and the usage on stderr, exit 2', async () => {
  const cases: [string[], RegExp][] = [
    [['--bogus'], /Unknown option '--bogus'/],
    [[], /--sub is required/],
    [['--sub', 'al ice'], /not a valid user id/],
    [['--sub', 'x'.repeat(129)], /not a valid user id/],
    [['--sub', 'alice', '--roles', 'root'], /unknown role root/],
    [['--sub', 'alice', '--ttl', 'soon'], /--ttl soon/],
    [['--sub', 'alice', 'extra'], /positional/i],
  ];
  for (const [args, reason] of cases) {
    const r = await tokenTool(args, { JWT_SECRET: testSecret });
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}`);
    assert.equal(r.stdout, '', `${args.join(' ')}: nothing on stdout`);
    assert.match(r.stderr, reason);
    assert.match(r.stderr, /usage: npm run -s token/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('a token for JWT_SECRET carries sub, roles and the ttl', async () => {
  const r = await tokenTool(['--sub', 'ops@example.com', '--roles', 'admin,user', '--ttl', '60'], { JWT_SECRET: testSecret });
  assert.equal(r.code, 0, r.stderr);
  const { payload } = await jwtVerify(r.stdout.trim(), new TextEncoder().encode(testSecret), { algorithms: ['HS256'] });
  assert.equal(payload.sub, 'ops@example.com');
  assert.deepEqual(payload.roles, ['admin', 'user']);
  assert.equal(payload.exp! - payload.iat!, 60);
});

test('without JWT_SECRET the token is signed with the dev secret under DATA_DIR, created if missing as a node does', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-token-'));
  try {
    const r = await tokenTool(['--sub', 'alice'], { DATA_DIR: dataDir });
    assert.equal(r.code, 0, r.stderr);
    const secret = readFileSync(join(dataDir, 'dev-jwt-secret'), 'utf8').trim();
    const { payload } = await jwtVerify(r.stdout.trim(), new TextEncoder().encode(secret));
    assert.equal(payload.sub, 'alice');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('with JWT_PUBLIC_KEY set the tool refuses (tokens come from the identity provider), exit 2', async () => {
  const r = await tokenTool(['--sub', 'alice'], { JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\\nx\\n-----END PUBLIC KEY-----' });
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /JWT_PUBLIC_KEY is set/);
});

test('`npm run -s token` prints only the token, so $(…) captures it (README: ADMIN=$(npm run -s token …))', async () => {
  const r = await run('npm', ['run', '-s', 'token', '--', '--sub', 'ops', '--roles', 'admin'], { JWT_SECRET: testSecret });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/, `stdout is one token line: ${JSON.stringify(r.stdout)}`);
  assert.ok(jwtShape.test(r.stdout.trim()));
});
