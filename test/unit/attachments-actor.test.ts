/**
 * Attachments in the actor (issue 15): the host's answer for a send's `att` (checkAttachments),
 * and the DM actor copying the metadata into the message row and the `msg` frame, or refusing
 * before a seq is assigned. Pure: commands in, effects out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type AttachmentsCheck, checkAttachments, type UploadRecord } from '../../actors/attachments.ts';
import type { AttachmentMeta } from '../../protocol/frames.ts';
import { alice, assertErr, bob, cmd, commit, convId, DmRig, fanouts, t0, writesOf } from './dm-actor-helpers.ts';

const photo: AttachmentMeta = { id: 'at_1', name: 'door.png', type: 'image/png', size: 1234, width: 40, height: 30 };
const pdf: AttachmentMeta = { id: 'at_2', name: 'bill.pdf', type: 'application/pdf', size: 99 };

function uploads(...rs: Partial<UploadRecord & { id: string }>[]): Map<string, UploadRecord> {
  return new Map(rs.map((r) => [r.id!, { conv: convId, uploader: 'alice', sentSeq: null, sentBy: null, sentCmid: null, meta: { ...photo, id: r.id! }, ...r }]));
}

test('checkAttachments: the uploader\'s unsent uploads to this conversation pass, in the order named', () => {
  const check = checkAttachments(uploads({ id: 'at_2', meta: pdf }, { id: 'at_1', meta: photo }), convId, 'alice', 'c1', ['at_1', 'at_2']);
  assert.deepEqual(check, { kind: 'ok', att: [photo, pdf] });
});

test('checkAttachments: unknown, another user\'s or another conversation\'s upload → 404; already sent → 409; a resend of the same send passes', () => {
  const ids = ['at_1'];
  assert.deepEqual(checkAttachments(uploads(), convId, 'alice', 'c1', ids).kind, 'refused');
  assert.equal((checkAttachments(uploads({ id: 'at_1', uploader: 'bob' }), convId, 'alice', 'c1', ids) as { code: number }).code, 404);
  assert.equal((checkAttachments(uploads({ id: 'at_1', conv: 'other' }), convId, 'alice', 'c1', ids) as { code: number }).code, 404);
  const sent = uploads({ id: 'at_1', sentSeq: 3, sentBy: 'alice', sentCmid: 'c0' });
  assert.equal((checkAttachments(sent, convId, 'alice', 'c1', ids) as { code: number }).code, 409);
  assert.equal(checkAttachments(sent, convId, 'alice', 'c0', ids).kind, 'ok', 'the send that carried it, resent');
});

function sendWith(rig: DmRig, cmid: string, att: string[] | undefined, attachments: AttachmentsCheck | undefined, body = '') {
  return rig.run(cmd(alice, { t: 'send', rid: 2, conv: convId, cmid, body, ...(att ? { att } : {}) }, { connection: 'connected', msgId: `m-${cmid}`, attachments } as never), t0);
}

test('a send with att carries the metadata in the message row and the msg frame', () => {
  const rig = new DmRig();
  rig.open(alice, bob.userId, t0);
  const effects = sendWith(rig, 'c1', ['at_1', 'at_2'], { kind: 'ok', att: [photo, pdf] });
  const [row] = writesOf(effects);
  assert.deepEqual(row, { kind: 'message', conv: convId, seq: 1, id: 'm-c1', from: 'alice', body: '', cmid: 'c1', ts: t0, att: [photo, pdf] });
  const msg = fanouts(commit(effects)).find((f) => f.frame.t === 'msg')!.frame;
  assert.deepEqual((msg as { att?: unknown }).att, [photo, pdf]);
  const plain = sendWith(rig, 'c2', undefined, undefined, 'hi');
  assert.equal('att' in writesOf(plain)[0], false, 'a send without att stores none');
});

test('a refused or unresolved att refuses the send before a seq is assigned; a resend still gets its ack', () => {
  const rig = new DmRig();
  rig.open(alice, bob.userId, t0);
  assertErr(sendWith(rig, 'c1', ['at_1'], { kind: 'refused', code: 409, msg: 'att: already sent' }), 409);
  assertErr(sendWith(rig, 'c2', ['at_1'], { kind: 'unavailable' }), 503);
  assertErr(sendWith(rig, 'c3', ['at_1'], undefined), 503);
  assert.equal(rig.existing.lastSeq, 0);
  sendWith(rig, 'c4', ['at_1'], { kind: 'ok', att: [photo] });
  assert.equal(rig.existing.lastSeq, 1);
  const resend = sendWith(rig, 'c4', ['at_1'], { kind: 'refused', code: 409, msg: 'att: already sent' });
  const ack = commit(resend).find((e) => e.type === 'reply');
  assert.deepEqual(ack && ack.type === 'reply' && ack.frame.t, 'ack');
});
