/**
 * Hand-rolled SVG: achieved throughput (x, msgs/s) against p99 send → recipient latency
 * (y, ms, log scale) per target, one line per sweep. No dependency: a string and a few scales.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from './target.ts';

export interface ChartPoint {
  rate: number; // offered msgs/s (label only)
  throughput: number; // achieved acks/s in the window
  p99Ms: number;
  sustained: boolean;
}

export interface ChartSeries {
  name: string;
  points: ChartPoint[];
}

export interface ChartOptions {
  title: string;
  /** Dashed horizontal lines, e.g. the sweep's 50 ms limit and the 20 ms goal. */
  referenceMs?: number[];
  /** Axis labels (defaults: the dm sweep's). */
  xLabel?: string;
  yLabel?: string;
}

const WIDTH = 760;
const HEIGHT = 440;
const MARGIN = { left: 70, right: 170, top: 40, bottom: 50 };
const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const Y_MIN_MS = 0.5;

const esc = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** 1, 2, 5 × 10^k steps, about `count` of them up to `max`. */
function linearTicks(max: number, count = 6): number[] {
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = 0; v <= max + 1e-9; v += step) ticks.push(v);
  return ticks;
}

/** The opening of every chart: the svg element, a white background and the title. */
function svgOpen(title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ];
}

export function throughputP99Svg(series: ChartSeries[], options: ChartOptions): string {
  const all = series.flatMap((s) => s.points);
  const xMax = Math.max(100, ...all.map((p) => p.throughput)) * 1.05;
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(100, ...all.map((p) => p.p99Ms))));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (v: number): number => MARGIN.left + (v / xMax) * plotW;
  const y = (ms: number): number => {
    const t = (Math.log10(Math.max(Y_MIN_MS, ms)) - Math.log10(Y_MIN_MS)) / (Math.log10(yMax) - Math.log10(Y_MIN_MS));
    return MARGIN.top + plotH - t * plotH;
  };
  const out = svgOpen(options.title);
  for (const v of linearTicks(xMax)) {
    out.push(`<line x1="${x(v)}" y1="${MARGIN.top}" x2="${x(v)}" y2="${MARGIN.top + plotH}" stroke="#eee"/>`);
    out.push(`<text x="${x(v)}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${v >= 1000 ? `${v / 1000}k` : v}</text>`);
  }
  for (let ms = 1; ms <= yMax; ms *= 10) {
    out.push(`<line x1="${MARGIN.left}" y1="${y(ms)}" x2="${MARGIN.left + plotW}" y2="${y(ms)}" stroke="#eee"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${y(ms) + 4}" text-anchor="end">${ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`}</text>`);
  }
  for (const ms of options.referenceMs ?? []) {
    out.push(`<line x1="${MARGIN.left}" y1="${y(ms)}" x2="${MARGIN.left + plotW}" y2="${y(ms)}" stroke="#888" stroke-dasharray="5,4"/>`);
    out.push(`<text x="${MARGIN.left + plotW - 4}" y="${y(ms) - 4}" text-anchor="end" fill="#666">${ms} ms</text>`);
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 12}" text-anchor="middle">${esc(options.xLabel ?? 'achieved throughput (acks/s in the window)')}</text>`);
  out.push(`<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(options.yLabel ?? 'p99 send → recipient (log)')}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = [...s.points].sort((a, b) => a.rate - b.rate);
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${x(p.throughput).toFixed(1)},${y(p.p99Ms).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) {
      const fill = p.sustained ? color : 'white';
      out.push(`<circle cx="${x(p.throughput).toFixed(1)}" cy="${y(p.p99Ms).toFixed(1)}" r="4" fill="${fill}" stroke="${color}" stroke-width="2"><title>${esc(`${s.name}: offered ${p.rate}/s, ${p.throughput}/s, p99 ${p.p99Ms} ms${p.sustained ? '' : ' (not sustained)'}`)}</title></circle>`);
    }
    const ly = MARGIN.top + 14 + i * 20;
    const lx = MARGIN.left + plotW + 16;
    out.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 20}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${lx + 26}" y="${ly}">${esc(s.name)}</text>`);
  });
  const ly = MARGIN.top + 14 + series.length * 20 + 10;
  out.push(`<text x="${MARGIN.left + plotW + 16}" y="${ly}" fill="#666">filled: sustained</text>`);
  out.push(`<text x="${MARGIN.left + plotW + 16}" y="${ly + 16}" fill="#666">hollow: not sustained</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export interface TimeSeries {
  name: string;
  points: { tS: number; value: number }[];
}

/** Values over time (linear axes), e.g. a soak's RSS and heap in MB. */
export function timeSeriesSvg(series: TimeSeries[], options: { title: string; yLabel: string }): string {
  const all = series.flatMap((s) => s.points);
  const xMax = Math.max(1, ...all.map((p) => p.tS)) * 1.02;
  const yMax = Math.max(1, ...all.map((p) => p.value)) * 1.1;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (t: number): number => MARGIN.left + (t / xMax) * plotW;
  const y = (v: number): number => MARGIN.top + plotH - (v / yMax) * plotH;
  const out = svgOpen(options.title);
  for (const v of linearTicks(xMax)) {
    out.push(`<line x1="${x(v)}" y1="${MARGIN.top}" x2="${x(v)}" y2="${MARGIN.top + plotH}" stroke="#eee"/>`);
    out.push(`<text x="${x(v)}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${v}</text>`);
  }
  for (const v of linearTicks(yMax)) {
    out.push(`<line x1="${MARGIN.left}" y1="${y(v)}" x2="${MARGIN.left + plotW}" y2="${y(v)}" stroke="#eee"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`);
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 12}" text-anchor="middle">time (s)</text>`);
  out.push(`<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(options.yLabel)}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    if (s.points.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${s.points.map((p) => `${x(p.tS).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ')}"/>`);
    const ly = MARGIN.top + 14 + i * 20;
    const lx = MARGIN.left + plotW + 16;
    out.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 20}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${lx + 26}" y="${ly}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Writes the chart under bench/results/ and returns its path relative to the project root. */
export function writeChart(fileName: string, svg: string): string {
  const dir = path.join(PROJECT_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, fileName), svg);
  return path.join('bench', 'results', fileName);
}

