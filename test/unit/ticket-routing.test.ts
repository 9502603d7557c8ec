/** The routing engine (seed 000 REQ-FUNC-001): coverage, brand filter, even round-robin. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { candidatesFor, distanceKm, newRouterState, pickRoute, type ServiceCenter } from '../../actors/routing.ts';

const center = (id: string, lat: number, lon: number, radiusKm: number, brands = ['Acme'], technicians: string[] = []): ServiceCenter =>
  ({ id, name: id, lat, lon, radiusKm, brands, agents: [], technicians });

test('great-circle distance: one degree of latitude is ~111.2 km; antipodes are half the circumference', () => {
  assert.ok(Math.abs(distanceKm({ lat: 0, lon: 0 }, { lat: 1, lon: 0 }) - 111.19) < 0.05);
  assert.ok(Math.abs(distanceKm({ lat: 0, lon: 0 }, { lat: 0, lon: 180 }) - 20015.1) < 1);
  // Across the antimeridian the short way round counts: 179.9°E to 179.9°W is ~22 km at the equator.
  assert.ok(distanceKm({ lat: 0, lon: 179.9 }, { lat: 0, lon: -179.9 }) < 23);
});

test('coverage edges: inside the radius is covered, just outside is not', () => {
  const c = center('c', 0, 0, 111.19);
  assert.deepEqual(candidatesFor([c], { lat: 0.999, lon: 0 }, 'Acme').map((x) => x.id), ['c']);
  assert.deepEqual(candidatesFor([c], { lat: 1.001, lon: 0 }, 'Acme'), []);
  assert.deepEqual(candidatesFor([center('zero', 5, 5, 0)], { lat: 5, lon: 5 }, 'Acme').map((x) => x.id), ['zero'], 'a zero radius covers its own point');
});

test('brand filter is case-insensitive, and candidates come ordered by id', () => {
  const centers = [center('b', 0, 0, 50, ['ACME']), center('a', 0, 0, 50, ['acme', 'Other']), center('c', 0, 0, 50, ['Other'])];
  assert.deepEqual(candidatesFor(centers, { lat: 0, lon: 0 }, 'Acme').map((x) => x.id), ['a', 'b']);
  assert.deepEqual(candidatesFor(centers, { lat: 0, lon: 0 }, 'Nope'), []);
});

test('round-robin per brand: counter mod n, advancing; the picked center rotates its technicians', () => {
  const state = newRouterState();
  const cands = [{ id: 'a', technicians: ['a1', 'a2'] }, { id: 'b', technicians: ['b1'] }, { id: 'c', technicians: [] }];
  const picks = Array.from({ length: 7 }, () => pickRoute(state, 'Acme', cands));
  assert.deepEqual(picks.map((p) => p!.centerId), ['a', 'b', 'c', 'a', 'b', 'c', 'a']);
  assert.deepEqual(picks.map((p) => p!.technicianId), ['a1', 'b1', undefined, 'a2', 'b1', undefined, 'a1']);
  // Another brand has its own counter.
  assert.equal(pickRoute(state, 'Other', cands)!.centerId, 'a');
  assert.equal(pickRoute(state, 'acme', cands)!.centerId, 'b', 'brands compare case-insensitively');
});

test('even spread: 3000 picks over 3 candidates give exactly 1000 each', () => {
  const state = newRouterState();
  const cands = ['x', 'y', 'z'].map((id) => ({ id, technicians: [] }));
  const counts = new Map<string, number>();
  for (let i = 0; i < 3000; i++) {
    const id = pickRoute(state, 'Acme', cands)!.centerId;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  assert.deepEqual([...counts.values()], [1000, 1000, 1000]);
});

test('no candidate: no pick, and no counter advances', () => {
  const state = newRouterState();
  assert.equal(pickRoute(state, 'Acme', []), null);
  assert.equal(state.brandCounters.size, 0);
});

test('the brand index answers exactly as the plain scan', async () => {
  const { brandIndex } = await import('../../actors/routing.ts');
  let seed = 3;
  const r = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const brands = ['Acme', 'acme', 'Other', 'Third'];
  const centers = Array.from({ length: 500 }, (_, i) => center(`c${(i * 7919) % 500}`, r() * 10, r() * 10, 10 + r() * 200, brands.filter(() => r() < 0.5)));
  const indexed = brandIndex(centers);
  for (let i = 0; i < 200; i++) {
    const at = { lat: r() * 10, lon: r() * 10 };
    const brand = brands[i % brands.length];
    assert.deepEqual(indexed(at, brand).map((c) => c.id), candidatesFor(centers, at, brand).map((c) => c.id));
  }
});
