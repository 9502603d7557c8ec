/**
 * The id rule: every id a token or a client controls (user ids, conversation ids, order ids,
 * ticket ids, order-event ids) is 1–128 characters from `A–Z a–z 0–9` and `_ - . : @ | + = ~`.
 *
 * Why this set: ids become bus subject tokens, URL path segments, log fields and Postgres text.
 * No whitespace or control characters (a `\n` or NUL in a `sub` used to pass and then fail deep
 * inside with 503s), no `*`, `>` or `%` (NATS wildcards, and the escape of our subject encoding),
 * no `/` `?` `#` (URL structure), nothing outside ASCII (one visible id, one byte sequence). The
 * punctuation that ids from other systems commonly carry (UUIDs, ULIDs, base64url, e-mail-like
 * `a@b.c`, `tenant:user`) is allowed. The subject encoding (src/bus/bus.ts `subjectToken`)
 * still escapes `. : @ | + = ~`, so no valid id can address more than itself on the bus.
 *
 * Server-made ids pass the rule: DM ids are `d_` + base64url, ticket ids `sr_` + base64url.
 * Internal actor ids outside it (the ticket router's `\u001frouter`) can therefore never be
 * named by a client.
 */
import { ChatError, ErrorCode } from './errors.ts';

/** Longest id in characters (= bytes: the set is ASCII). `hello.limits.maxIdChars` carries it. */
export const idCharsMax = 128;

/** The rule as one pattern (ASCII only, so `length` is both characters and bytes). */
export const idPattern = /^[A-Za-z0-9_.:@|+=~-]{1,128}$/;

/** The rule in words, for error messages: a refused id is named with this. */
export const idRuleText = `1-${idCharsMax} characters from A-Z a-z 0-9 _ - . : @ | + = ~`;

export function isValidId(value: unknown): value is string {
  return typeof value === 'string' && idPattern.test(value);
}

/** An id taken from a path, a body or an event: itself when it follows the rule, else ChatError 400 naming it. */
export function requireId(value: unknown, name: string): string {
  if (!isValidId(value)) throw new ChatError(ErrorCode.badFrame, `${name}: expected an id of ${idRuleText}`);
  return value;
}
