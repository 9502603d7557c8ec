/**
 * Scenario `storm`: WebSocket connections per second with JWT verification, raised step by step
 * until the server refuses. Each step opens connections open-loop at a fixed rate for --step-s
 * seconds; each connection is a raw upgrade (bench/lib/raw-upgrade.ts) that waits for `hello` and is
 * then reset, so the run measures accept + verify + upgrade + hello + close (churn), not holding —
 * 5000/s for a few seconds would otherwise exceed this box's 20000 descriptors.
 *
 * A step is sustained when ≤ --fail-max-pct of its attempts failed (HTTP 503/401, timeouts,
 * resets), p99 connect time (start → hello) ≤ --p99-max-ms and ≥ 95% of the target rate got
 * `hello` within the step. The run stops after the first step that is not sustained.
 *
 * ES256: a key pair per run; the spawned server gets the public key (JWT_PUBLIC_KEY) and the
 * bench pre-signs --tokens distinct tokens before the first step, reused round-robin.
 *
 * --tls: the server gets a self-signed certificate (lib/tls.ts) and every attempt is a full TLS
 * handshake before the upgrade; each step reports CPU µs per connection (server and bench), so
 * the same command with and without --tls gives the per-connection cost of TLS.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { UsageError, type Args } from '../lib/args.ts';
import { Histogram } from '../lib/histogram.ts';
import { signerFor, type BenchAlgorithm } from '../lib/jwt-signers.ts';
import { rawUpgrade, upgradeRequest, type UpgradeOutcome, type UpgradeTarget } from '../lib/raw-upgrade.ts';
import { readFileSync } from 'node:fs';
import { openFilesLimit, sleep } from '../lib/server-process.ts';
import { DEFAULT_SERVER_CMD, progress, releaseTarget, spawnTarget } from '../lib/target.ts';
import { chartPath, writeChartFile } from '../lib/charts.ts';
import { stormSeries, stormSvg } from './chart.ts';

/** Scheduler tick: at 10k/s that is 10 connections per tick. */
const TICK_MS = 1;
/** A step must get `hello` for this share of its target rate. */
const ACHIEVED_SHARE_MIN = 0.95;
/** Descriptors the server needs beyond the in-flight handshakes (pg, workers, logs). */
const SERVER_FD_HEADROOM = 4_096;

export const stormUsage = `storm [--alg ES256|HS256] [--rate-start R] [--rate-factor F] [--rate-max R] [--step-s S]
   [--p99-max-ms MS] [--fail-max-pct P] [--timeout S] [--inflight-max N] [--tokens N] [--verify-threads N]
   [--source-ips auto|IP,IP,...] [--port N] [--server-cmd "..."] [--tls] [--keep-data] [--no-chart] [--json-out FILE]`;

interface StormOptions {
  alg: BenchAlgorithm;
  rateStart: number;
  rateFactor: number;
  rateMax: number;
  stepS: number;
  p99MaxMs: number;
  failMaxPct: number;
  timeoutMs: number;
  inflightMax: number;
  tokens: number;
  verifyThreads?: number;
  sourceIps: string[];
  port: number;
  serverCmd: string;
  keepData: boolean;
  /** wss:// with a self-signed certificate: every connection also pays a full TLS handshake. */
  tls: boolean;
}

function parseOptions(args: Args): StormOptions {
  const alg = (args.str('alg') ?? 'ES256').toUpperCase();
  if (alg !== 'ES256' && alg !== 'HS256') throw new UsageError(`--alg: expected ES256 or HS256, got ${alg}`);
  const rawThreads = args.str('verify-threads');
  return {
    alg,
    rateStart: args.num('rate-start', 1000, { min: 1, max: 1_000_000 }),
    rateFactor: args.num('rate-factor', 1.25, { min: 1.01, max: 10 }),
    rateMax: args.num('rate-max', 100_000, { min: 1, max: 1_000_000 }),
    stepS: args.num('step-s', 5, { min: 0.5, max: 600 }),
    p99MaxMs: args.num('p99-max-ms', 1000, { min: 1, max: 60_000 }),
    failMaxPct: args.num('fail-max-pct', 1, { min: 0, max: 100 }),
    timeoutMs: args.num('timeout', 5, { min: 0.1, max: 120 }) * 1000,
    inflightMax: args.int('inflight-max', 8000, { min: 1, max: 1_000_000 }),
    tokens: args.int('tokens', 20_000, { min: 1, max: 1_000_000 }),
    verifyThreads: rawThreads === undefined ? undefined : args.int('verify-threads', 1, { min: 0, max: 64 }),
    sourceIps: parseSourceIps(args.str('source-ips')),
    port: args.int('port', 9103, { min: 1, max: 65_535 }),
    serverCmd: args.str('server-cmd') ?? DEFAULT_SERVER_CMD,
    keepData: args.flag('keep-data'),
    tls: args.flag('tls'),
  };
}

