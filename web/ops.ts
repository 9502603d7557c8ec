/// <reference lib="dom" />
/**
 * The operator console: `GET /cluster` (admin token) for nodes and shards, `GET /metrics`
 * every 2 s for sockets, actors, dependency states, messages/s and the p99 ack latency over the
 * last minute (computed here from the counter and the histogram buckets), `GET /readyz`.
 */
import { $, h } from './lib/dom.ts';
import { bucketDelta, buckets, dependencyStates, parseProm, quantile, type Sample, total } from './lib/prom.ts';
import { devToken, forgetToken, saveToken, subjectOf, tokenFromPage } from './lib/session.ts';

interface ClusterView {
  shardCount: number;
  nodes: { id: string; role: string; sockets: number; shards: { shard: number; epoch: number | string; actors?: number }[] }[];
}

interface Point {
  t: number;
  acked: number;
  buckets: [number, number][];
}

const storageKey = 'ops.token';
const pollMs = 2000;
const windowMs = 60_000;
let token = '';
let points: Point[] = [];
let timer: ReturnType<typeof setTimeout> | undefined;

function setStatus(state: string, text: string): void {
  $('status').dataset.state = state;
  $('status').textContent = text;
}

function showSignIn(error = ''): void {
  clearTimeout(timer);
  $('signin').hidden = false;
  $('console').hidden = true;
  $('signin-error').textContent = error;
}

function start(t: string): void {
  token = t;
  saveToken(storageKey, t);
  $('signin').hidden = true;
  $('console').hidden = false;
  $('signout').hidden = false;
  $('whoami').textContent = `Signed in as ${subjectOf(t) ?? '?'}`;
  void poll();
}

async function poll(): Promise<void> {
  clearTimeout(timer);
  try {
    const [cluster, metrics, ready] = await Promise.all([
      fetch('/cluster', { headers: { authorization: `Bearer ${token}` } }),
      fetch('/metrics'),
      fetch('/readyz'),
    ]);
    if (cluster.status === 401 || cluster.status === 403) {
      forgetToken(storageKey);
      return showSignIn(cluster.status === 403 ? 'That token has no admin role (403).' : 'The token was refused (401).');
    }
    const samples = parseProm(await metrics.text());
    renderCluster((await cluster.json()) as ClusterView, samples);
    renderDeps(samples, (await ready.json()) as { checks?: Record<string, { status: string; detail?: string }> });
    renderRates(samples);
    setStatus('live', `Live · updated ${new Date().toLocaleTimeString()}`);
  } catch (e) {
    setStatus('error', `Node unreachable (${(e as Error).message}); retrying`);
  }
  timer = setTimeout(() => void poll(), pollMs);
}

function renderCluster(c: ClusterView, samples: Sample[]): void {
  $('n-nodes').textContent = String(c.nodes.length);
  $('n-sockets').textContent = String(total(samples, 'chat_sockets_open'));
  $('n-actors').textContent = String(total(samples, 'chat_actors'));
  $('shard-count').textContent = `(${c.shardCount} in all)`;
  const leases = c.nodes.some((n) => n.shards.length > 0);
  const owned = (n: ClusterView['nodes'][number]) => (leases || n.role === 'edge' ? String(n.shards.length) : `all ${c.shardCount} (no leases)`);
  const rows = c.nodes.map((n) =>
    h('tr', { 'data-node': n.id }, h('th', { scope: 'row' }, n.id), h('td', {}, n.role), h('td', {}, String(n.sockets)), h('td', {}, owned(n))),
  );
  $('nodes').querySelector('tbody')!.replaceChildren(...rows);
  const shards = c.nodes
    .flatMap((n) => n.shards.map((s) => ({ ...s, owner: n.id })))
    .sort((a, b) => a.shard - b.shard)
    .map((s) => h('tr', {}, h('td', {}, String(s.shard)), h('td', {}, s.owner), h('td', {}, String(s.epoch)), h('td', {}, String(s.actors ?? '–'))));
  const none = h('tr', {}, h('td', { colspan: 4 }, 'No leases: a single node (no NATS) serves every shard itself.'));
  $('shards').querySelector('tbody')!.replaceChildren(...(shards.length ? shards : [none]));
}

