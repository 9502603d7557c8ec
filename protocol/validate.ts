/**
 * Inbound frame validation: bytes → typed ClientFrame, or a ProtocolError carrying the code to
 * answer with. Only own, known fields are read; unknown extra fields are ignored.
 */
import { decode } from './codec.ts';
import { ErrorCode, ProtocolError } from './errors.ts';
import { attachmentsPerMessageMax, type ClientFrame, type ClientFrameType, type ProtocolLimits } from './frames.ts';
import { idPattern, idRuleText } from './ids.ts';
import { lineFault, textFault } from './text.ts';

type Fields = Record<string, unknown>;

function own(obj: Fields, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}

class FieldReader {
  constructor(
    private readonly obj: Fields,
    private readonly limits: ProtocolLimits,
    readonly rid: number | undefined,
  ) {}

  fail(code: 400 | 413, message: string): never {
    throw new ProtocolError(code, message, this.rid);
  }

  id(key: string): string {
    const v = own(this.obj, key);
    if (typeof v !== 'string' || v.length === 0) this.fail(400, `${key}: expected a non-empty string`);
    if (v.length > this.limits.maxIdChars) this.fail(400, `${key}: longer than ${this.limits.maxIdChars} chars`);
    // One rule for every id (protocol/ids.ts): ids become subject tokens, URL segments and text.
    if (!idPattern.test(v)) this.fail(400, `${key}: expected an id of ${idRuleText}`);
    return v;
  }

  uint(key: string): number {
    const v = own(this.obj, key);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) this.fail(400, `${key}: expected an unsigned integer`);
    return v;
  }

  optUint(key: string): number | undefined {
    return own(this.obj, key) === undefined || own(this.obj, key) === null ? undefined : this.uint(key);
  }

  /** A message's seq: seqs start at 1. */
  seq(): number {
    const v = this.uint('seq');
    if (v < 1) this.fail(400, 'seq: messages are numbered from 1');
    return v;
  }

  /** A message body (send, edit): non-blank text within maxBodyChars that storage can hold. */
  body(limits: ProtocolLimits): string {
    const body = own(this.obj, 'body');
    if (typeof body !== 'string' || body.trim().length === 0) this.fail(400, 'body: expected a non-empty string');
    if (body.length > limits.maxBodyChars) this.fail(413, `body: longer than ${limits.maxBodyChars} chars`);
    // Storage cannot hold it (protocol/text.ts); refused here rather than failing the batch.
    const bodyFault = textFault(body);
    if (bodyFault) this.fail(400, `body: ${bodyFault}`);
    return body;
  }

  /**
   * A send's attachment ids (`att`): absent, or 1..attachmentsPerMessageMax distinct ids. Which
   * ids this sender may send is the shard's answer (they must be its unsent uploads to `conv`).
   */
  attachments(): string[] | undefined {
    const v = own(this.obj, 'att');
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.length === 0) this.fail(400, `att: expected an array of 1-${attachmentsPerMessageMax} attachment ids`);
    if (v.length > attachmentsPerMessageMax) this.fail(400, `att: at most ${attachmentsPerMessageMax} attachments per message`);
    for (const id of v) if (typeof id !== 'string' || !idPattern.test(id)) this.fail(400, `att: expected attachment ids of ${idRuleText}`);
    if (new Set(v).size !== v.length) this.fail(400, 'att: an attachment is listed twice');
    return v as string[];
  }

  /** A send's body: with attachments it may be empty (a photo without a caption), never more than a body. */
  captionOrBody(limits: ProtocolLimits, withAttachments: boolean): string {
    const body = own(this.obj, 'body');
    if (!withAttachments || (typeof body === 'string' && body.trim().length > 0)) return this.body(limits);
    if (body !== undefined && body !== null && typeof body !== 'string') this.fail(400, 'body: expected a string');
    return '';
  }

  limit(max: number): number | undefined {
    const v = this.optUint('limit');
    if (v !== undefined && (v < 1 || v > max)) this.fail(400, `limit: must be between 1 and ${max}`);
    return v;
  }
}

function readRid(obj: Fields): number | undefined {
  const rid = own(obj, 'rid');
  if (rid === undefined || rid === null) return undefined;
  if (typeof rid !== 'number' || !Number.isSafeInteger(rid) || rid < 0) {
    throw new ProtocolError(ErrorCode.badFrame, 'rid: expected an unsigned integer');
  }
  return rid;
}

type Parser = (r: FieldReader, obj: Fields, limits: ProtocolLimits) => ClientFrame;

