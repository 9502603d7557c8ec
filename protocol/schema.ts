/**
 * One schema per JSON body and query (issue 18): a TypeBox definition is plain JSON Schema, so
 * the same object is compiled by ajv for validation here and rendered into the OpenAPI document
 * (src/http/openapi.ts). The definitions themselves: src/http/schemas.ts (HTTP bodies and
 * queries, with the bounds of src/config.ts) and src/integrations/order-events.ts (the order
 * event, shared by the webhook and JetStream intake).
 *
 * Refusals keep the API's contract: ChatError 400 `{code, message}` whose message starts with the
 * field (`data.orderId: expected an id of …`). A schema node may carry its refusal text in
 * `x-expected`; the error names the deepest node along the failing path that has one (a bad item
 * of `keys` is `keys: …`), else ajv's own words. Checks JSON Schema cannot say (text faults of
 * protocol/text.ts past the body-wide scan, dates, cursors, curve points) run after this one.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { ChatError, ErrorCode } from './errors.ts';
import { idCharsMax, idPattern, idRuleText } from './ids.ts';
import { parseJsonObject } from './json-body.ts';

/** The id rule of protocol/ids.ts as a schema (pattern + maxLength). */
export const IdSchema = Type.String({ pattern: idPattern.source, maxLength: idCharsMax, 'x-expected': `expected an id of ${idRuleText}` });

/** One ajv for every schema: first error only (the message names one field), code-point string lengths. */
const ajv = new Ajv({ allErrors: false, strict: true, strictRequired: false });
ajv.addKeyword({ keyword: 'x-expected', schemaType: 'string' });

const compiled = new WeakMap<TSchema, ValidateFunction>();

function validatorOf(schema: TSchema): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) compiled.set(schema, (v = ajv.compile(schema)));
  return v;
}

type Node = Record<string, unknown>;

/** `data.orderId`, `keys[2]` from path segments. */
function fieldName(segments: string[]): string {
  return segments.reduce((out, s) => (/^\d+$/.test(s) ? `${out}[${s}]` : out ? `${out}.${s}` : s), '');
}

/** The refusal of ajv's first error: `<field>: <expected>` with the deepest `x-expected` along its path. */
export function messageOf(root: TSchema, e: ErrorObject): string {
  const segments = e.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.keyword === 'required') segments.push(String(e.params.missingProperty));
  if (e.keyword === 'additionalProperties') return `${fieldName([...segments, String(e.params.additionalProperty)])}: not a known field`;
  let node: Node | undefined = root as Node;
  let found: { at: number; text: string } | undefined = typeof node['x-expected'] === 'string' ? { at: 0, text: node['x-expected'] as string } : undefined;
  segments.forEach((s, i) => {
    const props = node?.properties as Record<string, Node> | undefined;
    node = props?.[s] ?? (node?.items as Node | undefined);
    if (typeof node?.['x-expected'] === 'string') found = { at: i + 1, text: node['x-expected'] as string };
  });
  if (found) return `${fieldName(segments.slice(0, found.at)) || 'body'}: ${found.text}`;
  return `${fieldName(segments) || 'body'}: ${e.message ?? 'invalid'}`;
}

/** `value` checked against `schema`; ChatError 400 naming the first field that fails. */
export function check<T extends TSchema>(schema: T, value: unknown): Static<T> {
  const v = validatorOf(schema);
  if (!v(value)) throw new ChatError(ErrorCode.badFrame, messageOf(schema, v.errors![0]));
  return value as Static<T>;
}

/**
 * A JSON request body: one object of strict UTF-8 whose every string storage can hold
 * (protocol/json-body.ts), then the schema. ChatError 400 otherwise.
 */
export function parseBody<T extends TSchema>(schema: T, body: Buffer): Static<T> {
  return check(schema, parseJsonObject(body));
}

/**
 * A query string against an object schema of its parameters. An empty parameter is as if
 * absent; the first of a repeated one counts; integer parameters are taken from their decimal
 * digits (anything else stays a string, and the schema refuses it naming the parameter).
 * Parameters the schema does not name are ignored (`access_token` rides on the query).
 */
export function parseQuery<T extends TSchema>(schema: T, query: string): Static<T> {
  const props = (schema as Node).properties as Record<string, Node>;
  const q = new URLSearchParams(query);
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(props)) {
    const raw = q.get(name);
    if (raw === null || raw === '') continue;
    out[name] = s.type === 'integer' && /^\d{1,16}$/.test(raw) ? Number(raw) : raw;
  }
  return check(schema, out);
}

/** The schema as the OpenAPI document shows it: plain JSON, without the refusal texts. */
export function jsonSchemaOf(schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema, (k: string, v: unknown) => (k === 'x-expected' ? undefined : v))) as Record<string, unknown>;
}

/** OpenAPI `in: query` parameters from an object schema of a query. */
export function queryParameters(schema: TSchema, descriptions: Record<string, string> = {}): Array<Record<string, unknown>> {
  const s = jsonSchemaOf(schema) as { properties: Record<string, Record<string, unknown>>; required?: string[] };
  return Object.entries(s.properties).map(([name, p]) => {
    const { description, ...rest } = p;
    const text = descriptions[name] ?? description;
    return { name, in: 'query', required: s.required?.includes(name) ?? false, schema: rest, ...(text ? { description: text } : {}) };
  });
}
