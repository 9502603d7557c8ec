/**
 * Scenario `chart`: renders the SVG chart of each result line in --in (JSON lines written with
 * --json-out) into bench/results/, so every scenario's results have a picture:
 * - storm: achieved connections/s against p99 connect time, one series per line (alg, threads);
 * - soak: server RSS and shard-thread heap over time;
 * - room: achieved msgs/s against p99 to the participants and to the observer, over the lines;
 * - dm: achieved msgs/s against p99 e2e, over the lines, one series per target.
 * (compare/sweep draw their own chart when they run.)
 */
import { readFileSync } from 'node:fs';
import { UsageError, type Args } from '../lib/args.ts';
import { fileStamp, throughputP99Svg, timeSeriesSvg, writeChart, type ChartSeries } from '../lib/charts.ts';

export const chartUsage = `chart --in results/FILE.jsonl [--name PREFIX]`;

type Line = Record<string, any>;

export function stormSeries(lines: Line[]): ChartSeries[] {
  return lines.filter((l) => l.scenario === 'storm').map((l, i) => ({
    name: `${l.alg}${l.edgeThreads ? ` ×${l.edgeThreads} edge` : ''} #${i + 1} (max ${l.maxSustainedRate}/s)`,
    points: (l.steps as Line[]).map((s) => ({ rate: s.targetRate, throughput: s.helloPerS, p99Ms: s.connectMs.p99, sustained: s.sustained })),
  }));
}

export function soakSvg(l: Line): string {
  const samples = l.samples as Line[];
  const series = [{ name: 'server RSS', points: samples.map((s) => ({ tS: s.tS, value: s.rssMb })) }];
  const heap = samples.filter((s) => typeof s.shardHeapMb === 'number');
  if (heap.length) series.push({ name: 'shard heap', points: heap.map((s) => ({ tS: s.tS, value: s.shardHeapMb })) });
  return timeSeriesSvg(series, { title: `soak: ${l.targetRate} msg/s, ${l.pairs} pairs, ${l.minutes} min`, yLabel: 'MB' });
}

function byRate(points: { rate: number }[]): void {
  points.sort((a, b) => a.rate - b.rate);
}

export async function runChart(args: Args): Promise<Record<string, unknown>> {
  const file = args.str('in');
  if (!file) throw new UsageError('chart needs --in FILE (JSON lines from --json-out)');
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((t) => JSON.parse(t) as Line);
  const name = args.str('name') ?? 'chart';
  const stamp = fileStamp();
  const written: string[] = [];
  const storm = stormSeries(lines);
  if (storm.length) {
    written.push(writeChart(`${name}-storm-${stamp}.svg`, throughputP99Svg(storm, {
      title: 'storm: connections/s with JWT verification', referenceMs: [1000], xLabel: 'connections/s that got hello', yLabel: 'p99 connect → hello (log)',
    })));
  }
  lines.filter((l) => l.scenario === 'soak').forEach((l, i) => written.push(writeChart(`${name}-soak${i + 1}-${stamp}.svg`, soakSvg(l))));
  const rooms = lines.filter((l) => l.scenario === 'room');
  if (rooms.length) {
    const point = (l: Line, key: string) => ({ rate: l.targetRate, throughput: l.throughput, p99Ms: l.latencyMs[key].p99, sustained: l.latencyMs[key].p99 <= 50 });
    const series: ChartSeries[] = [
      { name: 'to participants', points: rooms.map((l) => point(l, 'e2eParticipants')) },
      { name: 'to the observer', points: rooms.map((l) => point(l, 'e2eObserver')) },
    ];
    series.forEach((s) => byRate(s.points));
    written.push(writeChart(`${name}-room-${stamp}.svg`, throughputP99Svg(series, { title: 'room: 3 participants + 1 admin observer', referenceMs: [50, 20] })));
  }
  const dms = lines.filter((l) => l.scenario === 'dm');
  if (dms.length) {
    const targets = [...new Set(dms.map((l) => l.target ?? 'ours'))];
    const series = targets.map((t) => ({
      name: t,
      points: dms.filter((l) => (l.target ?? 'ours') === t).map((l) => ({ rate: l.targetRate, throughput: l.throughput, p99Ms: l.latencyMs.e2e.p99, sustained: l.latencyMs.e2e.p99 <= 50 })),
    }));
    series.forEach((s) => byRate(s.points));
    written.push(writeChart(`${name}-dm-${stamp}.svg`, throughputP99Svg(series, { title: 'dm: throughput vs p99', referenceMs: [50, 20] })));
  }
  if (written.length === 0) throw new UsageError(`no storm, soak, room or dm lines in ${file}`);
  return { scenario: 'chart', in: file, written };
}
