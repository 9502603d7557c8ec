/**
 * Scenario `tickets`: service-request creation over HTTP (warranty check → routing → commit →
 * event) and the routing engine's cost per request.
 *
 * 1. Routing cost: `candidatesFor` over --centers generated centers (random points and radii
 *    over a 20°×20° area, 5 brands), timed in this process for --routing-samples lookups.
 * 2. Create latency: a spawned server with the same centers (SERVICE_CENTERS_FILE) and a
 *    product table (PRODUCTS_FILE); --creates POSTs with --concurrency in flight, each a new
 *    customer and Idempotency-Key; latency from request to 201. Every answer must be 201.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { brandIndex, candidatesFor, type ServiceCenter } from '../../actors/routing.ts';
import { UsageError, type Args } from '../lib/args.ts';
import { mapLimit } from '../lib/concurrency.ts';
import { Histogram } from '../lib/histogram.ts';
import { DEFAULT_SERVER_CMD, progress, spawnTarget, syncSigner, withTarget } from '../lib/target.ts';

export const ticketsUsage = `tickets [--centers N] [--creates N] [--concurrency N] [--routing-samples N] [--port N]
   [--server-cmd "node --import tsx src/main.ts"] [--keep-data] [--json-out FILE]`;

const brands = ['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli'];
const area = { lat: 40, lon: 0, spanDeg: 20 };

/** Deterministic pseudo-random numbers (mulberry32), so every run routes over the same centers. */
function rng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generateCenters(n: number): ServiceCenter[] {
  const r = rng(42);
  return Array.from({ length: n }, (_, i) => ({
    id: `sc-${String(i).padStart(6, '0')}`,
    name: `Center ${i}`,
    lat: area.lat + r() * area.spanDeg,
    lon: area.lon + r() * area.spanDeg,
    radiusKm: 20 + r() * 80,
    brands: brands.filter(() => r() < 0.4),
    agents: [`agent-${i}`],
    technicians: [`tech-${i}-a`, `tech-${i}-b`],
  }));
}

function randomPoint(r: () => number) {
  return { lat: area.lat + r() * area.spanDeg, lon: area.lon + r() * area.spanDeg };
}

/** µs per lookup, for the plain scan and for the brand-indexed table the server uses. */
function routingCost(centers: ServiceCenter[], samples: number) {
  const indexed = brandIndex(centers);
  const measure = (lookup: (at: { lat: number; lon: number }, brand: string) => ServiceCenter[]) => {
    const r = rng(7);
    const h = new Histogram();
    let candidates = 0;
    for (let i = 0; i < samples; i++) {
      const at = randomPoint(r);
      const brand = brands[i % brands.length];
      const t0 = performance.now();
      candidates += lookup(at, brand).length;
      h.record((performance.now() - t0) * 1000);
    }
    return { candidatesMean: +(candidates / samples).toFixed(2), latencyUs: h.percentiles() };
  };
  return { samples, scan: measure((at, brand) => candidatesFor(centers, at, brand)), brandIndexed: measure(indexed) };
}

export async function runTickets(args: Args): Promise<Record<string, unknown>> {
  const centersN = args.int('centers', 10_000, { min: 1, max: 1_000_000 });
  const creates = args.int('creates', 2000, { min: 1, max: 1_000_000 });
  const concurrency = args.int('concurrency', 16, { min: 1, max: 1024 });
  const samples = args.int('routing-samples', 2000, { min: 1, max: 1_000_000 });
  const port = args.int('port', 9103, { min: 1, max: 65_535 });
  const serverCmd = args.str('server-cmd') ?? DEFAULT_SERVER_CMD;
  const keepData = args.flag('keep-data');
  if (args.str('url')) throw new UsageError('tickets spawns its own server (it writes the product and center tables)');

  const centers = generateCenters(centersN);
  progress(`routing cost over ${centersN} centers, ${samples} lookups`);
  const routing = routingCost(centers, samples);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-tickets-'));
  writeFileSync(path.join(dir, 'centers.json'), JSON.stringify(centers));
  writeFileSync(path.join(dir, 'products.json'), JSON.stringify(brands.map((b) => ({ id: `p-${b}`, brand: b, warrantyUntil: '2999-01-01' }))));
  const target = await spawnTarget({
    serverCmd, preferredPort: port,
    env: { SERVICE_CENTERS_FILE: path.join(dir, 'centers.json'), PRODUCTS_FILE: path.join(dir, 'products.json') },
  });
  return withTarget(target, keepData, async () => {
    const sign = await syncSigner(new TextEncoder().encode(target.secret));
    const run = randomBytes(4).toString('hex');
    const r = rng(11);
    const bodies = Array.from({ length: creates }, (_, i) => {
      const brand = brands[i % brands.length];
      return JSON.stringify({ productId: `p-${brand}`, brand, location: randomPoint(r), description: `bench ${i}` });
    });
    const h = new Histogram();
    const statuses: Record<string, number> = {};
    const outcome: Record<string, number> = {};
    progress(`creating ${creates} service requests, ${concurrency} in flight`);
    const started = performance.now();
    await mapLimit(bodies, concurrency, async (body, i) => {
      const t0 = performance.now();
      const res = await fetch(`${target.httpBase}/api/v1/service-requests`, {
        method: 'POST', body,
        headers: { authorization: `Bearer ${sign(`bc${run}-${i}`, ['customer'])}`, 'idempotency-key': `k${i}`, 'content-type': 'application/json' },
      });
      const json = (await res.json()) as { status?: string };
      h.record((performance.now() - t0) * 1000);
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (json.status) outcome[json.status] = (outcome[json.status] ?? 0) + 1;
    });
    const seconds = (performance.now() - started) / 1000;
    return {
      scenario: 'tickets', centers: centersN, creates, concurrency,
      routing,
      create: { perS: +(creates / seconds).toFixed(1), latencyMs: h.percentiles(1 / 1000), statuses, outcome },
      serverCmd, at: new Date().toISOString(),
    };
  });
}
