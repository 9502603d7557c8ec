/**
 * Chat attachments over HTTP (issue 15), on the edge:
 *   POST /api/v1/conversations/{id}/attachments  multipart upload by a participant of a writable
 *        conversation → 201 {id, name, type, size, width?, height?}
 *   GET  /api/v1/attachments/{id}  the bytes, to the conversation's participants and admins,
 *        streamed from the blob store with ETag / If-None-Match and single byte ranges.
 * The type is sniffed from the bytes (protocol/attachments.ts), never taken from the request.
 * Bytes go to the blob store only; the row (src/persist/attachments.ts) holds metadata, and a
 * `send` with `att` carries that metadata into the message (actors/attachments.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { mayRead } from '../../actors/conversation.ts';
import { readOnlyState } from '../../actors/rebuild.ts';
import { contentDisposition, sanitizeFileName, sniff } from '../../protocol/attachments.ts';
import { ChatError, ErrorCode, RetryAfterMs } from '../../protocol/errors.ts';
import type { AttachmentMeta, ConvKind } from '../../protocol/frames.ts';
import { requireId } from '../../protocol/ids.ts';
import { ATTACHMENT_MULTIPART_OVERHEAD_BYTES, ATTACHMENT_NAME_MAX_CHARS } from '../config.ts';
import { type BlobStore, type ByteRange, randomBlobKey } from '../integrations/blobs.ts';
import { type AttachmentRecord, AttachmentsTable } from '../persist/attachments.ts';
import { loadUws } from '../uws.ts';
import { authenticate, closesAfterResponse, type HttpDeps, respondError, route } from './routes.ts';

/** A fresh attachment id: `at_` + 128 random bits in base64url (within the id rule, unguessable). */
function newAttachmentId(): string {
  return `at_${randomBytes(16).toString('base64url')}`;
}

/** The `file` part of a multipart/form-data body, with the name the client gave it. */
function filePart(body: Buffer, contentType: string): { data: Uint8Array; filename: string } {
  if (!/^multipart\/form-data;/i.test(contentType)) throw new ChatError(ErrorCode.unsupportedMediaType, 'expected multipart/form-data with the file in the field "file"');
  const parts = loadUws().getParts(body, contentType);
  if (!parts) throw new ChatError(ErrorCode.badFrame, 'malformed multipart body');
  const file = parts.find((part) => part.name === 'file');
  if (!file) throw new ChatError(ErrorCode.badFrame, 'multipart field "file" missing');
  return { data: new Uint8Array(file.data.slice(0)), filename: file.filename ?? '' };
}

/** The conversation as committed: its participants, and whether it still takes messages. */
async function conversationOf(d: HttpDeps, conv: string): Promise<{ participants: string[]; readOnly: boolean }> {
  const r = await d.pool.query<{ kind: ConvKind; state: string; participants: string[] }>('SELECT kind, state, participants FROM conversations WHERE id = $1', [conv]);
  const c = r.rows[0];
  if (!c) throw new ChatError(ErrorCode.notFound, 'no such conversation');
  return { participants: c.participants, readOnly: readOnlyState(c.kind, c.state) };
}

/**
 * `Range: bytes=a-b | a- | -n` against `size`: the one range asked for, `undefined` to serve the
 * whole body (no header, several ranges, or a unit we do not serve, all of which RFC 9110 lets a
 * server ignore), or 'unsatisfiable' (→ 416).
 */
