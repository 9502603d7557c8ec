/**
 * The wire contract lives in the repository (docs/protocol.md) and follows the code: every frame
 * type and field of protocol/frames.ts, every error and close code of protocol/errors.ts and every
 * HTTP route the edge registers must be documented there; every env flag the node reads has
 * exactly one row in docs/configuration.md (and no row names a flag it does not read); and the
 * links of README.md, docs/*.md and the other READMEs must resolve, anchors included, inside a
 * fresh clone (README used to point at ../shared/PROTOCOL.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { CloseCode, ErrorCode } from '../../protocol/errors.ts';
import { flagsRead } from '../helpers/flags.ts';

const root = resolve(new URL('../../', import.meta.url).pathname);
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const protocolDoc = 'docs/protocol.md';
const configurationDoc = 'docs/configuration.md';
/** The docs this project maintains (README.md, every page of docs/, the other READMEs); each must work from a fresh clone. */
const ourDocs = [
  'README.md',
  ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`),
  'bench/README.md',
  'sdk/README.md',
];

interface Section {
  heading: string;
  lines: string[];
}

function sections(md: string): Section[] {
  const out: Section[] = [{ heading: '', lines: [] }];
  for (const line of md.split('\n')) {
    if (/^#{1,6} /.test(line)) out.push({ heading: line, lines: [] });
    else out[out.length - 1].lines.push(line);
  }
  return out;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces → '-'. */
function slug(heading: string): string {
  return heading.replace(/^#+ /, '').trim().toLowerCase().replace(/[^\p{L}\p{N}\- _]/gu, '').replace(/ /g, '-');
}

function anchorsOf(path: string): Set<string> {
  return new Set(read(path).split('\n').filter((l) => /^#{1,6} /.test(l)).map(slug));
}

/** Markdown link targets `[text](target)` outside code spans and fenced blocks. */
function linkTargets(md: string): string[] {
  const prose = md.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
}

test('README links the wire contract and every docs page, and no link of our docs leaves the repository or misses its target (file or heading)', () => {
  assert.ok(existsSync(join(root, protocolDoc)), `${protocolDoc} exists`);
  const readmeLinks = linkTargets(read('README.md')).map((t) => t.split('#')[0]);
  assert.deepEqual(ourDocs.filter((d) => d.startsWith('docs/') && !readmeLinks.includes(d)), [], "README.md's Documentation list links every docs page");
  const broken: string[] = [];
  for (const doc of ourDocs) {
    for (const target of linkTargets(read(doc))) {
      if (/^[a-z]+:/i.test(target)) continue; // http(s), mailto: not files of ours
      const [file, anchor] = target.split('#');
      const path = file === '' ? join(root, doc) : resolve(root, dirname(doc), file);
      const inRepo = relative(root, path);
      if (inRepo.startsWith('..')) broken.push(`${doc}: ${target} points outside the repository`);
      else if (!existsSync(path)) broken.push(`${doc}: ${target} does not exist`);
      else if (anchor && inRepo.endsWith('.md') && !anchorsOf(inRepo).has(anchor)) broken.push(`${doc}: ${target} names no heading`);
    }
  }
  assert.deepEqual(broken, []);
});

/** `t` → field names, from the union members `{ t: 'x'; a: …; b?: … }` of one type in frames.ts. */
function frameFields(source: string, typeName: string): Map<string, string[]> {
  const body = new RegExp(`export type ${typeName} =([\\s\\S]*?);\\s*(?:\\n\\n|$)`).exec(source)?.[1];
  assert.ok(body, `protocol/frames.ts declares ${typeName}`);
  const interfaces = new Map([...source.matchAll(/export interface (\w+) \{([\s\S]*?)\n\}/g)].map((m) => [m[1], m[2]]));
  const out = new Map<string, string[]>();
  for (const member of body.split(/\n\s*\|/)) {
    const t = /t: '(\w+)'/.exec(member)?.[1];
    if (!t) continue;
    const own = [...member.replace(/t: '\w+'/, '').matchAll(/(\w+)\??:/g)].map((m) => m[1]);
    // `({ t: 'msg' } & MsgView)`: the fields of the interface it is joined with.
    const joined = /&\s*(\w+)/.exec(member)?.[1];
    const inherited = joined ? [...(interfaces.get(joined) ?? '').matchAll(/^\s*(\w+)\??:/gm)].map((m) => m[1]) : [];
    out.set(t, [...own, ...inherited]);
  }
  assert.ok(out.size > 0, `${typeName}: no frame types found`);
  return out;
}

/** Table rows whose first cell names frame `t`, in the doc's sections of one direction. */
function rowsFor(doc: Section[], direction: RegExp, t: string): string {
  return doc
    .filter((s) => direction.test(s.heading))
    .flatMap((s) => s.lines)
    .filter((l) => l.startsWith('|') && l.split('|')[1].includes(`\`${t}\``))
    .join('\n');
}

