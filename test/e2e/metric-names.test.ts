/**
 * Every metric the alert rules (deploy/prometheus/chat.rules.yml) and the Grafana dashboard
 * (deploy/grafana/dashboards/chat.json) query is one a running node exports at GET /metrics: a
 * renamed or misspelt metric would leave an alert that can never fire and an empty panel.
 *
 * PromQL is read loosely: string literals dropped, then every identifier starting with `chat_`
 * (or `nodejs_`/`process_`, prom-client's defaults); `_bucket`/`_sum`/`_count` name a histogram's
 * series; the rules' own recording names are not metrics. A labelled metric with no sample yet
 * still has its `# TYPE` line, which is what is matched.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { TestNode } from '../helpers/node.ts';

const root = new URL('../../', import.meta.url).pathname;

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
}

function ruleExprs(): { exprs: { where: string; expr: string }[]; recorded: Set<string> } {
  const groups = (parse(readFileSync(`${root}deploy/prometheus/chat.rules.yml`, 'utf8')) as { groups: { rules: Rule[] }[] }).groups;
  const rules = groups.flatMap((g) => g.rules);
  return {
    exprs: rules.map((r) => ({ where: `chat.rules.yml ${r.record ?? r.alert}`, expr: String(r.expr) })),
    recorded: new Set(rules.flatMap((r) => (r.record ? [r.record] : []))),
  };
}

/** Every `expr` of the dashboard's panels and the queries of its template variables. */
function dashboardExprs(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  const walk = (v: unknown, where: string): void => {
    if (Array.isArray(v)) return v.forEach((x) => walk(x, where));
    if (v === null || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    const here = typeof o.title === 'string' ? `chat.json "${o.title}"` : typeof o.name === 'string' ? `chat.json $${o.name}` : where;
    for (const [k, x] of Object.entries(o)) {
      if ((k === 'expr' || k === 'definition') && typeof x === 'string') out.push({ where: here, expr: x });
      else if (k === 'query' && typeof x === 'string' && o.type !== 'datasource') out.push({ where: here, expr: x });
      else walk(x, here);
    }
  };
  walk(JSON.parse(readFileSync(`${root}deploy/grafana/dashboards/chat.json`, 'utf8')), 'chat.json');
  return out;
}

/** Metric names in a PromQL expression, loosely: identifiers with our prefixes, outside string literals. */
function metricNames(expr: string, recorded: Set<string>): string[] {
  const bare = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  const ids = bare.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return [...new Set(ids.filter((id) => !recorded.has(id) && /^(chat_|nodejs_|process_)/.test(id)))];
}

/** The names a /metrics text does not declare (`# TYPE <name> <type>`; histogram series by their base). */
function missing(names: Iterable<string>, exposition: string): string[] {
  const types = new Map<string, string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1], m[2]);
  return [...names].filter((n) => {
    if (types.has(n)) return false;
    const base = /^(.*)_(bucket|sum|count)$/.exec(n)?.[1];
    return !(base !== undefined && types.get(base) === 'histogram');
  });
}

const node = new TestNode();
before(() => node.start());
after(() => node.kill('SIGTERM'));

test('every metric the alert rules and the dashboard query is exported by a running node', async () => {
  const r = await node.fetch('/metrics');
  assert.equal(r.status, 200);
  const { exprs, recorded } = ruleExprs();
  const all = [...exprs, ...dashboardExprs()];
  const used = new Map<string, string[]>();
  for (const { where, expr } of all) for (const n of metricNames(expr, recorded)) used.set(n, [...(used.get(n) ?? []), where]);
  // The rules and the dashboard cover the node's main signals (a parser that found nothing would pass).
  for (const n of ['chat_send_ack_seconds_bucket', 'chat_messages_acked_total', 'chat_sends_shed_total', 'chat_dependency_breaker_state', 'chat_socket_closes_total', 'chat_persist_queue_rows', 'chat_shards_owned', 'chat_shard_lease_changes_total', 'chat_notify_dead_lettered_total', 'chat_order_events_dead_lettered_total', 'chat_shard_heap_used_bytes', 'chat_sockets_open']) {
    assert.ok(used.has(n), `${n} is queried by the rules or the dashboard`);
  }
  const absent = missing(used.keys(), r.text);
  assert.deepEqual(absent.map((n) => `${n} (${used.get(n)!.join(', ')})`), [], 'metrics queried but not exported by the node');
});

test('the check itself: a misspelt name is reported, a histogram series and a recording name are not', () => {
  const exposition = '# HELP chat_x_seconds h\n# TYPE chat_x_seconds histogram\n# HELP chat_y_total h\n# TYPE chat_y_total counter\n';
  const names = metricNames('sum(rate(chat_x_seconds_bucket{code="chat_not_a_metric"}[5m])) + chat_y_totl + instance:chat_z:rate1m', new Set(['instance:chat_z:rate1m']));
  assert.deepEqual(names, ['chat_x_seconds_bucket', 'chat_y_totl']);
  assert.deepEqual(missing(names, exposition), ['chat_y_totl']);
});
