/**
 * Just enough Prometheus text format for the console: samples by name and labels, and
 * histogram quantiles the way `histogram_quantile` computes them (linear within a bucket).
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const line = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/;
const label = /(\w+)="((?:[^"\\]|\\.)*)"/g;

export function parseProm(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    if (raw.startsWith('#')) continue;
    const m = line.exec(raw);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(label)) labels[l[1]] = l[2].replace(/\\(.)/g, '$1');
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    out.push({ name: m[1], labels, value });
  }
  return out;
}

/** The sum over every series of `name` (threads, label values). */
export function total(samples: Sample[], name: string): number {
  return samples.filter((s) => s.name === name).reduce((acc, s) => acc + s.value, 0);
}

/** Cumulative bucket counts by upper bound (`le`), summed over series, sorted by bound. */
export function buckets(samples: Sample[], histogram: string): [number, number][] {
  const byLe = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${histogram}_bucket`) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  return [...byLe].sort((a, b) => a[0] - b[0]);
}

/** later − earlier per bound; a counter that went down (restart) counts from zero. */
export function bucketDelta(later: [number, number][], earlier: [number, number][] | undefined): [number, number][] {
  const before = new Map(earlier ?? []);
  const reset = later.some(([le, c]) => c < (before.get(le) ?? 0));
  return later.map(([le, c]) => [le, reset ? c : c - (before.get(le) ?? 0)]);
}

/** The q-quantile of cumulative buckets, or undefined without observations. */
export function quantile(q: number, cumulative: [number, number][]): number | undefined {
  const count = cumulative.length > 0 ? cumulative[cumulative.length - 1][1] : 0;
  if (count <= 0) return undefined;
  const rank = q * count;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, c] of cumulative) {
    if (c >= rank) {
      if (le === Infinity) return prevLe; // beyond the last finite bound: report that bound
      return c === prevCount ? le : prevLe + ((le - prevLe) * (rank - prevCount)) / (c - prevCount);
    }
    prevLe = le;
    prevCount = c;
  }
  return prevLe;
}

const breakerNames = ['closed', 'half-open', 'open (failing fast)'];

/** Per dependency, the worst state over threads: `chat_dependency_breaker_state` (0/1/2) or `chat_dependency_unavailable` (0/1). */
export function dependencyStates(samples: Sample[]): Map<string, { down: boolean; text: string }> {
  const worst = new Map<string, { level: number; breaker: boolean }>();
  for (const s of samples) {
    const breaker = s.name === 'chat_dependency_breaker_state';
    if (!breaker && s.name !== 'chat_dependency_unavailable') continue;
    const dep = s.labels.dependency ?? '?';
    const level = breaker ? s.value : s.value > 0 ? 2 : 0;
    if (level >= (worst.get(dep)?.level ?? -1)) worst.set(dep, { level, breaker });
  }
  const out = new Map<string, { down: boolean; text: string }>();
  for (const [dep, w] of worst) {
    const text = w.breaker ? `breaker ${breakerNames[w.level] ?? w.level}` : w.level > 0 ? 'unavailable (failing closed)' : 'available';
    out.set(dep, { down: w.level > 0, text });
  }
  return out;
}
