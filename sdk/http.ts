/**
 * The node's HTTP API as the SDK calls it (blocks, attachments: what the socket protocol does not
 * carry): the base URL follows from the socket's `ws(s)://HOST/v1/ws`, the token goes in a header
 * (never the URL: tokens in URLs end up in access logs), every call has a timeout, and a refusal
 * rejects with the same ChatRequestError a socket `err` does (`retryMs` when a retry can help).
 */
import { ChatRequestError, ChatTimeoutError } from './errors.ts';

/** `http(s)://HOST` of the node behind a `ws(s)://HOST/…` socket URL. */
export function httpBaseFor(wsUrl: string): string {
  const u = new URL(wsUrl);
  return `${u.protocol === 'wss:' ? 'https:' : 'http:'}//${u.host}`;
}

/** The JSON error body `{code, message, retryMs?}` of a refused call, as a ChatRequestError. */
export async function refusal(res: Response): Promise<ChatRequestError> {
  const text = await res.text().catch(() => '');
  let json: Record<string, unknown> | undefined;
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  } catch {
    json = undefined;
  }
  const retryMs = typeof json?.retryMs === 'number' ? json.retryMs : undefined;
  return new ChatRequestError(res.status, typeof json?.message === 'string' ? json.message : res.statusText, retryMs);
}

/** Runs `run` with an abort after `timeoutMs` (ChatTimeoutError); a network failure is a 503 worth retrying. */
export async function timed<T>(what: string, timeoutMs: number, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    return await run(abort.signal);
  } catch (e) {
    if (abort.signal.aborted) throw new ChatTimeoutError(what, timeoutMs);
    if (e instanceof ChatRequestError) throw e;
    throw new ChatRequestError(503, `network error: ${e instanceof Error ? e.message : String(e)}`, 1000);
  } finally {
    clearTimeout(timer);
  }
}

/** A GET of bytes (attachments, signatures) as a Blob. */
export function downloadBlob(base: string, token: string, path: string, timeoutMs: number): Promise<Blob> {
  return timed(`GET ${path}`, timeoutMs, async (signal) => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` }, signal });
    if (!res.ok) throw await refusal(res);
    return res.blob();
  });
}

/** A JSON call: resolves with the parsed body (undefined for 204). */
export function httpCall(base: string, token: string, method: string, path: string, timeoutMs: number, body?: unknown): Promise<unknown> {
  return timed(`${method} ${path}`, timeoutMs, async (signal) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal, cache: 'no-store' });
    if (!res.ok) throw await refusal(res);
    const text = await res.text();
    return text ? JSON.parse(text) : undefined;
  });
}
