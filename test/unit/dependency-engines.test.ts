/**
 * Every installed package accepts the Node we run on, and package.json's `engines.node` promises
 * no more than the dependencies accept. Without this, a dependency bump that needs a newer Node
 * shows up only as `npm ci`'s EBADENGINE warnings (issue 13: cockatiel 4 and OpenTelemetry 3
 * need Node ≥ 22 while we ship node:20), or as a crash on an older machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import semver from 'semver';

const root = new URL('../../', import.meta.url).pathname;

interface Manifest {
  name?: string;
  version?: string;
  engines?: { node?: unknown };
}

function readManifest(path: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  } catch {
    return undefined; // a broken or partial package is npm's concern, not this test's
  }
}

/** Every package directory under a node_modules, scoped ones and nested node_modules included. */
function packageDirs(nodeModules: string): string[] {
  if (!existsSync(nodeModules)) return [];
  const out: string[] = [];
  for (const name of readdirSync(nodeModules)) {
    if (name.startsWith('.')) continue; // .bin, .package-lock.json
    const dir = join(nodeModules, name);
    const dirs = name.startsWith('@') ? readdirSync(dir).map((n) => join(dir, n)) : [dir];
    for (const d of dirs) {
      if (!existsSync(join(d, 'package.json'))) continue;
      out.push(d, ...packageDirs(join(d, 'node_modules')));
    }
  }
  return out;
}

/** `engines.node` as a range, or undefined when absent or not a string (old manifests use arrays). */
function nodeRange(m: Manifest): string | undefined {
  const r = m.engines?.node;
  return typeof r === 'string' && r.trim() !== '' ? r : undefined;
}

const installed = packageDirs(join(root, 'node_modules')).flatMap((dir) => {
  const m = readManifest(join(dir, 'package.json'));
  const range = m && nodeRange(m);
  return range ? [{ where: relative(root, dir), id: `${m.name}@${m.version}`, range }] : [];
});

test('the walk finds the installed packages (the test is not vacuous)', () => {
  assert.ok(installed.length > 50, `only ${installed.length} packages with engines.node found under node_modules`);
  assert.ok(installed.some((p) => p.id.startsWith('cockatiel@')), 'cockatiel, which declares engines.node, is among them');
});

test(`every installed package's engines.node accepts the running Node (${process.version})`, () => {
  const refusing = installed.filter((p) => !semver.satisfies(process.version, p.range, { includePrerelease: true }));
  assert.deepEqual(refusing.map((p) => `${p.id} (${p.where}) needs node ${p.range}`), []);
});

test("package.json's engines.node accepts the running Node and is within every dependency's range", () => {
  const own = nodeRange(readManifest(join(root, 'package.json')) ?? {});
  assert.ok(own, 'package.json declares engines.node');
  assert.ok(semver.satisfies(process.version, own), `package.json engines.node ${own} excludes ${process.version}`);
  // A Node the project claims to support but a dependency refuses would make `npm ci` warn there.
  const narrower = installed.filter((p) => !semver.subset(own, p.range));
  assert.deepEqual(narrower.map((p) => `${p.id} needs node ${p.range}, narrower than package.json's ${own}`), []);
});
