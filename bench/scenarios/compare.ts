/**
 * Scenario `compare`: the same `dm` workload against each target, one after the other, in one
 * invocation: our server (one node, real Postgres), the seeds' stack (bench/peers/
 * socketio-stack.ts, two processes on Redis) and the bare uWS relay (bench/peers/uws-relay.ts).
 *
 * Without --sweep: every target at --rate; one `dm` line per target on stdout as it ends.
 * With --sweep: a `sweep` per target (see sweep.ts), then ours once more at half its max
 * sustained rate, and the issue's goals judged on the max sustained rates of this run.
 * Either way: a table with ratios (ours ÷ target) on stderr and in the summary (last line), and
 * an SVG chart of throughput vs p99 per target in bench/results/.
 */
import type { Args } from '../lib/args.ts';
import { UsageError } from '../lib/args.ts';
import { chartPath, throughputP99Svg, writeChartFile, type ChartSeries } from '../lib/charts.ts';
import { judgeStep, type StepMeasurement } from '../lib/sweep-rule.ts';
import { progress } from '../lib/target.ts';
import { drive, parseOptions, rateLimitEnv, type DmOptions } from './dm.ts';
import { DM_TARGET_KINDS, type DmTargetKind } from './dm-client.ts';
import { startSession } from './dm-targets.ts';
import { emitLine, parseSweep, stepSummary, sweepTarget, type SweepConfig, type SweepOutcome } from './sweep.ts';

export const compareUsage = `compare [--targets ours,socketio,uws] [--pairs N] [--rate MSGS_PER_S] [--duration S] [--warmup S] [--drain S]
   [--threads N] [--body-bytes N] [--server-cmd CMD] [--keep-data] [--no-chart] [--json-out FILE]
   [--sweep [--start R] [--factor F] [--max-rate R] [--refine N] [--p99-max-ms MS] [--delivery-min F] [--half-p99-max-ms MS]]`;

/** The issue's goals (issue 8). */
const GOAL_VS_SEEDS_MIN = 10; // durable dm throughput ≥ 10× the seeds' stack, same run
const GOAL_VS_UWS_MIN = 0.5; // ≥ 0.5× the bare uWS relay
const GOAL_HALF_RATE_P99_MS_DEFAULT = 20; // p99 e2e ≤ 20 ms at half of our max sustained rate

interface Row {
  target: DmTargetKind;
  rate: number | null; // offered rate of the row's run (sweep: the max sustained rate)
  throughput: number;
  p99E2eMs: number;
  serverRssMb: number | null;
  line: Record<string, unknown> | null;
}

function parseTargets(args: Args): DmTargetKind[] {
  const list = (args.str('targets') ?? DM_TARGET_KINDS.join(',')).split(',').map((t) => t.trim()).filter(Boolean);
  for (const t of list) if (!(DM_TARGET_KINDS as readonly string[]).includes(t)) throw new UsageError(`--targets: unknown target ${t}`);
  if (!list.includes('ours')) throw new UsageError('--targets must include ours (the ratios are against it)');
  return [...new Set(list)] as DmTargetKind[];
}

const ratio = (ours: number | null | undefined, other: number | null | undefined): number | null =>
  ours === null || ours === undefined || other === null || other === undefined || other === 0 ? null : Math.round((ours / other) * 100) / 100;

