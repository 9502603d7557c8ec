/**
 * Scenario `sweep`: the `dm` load against one target at rising rates until a step is no longer
 * sustained (p99 send → recipient > --p99-max-ms or < --delivery-min delivered/acked), then a few
 * geometric midpoints between the best pass and the lowest fail. Reports the max sustained rate.
 *
 * One server (or peer) for the whole sweep, fresh users and conversations every step; after a
 * failed step the server is restarted, so its backlog does not count against the next step.
 * Every step prints its `dm` line (plus a `sweep` field) on stdout as it ends; the summary is the
 * last line. The rules themselves are pure functions in ../sweep-rule.ts.
 */
import { appendFileSync } from 'node:fs';
import type { Args } from '../lib/args.ts';
import { UsageError } from '../lib/args.ts';
import { chartPath, throughputP99Svg, writeChartFile, type ChartPoint } from '../lib/charts.ts';
import { formatElapsed, startLiveLine, stopLiveLine, updateLiveLine, writeAboveLiveLine } from '../lib/live-line.ts';
import { judgeStep, maxSustainedRate, nextRate, stepsAtMost, SWEEP_LIMITS_DEFAULT, type StepMeasurement, type SweepLimits, type SweepPlan } from '../lib/sweep-rule.ts';
import { progress } from '../lib/target.ts';
import { sleep } from '../lib/server-process.ts';
import { drive, parseOptions, rateLimitEnv, type DmOptions } from './dm.ts';
import type { DmTargetKind } from './dm-client.ts';
import { startSession, type DmSession } from './dm-targets.ts';

export const sweepUsage = `sweep [--target ours|socketio|uws] [--start MSGS_PER_S] [--factor F] [--max-rate R] [--min-rate R] [--refine N] [--embedded]
   [--p99-max-ms MS] [--delivery-min F] [--settle S] [--attempts N] [--pairs N] [--duration S] [--warmup S] [--drain S] [--threads N]
   [--body-bytes N] [--port N] [--server-cmd CMD] [--tls] [--keep-data] [--no-chart] [--json-out FILE]`;

export interface SweepConfig {
  plan: SweepPlan;
  limits: SweepLimits;
  settleS: number; // pause between steps (after the restart, if the step failed)
  /**
   * Runs of a rate before it counts as not sustained. Other work on the machine can only add
   * latency, never remove it, so on a shared box one clean run is the better estimate of what
   * the target can do: a failed step is retried (on a restarted server) up to this many runs.
   */
  attempts: number;
  /** ours: the embedded PGlite (no DATABASE_URL) instead of the local Postgres. */
  embedded: boolean;
}

export interface SweepOutcome {
  target: DmTargetKind;
  maxSustainedRate: number | null;
  /** The step at the max sustained rate (its throughput, p99, RSS). */
  atMax: Record<string, unknown> | null;
  steps: Array<Record<string, unknown>>;
  points: ChartPoint[];
}

export function parseSweep(args: Args): SweepConfig {
  const plan: SweepPlan = {
    startRate: args.num('start', 1000, { min: 1, max: 10_000_000 }),
    factor: args.num('factor', 1.5, { min: 1.05, max: 16 }),
    rateMax: args.num('max-rate', 100_000, { min: 1, max: 10_000_000 }),
    rateMin: args.num('min-rate', 50, { min: 1, max: 10_000_000 }),
    refineSteps: args.int('refine', 1, { min: 0, max: 10 }),
    refineRatioMin: 1.1,
  };
  if (plan.startRate > plan.rateMax) throw new UsageError('--start must not exceed --max-rate');
  const limits: SweepLimits = {
    p99E2eMsMax: args.num('p99-max-ms', SWEEP_LIMITS_DEFAULT.p99E2eMsMax, { min: 0.1, max: 600_000 }),
    deliveryMin: args.num('delivery-min', SWEEP_LIMITS_DEFAULT.deliveryMin, { min: 0, max: 1 }),
  };
  return { plan, limits, settleS: args.num('settle', 2, { min: 0, max: 600 }), attempts: args.int('attempts', 2, { min: 1, max: 10 }), embedded: args.flag('embedded') };
}

/** Prints a per-step (or per-target) line on stdout, and appends it to --json-out. */
export function emitLine(args: Args, line: Record<string, unknown>): void {
  const text = JSON.stringify(line);
  writeAboveLiveLine(process.stdout, `${text}\n`);
  const jsonOut = args.str('json-out');
  if (jsonOut) appendFileSync(jsonOut, `${text}\n`);
}

async function startFor(kind: DmTargetKind, options: DmOptions, config: SweepConfig): Promise<DmSession> {
  // The limiter is sized for the highest rate the sweep may reach, so it never bites.
  const env = rateLimitEnv({ rate: config.plan.rateMax, pairs: options.pairs });
  // An empty DATABASE_URL is unset to the node: it starts its embedded PGlite in a fresh data dir.
  if (config.embedded && kind === 'ours') env.DATABASE_URL = '';
  return startSession(kind, {
    port: options.port,
    serverCmd: kind === 'ours' ? options.serverCmd : undefined,
    keepData: options.keepData,
    env,
    ownSchema: !(config.embedded && kind === 'ours'),
    tls: options.tls,
  });
}

/** One measured step; a run that throws (server died, sockets refused) is a failed step. */
async function step(options: DmOptions, session: DmSession, rate: number): Promise<Record<string, unknown>> {
  try {
    return await drive({ ...options, rate }, session.target);
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    progress(`step at ${rate} msg/s failed: ${message}`);
    return { scenario: 'dm', target: session.target.kind, targetRate: rate, sent: 0, acked: 0, delivered: 0, throughput: 0, latencyMs: { e2e: { p99: 0 }, ack: { p99: 0 } }, error: message };
  }
}

