/** The bench's rate sweep: when a step counts as sustained, what it tries next, what it reports. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeStep, maxSustainedRate, nextRate, type StepRecord, type SweepPlan } from '../../bench/lib/sweep-rule.ts';

const step = (sent: number, acked: number, delivered: number, p99: number) => ({ sent, acked, delivered, latencyMs: { e2e: { p99 } } });
const plan: SweepPlan = { startRate: 1000, factor: 2, rateMax: 100_000, rateMin: 100, refineSteps: 1, refineRatioMin: 1.1 };

test('a step is sustained at p99 e2e ≤ 50 ms with ≥ 99% delivered and acked', () => {
  assert.deepEqual(judgeStep(step(1000, 990, 990, 50)).reasons, []);
  assert.equal(judgeStep(step(1000, 1000, 1000, 50)).sustained, true);
});

test('a step fails on p99 above the limit, on delivery or acks below 99%, or when nothing was sent', () => {
  assert.match(judgeStep(step(1000, 1000, 1000, 50.01)).reasons.join(), /p99 e2e 50.01 ms > 50 ms/);
  assert.match(judgeStep(step(1000, 1000, 989, 5)).reasons.join(), /delivered 98.9% < 99%/);
  assert.match(judgeStep(step(1000, 980, 1000, 5)).reasons.join(), /acked 98% < 99%/);
  assert.deepEqual(judgeStep(step(0, 0, 0, 0)).reasons, ['nothing sent']);
  assert.equal(judgeStep(step(1000, 1000, 1000, 30), { p99E2eMsMax: 20, deliveryMin: 0.99 }).sustained, false);
});

test('any duplicate ack or delivery fails a step, however fast it was', () => {
  assert.equal(judgeStep({ ...step(1000, 1000, 1000, 5), duplicates: 0 }).sustained, true);
  assert.deepEqual(judgeStep({ ...step(1000, 1000, 1000, 5), duplicates: 1 }).reasons, ['1 duplicate acks or deliveries']);
});

test('any gap in a conversation\'s seq fails a step, however fast it was', () => {
  assert.equal(judgeStep({ ...step(1000, 1000, 1000, 5), gaps: 0 }).sustained, true);
  assert.deepEqual(judgeStep({ ...step(1000, 1000, 1000, 5), gaps: 2 }).reasons, ['2 gaps in seq']);
});

test('max sustained rate is the best pass below every fail; null when nothing held', () => {
  const steps: StepRecord[] = [
    { rate: 1000, sustained: true },
    { rate: 2000, sustained: false },
    { rate: 3000, sustained: true }, // a noisy pass above a fail does not count
  ];
  assert.equal(maxSustainedRate(steps), 1000);
  assert.equal(maxSustainedRate([{ rate: 1000, sustained: false }]), null);
  assert.equal(maxSustainedRate([]), null);
});

test('the sweep rises by the factor until a fail, refines once at the geometric midpoint, then stops', () => {
  const steps: StepRecord[] = [];
  assert.equal(nextRate(plan, steps), 1000);
  steps.push({ rate: 1000, sustained: true });
  assert.equal(nextRate(plan, steps), 2000);
  steps.push({ rate: 2000, sustained: true });
  assert.equal(nextRate(plan, steps), 4000);
  steps.push({ rate: 4000, sustained: false });
  assert.equal(nextRate(plan, steps), 2828); // √(2000 · 4000)
  steps.push({ rate: 2828, sustained: true });
  assert.equal(nextRate(plan, steps), null); // one refinement step allowed
  assert.equal(maxSustainedRate(steps), 2828);
});

test('a failing start steps down by the factor until something holds or the floor is reached', () => {
  const steps: StepRecord[] = [{ rate: 1000, sustained: false }];
  assert.equal(nextRate(plan, steps), 500);
  steps.push({ rate: 500, sustained: false });
  assert.equal(nextRate(plan, steps), 250);
  steps.push({ rate: 250, sustained: false });
  assert.equal(nextRate(plan, steps), 125);
  steps.push({ rate: 125, sustained: false });
  assert.equal(nextRate(plan, steps), null); // 62 is below the floor (100)
  assert.equal(maxSustainedRate(steps), null);
});

test('the sweep never exceeds the rate cap and stops once the cap holds', () => {
  const capped = { ...plan, rateMax: 3000 };
  assert.equal(nextRate(capped, [{ rate: 2000, sustained: true }]), 3000);
  assert.equal(nextRate(capped, [{ rate: 2000, sustained: true }, { rate: 3000, sustained: true }]), null);
});