const parsers: Record<ClientFrameType, Parser> = {
  open: (r) => ({ t: 'open', rid: r.rid, with: r.id('with') }),
  join: (r) => ({ t: 'join', rid: r.rid, conv: r.id('conv'), since: r.optUint('since') }),
  leave: (r) => ({ t: 'leave', rid: r.rid, conv: r.id('conv') }),
  send: (r: FieldReader, obj: Fields, limits: ProtocolLimits) => {
    const conv = r.id('conv');
    const cmid = own(obj, 'cmid');
    if (typeof cmid !== 'string' || cmid.length === 0) r.fail(400, 'cmid: expected a non-empty string');
    if (cmid.length > limits.maxCmidChars) r.fail(400, `cmid: longer than ${limits.maxCmidChars} chars`);
    const cmidFault = lineFault(cmid);
    if (cmidFault) r.fail(400, `cmid: ${cmidFault}`);
    const att = r.attachments();
    return { t: 'send', rid: r.rid, conv, cmid, body: r.captionOrBody(limits, att !== undefined), att };
  },
  edit: (r, _obj, limits) => ({ t: 'edit', rid: r.rid, conv: r.id('conv'), seq: r.seq(), body: r.body(limits) }),
  del: (r) => ({ t: 'del', rid: r.rid, conv: r.id('conv'), seq: r.seq() }),
  report: (r: FieldReader, obj: Fields, limits: ProtocolLimits) => {
    const reason = own(obj, 'reason');
    if (typeof reason !== 'string' || reason.trim().length === 0) r.fail(400, 'reason: expected a non-empty string');
    if (reason.length > limits.maxReasonChars) r.fail(413, `reason: longer than ${limits.maxReasonChars} chars`);
    const fault = textFault(reason);
    if (fault) r.fail(400, `reason: ${fault}`);
    return { t: 'report', rid: r.rid, conv: r.id('conv'), seq: r.seq(), reason };
  },
  recv: (r) => ({ t: 'recv', rid: r.rid, conv: r.id('conv'), seq: r.uint('seq') }),
  read: (r) => ({ t: 'read', rid: r.rid, conv: r.id('conv'), seq: r.uint('seq') }),
  typing: (r) => ({ t: 'typing', rid: r.rid, conv: r.id('conv') }),
  history: (r, _obj, limits) => ({
    t: 'history',
    rid: r.rid,
    conv: r.id('conv'),
    before: r.optUint('before'),
    limit: r.limit(limits.historyLimitMax),
  }),
  inbox: (r, obj, limits) => {
    const before = own(obj, 'before');
    if (before !== undefined && before !== null && (typeof before !== 'string' || before.length > 256 || lineFault(before))) {
      r.fail(400, 'before: expected the opaque cursor string from a previous page');
    }
    return { t: 'inbox', rid: r.rid, before: (before ?? undefined) as string | undefined, limit: r.limit(limits.inboxLimitMax) };
  },
  ping: (r) => ({ t: 'ping', rid: r.rid }),
  // The token's own checks (length bound included) are the verifier's: a bad token is err 401.
  auth: (r: FieldReader, obj: Fields) => {
    const token = own(obj, 'token');
    if (typeof token !== 'string' || token.length === 0) r.fail(400, 'token: expected a non-empty string');
    return { t: 'auth', rid: r.rid, token };
  },
};

/** Validates an already-decoded value (used by tests and by non-WebSocket entry points). */
export function validateClientFrame(value: unknown, limits: ProtocolLimits): ClientFrame {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new ProtocolError(ErrorCode.badFrame, 'frame must be a msgpack map');
  }
  const obj = value as Fields;
  const rid = readRid(obj);
  const t = own(obj, 't');
  if (typeof t !== 'string') throw new ProtocolError(ErrorCode.badFrame, 't: expected a string', rid);
  const parse = Object.prototype.hasOwnProperty.call(parsers, t) ? parsers[t as ClientFrameType] : undefined;
  if (!parse) throw new ProtocolError(ErrorCode.badFrame, `t: unknown frame type "${t.slice(0, 32)}"`, rid);
  return withoutUndefined(parse(new FieldReader(obj, limits, rid), obj, limits));
}

/** Absent optional fields stay absent (no `rid: undefined` keys), so `'rid' in frame` and spreads behave. */
function withoutUndefined(frame: ClientFrame): ClientFrame {
  const out: Fields = {};
  for (const [k, v] of Object.entries(frame)) if (v !== undefined) out[k] = v;
  return out as ClientFrame;
}

/** Decodes and validates one binary WebSocket message. */
export function parseClientFrame(bytes: Uint8Array, limits: ProtocolLimits): ClientFrame {
  if (bytes.byteLength > limits.maxFrameBytes) {
    throw new ProtocolError(ErrorCode.tooLarge, `frame larger than ${limits.maxFrameBytes} bytes`);
  }
  let value: unknown;
  try {
    value = decode(bytes);
  } catch {
    throw new ProtocolError(ErrorCode.badFrame, 'not a single valid msgpack value');
  }
  return validateClientFrame(value, limits);
}