/**
 * Where a scenario's chart goes (issue 18: the picture lands next to its numbers):
 * - with `--json-out FILE`: beside FILE, same basename, `.svg` instead of `.jsonl`/`.json`
 *   (`results/sweep-x.jsonl` → `results/sweep-x.svg`; `-<part>` before `.svg` when one run draws
 *   several charts). A FILE that collects many runs keeps the chart of the latest one;
 * - without: `bench/results/<name>-<time>.svg`, as before.
 * Returns the path to write to and to report (relative to the working directory when from FILE).
 */
export function chartPath(jsonOut: string | undefined, name: string, part?: string): string {
  if (jsonOut === undefined) return path.join(PROJECT_ROOT, 'bench', 'results', `${name}${part ? `-${part}` : ''}-${fileStamp()}.svg`);
  const ext = path.extname(jsonOut);
  const base = ext === '.jsonl' || ext === '.json' || ext === '.ndjson' ? jsonOut.slice(0, -ext.length) : jsonOut;
  return `${base}${part ? `-${part}` : ''}.svg`;
}

/** Writes `svg` to `file` (from chartPath), creating its folder; returns the path as reported in result lines. */
export function writeChartFile(file: string, svg: string): string {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(file, svg);
  return path.isAbsolute(file) && file.startsWith(`${PROJECT_ROOT}${path.sep}`) ? path.relative(PROJECT_ROOT, file) : file;
}

/** `2026-11-23T02-21-44Z`: sortable and safe in a file name. */
export function fileStamp(date = new Date()): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}
