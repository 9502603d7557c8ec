/**
 * The rate sweep's rules as pure functions (tested in test/unit/bench-sweep-rule.test.ts):
 * when a step counts as sustained, which rate to try next, and what the max sustained rate is.
 */

export interface SweepLimits {
  /** A step fails when its p99 send → recipient latency is above this. */
  p99E2eMsMax: number;
  /** …or when fewer than this fraction of the window's sends were delivered (or acked). */
  deliveryMin: number;
}

/** The definition of "sustained": p99 e2e ≤ 50 ms and ≥ 99% delivered. */
export const SWEEP_LIMITS_DEFAULT: SweepLimits = { p99E2eMsMax: 50, deliveryMin: 0.99 };

/** The fields of a `dm` result the rule reads. */
export interface StepMeasurement {
  sent: number;
  acked: number;
  delivered: number;
  latencyMs: { e2e: { p99: number } };
  /**
   * A second ack or delivery for one send (dm-load counts them). Nothing a fast step gains is
   * worth one: any duplicate fails the step, whatever its latency (issue 14 item 4). Absent in
   * results from before the field existed.
   */
  duplicates?: number;
  /** Seqs committed and never shown to either socket of their conversation (dm-load): like duplicates, any fails the step. */
  gaps?: number;
}

export interface StepVerdict {
  sustained: boolean;
  /** Why not, one entry per broken limit (empty when sustained). */
  reasons: string[];
  deliveredRatio: number;
  ackedRatio: number;
}

export function judgeStep(m: StepMeasurement, limits: SweepLimits = SWEEP_LIMITS_DEFAULT): StepVerdict {
  const deliveredRatio = m.sent > 0 ? m.delivered / m.sent : 0;
  const ackedRatio = m.sent > 0 ? m.acked / m.sent : 0;
  const reasons: string[] = [];
  const pct = (x: number): string => `${(Math.floor(x * 10_000) / 100).toString()}%`;
  if (m.sent === 0) reasons.push('nothing sent');
  if (m.latencyMs.e2e.p99 > limits.p99E2eMsMax) reasons.push(`p99 e2e ${m.latencyMs.e2e.p99} ms > ${limits.p99E2eMsMax} ms`);
  if (m.sent > 0 && deliveredRatio < limits.deliveryMin) reasons.push(`delivered ${pct(deliveredRatio)} < ${pct(limits.deliveryMin)}`);
  if (m.sent > 0 && ackedRatio < limits.deliveryMin) reasons.push(`acked ${pct(ackedRatio)} < ${pct(limits.deliveryMin)}`);
  if ((m.duplicates ?? 0) > 0) reasons.push(`${m.duplicates} duplicate acks or deliveries`);
  if ((m.gaps ?? 0) > 0) reasons.push(`${m.gaps} gaps in seq`);
  return { sustained: reasons.length === 0, reasons, deliveredRatio, ackedRatio };
}

export interface SweepPlan {
  startRate: number;
  /** Each rising step multiplies the last sustained rate by this (> 1). */
  factor: number;
  /** Never step above this rate. */
  rateMax: number;
  /** Never step below this rate (when even the start fails, the sweep steps down by `factor`). */
  rateMin: number;
  /** Steps spent narrowing the gap between the best pass and the lowest fail (geometric midpoints). */
  refineSteps: number;
  /** Stop refining once lowest fail / best pass is at most this. */
  refineRatioMin: number;
}

export interface StepRecord {
  rate: number;
  sustained: boolean;
}

/**
 * Max sustained rate: the highest sustained rate below every failed rate (a noisy pass above a
 * fail does not count: the rate has to hold all the way up to it). Null when nothing held.
 */
export function maxSustainedRate(steps: readonly StepRecord[]): number | null {
  const lowestFail = Math.min(...steps.filter((s) => !s.sustained).map((s) => s.rate));
  const passes = steps.filter((s) => s.sustained && s.rate < lowestFail).map((s) => s.rate);
  return passes.length > 0 ? Math.max(...passes) : null;
}

/** The next rate to try, or null when the sweep is done. Rates are whole msgs/s. */
export function nextRate(plan: SweepPlan, steps: readonly StepRecord[]): number | null {
  if (steps.length === 0) return Math.min(plan.startRate, plan.rateMax);
  const best = maxSustainedRate(steps);
  const fails = steps.filter((s) => !s.sustained).map((s) => s.rate);
  const tried = new Set(steps.map((s) => s.rate));
  if (fails.length === 0) {
    if (best === null || best >= plan.rateMax) return null;
    return Math.min(plan.rateMax, Math.max(best + 1, Math.round(best * plan.factor)));
  }
  const lowestFail = Math.min(...fails);
  if (best === null) {
    const down = Math.floor(lowestFail / plan.factor);
    return down < plan.rateMin || tried.has(down) ? null : down;
  }
  // Refinement steps: those taken once the sweep had seen both a pass and a fail.
  const bracketedAt = Math.max(steps.findIndex((s) => s.sustained), steps.findIndex((s) => !s.sustained));
  const refineUsed = steps.length - 1 - bracketedAt;
  if (refineUsed >= plan.refineSteps || lowestFail / best <= plan.refineRatioMin) return null;
  const mid = Math.round(Math.sqrt(best * lowestFail));
  return mid <= best || mid >= lowestFail || tried.has(mid) ? null : mid;
}

/**
 * An upper bound on the steps (rates) a sweep with this plan can take, for a progress line: the
 * longer of the all-pass climb and the all-fail descent, plus the refinement steps.
 */
export function stepsAtMost(plan: SweepPlan): number {
  const walk = (sustained: boolean): number => {
    const steps: StepRecord[] = [];
    for (let rate = nextRate(plan, steps); rate !== null && steps.length < 10_000; rate = nextRate(plan, steps)) steps.push({ rate, sustained });
    return steps.length;
  };
  return Math.max(walk(true), walk(false)) + plan.refineSteps;
}
