/**
 * Text that storage can hold, checked at the boundary instead of failing at the database.
 *
 * - U+0000: Postgres `text` cannot hold it, and `json_to_recordset`/`jsonb` refuse the `\u0000`
 *   escape (`unsupported Unicode escape sequence`); PGlite behaves the same.
 * - Lone UTF-16 surrogates: a JS string can carry one (a JSON body's `"\ud800"` escape, or a
 *   frame handed to `validateClientFrame` by a non-WebSocket entry point; our msgpack decoder
 *   itself turns surrogate bytes into U+FFFD), but UTF-8 cannot encode it, so it could not be
 *   stored or sent on as it was received.
 *
 * Message text may span lines (tabs and newlines are what users type); single-line fields
 * (cmids, cursors, names, statuses) refuse every C0 control character and DEL as well.
 */

const controlChars = /[\u0000-\u001f\u007f]/;
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** Any surrogate at all: most text has none, and then the exact (slower) check is skipped. */
const anySurrogate = /[\ud800-\udfff]/;

export const nulFault = 'U+0000 (NUL) is not allowed';
export const controlFault = 'control characters are not allowed';
export const surrogateFault = 'lone UTF-16 surrogates are not allowed (not encodable as UTF-8)';

function surrogateFaultOf(s: string): string | undefined {
  return anySurrogate.test(s) && loneSurrogate.test(s) ? surrogateFault : undefined;
}

/** Why multi-line text (a message body, a description) cannot be stored; undefined when it can. */
export function textFault(s: string): string | undefined {
  if (s.includes('\u0000')) return nulFault;
  return surrogateFaultOf(s);
}

/** Why a single-line string cannot be stored; undefined when it can. */
export function lineFault(s: string): string | undefined {
  if (controlChars.test(s)) return s.includes('\u0000') ? nulFault : controlFault;
  return surrogateFaultOf(s);
}