/** `auto`: 127.0.0.2..127.0.0.5 (churn with RST reuses ports at once; four spread bind() scans). */
function parseSourceIps(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  if (raw === 'auto') return ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
  const ips = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (ips.length === 0 || ips.some((ip) => net.isIP(ip) === 0)) throw new UsageError(`--source-ips: expected auto or IP,IP,…, got ${raw}`);
  return ips;
}

interface StepResult {
  targetRate: number;
  attempted: number;
  ok: number;
  failed: number;
  failures: Record<string, number>;
  helloPerS: number; // connections that got hello, per second of the step
  connectMs: { p50: number; p95: number; p99: number; max: number };
  inflightPeak: number;
  inflightCapped: number; // due attempts skipped because --inflight-max were in flight
  schedulerLagMsMax: number;
  /** Kernel-wide TcpExt ListenOverflows during the step: SYNs dropped because the accept queue was full. */
  listenOverflows: number | null;
  serverCpuPct: number | null; // 100 = one core, over the step and its stragglers
  generatorCpuPct: number;
  /** CPU µs per connection that got hello (step + stragglers): the server's process tree, and the bench. */
  serverCpuUsPerConn: number | null;
  generatorCpuUsPerConn: number | null;
  sustained: boolean;
}

export async function runStorm(args: Args): Promise<Record<string, unknown>> {
  const options = parseOptions(args);
  const hsSecret = randomBytes(32).toString('hex');
  const { sign, serverEnv } = await signerFor(options.alg, hsSecret);
  const env: Record<string, string> = {
    ...serverEnv,
    // Tokens are reused round-robin; the per-user cap must not be what refuses.
    MAX_CONNS_PER_USER: process.env.MAX_CONNS_PER_USER ?? '1000',
    ...(options.verifyThreads === undefined ? {} : { JWT_VERIFY_THREADS: String(options.verifyThreads) }),
  };
  const target = await spawnTarget({
    serverCmd: options.serverCmd, preferredPort: options.port, env, maxOpenFiles: options.inflightMax + SERVER_FD_HEADROOM, tls: options.tls,
  });
  const server = target.server!;
  let failed = true;
  try {
    const fdLimit = openFilesLimit();
    if (fdLimit !== undefined && fdLimit < options.inflightMax + 100) progress(`warning: generator fd limit ${fdLimit} < --inflight-max ${options.inflightMax}`);
    const signStart = performance.now();
    const runTag = randomBytes(4).toString('hex');
    const upgradeTo: UpgradeTarget = { host: '127.0.0.1', port: server.port, path: '/v1/ws', ca: target.ca };
    const requests = Array.from({ length: options.tokens }, (_, i) => upgradeRequest(upgradeTo, sign(`s${runTag}u${i}`, ['user'])));
    const signMs = performance.now() - signStart;
    progress(`${options.alg}: ${options.tokens} tokens pre-signed in ${Math.round(signMs)} ms; stepping from ${options.rateStart}/s ×${options.rateFactor}, ${options.stepS} s per step`);
    await sleep(1_000); // the server's startup work (pool threads, JIT) settles

    const steps: StepResult[] = [];
    let next = 0; // round-robin over the pre-signed requests
    for (let rate = options.rateStart; rate <= options.rateMax; rate = Math.round(rate * options.rateFactor)) {
      const step = await runStep(options, rate, upgradeTo, () => requests[next++ % requests.length], () => server.cpuSeconds());
      steps.push(step);
      progress(
        `${rate}/s: ${step.ok} hello (${step.helloPerS}/s), ${step.failed} failed ${JSON.stringify(step.failures)}, ` +
          `p50/p99 ${step.connectMs.p50}/${step.connectMs.p99} ms, server ${step.serverCpuPct}% cpu (${step.serverCpuUsPerConn ?? '–'} µs/conn), ` +
          `generator ${step.generatorCpuPct}% (${step.generatorCpuUsPerConn ?? '–'} µs/conn)` +
          (step.sustained ? '' : ' → not sustained'),
      );
      if (!step.sustained) break;
      await sleep(500); // the last step's resets are processed before the next begins
    }
    const best = [...steps].reverse().find((s) => s.sustained);
    const refused = steps.find((s) => !s.sustained);
    progress(
      `${options.tls ? 'TLS (wss://)' : 'plain (ws://)'}: max sustained ${best?.targetRate ?? 0} connections/s (${best?.helloPerS ?? 0} hello/s), ` +
        `server ${best?.serverCpuUsPerConn ?? '–'} µs/conn, generator ${best?.generatorCpuUsPerConn ?? '–'} µs/conn there`,
    );
    failed = false;
    const line: Record<string, unknown> = {
      scenario: 'storm',
      alg: options.alg,
      tls: options.tls,
      verifyThreads: options.verifyThreads ?? 'server default',
      // The spawned server inherits EDGE_THREADS: event loops verifying and upgrading in parallel.
      edgeThreads: Number(process.env.EDGE_THREADS ?? 1),
      maxSustainedRate: best?.targetRate ?? 0,
      maxSustainedHelloPerS: best?.helloPerS ?? 0,
      serverCpuPctAtMax: best?.serverCpuPct ?? null,
      generatorCpuPctAtMax: best?.generatorCpuPct ?? null,
      // The cost of one connection (accept + TLS handshake with --tls + verify + upgrade + hello + close) at the max.
      serverCpuUsPerConnAtMax: best?.serverCpuUsPerConn ?? null,
      generatorCpuUsPerConnAtMax: best?.generatorCpuUsPerConn ?? null,
      connectMsAtMax: best?.connectMs ?? null,
      refusedAt: refused ? { targetRate: refused.targetRate, why: whyNotSustained(refused, options) } : null,
      criteria: { failMaxPct: options.failMaxPct, p99MaxMs: options.p99MaxMs, achievedShareMin: ACHIEVED_SHARE_MIN, timeoutMs: options.timeoutMs },
      stepS: options.stepS,
      tokens: options.tokens,
      signMs: Math.round(signMs),
      sourceIps: options.sourceIps.length > 0 ? options.sourceIps.join(',') : null,
      steps,
      serverRssMb: server.rssMb(),
      serverCmd: server.command,
      at: new Date().toISOString(),
    };
    // Connections/s against p99 connect time, one point per step: beside --json-out FILE as FILE.svg.
    line.chart = args.flag('no-chart') ? null : writeChartFile(chartPath(args.str('json-out'), 'storm'), stormSvg(stormSeries([line])));
    return line;
  } finally {
    await releaseTarget(target, failed || options.keepData);
  }
}

