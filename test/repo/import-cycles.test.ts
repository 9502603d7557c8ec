/**
 * No import cycles, between files or between folders ("rooms"): a room may use the rooms below
 * it, never the other way round, so each can be read, tested and replaced from its own imports.
 * The project's own check (no `../shared` tool, no dependency): relative imports of every .ts file
 * under the code roots, a strongly-connected-components pass over files, then over folders.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const codeRoots = ['actors', 'protocol', 'src', 'sdk', 'bench'];

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name.startsWith('.')) return [];
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Relative specifiers of static imports and re-exports (type-only ones too: they bind rooms alike). */
const importRe = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|(?:^|\n)\s*import\s+['"](\.{1,2}\/[^'"]+)['"]/g;

function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of codeRoots.flatMap((r) => tsFiles(join(root, r)))) {
    const text = readFileSync(file, 'utf8');
    const targets: string[] = [];
    for (const m of text.matchAll(importRe)) {
      const spec = m[1] ?? m[2];
      if (spec.endsWith('.ts')) targets.push(relative(root, resolve(dirname(file), spec)));
    }
    graph.set(relative(root, file), targets);
  }
  return graph;
}

/** A file's room: its folder; a file directly in src/ is a room of its own (config, log, main…). */
function roomOf(file: string): string {
  const dir = dirname(file);
  return dir === 'src' ? file.replace(/\.ts$/, '') : dir;
}

/** Strongly connected components with more than one member, or a member importing itself (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) !== idx.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

function roomGraph(files: Map<string, string[]>): Map<string, string[]> {
  const rooms = new Map<string, Set<string>>();
  for (const [file, targets] of files) {
    const from = roomOf(file);
    const set = rooms.get(from) ?? new Set<string>();
    for (const t of targets) if (roomOf(t) !== from) set.add(roomOf(t));
    rooms.set(from, set);
  }
  return new Map([...rooms].map(([k, v]) => [k, [...v]]));
}

/** For a failure message: the imports from one room of a cycle into another. */
function evidence(files: Map<string, string[]>, scc: string[]): string[] {
  const lines: string[] = [];
  for (const [file, targets] of files) {
    for (const t of targets) {
      const a = roomOf(file);
      const b = roomOf(t);
      if (a !== b && scc.includes(a) && scc.includes(b)) lines.push(`${file} → ${t}`);
    }
  }
  return lines;
}

test('the checker finds a cycle when there is one (files and rooms)', () => {
  const files = new Map([['src/a/x.ts', ['src/b/y.ts']], ['src/b/y.ts', ['src/a/z.ts']], ['src/a/z.ts', []]]);
  assert.deepEqual(cycles(files), []);
  assert.deepEqual(cycles(roomGraph(files)), [['src/a', 'src/b']]);
  files.set('src/a/z.ts', ['src/a/x.ts']);
  assert.deepEqual(cycles(files), [['src/a/x.ts', 'src/a/z.ts', 'src/b/y.ts']]);
});

test('no file imports itself through a chain of imports', () => {
  const found = cycles(importGraph());
  assert.deepEqual(found, [], `file cycles:\n${found.map((c) => c.join(' ↔ ')).join('\n')}`);
});

test('no room (folder) depends on itself through other rooms', () => {
  const files = importGraph();
  const found = cycles(roomGraph(files));
  const why = found.map((c) => `${c.join(' ↔ ')}:\n  ${evidence(files, c).join('\n  ')}`).join('\n');
  assert.deepEqual(found, [], `room cycles:\n${why}`);
});

/**
 * The layers of docs/architecture.md, top to bottom: a room may import its own layer's rooms
 * (acyclically, above) or lower layers, never a higher one. A room missing here fails the test,
 * so a new folder gets a place in the picture when it is made.
 */
const layers: string[][] = [
  ['src/main', 'src/node', 'src/tools'],
  ['src/edge', 'src/http'],
  ['src/auth', 'src/presence', 'src/notify'],
  ['src/shard'],
  ['src/rpc'],
  ['src/persist', 'src/cluster', 'src/outbox'],
  ['src/integrations', 'src/bus'],
  ['src/config', 'src/log', 'src/metrics', 'src/tracing', 'src/uws', 'src/worker-thread', 'src/small-set', 'src/token-bucket'],
  ['actors', 'protocol'],
];

function layerOf(room: string): number | undefined {
  if (!room.startsWith('src') && !room.startsWith('actors') && !room.startsWith('protocol')) return undefined; // sdk, bench: checked for cycles only
  const i = layers.findIndex((names) => names.some((n) => room === n || room.startsWith(`${n}/`)));
  return i < 0 ? -1 : i;
}

test('every room of src/ has a layer, and imports only its own layer or lower ones', () => {
  const files = importGraph();
  const unplaced = new Set<string>();
  const upward: string[] = [];
  for (const [file, targets] of files) {
    const from = layerOf(roomOf(file));
    if (from === undefined) continue;
    if (from < 0) unplaced.add(roomOf(file));
    for (const t of targets) {
      const to = layerOf(roomOf(t));
      if (to !== undefined && to >= 0 && from >= 0 && to < from) upward.push(`${file} → ${t}`);
    }
  }
  assert.deepEqual([...unplaced], [], 'rooms without a layer');
  assert.deepEqual(upward, [], 'imports pointing up');
});