function tableOf(rows: Row[], sweep: boolean): { markdown: string[]; rows: Array<Record<string, unknown>> } {
  const ours = rows.find((r) => r.target === 'ours');
  const out = rows.map((r) => ({
    target: r.target,
    ...(sweep ? { maxSustainedRate: r.rate } : { rate: r.rate }),
    throughput: r.throughput,
    p99E2eMs: r.p99E2eMs,
    serverRssMb: r.serverRssMb,
    oursThroughputRatio: ratio(ours?.throughput, r.throughput),
    oursP99Ratio: ratio(ours?.p99E2eMs, r.p99E2eMs),
    oursRssRatio: ratio(ours?.serverRssMb, r.serverRssMb),
  }));
  const head = sweep ? 'max sustained msg/s' : 'offered msg/s';
  const markdown = [
    `| target | ${head} | throughput acks/s | p99 e2e ms | server RSS MB | ours ÷ target throughput | ours ÷ target p99 | ours ÷ target RSS |`,
    '|---|---|---|---|---|---|---|---|',
    ...out.map((r, i) => `| ${r.target} | ${rows[i].rate ?? '–'} | ${r.throughput} | ${r.p99E2eMs} | ${r.serverRssMb ?? '–'} | ${r.oursThroughputRatio ?? '–'} | ${r.oursP99Ratio ?? '–'} | ${r.oursRssRatio ?? '–'} |`),
  ];
  return { markdown, rows: out };
}

function rowOf(target: DmTargetKind, rate: number | null, line: Record<string, unknown> | null): Row {
  const m = line as unknown as StepMeasurement | null;
  return {
    target,
    rate,
    throughput: Number(line?.throughput ?? 0),
    p99E2eMs: m?.latencyMs?.e2e?.p99 ?? 0,
    serverRssMb: (line?.serverRssMb as number | null | undefined) ?? null,
    line,
  };
}

async function runOnce(kind: DmTargetKind, options: DmOptions): Promise<Record<string, unknown>> {
  const session = await startSession(kind, {
    port: undefined,
    serverCmd: kind === 'ours' ? options.serverCmd : undefined,
    keepData: options.keepData,
    env: rateLimitEnv(options),
    ownSchema: true,
  });
  let failed = true;
  try {
    const result = await drive(options, session.target);
    failed = false;
    return result;
  } finally {
    await session.stop(failed);
  }
}

async function compareFixed(args: Args, options: DmOptions, targets: DmTargetKind[]): Promise<{ rows: Row[]; series: ChartSeries[] }> {
  const rows: Row[] = [];
  const series: ChartSeries[] = [];
  for (const kind of targets) {
    progress(`compare: ${kind} at ${options.rate} msg/s`);
    const line = await runOnce(kind, options);
    emitLine(args, line);
    rows.push(rowOf(kind, options.rate, line));
    const p99Ms = (line as unknown as StepMeasurement).latencyMs.e2e.p99;
    series.push({ name: kind, points: [{ rate: options.rate, throughput: Number(line.throughput), p99Ms, sustained: judgeStep(line as unknown as StepMeasurement).sustained }] });
  }
  return { rows, series };
}

interface SweepFacts {
  outcomes: SweepOutcome[];
  half: Record<string, unknown> | null;
  goals: Array<{ goal: string; value: number | null; met: boolean }>;
}