export function parseRange(header: string, size: number): ByteRange | undefined | 'unsatisfiable' {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (!Number.isSafeInteger(start) || start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

function etagOf(a: AttachmentRecord): string {
  return `"${a.sha256}"`;
}

/** If-None-Match: a list of entity tags or `*`; weak tags compare by their opaque part. */
function matchesEtag(header: string, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

export function registerAttachments(app: TemplatedApp, d: HttpDeps, blobs: BlobStore, table = new AttachmentsTable(d.pool)): void {
  const { bytesMax, types } = d.config.attachments;

  app.post('/api/v1/conversations/:id/attachments', route(d.log, async ({ auth, query, params, headers, body }) => {
    const p = await authenticate(d.verifier, auth, query);
    const conv = requireId(params[0], 'id');
    const { data, filename } = filePart(body, headers['content-type']);
    if (data.byteLength > bytesMax) throw new ChatError(ErrorCode.tooLarge, `attachment larger than ${bytesMax} bytes`);
    if (data.byteLength === 0) throw new ChatError(ErrorCode.badFrame, 'the file is empty');
    const c = await conversationOf(d, conv);
    if (!c.participants.includes(p.sub)) throw new ChatError(ErrorCode.forbidden, 'not a participant of this conversation');
    if (c.readOnly) throw new ChatError(ErrorCode.conflict, 'conversation is read-only');
    const sniffed = sniff(data);
    if (!sniffed || !types.includes(sniffed.type)) {
      throw new ChatError(ErrorCode.unsupportedMediaType, `${sniffed ? sniffed.type : 'this file type'} is not accepted; allowed: ${types.join(', ')}`);
    }
    const meta: AttachmentMeta = {
      id: newAttachmentId(),
      name: sanitizeFileName(filename, ATTACHMENT_NAME_MAX_CHARS),
      type: sniffed.type,
      size: data.byteLength,
      ...(sniffed.width !== undefined && sniffed.height !== undefined ? { width: sniffed.width, height: sniffed.height } : {}),
    };
    const record: AttachmentRecord = {
      meta, conv, uploader: p.sub, blobKey: randomBlobKey(), sha256: createHash('sha256').update(data).digest('hex'), createdMs: Date.now(), sentSeq: null,
    };
    // Bytes first, then the row: a row always names stored bytes. A row that fails to insert
    // takes its blob with it (best effort; the sweep cannot find a blob without a row).
    await blobs.putAs(record.blobKey, data);
    try {
      await table.insert(record);
    } catch (e) {
      await blobs.delete(record.blobKey).catch((err: unknown) => d.log.warn({ err, key: record.blobKey }, 'attachment blob left behind'));
      throw e;
    }
    return { status: 201, body: meta };
  }, { body: true, headers: ['content-type'], bodyMaxBytes: bytesMax + ATTACHMENT_MULTIPART_OVERHEAD_BYTES }));

  app.get('/api/v1/attachments/:id', (res: HttpResponse, req: HttpRequest) => {
    const state = { aborted: false, stream: undefined as Readable | undefined };
    res.onAborted(() => {
      state.aborted = true;
      state.stream?.destroy();
    });
    // uWS request data is only readable synchronously: everything is taken before any await.
    const ask = {
      auth: req.getHeader('authorization'), query: req.getQuery() ?? '', id: req.getParameter(0) ?? '',
      ifNoneMatch: req.getHeader('if-none-match'), range: req.getHeader('range'), ifRange: req.getHeader('if-range'),
    };
    download(ask, state).catch((e: unknown) => {
      if (state.aborted) return;
      if (e instanceof ChatError) return respondError(res, e.code, e.message, { ...e.extra });
      d.log.error({ err: e }, 'attachment download failed');
      respondError(res, ErrorCode.unavailable, 'dependency unavailable', { retryMs: RetryAfterMs.dependency });
    });

    async function download(a: typeof ask, s: typeof state): Promise<void> {
      const p = await authenticate(d.verifier, a.auth, a.query);
      const att = await table.get(requireId(safeDecode(a.id), 'id'));
      if (!att) throw new ChatError(ErrorCode.notFound, 'no such attachment');
      const conv = await d.store.participants(att.conv);
      const reader = { userId: p.sub, roles: p.roles };
      if (!conv || !mayRead(conv.participants, reader, conv.kind)) throw new ChatError(ErrorCode.forbidden, 'not a participant of this conversation');
      // Withdrawn with its deleted message: gone for everyone, whatever the sweep has done yet.
      if (att.sentSeq === 0) throw new ChatError(ErrorCode.notFound, 'attachment deleted with its message');
      // Not sent yet: the uploader's draft, not the conversation's (admins still see it).
      if (att.sentSeq === null && att.uploader !== p.sub && !reader.roles.includes('admin')) throw new ChatError(ErrorCode.notFound, 'no such attachment');
      if (!conv.participants.includes(p.sub)) await d.audit.record({ actor: p.sub, action: 'read_attachment', target: att.conv, detail: { attachment: att.meta.id } });
      const etag = etagOf(att);
      const size = att.meta.size;
      const headers: [string, string][] = [
        ['etag', etag],
        ['cache-control', 'private, max-age=31536000, immutable'], // the bytes behind an id never change
        ['x-content-type-options', 'nosniff'],
        ['accept-ranges', 'bytes'],
      ];
      if (s.aborted) return;
      if (matchesEtag(a.ifNoneMatch, etag)) return void res.cork(() => writeHead(res, '304 Not Modified', headers).end(undefined, closesAfterResponse()));
      // If-Range with another validator: the client's partial copy is stale, send it all.
      const range = a.range && (!a.ifRange || a.ifRange.trim() === etag) ? parseRange(a.range, size) : undefined;
      if (range === 'unsatisfiable') {
        return void res.cork(() => writeHead(res, '416 Range Not Satisfiable', [...headers, ['content-range', `bytes */${size}`], ['content-type', 'application/json']])
          .end(JSON.stringify({ code: 416, message: `range not satisfiable: the attachment has ${size} bytes` }), closesAfterResponse()));
      }
      const stream = await blobs.read(att.blobKey, range);
      if (!stream) throw new ChatError(ErrorCode.notFound, 'attachment bytes missing');
      if (s.aborted) return void stream.destroy();
      s.stream = stream;
      const type = att.meta.type === 'text/plain' ? 'text/plain; charset=utf-8' : att.meta.type;
      headers.push(['content-type', type], ['content-disposition', contentDisposition(att.meta.name, att.meta.type)]);
      if (range) headers.push(['content-range', `bytes ${range.start}-${range.end}/${size}`]);
      const length = range ? range.end - range.start + 1 : size;
      streamBody(res, range ? '206 Partial Content' : '200 OK', headers, stream, length, s, (e) => d.log.warn({ err: e, id: att.meta.id }, 'attachment stream failed'));
    }
  });
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function writeHead(res: HttpResponse, status: string, headers: [string, string][]): HttpResponse {
  res.writeStatus(status);
  for (const [k, v] of headers) res.writeHeader(k, v);
  return res;
}

/**
 * Streams `length` bytes to the client with uWS backpressure (tryEnd/onWritable: a slow client
 * pauses the blob stream instead of buffering the file in memory). Status and headers go out
 * with the first chunk, so a store failing before any byte is still a JSON 503. Edge worker
 * threads must close each connection after its response, which tryEnd cannot: there the body
 * is gathered and ended with `end(…, true)` (bounded by ATTACHMENT_BYTES_MAX).
 */
export function streamBody(
  res: HttpResponse, status: string, headers: [string, string][], stream: Readable, length: number,
  state: { aborted: boolean }, onError: (e: unknown) => void,
): void {
  let started = false;
  let done = false;
  const fail = (e: unknown): void => {
    onError(e);
    if (state.aborted || done) return;
    done = true;
    if (!started) return respondError(res, ErrorCode.unavailable, 'attachment store unavailable', { retryMs: RetryAfterMs.dependency });
    res.close(); // headers are out: cutting the connection is the only way to say the body is short
  };
  stream.on('error', fail);
  if (closesAfterResponse()) {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      if (state.aborted || done) return;
      done = true;
      res.cork(() => writeHead(res, status, headers).end(Buffer.concat(chunks), true));
    });
    return;
  }
  stream.on('data', (chunk: Buffer) => {
    if (state.aborted || done) return void stream.destroy();
    const ab = chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength) as ArrayBuffer;
    const offset = res.getWriteOffset();
    let ok = false;
    res.cork(() => {
      if (!started) writeHead(res, status, headers);
      started = true;
      [ok, done] = res.tryEnd(ab, length);
    });
    if (done) return void stream.destroy();
    if (ok) return;
    stream.pause();
    res.onWritable((at) => {
      if (state.aborted) return true;
      const [retryOk, finished] = res.tryEnd(ab.slice(at - offset), length);
      if (finished) {
        done = true;
        stream.destroy();
      } else if (retryOk) stream.resume();
      return retryOk;
    });
  });
  stream.on('end', () => {
    if (!done && !state.aborted) fail(new Error(`blob ended before ${length} bytes`));
  });
}
