/**
 * Attachments end to end against a real node (issue 15): upload (201/413/415/403), a send with
 * `att` (msg, history, join and inbox carry the metadata; an upload goes out once), the download
 * (ETag/304, Range 206/416, Content-Disposition, nosniff, participants and admins only), and
 * the orphan sweep removing an upload never sent (row and blob).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { TestClient } from '../helpers/client.ts';
import { openDmPair } from '../helpers/dm.ts';
import { pngBytes } from '../helpers/images.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';
import { until } from '../helpers/until.ts';

// Large enough that a download at the bound streams through uWS backpressure (many writes).
const bytesMax = 8 * 1024 * 1024;
const orphanTtlMs = 4_000;
const node = new TestNode({
  env: {
    RATE_MSGS_PER_S: '1000', RATE_BURST: '1000',
    ATTACHMENT_BYTES_MAX: String(bytesMax), ATTACHMENT_ORPHAN_TTL_MS: String(orphanTtlMs), ATTACHMENT_SWEEP_INTERVAL_MS: '250',
  },
});
before(() => node.start());
after(() => node.kill('SIGTERM'));

async function upload(conv: string, user: string, bytes: Uint8Array, name = 'photo.png', declared = 'image/png', roles = ['user']) {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(bytes)], { type: declared }), name);
  const res = await fetch(`${node.http}/api/v1/conversations/${encodeURIComponent(conv)}/attachments`, {
    method: 'POST', body: form, headers: { authorization: `Bearer ${await token(user, roles)}` },
  });
  return { status: res.status, body: await res.json() };
}

async function download(id: string, user: string, headers: Record<string, string> = {}, roles = ['user']) {
  return fetch(`${node.http}/api/v1/attachments/${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${await token(user, roles)}`, ...headers } });
}

const dm = () => openDmPair(node);

describe('attachments', () => {
  test('upload: 201 with the sniffed type and the image size; the declared type and path in the name play no part', async () => {
    const { a, ca, cb, conv } = await dm();
    const png = pngBytes(40, 30);
    const r = await upload(conv, a, png, '../../secret/holiday.png', 'application/x-evil');
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.match(r.body.id, /^at_[A-Za-z0-9_-]{22}$/);
    assert.deepEqual({ ...r.body, id: undefined }, { id: undefined, name: 'holiday.png', type: 'image/png', size: png.length, width: 40, height: 30 });
    const text = await upload(conv, a, Buffer.from('meeting notes ✓\n'), 'notes.txt', 'image/png');
    assert.equal(text.status, 201);
    assert.deepEqual([text.body.type, text.body.width], ['text/plain', undefined]);
    ca.close();
    cb.close();
  });

  test('upload refusals: 413 over ATTACHMENT_BYTES_MAX, 415 for bytes of no allowed type or no multipart, 403 for non-participants and admins, 404 for no conversation', async () => {
    const { a, ca, cb, conv } = await dm();
    const big = await upload(conv, a, Buffer.alloc(bytesMax + 1, 'a'), 'big.txt', 'text/plain');
    assert.equal(big.status, 413, JSON.stringify(big.body));
    const huge = await upload(conv, a, Buffer.alloc(bytesMax * 2, 'a'), 'huge.txt', 'text/plain');
    assert.equal(huge.status, 413, 'a body far over the bound is refused while reading');
    const exe = await upload(conv, a, Buffer.from([0x4d, 0x5a, 0x90, 0x00, 0x03, 0x00]), 'cat.png', 'image/png');
    assert.equal(exe.status, 415, JSON.stringify(exe.body));
    assert.match(exe.body.message, /allowed: image\/png/);
    const json = await fetch(`${node.http}/api/v1/conversations/${conv}/attachments`, {
      method: 'POST', body: '{}', headers: { authorization: `Bearer ${await token(a)}`, 'content-type': 'application/json' },
    });
    assert.equal(json.status, 415);
    assert.equal((await upload(conv, uid('mallory'), pngBytes())).status, 403);
    assert.equal((await upload(conv, uid('ops'), pngBytes(), 'p.png', 'image/png', ['admin'])).status, 403, 'admins observe, they do not post');
    assert.equal((await upload(`nope-${uid('c')}`, a, pngBytes())).status, 404);
    const bad = await upload('bad id', a, pngBytes());
    assert.equal(bad.status, 400);
    ca.close();
    cb.close();
  });

  test('send with att and no body → msg, history, join and inbox carry the metadata; an upload goes out once', async () => {
    const { a, b, ca, cb, conv } = await dm();
    const up = (await upload(conv, a, pngBytes(8, 6), 'door.png')).body;
    const ack = await ca.request({ t: 'send', conv, cmid: 'm1', body: '', att: [up.id] });
    assert.equal(ack.t, 'ack', JSON.stringify(ack));
    const msg = await cb.waitFor((f) => f.t === 'msg' && f.seq === ack.seq);
    assert.equal(msg.body, '');
    assert.deepEqual(msg.att, [up]);

    const again = await ca.request({ t: 'send', conv, cmid: 'm2', body: 'again', att: [up.id] });
    assert.deepEqual([again.t, again.code], ['err', 409], JSON.stringify(again));
    const resend = await ca.request({ t: 'send', conv, cmid: 'm1', body: '', att: [up.id] });
    assert.deepEqual([resend.t, resend.seq], ['ack', ack.seq], 'a resend of the same send is its original ack');
    const theirs = await cb.request({ t: 'send', conv, cmid: 'b1', body: 'mine now', att: [up.id] });
    assert.deepEqual([theirs.t, theirs.code], ['err', 404], 'only the uploader sends an upload');
    const unknown = await ca.request({ t: 'send', conv, cmid: 'm3', body: 'x', att: ['at_nope'] });
    assert.deepEqual([unknown.t, unknown.code], ['err', 404]);
    const empty = await ca.request({ t: 'send', conv, cmid: 'm4', body: '' });
    assert.deepEqual([empty.t, empty.code], ['err', 400], 'body or att is required');
    const eleven = await ca.request({ t: 'send', conv, cmid: 'm5', body: '', att: Array.from({ length: 11 }, (_, i) => `at_${i}`) });
    assert.deepEqual([eleven.t, eleven.code], ['err', 400]);

    const caption = (await upload(conv, a, Buffer.from('%PDF-1.4\n%%EOF\n'), 'invoice.pdf', 'application/pdf')).body;
    const two = await ca.request({ t: 'send', conv, cmid: 'm6', body: 'the invoice', att: [caption.id] });
    assert.equal(two.t, 'ack');

    const http = await fetch(`${node.http}/api/v1/conversations/${conv}/messages`, { headers: { authorization: `Bearer ${await token(b)}` } });
    const page = (await http.json()) as { messages: { seq: number; att?: unknown[]; body: string }[] };
    assert.deepEqual(page.messages.map((m) => [m.seq, m.body, m.att]), [[two.seq, 'the invoice', [caption]], [ack.seq, '', [up]]]);
    const hist = await cb.request({ t: 'history', conv });
    assert.deepEqual(hist.msgs.map((m: { att?: unknown }) => m.att), [[caption], [up]]);
    const joined = await cb.request({ t: 'join', conv, since: 0 });
    assert.deepEqual(joined.msgs.map((m: { att?: unknown }) => m.att), [[up], [caption]]);
    const inbox = await cb.request({ t: 'inbox' });
    assert.deepEqual(inbox.convs.find((c: { conv: string }) => c.conv === conv).last.att, [caption]);
    ca.close();
    cb.close();
  });

  test('download: the bytes with ETag, type, disposition and nosniff; 304, ranges 206/416; participants and admins only', async () => {
    const { a, b, ca, cb, conv } = await dm();
    const png = pngBytes(50, 20);
    const up = (await upload(conv, a, png, 'Straße Ü.png')).body;
    assert.equal((await ca.request({ t: 'send', conv, cmid: 'd1', body: 'look', att: [up.id] })).t, 'ack');

    const r = await download(up.id, b);
    assert.equal(r.status, 200);
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), png);
    assert.equal(r.headers.get('content-type'), 'image/png');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('accept-ranges'), 'bytes');
    assert.equal(r.headers.get('content-disposition'), `inline; filename="Stra_e _.png"; filename*=UTF-8''Stra%C3%9Fe%20%C3%9C.png`);
    const etag = r.headers.get('etag')!;
    assert.match(etag, /^"[0-9a-f]{64}"$/);

    const cached = await download(up.id, b, { 'if-none-match': etag });
    assert.equal(cached.status, 304);
    assert.equal(cached.headers.get('etag'), etag);
    assert.equal((await cached.arrayBuffer()).byteLength, 0);
    assert.equal((await download(up.id, b, { 'if-none-match': '"other"' })).status, 200);

    const part = await download(up.id, b, { range: 'bytes=0-9' });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 0-9/${png.length}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), png.subarray(0, 10));
    const tail = await download(up.id, b, { range: 'bytes=-5' });
    assert.deepEqual([tail.status, Buffer.from(await tail.arrayBuffer())], [206, png.subarray(png.length - 5)]);
    const stale = await download(up.id, b, { range: 'bytes=0-9', 'if-range': '"old"' });
    assert.equal(stale.status, 200, 'If-Range with another validator → the whole body');
    await stale.arrayBuffer();
    const past = await download(up.id, b, { range: `bytes=${png.length}-` });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), `bytes */${png.length}`);
    await past.arrayBuffer();

    assert.equal((await download(up.id, uid('mallory'))).status, 403);
    const admin = await download(up.id, uid('ops'), {}, ['admin']);
    assert.equal(admin.status, 200, 'admins read any conversation');
    await admin.arrayBuffer();
    assert.equal((await download('at_nosuchattachment', b)).status, 404);
    assert.equal((await fetch(`${node.http}/api/v1/attachments/${up.id}`)).status, 401);

    // A file at the bound streams whole (tryEnd/onWritable over many writes) and in a late range.
    const big = Buffer.alloc(bytesMax, 'abcdefghij');
    const bigUp = (await upload(conv, a, big, 'big.txt', 'text/plain')).body;
    assert.equal(bigUp.size, bytesMax);
    const bigDown = await download(bigUp.id, a);
    assert.ok(Buffer.from(await bigDown.arrayBuffer()).equals(big), 'the whole file, byte for byte');
    const bigPart = await download(bigUp.id, a, { range: `bytes=${bytesMax - 1_000_000}-` });
    assert.ok(Buffer.from(await bigPart.arrayBuffer()).equals(big.subarray(bytesMax - 1_000_000)));

    const text = (await upload(conv, a, Buffer.from('<script>alert(1)</script>'), 'x.html', 'text/html')).body;
    const t = await download(text.id, a);
    assert.equal(t.headers.get('content-type'), 'text/plain; charset=utf-8', 'HTML is served as text, never as a page');
    assert.match(t.headers.get('content-disposition')!, /^attachment; /);
    await t.arrayBuffer();
    ca.close();
    cb.close();
  });

  test('an unsent upload is its uploader\'s alone; a deleted message\'s attachments are gone at once and swept, row and blob', async () => {
    const { a, b, ca, cb, conv } = await dm();
    const blobsBefore = blobFiles();
    const up = (await upload(conv, a, pngBytes(5, 5), 'oops.png')).body;
    assert.equal((await download(up.id, b)).status, 404, 'not sent yet: the other participant cannot fetch it');
    const ack = await ca.request({ t: 'send', conv, cmid: 'del1', body: 'wrong photo', att: [up.id] });
    assert.equal(ack.t, 'ack');
    const fetched = await download(up.id, b);
    assert.equal(fetched.status, 200);
    await fetched.arrayBuffer();
    const added = blobFiles().filter((f) => !blobsBefore.includes(f));
    assert.equal(added.length, 1);

    const del = await ca.request({ t: 'del', conv, seq: ack.seq });
    assert.equal(del.t, 'ok', JSON.stringify(del));
    assert.equal((await download(up.id, b)).status, 404, 'withdrawn with its message');
    const hist = await cb.request({ t: 'history', conv });
    const tomb = hist.msgs.find((m: { seq: number }) => m.seq === ack.seq);
    assert.deepEqual([tomb.deleted, tomb.att], [true, undefined]);
    await until('the deleted message\'s blob is swept', async () => (existsSync(added[0]) ? undefined : true), 15_000);
    const again = await ca.request({ t: 'send', conv, cmid: 'del2', body: 'x', att: [up.id] });
    assert.deepEqual([again.t, again.code], ['err', 404]);
    ca.close();
    cb.close();
  });

  test('an upload never sent is removed after ATTACHMENT_ORPHAN_TTL_MS, row and blob; a sent one stays', async () => {
    const { a, ca, cb, conv } = await dm();
    const blobsBefore = blobFiles();
    const orphan = (await upload(conv, a, pngBytes(3, 3), 'orphan.png')).body;
    const kept = (await upload(conv, a, pngBytes(4, 4), 'kept.png')).body;
    assert.equal((await ca.request({ t: 'send', conv, cmid: 'o1', body: '', att: [kept.id] })).t, 'ack');
    const added = blobFiles().filter((f) => !blobsBefore.includes(f));
    assert.equal(added.length, 2);
    assert.equal((await download(orphan.id, a)).status, 200);
    await until('the orphan is swept', async () => ((await download(orphan.id, a)).status === 404 ? true : undefined), orphanTtlMs + 15_000);
    const left = added.filter((f) => existsSync(f));
    assert.equal(left.length, 1, 'the orphan\'s blob is gone, the sent one stays');
    const sent = await download(kept.id, a);
    assert.equal(sent.status, 200);
    await sent.arrayBuffer();
    const late = await ca.request({ t: 'send', conv, cmid: 'o2', body: '', att: [orphan.id] });
    assert.deepEqual([late.t, late.code], ['err', 404]);
    ca.close();
    cb.close();
  });
});

/** Every blob file under the node's DATA_DIR/blobs. */
function blobFiles(): string[] {
  const dir = join(node.dataDir, 'blobs');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((d) => readdirSync(join(dir, d)).map((f) => join(dir, d, f)));
}

// Edge worker threads close each HTTP connection after its response (src/http/routes.ts), which
// uWS's streaming write cannot: there a download is gathered and ended in one write.
describe('attachments through edge worker threads (EDGE_THREADS=2)', () => {
  const threaded = new TestNode({ env: { EDGE_THREADS: '2', RATE_MSGS_PER_S: '1000', RATE_BURST: '1000' } });
  before(() => threaded.start());
  after(() => threaded.kill('SIGTERM'));

  test('upload, send, download whole, a range, and 304 on edge threads', async () => {
    const [a, b] = [uid('alice'), uid('bob')];
    await connectUsers(threaded, a, b);
    const ca = await TestClient.connect(threaded.url, await token(a));
    const conv = (await ca.request({ t: 'open', with: b })).conv.id as string;
    const png = pngBytes(200, 150); // larger than one socket write
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(png)]), 'big.png');
    const up = await fetch(`${threaded.http}/api/v1/conversations/${conv}/attachments`, { method: 'POST', body: form, headers: { authorization: `Bearer ${await token(a)}` } });
    const meta = await up.json();
    assert.equal(up.status, 201, JSON.stringify(meta));
    assert.equal((await ca.request({ t: 'send', conv, cmid: 't1', body: '', att: [meta.id] })).t, 'ack');
    const auth = { authorization: `Bearer ${await token(b)}` };
    const whole = await fetch(`${threaded.http}/api/v1/attachments/${meta.id}`, { headers: auth });
    assert.equal(whole.status, 200);
    assert.deepEqual(Buffer.from(await whole.arrayBuffer()), png);
    const part = await fetch(`${threaded.http}/api/v1/attachments/${meta.id}`, { headers: { ...auth, range: 'bytes=100-199' } });
    assert.deepEqual([part.status, Buffer.from(await part.arrayBuffer())], [206, png.subarray(100, 200)]);
    const cached = await fetch(`${threaded.http}/api/v1/attachments/${meta.id}`, { headers: { ...auth, 'if-none-match': whole.headers.get('etag')! } });
    assert.equal(cached.status, 304);
    ca.close();
  });
});
