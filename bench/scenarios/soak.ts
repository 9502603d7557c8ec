/**
 * Scenario `soak`: the dm load (dm-load.ts, same pairs and open-loop schedule) held for
 * --minutes at --rate (default: half of --max), sampling the server's RSS (whole process tree)
 * and main-thread V8 heap (`nodejs_heap_size_used_bytes` from GET /metrics) every --sample-s.
 * Memory is judged on the last two thirds of the run (the first third is warm-up: caches, JIT,
 * pools filling): the least-squares slope of RSS over time must stay ≤ --growth-max-mb-per-min.
 */
import { randomBytes } from 'node:crypto';
import { type Args } from '../lib/args.ts';
import { Histogram } from '../lib/histogram.ts';
import { DEFAULT_SERVER_CMD, progress, signToken, spawnTarget, type Target, withTarget } from '../lib/target.ts';
import { formatElapsed, startLiveLine, stopLiveLine, updateLiveLine } from '../lib/live-line.ts';
import { DmLoad } from './dm-load.ts';
import { httpRequest } from '../lib/tls.ts';
import { chartPath, writeChartFile } from '../lib/charts.ts';
import { soakSvg } from './chart.ts';
import { connectPairs, makePairs, rateLimitEnv } from './dm.ts';

const US_TO_MS = 1 / 1000;

export const soakUsage = `soak [--minutes M] [--rate MSGS_PER_S | --max MSGS_PER_S] [--pairs N] [--sample-s S]
   [--growth-max-mb-per-min MB] [--port N] [--server-cmd "..."] [--tls] [--keep-data] [--no-chart] [--json-out FILE]`;

interface SoakOptions {
  minutes: number;
  rate: number;
  pairs: number;
  sampleS: number;
  growthMaxMbPerMin: number;
  port: number;
  serverCmd: string;
  keepData: boolean;
  tls: boolean; // wss:// and https:// with a self-signed certificate (lib/tls.ts)
}

function parseOptions(args: Args): SoakOptions {
  const max = args.num('max', 4000, { min: 2, max: 10_000_000 });
  return {
    minutes: args.num('minutes', 10, { min: 0.1, max: 24 * 60 }),
    rate: args.num('rate', max / 2, { min: 1, max: 10_000_000 }),
    pairs: args.int('pairs', 200, { min: 1, max: 100_000 }),
    sampleS: args.num('sample-s', 10, { min: 1, max: 3_600 }),
    growthMaxMbPerMin: args.num('growth-max-mb-per-min', 1, { min: 0, max: 10_000 }),
    port: args.int('port', 9105, { min: 1, max: 65_535 }),
    serverCmd: args.str('server-cmd') ?? DEFAULT_SERVER_CMD,
    keepData: args.flag('keep-data'),
    tls: args.flag('tls'),
  };
}

interface Sample {
  tS: number; // since the load started
  rssMb: number;
  heapUsedMb: number | null;
  /** Sum over shard threads (actors, dedupe windows, caches live there). */
  shardHeapMb: number | null;
}

export async function runSoak(args: Args): Promise<Record<string, unknown>> {
  const options = parseOptions(args);
  const target = await spawnTarget({ serverCmd: options.serverCmd, preferredPort: options.port, env: rateLimitEnv(options), tls: options.tls });
  const line = await withTarget(target, options.keepData, (t) => drive(options, t));
  // RSS and shard heap over time: beside --json-out FILE as FILE.svg.
  line.chart = args.flag('no-chart') ? null : writeChartFile(chartPath(args.str('json-out'), 'soak'), soakSvg(line));
  return line;
}