async function compareSweep(args: Args, options: DmOptions, targets: DmTargetKind[], config: SweepConfig): Promise<{ rows: Row[]; series: ChartSeries[]; facts: SweepFacts }> {
  const outcomes: SweepOutcome[] = [];
  for (const kind of targets) outcomes.push(await sweepTarget(kind, options, config, (line) => emitLine(args, line)));
  const rows = outcomes.map((o) => rowOf(o.target, o.maxSustainedRate, o.atMax));
  const series = outcomes.map((o) => ({ name: o.target, points: o.points }));
  const oursMax = outcomes.find((o) => o.target === 'ours')?.maxSustainedRate ?? null;
  const halfP99MaxMs = args.num('half-p99-max-ms', GOAL_HALF_RATE_P99_MS_DEFAULT, { min: 0.1, max: 60_000 });
  let half: Record<string, unknown> | null = null;
  if (oursMax !== null) {
    const rate = Math.max(1, Math.floor(oursMax / 2));
    progress(`compare: ours at half its max sustained rate, ${rate} msg/s`);
    half = await runOnce('ours', { ...options, rate });
    emitLine(args, { ...half, compare: { halfOfMaxSustained: oursMax } });
  }
  const maxOf = (t: DmTargetKind): number | null => outcomes.find((o) => o.target === t)?.maxSustainedRate ?? null;
  const goals: SweepFacts['goals'] = [];
  if (targets.includes('socketio')) {
    const value = ratio(oursMax, maxOf('socketio'));
    goals.push({ goal: `max sustained rate ours ÷ socketio ≥ ${GOAL_VS_SEEDS_MIN}`, value, met: value !== null && value >= GOAL_VS_SEEDS_MIN });
  }
  if (targets.includes('uws')) {
    const value = ratio(oursMax, maxOf('uws'));
    goals.push({ goal: `max sustained rate ours ÷ uws ≥ ${GOAL_VS_UWS_MIN}`, value, met: value !== null && value >= GOAL_VS_UWS_MIN });
  }
  const halfP99 = half ? (half as unknown as StepMeasurement).latencyMs.e2e.p99 : null;
  const halfOk = half !== null && judgeStep(half as unknown as StepMeasurement, { p99E2eMsMax: halfP99MaxMs, deliveryMin: config.limits.deliveryMin }).sustained;
  goals.push({ goal: `ours p99 e2e ≤ ${halfP99MaxMs} ms at half its max sustained rate (≥ ${config.limits.deliveryMin * 100}% delivered)`, value: halfP99, met: halfOk });
  return { rows, series, facts: { outcomes, half, goals } };
}

export async function runCompare(args: Args): Promise<Record<string, unknown>> {
  const targets = parseTargets(args);
  if (args.str('target')) throw new UsageError('compare takes --targets (a list), not --target');
  if (args.str('url') || args.flag('nats') || args.str('nodes')) throw new UsageError('compare starts every target itself, one node each (no --url, --nodes, --nats)');
  // The peers serve plain ws:// only: TLS on ours alone would compare unlike with unlike. Use `dm --tls` / `sweep --tls`.
  if (args.flag('tls')) throw new UsageError('compare: --tls is not supported (the peers speak plain ws://); use dm --tls or sweep --target ours --tls');
  const options = parseOptions(args);
  const sweep = args.flag('sweep');
  const config = sweep ? parseSweep(args) : null;
  const { rows, series, facts } = config
    ? await compareSweep(args, options, targets, config)
    : { ...(await compareFixed(args, options, targets)), facts: null };
  const table = tableOf(rows, sweep);
  process.stderr.write(`\n${table.markdown.join('\n')}\n`);
  for (const g of facts?.goals ?? []) process.stderr.write(`${g.met ? 'MET   ' : 'MISSED'} ${g.goal}: ${g.value ?? '–'}\n`);
  const chart = args.flag('no-chart')
    ? null
    : writeChartFile(
        chartPath(args.str('json-out'), `compare${sweep ? '-sweep' : ''}`),
        throughputP99Svg(series, {
          title: `dm, ${options.pairs} pairs, ${sweep ? 'rate sweep' : `${options.rate} msg/s offered`}: ${targets.join(' vs ')}`,
          referenceMs: sweep ? [config?.limits.p99E2eMsMax ?? 50, GOAL_HALF_RATE_P99_MS_DEFAULT] : [50],
        }),
      );
  return {
    scenario: 'compare',
    mode: sweep ? 'sweep' : 'fixed',
    targets,
    pairs: options.pairs,
    ...(sweep ? { limits: config?.limits, plan: config?.plan } : { rate: options.rate }),
    durationS: options.durationS,
    table: table.rows,
    ...(facts
      ? {
          sweeps: facts.outcomes.map((o) => ({ target: o.target, maxSustainedRate: o.maxSustainedRate, steps: o.steps.map(stepSummary) })),
          halfRate: facts.half ? stepSummary(facts.half) : null,
          goals: facts.goals,
        }
      : {}),
    chart,
    at: new Date().toISOString(),
  };
}
