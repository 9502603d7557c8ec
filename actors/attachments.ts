/**
 * Attachments on a `send` (issue 15): which uploads a send may carry. The shard host reads the
 * uploads the send names (src/shard/resolvers.ts) once the actor's earlier writes have committed,
 * and `checkAttachments` turns them into the answer riding in the command; the actor refuses on
 * it before assigning a seq, or copies the metadata into the message row and the `msg` frame.
 */
import type { AttachmentMeta } from '../protocol/frames.ts';
import { ErrorCode, RetryAfterMs } from '../protocol/errors.ts';
import type { Effect } from './types.ts';

/** An upload as stored (src/persist/attachments.ts), with the send that carried it if any. */
export interface UploadRecord {
  conv: string;
  uploader: string;
  /** The seq of the message carrying it; null while unsent. */
  sentSeq: number | null;
  /** That message's sender and cmid: a resend of the same send is not "already sent". */
  sentBy: string | null;
  sentCmid: string | null;
  meta: AttachmentMeta;
}

/** The host's answer for a send's `att`. */
export type AttachmentsCheck =
  | { kind: 'ok'; att: AttachmentMeta[] }
  | { kind: 'refused'; code: 404 | 409; msg: string }
  | { kind: 'unavailable' };

/**
 * Each id must name an upload of `sender` to `conv` not sent yet, or sent by this very send
 * (same sender and cmid: a resend, answered with the original ack further on). Someone else's
 * upload reads as missing: a send cannot probe which ids exist.
 */
export function checkAttachments(
  records: ReadonlyMap<string, UploadRecord>,
  conv: string,
  sender: string,
  cmid: string,
  ids: readonly string[],
): AttachmentsCheck {
  const att: AttachmentMeta[] = [];
  for (const id of ids) {
    const r = records.get(id);
    if (!r || r.conv !== conv || r.uploader !== sender) {
      return { kind: 'refused', code: ErrorCode.notFound, msg: `att: no attachment ${id} uploaded by you to this conversation` };
    }
    if (r.sentSeq !== null && !(r.sentBy === sender && r.sentCmid === cmid)) {
      return { kind: 'refused', code: ErrorCode.conflict, msg: `att: attachment ${id} was already sent (seq ${r.sentSeq})` };
    }
    att.push(r.meta);
  }
  return { kind: 'ok', att };
}

/**
 * What a send's attachments refuse (an err effect), or null with the metadata to carry. A send
 * without `att` carries none; one whose answer is missing was not resolved: refused as unavailable
 * rather than sent without the files the user attached.
 */
export function attachmentsOf(ids: readonly string[] | undefined, check: AttachmentsCheck | undefined): { refusal: Effect } | { att?: AttachmentMeta[] } {
  if (!ids || ids.length === 0) return {};
  if (!check || check.kind === 'unavailable') {
    return { refusal: { type: 'reply', frame: { t: 'err', code: ErrorCode.unavailable, msg: 'attachments unavailable', retryMs: RetryAfterMs.dependency } } };
  }
  if (check.kind === 'refused') return { refusal: { type: 'reply', frame: { t: 'err', code: check.code, msg: check.msg } } };
  return { att: check.att };
}
