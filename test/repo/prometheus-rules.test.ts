/**
 * The Prometheus rules (deploy/prometheus/chat.rules.yml) and their unit tests
 * (chat.rules.test.yml) pass `promtool check rules` and `promtool test rules`. Without promtool
 * (Debian's `prometheus` package) these are skipped locally with a note and fail on CI
 * (CI=true; .ci/run installs it). The shape checks (every alert has `for:`, a severity, a summary
 * and a description, and a unit test where it fires and one where it does not) need no promtool.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { parse } from 'yaml';

const root = new URL('../../', import.meta.url).pathname;
const rulesFile = 'deploy/prometheus/chat.rules.yml';
const rulesTestFile = 'deploy/prometheus/chat.rules.test.yml';

/** PROMTOOL, or promtool on PATH; undefined when there is none. */
function findPromtool(): string | undefined {
  if (process.env.PROMTOOL) return process.env.PROMTOOL;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, 'promtool');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** A reason to skip, or undefined when promtool is there. On CI a missing promtool is an error. */
function skipReason(promtool: string | undefined): string | undefined {
  if (promtool) return undefined;
  if (process.env.CI === 'true') throw new Error(`CI: promtool is missing; .ci/run installs Debian's prometheus package`);
  return 'promtool tests skipped: no promtool on PATH (apt-get install -y --no-install-recommends prometheus)';
}

const promtool = findPromtool();
const skip = skipReason(promtool);
if (skip) console.log(`NOTE: ${skip}`);

function run(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(promtool!, args, { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}${r.error ? String(r.error) : ''}` };
}

// Skipped per test (not per describe), so node's summary counts them: `# skipped 2`.
test(`promtool check rules ${rulesFile}`, { skip }, () => {
  const r = run(['check', 'rules', rulesFile]);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /SUCCESS/);
});

test(`promtool test rules ${rulesTestFile}`, { skip }, () => {
  const r = run(['test', 'rules', rulesTestFile]);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /SUCCESS/);
});

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface RulesTest {
  tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}

test('every alert has for:, a severity, a summary and a description', () => {
  const groups = (parse(readFileSync(join(root, rulesFile), 'utf8')) as { groups: { rules: Rule[] }[] }).groups;
  const alerts = groups.flatMap((g) => g.rules).filter((r) => r.alert);
  assert.ok(alerts.length >= 10, `${alerts.length} alerts`);
  for (const a of alerts) {
    assert.match(a.for ?? '', /^\d+[smh]$/, `${a.alert}: for:`);
    assert.match(a.labels?.severity ?? '', /^(critical|warning)$/, `${a.alert}: severity`);
    assert.ok(a.annotations?.summary, `${a.alert}: summary`);
    assert.ok(a.annotations?.description, `${a.alert}: description`);
  }
});

test('every alert has a unit test where it fires and one where it does not', () => {
  const groups = (parse(readFileSync(join(root, rulesFile), 'utf8')) as { groups: { rules: Rule[] }[] }).groups;
  const names = groups.flatMap((g) => g.rules).flatMap((r) => (r.alert ? [r.alert] : []));
  const cases = (parse(readFileSync(join(root, rulesTestFile), 'utf8')) as RulesTest).tests.flatMap((t) => t.alert_rule_test ?? []);
  for (const name of names) {
    const mine = cases.filter((c) => c.alertname === name);
    assert.ok(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${name}: no case where it fires`);
    assert.ok(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${name}: no case where it stays quiet`);
  }
});