async function drive(options: SoakOptions, target: Target): Promise<Record<string, unknown>> {
  const server = target.server!;
  const runTag = randomBytes(4).toString('hex');
  const key = new TextEncoder().encode(target.secret);
  const pairs = await makePairs(options.pairs, runTag, key, () => target.wsUrl);
  const adminToken = await signToken(key, `bench-${runTag}-admin`, ['admin']);
  await connectPairs(target.httpBase, adminToken, pairs.map((pair) => [pair.a.id, pair.b.id]), target.ca);
  const durationMs = options.minutes * 60_000;
  const load = new DmLoad({
    pairs, ratePerS: options.rate, warmupMs: 0, durationMs, drainMs: 5_000, tickMs: 5, bodyBytes: 100, cmidPrefix: `s${runTag}-`, ca: target.ca,
  });
  await load.prepare();
  progress(`soak: ${options.rate} msg/s over ${options.pairs} pairs for ${options.minutes} min, sampling every ${options.sampleS} s`);

  const samples: Sample[] = [];
  const startMs = Date.now();
  // The live status line (lib/live-line.ts): sample i/n, elapsed, acks/s since the last sample, the last sample.
  const samplesPlanned = Math.floor(durationMs / 1000 / options.sampleS) + 2; // t = 0, every sampleS, the end
  const live = { acks: 0, atMs: startMs, rate: 0 };
  const render = (): string => {
    const s = samples[samples.length - 1];
    return `soak: sample ${samples.length}/${samplesPlanned}, ${formatElapsed((Date.now() - startMs) / 1000)} of ${formatElapsed(durationMs / 1000)}, ` +
      `${live.rate} acks/s (offered ${options.rate}); last: rss ${s?.rssMb ?? '?'} MB, heap ${s?.heapUsedMb ?? '?'} MB, shard heap ${s?.shardHeapMb ?? '?'} MB`;
  };
  const sample = async (): Promise<void> => {
    const heaps = await heapsMb(target.httpBase, target.ca);
    const s: Sample = { tS: Math.round((Date.now() - startMs) / 1000), rssMb: server.rssMb(), ...heaps };
    samples.push(s);
    const { acksInWindow } = load.liveCounts();
    const nowMs = Date.now();
    if (nowMs > live.atMs) live.rate = Math.round(((acksInWindow - live.acks) * 1000) / (nowMs - live.atMs));
    Object.assign(live, { acks: acksInWindow, atMs: nowMs });
    updateLiveLine(true); // a TTY redraws the line, a pipe or log file gets one plain line per sample
  };
  startLiveLine(render, false); // the first sample prints the first line
  let timer: NodeJS.Timeout | undefined;
  let result;
  let cpuBefore;
  try {
    await sample();
    timer = setInterval(() => void sample(), options.sampleS * 1000);
    cpuBefore = server.cpuSeconds();
    result = await load.run(Date.now() + 200);
    clearInterval(timer);
    await sample();
  } finally {
    clearInterval(timer);
    stopLiveLine();
  }
  const wallS = (Date.now() - startMs) / 1000;

  const judged = samples.filter((s) => s.tS >= (samples[samples.length - 1].tS * 1) / 3);
  const slope = slopeMbPerMin(judged);
  // Warm-up (caches filling up to their bounds) can outlast the first third; the last third says whether it settled.
  const lastThird = slopeMbPerMin(samples.filter((s) => s.tS >= (samples[samples.length - 1].tS * 2) / 3));
  const shardHeap = samples.map((s) => s.shardHeapMb).filter((x): x is number => x !== null);
  const rss = samples.map((s) => s.rssMb);
  const e2e = new Histogram();
  e2e.merge(result.e2e);
  const ack = new Histogram();
  ack.merge(result.ack);
  return {
    scenario: 'soak',
    tls: options.tls,
    minutes: options.minutes,
    targetRate: options.rate,
    pairs: options.pairs,
    sent: result.sent,
    acked: result.acked,
    delivered: result.delivered,
    lost: result.sent - result.delivered,
    errors: result.errors,
    throughput: Math.round((result.acksInWindow / (durationMs / 1000)) * 10) / 10,
    latencyMs: { e2e: e2e.percentiles(US_TO_MS), ack: ack.percentiles(US_TO_MS) },
    serverCpuPct: Math.round(((server.cpuSeconds() - cpuBefore) / wallS) * 100),
    rssMb: { first: rss[0], last: rss[rss.length - 1], max: Math.max(...rss) },
    heapUsedMb: { first: samples[0].heapUsedMb, last: samples[samples.length - 1].heapUsedMb },
    shardHeapMb: shardHeap.length ? { first: shardHeap[0], last: shardHeap[shardHeap.length - 1], max: Math.max(...shardHeap) } : null,
    rssSlopeLastThirdMbPerMin: lastThird === null ? null : Math.round(lastThird * 100) / 100,
    rssSlopeMbPerMin: slope === null ? null : Math.round(slope * 100) / 100,
    slopeOver: `last 2/3 (${judged.length} samples from t=${judged[0]?.tS ?? '?'} s)`,
    growthMaxMbPerMin: options.growthMaxMbPerMin,
    growthWithinBound: slope !== null && slope <= options.growthMaxMbPerMin,
    closes: result.closes,
    duplicates: result.duplicates,
    samples,
    serverCmd: server.command,
    at: new Date().toISOString(),
  };
}

/** Least-squares slope of rssMb over time, in MB per minute; null with fewer than 2 samples. */
export function slopeMbPerMin(samples: Array<{ tS: number; rssMb: number }>): number | null {
  if (samples.length < 2) return null;
  const n = samples.length;
  const meanT = samples.reduce((a, s) => a + s.tS, 0) / n;
  const meanR = samples.reduce((a, s) => a + s.rssMb, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.tS - meanT) * (s.rssMb - meanR);
    den += (s.tS - meanT) ** 2;
  }
  return den === 0 ? null : (num / den) * 60;
}

/**
 * V8 heap in use from /metrics: the main thread's (prom-client's default metric) and the sum over
 * shard threads (`chat_shard_heap_used_bytes`); null where unavailable.
 */
async function heapsMb(httpBase: string, ca: string | undefined): Promise<{ heapUsedMb: number | null; shardHeapMb: number | null }> {
  const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
  try {
    const { text } = await httpRequest(`${httpBase}/metrics`, { ca, timeoutMs: 5_000 });
    const main = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? ([\d.e+]+)/m.exec(text);
    const shards = [...text.matchAll(/^chat_shard_heap_used_bytes\{[^}]*\} ([\d.e+]+)/gm)].map((m) => Number(m[1]));
    return { heapUsedMb: main ? mb(Number(main[1])) : null, shardHeapMb: shards.length ? mb(shards.reduce((a, b) => a + b, 0)) : null };
  } catch {
    return { heapUsedMb: null, shardHeapMb: null };
  }
}
