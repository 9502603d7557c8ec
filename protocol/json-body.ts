/**
 * JSON bodies of the HTTP API at the boundary: one JSON object of strict UTF-8 whose every
 * string storage can hold, sent as application/json. Refusals are ChatError 400 or 415 naming
 * what is wrong (docs/protocol.md "Text").
 */
import { ChatError } from './errors.ts';
import { textFault } from './text.ts';
import { ErrorCode } from './errors.ts';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A request body that must be one JSON object; ChatError 400 otherwise (never a crash). Text
 * that storage cannot hold is refused here for every string of the body, keys included
 * (protocol/text.ts): invalid UTF-8, U+0000, lone surrogates from `\ud800` escapes.
 */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(strictUtf8.decode(body));
  } catch {
    throw new ChatError(ErrorCode.badFrame, 'malformed JSON (or not UTF-8)');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ChatError(ErrorCode.badFrame, 'expected a JSON object');
  const fault = jsonTextFault(v);
  if (fault) throw new ChatError(ErrorCode.badFrame, fault);
  return v as Record<string, unknown>;
}

/**
 * The first string of a parsed JSON value that storage cannot hold, as `path: why`. Iterative:
 * a 256 KiB body can nest deeper than the call stack.
 */
function jsonTextFault(root: unknown): string | undefined {
  const stack: Array<[unknown, string]> = [[root, '']];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [v, path] = item;
    if (typeof v === 'string') {
      const fault = textFault(v);
      if (fault) return `${path || 'body'}: ${fault}`;
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => stack.push([x, `${path}[${i}]`]));
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        const at = path ? `${path}.${k}` : k;
        const fault = textFault(k);
        if (fault) return `${at} (a key): ${fault}`;
        stack.push([x, at]);
      }
    }
  }
  return undefined;
}

/** JSON routes take `application/json`, optionally with a UTF-8 charset; anything else → 415. */
export function requireJson(contentType: string | undefined): void {
  if (!/^application\/json\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i.test((contentType ?? '').trim())) {
    throw new ChatError(ErrorCode.unsupportedMediaType, 'expected Content-Type: application/json');
  }
}