test('docs/protocol.md documents every frame type and every field of protocol/frames.ts, per direction', () => {
  const source = read('protocol/frames.ts');
  const doc = sections(read(protocolDoc));
  const missing: string[] = [];
  for (const [typeName, direction] of [['ClientFrame', /client → server/], ['ServerFrame', /server → client/]] as const) {
    for (const [t, fields] of frameFields(source, typeName)) {
      const rows = rowsFor(doc, direction, t);
      if (!rows) {
        missing.push(`${typeName} '${t}': no row`);
        continue;
      }
      for (const f of fields) if (!new RegExp(`\\b${f}\\b`).test(rows)) missing.push(`${typeName} '${t}': field ${f}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('docs/protocol.md lists every error code and every close code the server uses, and the invalid-UTF-8 close', () => {
  const doc = sections(read(protocolDoc));
  const tables = (heading: RegExp) => doc.filter((s) => heading.test(s.heading)).flatMap((s) => s.lines).filter((l) => l.startsWith('|')).join('\n');
  const errors = tables(/errors/i);
  const closes = tables(/close codes/i);
  for (const code of Object.values(ErrorCode)) assert.match(errors, new RegExp(`\\| \`${code}\` \\|`), `error ${code} has a row`);
  for (const code of [...Object.values(CloseCode), 1007]) assert.match(closes, new RegExp(`\\| \`${code}\` \\|`), `close ${code} has a row`);
  for (const status of [401, 403, 429, 503]) assert.match(closes, new RegExp(`\\| \`${status}\` \\|`), `upgrade refusal ${status} has a row`);
});

/** Every literal route path registered on the uWS app (src/edge: sockets, src/http: the REST API), `:param` written `{param}`. */
function edgeRoutes(): string[] {
  const routes: string[] = [];
  const files = ['src/edge', 'src/http'].flatMap((dir) => readdirSync(join(root, dir)).filter((f) => f.endsWith('.ts')).map((f) => join(root, dir, f)));
  for (const file of files) {
    const source = readFileSync(file, 'utf8');
    const consts = new Map([...source.matchAll(/const (\w+) = '([^']+)'/g)].map((m) => [m[1], m[2]]));
    for (const m of source.matchAll(/app\.(get|post|put|patch|del)\(\s*(?:'([^']+)'|`([^`]+)`)/g)) {
      const path = (m[2] ?? m[3]).replace(/\$\{(\w+)\}/g, (_, name: string) => consts.get(name) ?? `\${${name}}`);
      routes.push(`${m[1] === 'del' ? 'DELETE' : m[1].toUpperCase()} ${path.replace(/:(\w+)/g, '{$1}')}`);
    }
  }
  assert.ok(routes.length > 10, `found the edge's routes (${routes.length})`);
  return routes;
}

test('docs/protocol.md documents every HTTP route the edge registers', () => {
  const doc = read(protocolDoc);
  assert.deepEqual(edgeRoutes().filter((r) => !doc.includes(r)), []);
});

/** The flags named by the first cell of each table row: `| \`A\`, \`B\` | default | meaning |`. */
function flagRows(md: string): string[] {
  return md
    .split('\n')
    .filter((l) => /^\|\s*`[A-Z][A-Z0-9_]+`/.test(l))
    .flatMap((l) => [...l.split('|')[1].matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]));
}

test('docs/configuration.md documents every flag the node reads exactly once, and no flag it does not read', () => {
  const flags = flagsRead();
  const rows = flagRows(read(configurationDoc));
  const count = new Map<string, number>();
  for (const f of rows) count.set(f, (count.get(f) ?? 0) + 1);
  const problems = [
    ...[...flags].filter((f) => !count.has(f)).map((f) => `${f}: read by the node, no row`),
    ...[...count].filter(([, n]) => n > 1).map(([f, n]) => `${f}: ${n} rows`),
    ...[...count.keys()].filter((f) => !flags.has(f)).map((f) => `${f}: a row, but the node does not read it`),
  ].sort();
  assert.deepEqual(problems, [], configurationDoc);
});

test('neither README.md nor another docs page has a flag row: each flag is described in docs/configuration.md only', () => {
  const flags = flagsRead();
  const elsewhere = ourDocs
    .filter((d) => (d === 'README.md' || d.startsWith('docs/')) && d !== configurationDoc)
    .flatMap((d) => flagRows(read(d)).filter((f) => flags.has(f)).map((f) => `${d}: ${f}`));
  assert.deepEqual(elsewhere, []);
});
