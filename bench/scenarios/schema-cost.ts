/**
 * Scenario `schema-cost` (issue 18): what validating one order-event intake body costs, per
 * validation, with today's hand-written check, the TypeBox schema compiled by ajv (what the
 * node runs: protocol/schema.ts `check`), the same schema through TypeBox's own TypeCompiler, and
 * an equivalent zod schema. N valid and N invalid bodies (already parsed: JSON.parse and the
 * body-wide text scan are the same for every variant and left out), R rounds after a warm-up;
 * an invalid body costs its refusal too (a ChatError naming the field, as the route throws).
 *
 * The TypeCompiler compiles TypeBox kinds only, not `allOf`/`if`/`then` (order.accepted needs
 * customerId and vendorId, order.rider_assigned riderId): it checks the same rule written as a
 * union of the event's three shapes.
 */
import { type TSchema, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { z } from 'zod';
import { orderEventTypes } from '../../actors/order.ts';
import { ChatError, ErrorCode } from '../../protocol/errors.ts';
import { idPattern, idRuleText, requireId } from '../../protocol/ids.ts';
import { check } from '../../protocol/schema.ts';
import { lineFault } from '../../protocol/text.ts';
import { OrderEventBody } from '../../src/integrations/order-events.ts';
import type { Args } from '../lib/args.ts';

export const schemaCostUsage = 'schema-cost [--n 1000] [--rounds 200]';

/** Today's check (src/integrations/order-events.ts before issue 18), on the parsed object. */
function handWritten(e: Record<string, unknown>): unknown {
  const type = e.type;
  if (typeof type !== 'string' || !(orderEventTypes as readonly string[]).includes(type)) {
    throw new ChatError(ErrorCode.badFrame, `type: one of ${orderEventTypes.join(', ')}`);
  }
  if (typeof e.occurredAt !== 'string' || lineFault(e.occurredAt)) throw new ChatError(ErrorCode.badFrame, 'occurredAt: expected an ISO-8601 time');
  const data = e.data;
  if (typeof data !== 'object' || data === null) throw new ChatError(ErrorCode.badFrame, 'data: expected an object');
  const d = data as Record<string, unknown>;
  const event: { id: string; type: string; occurredAt: string; data: Record<string, string> } = {
    id: requireId(e.id, 'id'), type, occurredAt: e.occurredAt, data: { orderId: requireId(d.orderId, 'data.orderId') },
  };
  if (type === 'order.accepted') {
    event.data.customerId = requireId(d.customerId, 'data.customerId');
    event.data.vendorId = requireId(d.vendorId, 'data.vendorId');
  }
  if (type === 'order.rider_assigned') event.data.riderId = requireId(d.riderId, 'data.riderId');
  return event;
}

/** TypeCompiler compiles TypeBox kinds only (no `if`/`then`): the conditions as a union of the event's three shapes. */
const tbId = OrderEventBody.properties.id;
const tbEvent = (types: string[], data: Record<string, TSchema>) => Type.Object({
  id: tbId, type: Type.Union(types.map((t) => Type.Literal(t))), occurredAt: Type.String(), data: Type.Object({ orderId: tbId, ...data }),
});
const compiledTypeBox = TypeCompiler.Compile(Type.Union([
  tbEvent(['order.accepted'], { customerId: tbId, vendorId: tbId }),
  tbEvent(['order.rider_assigned'], { riderId: tbId }),
  tbEvent(['order.delivered', 'order.cancelled'], {}),
]));
function typeCompiler(e: Record<string, unknown>): unknown {
  if (compiledTypeBox.Check(e)) return e;
  const first = compiledTypeBox.Errors(e).First();
  throw new ChatError(ErrorCode.badFrame, `${first?.path.slice(1).replace(/\//g, '.') ?? 'body'}: ${first?.message ?? 'invalid'}`);
}

const zId = z.string().regex(idPattern, `expected an id of ${idRuleText}`);
const zodSchema = z.object({
  id: zId,
  type: z.enum(orderEventTypes),
  occurredAt: z.string(),
  data: z.object({ orderId: zId, customerId: zId.optional(), vendorId: zId.optional(), riderId: zId.optional() }),
}).superRefine((e, ctx) => {
  const need = e.type === 'order.accepted' ? (['customerId', 'vendorId'] as const) : e.type === 'order.rider_assigned' ? (['riderId'] as const) : [];
  for (const k of need) if (e.data[k] === undefined) ctx.addIssue({ code: 'custom', path: ['data', k], message: `expected an id of ${idRuleText}` });
});
function zod(e: Record<string, unknown>): unknown {
  const r = zodSchema.safeParse(e);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  throw new ChatError(ErrorCode.badFrame, `${first.path.join('.')}: ${first.message}`);
}

function bodies(n: number): { valid: Record<string, unknown>[]; invalid: Record<string, unknown>[] } {
  const at = new Date(1_780_000_000_000).toISOString();
  const valid = Array.from({ length: n }, (_, i) => {
    const type = orderEventTypes[i % orderEventTypes.length];
    const data: Record<string, string> = { orderId: `order-${i}.v2:eu` };
    if (type === 'order.accepted') Object.assign(data, { customerId: `cust_${i}`, vendorId: `vendor_${i % 50}` });
    if (type === 'order.rider_assigned') data.riderId = `rider-${i % 200}`;
    return { id: `ev-${i}-${type}`, type, occurredAt: at, data };
  });
  const faults: Array<(e: Record<string, unknown>) => void> = [
    (e) => ((e.data as Record<string, unknown>).orderId = 'a b'),
    (e) => (e.type = 'order.exploded'),
    (e) => (e.id = '>'),
    (e) => (e.data = 'nope'),
    (e) => ((e.type = 'order.accepted'), delete (e.data as Record<string, unknown>).vendorId, delete (e.data as Record<string, unknown>).customerId),
  ];
  const invalid = valid.map((v, i) => {
    const e = structuredClone(v);
    faults[i % faults.length](e);
    return e;
  });
  return { valid, invalid };
}

/** ns per validation over `rounds` passes of `inputs`; every call must throw (invalid) or not (valid). */
function measure(fn: (e: Record<string, unknown>) => unknown, inputs: Record<string, unknown>[], rounds: number, shouldFail: boolean): number {
  const once = () => {
    let failed = 0;
    for (const e of inputs) {
      try {
        fn(e);
      } catch (err) {
        if (!(err instanceof ChatError)) throw err;
        failed++;
      }
    }
    return failed;
  };
  for (let i = 0; i < Math.max(5, rounds / 10); i++) once(); // warm-up: JIT and ajv/zod caches
  const t0 = process.hrtime.bigint();
  let failed = 0;
  for (let r = 0; r < rounds; r++) failed += once();
  const ns = Number(process.hrtime.bigint() - t0) / (rounds * inputs.length);
  const expected = shouldFail ? rounds * inputs.length : 0;
  if (failed !== expected) throw new Error(`${fn.name}: ${failed} of ${rounds * inputs.length} refused, expected ${expected}`);
  return Math.round(ns);
}

export async function runSchemaCost(args: Args): Promise<Record<string, unknown>> {
  const n = args.int('n', 1000, { min: 10, max: 1_000_000 });
  const rounds = args.int('rounds', 200, { min: 1, max: 100_000 });
  const { valid, invalid } = bodies(n);
  const ajv = (e: Record<string, unknown>) => check(OrderEventBody, e);
  const variants = { handWritten, ajv, typeCompiler, zod };
  const nsPerValidation: Record<string, { valid: number; invalid: number }> = {};
  for (const [name, fn] of Object.entries(variants)) {
    nsPerValidation[name] = { valid: measure(fn, valid, rounds, false), invalid: measure(fn, invalid, rounds, true) };
    process.stderr.write(`${name.padEnd(12)} valid ${String(nsPerValidation[name].valid).padStart(6)} ns   invalid ${String(nsPerValidation[name].invalid).padStart(6)} ns\n`);
  }
  return { scenario: 'schema-cost', n, rounds, node: process.version, nsPerValidation };
}