function whyNotSustained(step: StepResult, options: StormOptions): string[] {
  const why: string[] = [];
  if (step.attempted > 0 && (step.failed / step.attempted) * 100 > options.failMaxPct) why.push(`failed ${step.failed}/${step.attempted}`);
  if (step.connectMs.p99 > options.p99MaxMs) why.push(`p99 ${step.connectMs.p99} ms`);
  if (step.helloPerS < step.targetRate * ACHIEVED_SHARE_MIN) why.push(`hello ${step.helloPerS}/s`);
  if (step.inflightCapped > 0) why.push(`in-flight cap hit ${step.inflightCapped}×`);
  return why;
}

/** One step: open-loop attempts at `rate` for stepS, then waits for the stragglers (≤ timeout). */
function runStep(
  options: StormOptions,
  rate: number,
  target: UpgradeTarget,
  nextRequest: () => string,
  serverCpuSeconds: () => number,
): Promise<StepResult> {
  const latency = new Histogram();
  const failures: Record<string, number> = {};
  let attempted = 0;
  let ok = 0;
  let failed = 0;
  let inflight = 0;
  let inflightPeak = 0;
  let inflightCapped = 0;
  let lagMsMax = 0;
  let okInWindow = 0;
  const stepMs = options.stepS * 1000;
  const startMs = performance.now();
  const endMs = startMs + stepMs;
  const cpuBefore = process.cpuUsage();
  const serverCpuBefore = serverCpuSeconds();
  const overflowsBefore = listenOverflows();
  const onDone = (outcome: UpgradeOutcome): void => {
    inflight--;
    if (outcome.ok) {
      ok++;
      if (performance.now() <= endMs) okInWindow++;
      latency.record(outcome.ms * 1000);
    } else {
      failed++;
      failures[outcome.reason] = (failures[outcome.reason] ?? 0) + 1;
    }
  };
  return new Promise((resolve) => {
    let tick = 0;
    const onTick = (): void => {
      const now = performance.now();
      lagMsMax = Math.max(lagMsMax, now - (startMs + tick * TICK_MS));
      const due = Math.floor((rate * (Math.min(now, endMs) - startMs)) / 1000);
      for (; attempted < due; attempted++) {
        if (inflight >= options.inflightMax) {
          inflightCapped++;
          continue;
        }
        inflight++;
        if (inflight > inflightPeak) inflightPeak = inflight;
        const ip = options.sourceIps.length > 0 ? options.sourceIps[attempted % options.sourceIps.length] : undefined;
        rawUpgrade(target, nextRequest(), options.timeoutMs, ip, onDone);
      }
      if (now < endMs) {
        tick = Math.max(tick + 1, Math.ceil((now - startMs) / TICK_MS));
        setTimeout(onTick, Math.max(0, startMs + tick * TICK_MS - performance.now()));
        return;
      }
      const waitStragglers = (): void => {
        if (inflight > 0) return void setTimeout(waitStragglers, 10);
        const wallS = (performance.now() - startMs) / 1000;
        const cpu = process.cpuUsage(cpuBefore);
        const connectMs = latency.percentiles(1 / 1000);
        const serverCpuS = serverCpuSeconds() - serverCpuBefore;
        const generatorCpuS = (cpu.user + cpu.system) / 1e6;
        const perConn = (seconds: number): number | null => (ok === 0 ? null : Math.round((seconds * 1e6 * 10) / ok) / 10);
        const step: StepResult = {
          targetRate: rate,
          attempted,
          ok,
          failed: failed + inflightCapped,
          failures: inflightCapped > 0 ? { ...failures, 'inflight-cap': inflightCapped } : failures,
          helloPerS: Math.round(okInWindow / options.stepS),
          connectMs,
          inflightPeak,
          inflightCapped,
          schedulerLagMsMax: Math.round(lagMsMax * 10) / 10,
          listenOverflows: overflowsBefore === null ? null : (listenOverflows() ?? overflowsBefore) - overflowsBefore,
          serverCpuPct: Math.round((serverCpuS / wallS) * 100),
          generatorCpuPct: Math.round((generatorCpuS / wallS) * 100),
          serverCpuUsPerConn: perConn(serverCpuS),
          generatorCpuUsPerConn: perConn(generatorCpuS),
          sustained: false,
        };
        step.sustained = whyNotSustained(step, options).length === 0;
        resolve(step);
      };
      waitStragglers();
    };
    setTimeout(onTick, 0);
  });
}

/**
 * TcpExt ListenOverflows from /proc/net/netstat (whole host; on loopback with one server that is
 * the server's accept queue). uWS listens with a backlog of 512: when its event loop falls behind,
 * SYNs are dropped and the client retries after 1 s, which is what makes p99 jump.
 */
function listenOverflows(): number | null {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
    const names = lines[0].split(/\s+/);
    const values = lines[1].split(/\s+/);
    const i = names.indexOf('ListenOverflows');
    return i < 0 ? null : Number(values[i]);
  } catch {
    return null;
  }
}