export async function sweepTarget(kind: DmTargetKind, options: DmOptions, config: SweepConfig, emit: (line: Record<string, unknown>) => void): Promise<SweepOutcome> {
  const records: Array<{ rate: number; sustained: boolean }> = [];
  const steps: Array<Record<string, unknown>> = [];
  const points: ChartPoint[] = [];
  // The live status line (lib/live-line.ts): where the sweep is, how long it has run, the last result.
  const stepsMax = stepsAtMost(config.plan);
  const now = { step: 0, attempt: 0, rate: 0, stepStartS: 0 };
  let lastResult = 'none yet';
  // Elapsed from the sweep's start (the server's start included), not from the line's.
  const render = (): string => {
    const elapsedS = (performance.now() - sweepStartMs) / 1000;
    return `sweep ${kind}: step ${now.step}/≤${stepsMax}${config.attempts > 1 ? ` run ${now.attempt}/${config.attempts}` : ''} at ${now.rate} msg/s ` +
    `(${formatElapsed(elapsedS - now.stepStartS)} into it, ${formatElapsed(elapsedS)} in all); last: ${lastResult}`;
  };
  const sweepStartMs = performance.now();
  let session = await startFor(kind, options, config);
  let failed = true;
  try {
    for (let rate = nextRate(config.plan, records); rate !== null; rate = nextRate(config.plan, records)) {
      let sustained = false;
      for (let attempt = 1; attempt <= config.attempts && !sustained; attempt++) {
        Object.assign(now, { step: records.length + 1, attempt, rate, stepStartS: (performance.now() - sweepStartMs) / 1000 });
        if (now.step === 1 && attempt === 1) startLiveLine(render);
        else updateLiveLine(true);
        const result = await step(options, session, rate);
        const verdict = judgeStep(result as unknown as StepMeasurement, config.limits);
        sustained = verdict.sustained;
        const line = { ...result, sweep: { target: kind, step: records.length + 1, attempt, rate, ...verdict } };
        emit(line);
        steps.push(line);
        const p99Ms = (result as unknown as StepMeasurement).latencyMs.e2e.p99;
        points.push({ rate, throughput: Number(result.throughput ?? 0), p99Ms, sustained });
        lastResult = `${rate} msg/s → ${Number(result.throughput ?? 0)} acks/s, p99 ${p99Ms} ms, ${sustained ? 'sustained' : 'NOT sustained'}`;
        progress(`sweep ${kind}: ${rate} msg/s ${sustained ? 'sustained' : `NOT sustained (${verdict.reasons.join('; ')})`}`);
        const last = attempt === config.attempts || sustained;
        if (last && nextRate(config.plan, [...records, { rate, sustained }]) === null) break;
        if (!sustained) {
          await session.stop(false);
          session = await startFor(kind, options, config);
        }
        await sleep(config.settleS * 1000); // let Postgres finish the last step's writes
      }
      records.push({ rate, sustained });
    }
    failed = false;
  } finally {
    stopLiveLine();
    await session.stop(failed);
  }
  const best = maxSustainedRate(records);
  const atMax = best === null ? null : (steps.find((s) => (s.sweep as { rate: number; sustained: boolean }).rate === best && (s.sweep as { sustained: boolean }).sustained) ?? null);
  return { target: kind, maxSustainedRate: best, atMax, steps, points };
}

/** A compact row for summaries: what a step measured. */
export function stepSummary(line: Record<string, unknown>): Record<string, unknown> {
  const lat = line.latencyMs as { e2e: { p50?: number; p99: number }; ack: { p99: number } } | undefined;
  const sweep = line.sweep as { rate: number; attempt: number; sustained: boolean; reasons: string[] } | undefined;
  return {
    rate: sweep?.rate ?? line.targetRate,
    ...(sweep ? { attempt: sweep.attempt } : {}),
    throughput: line.throughput,
    sent: line.sent,
    acked: line.acked,
    delivered: line.delivered,
    p50E2eMs: lat?.e2e.p50,
    p99E2eMs: lat?.e2e.p99,
    p99AckMs: lat?.ack.p99,
    serverRssMb: line.serverRssMb,
    serverCpuPct: line.serverCpuPct,
    hostCpuPct: line.hostCpuPct,
    generatorCpuPct: line.generatorCpuPct,
    sustained: sweep?.sustained,
    reasons: sweep?.reasons,
    ...(line.error ? { error: line.error } : {}),
  };
}

export async function runSweep(args: Args): Promise<Record<string, unknown>> {
  const options = parseOptions(args);
  const config = parseSweep(args);
  const outcome = await sweepTarget(options.target, options, config, (line) => emitLine(args, line));
  const chart = args.flag('no-chart')
    ? null
    : writeChartFile(
        chartPath(args.str('json-out'), `sweep-${options.target}`),
        throughputP99Svg([{ name: options.target, points: outcome.points }], {
          title: `dm sweep (${options.pairs} pairs): ${options.target}`,
          referenceMs: [config.limits.p99E2eMsMax],
        }),
      );
  return {
    scenario: 'sweep',
    target: options.target,
    tls: options.tls,
    pairs: options.pairs,
    durationS: options.durationS,
    limits: config.limits,
    plan: config.plan,
    maxSustainedRate: outcome.maxSustainedRate,
    steps: outcome.steps.map(stepSummary),
    chart,
    at: new Date().toISOString(),
  };
}
