/**
 * Scenario `chart`: renders the SVG chart of each result line in --in (JSON lines written with
 * --json-out), beside it (FILE.svg, or FILE-<kind>.svg when it holds several kinds; with --name
 * PREFIX: bench/results/PREFIX-<kind>-<time>.svg), so every scenario's results have a picture:
 * - storm: achieved connections/s against p99 connect time, one series per line (alg, threads);
 * - soak: server RSS and shard-thread heap over time;
 * - room: achieved msgs/s against p99 to the participants and to the observer, over the lines;
 * - dm: achieved msgs/s against p99 e2e, over the lines, one series per target.
 * (compare, sweep, storm and soak also draw their own chart when they run: beside --json-out
 * FILE as FILE.svg, else in bench/results/; see lib/charts.ts chartPath.)
 */
import { readFileSync } from 'node:fs';
import { UsageError, type Args } from '../lib/args.ts';
import { chartPath, throughputP99Svg, timeSeriesSvg, writeChartFile, type ChartSeries } from '../lib/charts.ts';

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

/**
 * The chart file for one `part` of a `chart` run: beside --in (same basename, `.svg`; `-<part>`
 * when the file holds more than one kind of line), or with --name as before:
 * `bench/results/<name>-<part>-<time>.svg`.
 */
function chartFile(inFile: string, name: string | undefined, part: string, parts: number): string {
  if (name !== undefined) return chartPath(undefined, name, part);
  return chartPath(inFile, '', parts > 1 ? part : undefined);
}

export function stormSvg(series: ChartSeries[]): string {
  return throughputP99Svg(series, {
    title: 'storm: connections/s with JWT verification', referenceMs: [1000], xLabel: 'connections/s that got hello', yLabel: 'p99 connect → hello (log)',
  });
}

export async function runChart(args: Args): Promise<Record<string, unknown>> {
  const file = args.str('in');
  if (!file) throw new UsageError('chart needs --in FILE (JSON lines from --json-out)');
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((t) => JSON.parse(t) as Line);
  const name = args.str('name');
  const charts: Array<{ part: string; svg: string }> = [];
  const storm = stormSeries(lines);
  if (storm.length) charts.push({ part: 'storm', svg: stormSvg(storm) });
  const soaks = lines.filter((l) => l.scenario === 'soak');
  soaks.forEach((l, i) => charts.push({ part: soaks.length > 1 ? `soak${i + 1}` : 'soak', svg: soakSvg(l) }));
  const rooms = lines.filter((l) => l.scenario === 'room');
  if (rooms.length) {
    const point = (l: Line, key: string) => ({ rate: l.targetRate, throughput: l.throughput, p99Ms: l.latencyMs[key].p99, sustained: l.latencyMs[key].p99 <= 50 });
    const series: ChartSeries[] = [
      { name: 'to participants', points: rooms.map((l) => point(l, 'e2eParticipants')) },
      { name: 'to the observer', points: rooms.map((l) => point(l, 'e2eObserver')) },
    ];
    series.forEach((s) => byRate(s.points));
    charts.push({ part: 'room', svg: throughputP99Svg(series, { title: 'room: 3 participants + 1 admin observer', referenceMs: [50, 20] }) });
  }
  const dms = lines.filter((l) => l.scenario === 'dm');
  if (dms.length) {
    const targets = [...new Set(dms.map((l) => l.target ?? 'ours'))];
    const series = targets.map((t) => ({
      name: t,
      points: dms.filter((l) => (l.target ?? 'ours') === t).map((l) => ({ rate: l.targetRate, throughput: l.throughput, p99Ms: l.latencyMs.e2e.p99, sustained: l.latencyMs.e2e.p99 <= 50 })),
    }));
    series.forEach((s) => byRate(s.points));
    charts.push({ part: 'dm', svg: throughputP99Svg(series, { title: 'dm: throughput vs p99', referenceMs: [50, 20] }) });
  }
  if (charts.length === 0) throw new UsageError(`no storm, soak, room or dm lines in ${file}`);
  const written = charts.map((c) => writeChartFile(chartFile(file, name, c.part, charts.length), c.svg));
  return { scenario: 'chart', in: file, written };
}
