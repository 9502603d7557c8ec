/**
 * The env flags the node reads, found one way for every test that needs them (the docs check,
 * the deploy files check): every key `src/config.ts` reads by its helpers
 * `int|num|str|bool(env, 'X')` and `ms('X')` — cross-checked against the keys `loadConfig`
 * touches on an empty environment, so a new helper cannot escape the scan — plus
 * `process.env.X` read elsewhere in `src/` and the variables `npm start` sets for the process
 * (`MALLOC_ARENA_MAX`, read by glibc).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';

const root = new URL('../../', import.meta.url).pathname;
const read = (path: string) => readFileSync(join(root, path), 'utf8');

export function flagsRead(): Set<string> {
  const config = read('src/config.ts');
  const flags = new Set([...config.matchAll(/\b(?:int|num|str|bool)\(env, '([A-Z0-9_]+)'|\bms\('([A-Z0-9_]+)'\)/g)].map((m) => m[1] ?? m[2]));
  const touched = new Set<string>();
  const probe = new Proxy({} as Record<string, string | undefined>, {
    get: (_, key) => (typeof key === 'string' && /^[A-Z][A-Z0-9_]+$/.test(key) && touched.add(key), undefined),
  });
  loadConfig(probe);
  assert.deepEqual([...touched].filter((f) => !flags.has(f)).sort(), [], 'src/config.ts reads flags the scan misses: teach flagsRead its helper');
  const scan = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) scan(p);
      else if (entry.name.endsWith('.ts')) for (const m of readFileSync(p, 'utf8').matchAll(/process\.env\.([A-Z0-9_]+)/g)) flags.add(m[1]);
    }
  };
  scan(join(root, 'src'));
  // libpq's own default user name, read as pg does; not a flag of ours.
  flags.delete('PGUSER');
  const start = JSON.parse(read('package.json')).scripts.start as string;
  for (const m of start.matchAll(/(?:^|\s)([A-Z][A-Z0-9_]+)=/g)) flags.add(m[1]);
  assert.ok(flags.size > 100, `found the flags (${flags.size})`);
  return flags;
}
