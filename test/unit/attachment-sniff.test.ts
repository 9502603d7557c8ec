/** Attachments from their bytes: type sniffing, image dimensions, file names, Content-Disposition, ranges (issue 15). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentDisposition, sanitizeFileName, sniff } from '../../protocol/attachments.ts';
import { parseRange } from '../../src/http/attachments.ts';
import { gifHeader, jpegHeader, pngBytes, webpExtendedHeader, webpLosslessHeader } from '../helpers/images.ts';

test('images are recognized by their magic numbers, with the size from their header', () => {
  assert.deepEqual(sniff(pngBytes(3, 2)), { type: 'image/png', width: 3, height: 2 });
  assert.deepEqual(sniff(jpegHeader(640, 480)), { type: 'image/jpeg', width: 640, height: 480 });
  assert.deepEqual(sniff(gifHeader(17, 9)), { type: 'image/gif', width: 17, height: 9 });
  assert.deepEqual(sniff(webpLosslessHeader(300, 200)), { type: 'image/webp', width: 300, height: 200 });
  assert.deepEqual(sniff(webpExtendedHeader(4000, 3000)), { type: 'image/webp', width: 4000, height: 3000 });
});

test('a JPEG whose frame header comes after other segments (EXIF, tables) still gives its size', () => {
  const exif = Buffer.concat([Buffer.from([0xff, 0xe1, 0x00, 0x08]), Buffer.from('Exif\0\0')]);
  const dqt = Buffer.concat([Buffer.from([0xff, 0xdb, 0x00, 0x05]), Buffer.from([0, 1, 2])]);
  const jpeg = jpegHeader(1024, 768);
  const withSegments = Buffer.concat([jpeg.subarray(0, 2), exif, dqt, jpeg.subarray(2)]);
  assert.deepEqual(sniff(withSegments), { type: 'image/jpeg', width: 1024, height: 768 });
});

test('a truncated image keeps its type without a size', () => {
  assert.deepEqual(sniff(pngBytes(3, 2).subarray(0, 12)), { type: 'image/png' });
  assert.deepEqual(sniff(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), { type: 'image/jpeg' });
});

test('PDF by its %PDF- header; plain text = valid UTF-8 without NUL', () => {
  assert.deepEqual(sniff(Buffer.from('%PDF-1.7\n%âãÏÓ\n1 0 obj')), { type: 'application/pdf' });
  assert.deepEqual(sniff(Buffer.from('hello\nwörld ✓\ttab\r\n')), { type: 'text/plain' });
  assert.equal(sniff(Buffer.from([0x68, 0x69, 0x00, 0x21])), null, 'a NUL byte is binary');
  assert.equal(sniff(Buffer.from([0x68, 0xc3, 0x28])), null, 'invalid UTF-8');
  assert.equal(sniff(Buffer.from([0x4d, 0x5a, 0x90, 0x00, 0x03])), null, 'an executable (MZ) is none of ours');
});

test('the declared type plays no part: HTML is text, a script named .png is text, an SVG is text', () => {
  assert.deepEqual(sniff(Buffer.from('<html><script>alert(1)</script></html>')), { type: 'text/plain' });
  assert.deepEqual(sniff(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>')), { type: 'text/plain' });
});

test('file names: last path segment, no control or bidi characters, no leading dots, bounded with the extension kept', () => {
  assert.equal(sanitizeFileName('../../etc/passwd', 200), 'passwd');
  assert.equal(sanitizeFileName('C:\\Users\\me\\photo.jpg', 200), 'photo.jpg');
  assert.equal(sanitizeFileName('a\u0000b\nc\u007f.txt', 200), 'abc.txt');
  assert.equal(sanitizeFileName('invoice\u202Egpj.exe', 200), 'invoicegpj.exe');
  assert.equal(sanitizeFileName('...hidden', 200), 'hidden');
  assert.equal(sanitizeFileName('a"b<c>|d?.txt', 200), 'a_b_c__d_.txt');
  assert.equal(sanitizeFileName('', 200), 'file');
  assert.equal(sanitizeFileName('/', 200), 'file');
  assert.equal(sanitizeFileName('\ud800x.png', 200), 'x.png', 'a lone surrogate is dropped');
  const long = sanitizeFileName(`${'x'.repeat(500)}.jpeg`, 200);
  assert.equal(long.length, 200);
  assert.ok(long.endsWith('.jpeg'));
  assert.equal([...sanitizeFileName('😀'.repeat(300), 10)].length, 10, 'cut by code point, never inside a pair');
  assert.equal(sanitizeFileName('Ünïcödé 名前.pdf', 200), 'Ünïcödé 名前.pdf');
});

test('Content-Disposition: inline for images, attachment otherwise, with an RFC 5987 filename*', () => {
  assert.equal(contentDisposition('photo.png', 'image/png'), `inline; filename="photo.png"; filename*=UTF-8''photo.png`);
  assert.equal(contentDisposition('Bericht Ü.pdf', 'application/pdf'), `attachment; filename="Bericht _.pdf"; filename*=UTF-8''Bericht%20%C3%9C.pdf`);
  assert.equal(contentDisposition("it's (1).txt", 'text/plain'), `attachment; filename="it's (1).txt"; filename*=UTF-8''it%27s%20%281%29.txt`);
});

test('Range: one range is served, several or foreign units are ignored, past the end is unsatisfiable', () => {
  assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-1000', 100), { start: 0, end: 99 });
  assert.deepEqual(parseRange('bytes=50-5000', 100), { start: 50, end: 99 });
  assert.equal(parseRange('bytes=0-1,5-6', 100), undefined);
  assert.equal(parseRange('items=0-1', 100), undefined);
  assert.equal(parseRange('bytes=100-', 100), 'unsatisfiable');
  assert.equal(parseRange('bytes=5-4', 100), 'unsatisfiable');
  assert.equal(parseRange('bytes=-0', 100), 'unsatisfiable');
});
