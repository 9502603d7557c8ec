/**
 * Attachments over the node's HTTP API (protocol v1.15): upload a file to a conversation, then
 * send its id in `send(conv, body, {att})`; download one as a Blob (the token goes in a header,
 * so a page shows it through a blob: URL rather than putting the token in an <img src>).
 * Uploads may take longer than a frame: they get their own timeout, scaled to the file size.
 */
import { downloadBlob, refusal, timed } from './http.ts';
import type { AttachmentMeta } from './types.ts';

/** What `upload` takes: a browser File/Blob, or bytes (Node). */
export type UploadBody = Blob | Uint8Array | ArrayBuffer;

/** A generous floor plus 1 s per 256 KB (a slow mobile uplink), so a 10 MiB file gets ≈ 50 s. */
function uploadTimeoutMs(base: number, bytes: number): number {
  return base + Math.ceil(bytes / (256 * 1024)) * 1000;
}

/**
 * POST /api/v1/conversations/{conv}/attachments. Resolves with the stored attachment's metadata;
 * rejects with ChatRequestError 413 (too large), 415 (a type the server does not accept: it
 * sniffs the bytes), 403 (not a participant), 409 (read-only conversation).
 */
export async function uploadAttachment(base: string, token: string, conv: string, file: UploadBody, name: string, timeoutMs: number): Promise<AttachmentMeta> {
  const blob = file instanceof Blob ? file : new Blob([file instanceof ArrayBuffer ? file : new Uint8Array(file)]);
  const path = `/api/v1/conversations/${encodeURIComponent(conv)}/attachments`;
  return timed(`POST ${path}`, uploadTimeoutMs(timeoutMs, blob.size), async (signal) => {
    const form = new FormData();
    form.append('file', blob, name);
    const res = await fetch(`${base}${path}`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` }, signal });
    if (res.status !== 201) throw await refusal(res);
    return (await res.json()) as AttachmentMeta;
  });
}

/** GET /api/v1/attachments/{id} as a Blob of its (sniffed) type; 403 when not a participant. */
export function downloadAttachment(base: string, token: string, id: string, timeoutMs: number): Promise<Blob> {
  return downloadBlob(base, token, `/api/v1/attachments/${encodeURIComponent(id)}`, timeoutMs);
}