function renderDeps(samples: Sample[], ready: { checks?: Record<string, { status: string; detail?: string }> }): void {
  const items: HTMLLIElement[] = [];
  for (const [dep, st] of dependencyStates(samples)) items.push(h('li', { class: st.down ? 'down' : 'up', 'data-dep': dep }, `${dep}: ${st.text}`));
  for (const [name, check] of Object.entries(ready.checks ?? {})) {
    items.push(h('li', { class: check.status === 'ok' ? 'up' : 'down', 'data-check': name }, `readiness ${name}: ${check.status}${check.detail ? ` (${check.detail})` : ''}`));
  }
  $('deps').replaceChildren(...(items.length ? items : [h('li', {}, 'No dependency reported yet')]));
}

function renderRates(samples: Sample[]): void {
  const now = Date.now();
  points.push({ t: now, acked: total(samples, 'chat_messages_acked_total'), buckets: buckets(samples, 'chat_send_ack_seconds') });
  points = points.filter((p) => now - p.t <= windowMs + pollMs);
  const first = points[0];
  const last = points[points.length - 1];
  const spanS = (last.t - first.t) / 1000;
  const delta = last.acked >= first.acked ? last.acked - first.acked : last.acked;
  $('n-rate').textContent = spanS > 0 ? (delta / spanS).toFixed(1) : '–';
  const p99 = quantile(0.99, bucketDelta(last.buckets, points.length > 1 ? first.buckets : undefined));
  $('n-p99').textContent = p99 === undefined ? '–' : `${(p99 * 1000).toFixed(1)} ms`;
  drawChart();
}

/** Per poll interval: the rate (bars) and that interval's p99 (line). */
function drawChart(): void {
  const series = points.slice(1).map((p, i) => {
    const prev = points[i];
    const dt = (p.t - prev.t) / 1000;
    const n = p.acked >= prev.acked ? p.acked - prev.acked : p.acked;
    return { t: p.t, rate: dt > 0 ? n / dt : 0, p99: quantile(0.99, bucketDelta(p.buckets, prev.buckets)) };
  });
  const svg = $('chart') as unknown as SVGSVGElement;
  const ns = 'http://www.w3.org/2000/svg';
  const el = (tag: string, attrs: Record<string, string | number>, text?: string): SVGElement => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const W = 600, H = 140, top = 14, bottom = 124;
  const maxRate = Math.max(1, ...series.map((s) => s.rate));
  const maxP99 = Math.max(0.001, ...series.map((s) => s.p99 ?? 0));
  const now = Date.now();
  const x = (t: number) => 40 + ((t - (now - windowMs)) / windowMs) * (W - 80);
  const parts: SVGElement[] = [el('desc', { id: 'chart-desc' }, series.length ? `Latest ${series[series.length - 1].rate.toFixed(1)} messages/s` : 'No data yet')];
  parts.push(el('line', { x1: 40, y1: bottom, x2: W - 40, y2: bottom, class: 'axis' }));
  parts.push(el('text', { x: 4, y: top, class: 'lbl' }, `${maxRate.toFixed(0)}/s`), el('text', { x: W - 38, y: top, class: 'lbl p99' }, `${(maxP99 * 1000).toFixed(0)} ms`));
  parts.push(el('text', { x: 40, y: H - 2, class: 'lbl' }, '−60 s'), el('text', { x: W - 64, y: H - 2, class: 'lbl' }, 'now'));
  const bw = ((W - 80) * pollMs) / windowMs - 2;
  for (const s of series) {
    const hgt = (s.rate / maxRate) * (bottom - top);
    parts.push(el('rect', { x: x(s.t) - bw, y: bottom - hgt, width: Math.max(1, bw), height: hgt, class: 'bar' }));
  }
  const line = series.filter((s) => s.p99 !== undefined).map((s) => `${x(s.t).toFixed(1)},${(bottom - ((s.p99 ?? 0) / maxP99) * (bottom - top)).toFixed(1)}`);
  if (line.length) parts.push(el('polyline', { points: line.join(' '), class: 'p99' }));
  svg.replaceChildren(...parts);
}

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const t = $<HTMLTextAreaElement>('token-input').value.trim();
  if (t) start(t);
});
$('dev-form').addEventListener('submit', (e) => {
  e.preventDefault();
  devToken('ops', 'admin').then(start, (err: Error) => showSignIn(err.message));
});
$('signout').addEventListener('click', () => {
  forgetToken(storageKey);
  location.reload();
});

const saved = tokenFromPage(storageKey);
if (saved) start(saved);
else showSignIn();
