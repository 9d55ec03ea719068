/**
 * Invariant: `kafka-smpp-connector/client` (package.json "exports") is the build output of
 * src/client/index.ts with its declarations, and importing it by the package name gives every
 * name the source module exports. The import check needs `npm run build` first (skipped without dist/).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as client from '../../src/client/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as {
  name: string;
  type: string;
  main: string;
  types: string;
  exports: Record<string, { types: string; default: string } | string>;
};
const ENTRY = { types: './dist/src/client/index.d.ts', default: './dist/src/client/index.js' };

test('the package exports ./client (and .) as the compiled client entry with its declarations', () => {
  assert.equal(pkg.type, 'module');
  assert.deepEqual(pkg.exports['./client'], ENTRY);
  assert.deepEqual(pkg.exports['.'], ENTRY);
  assert.equal(pkg.main, ENTRY.default);
  assert.equal(pkg.types, ENTRY.types);
  // tsc maps src/client/index.ts to <outDir>/src/client/index.js (rootDir "."); declarations on in the build.
  const tsconfig = readFileSync(`${root}tsconfig.json`, 'utf8');
  assert.match(tsconfig, /"outDir":\s*"dist"/);
  assert.match(tsconfig, /"rootDir":\s*"\."/);
  assert.match(readFileSync(`${root}tsconfig.build.json`, 'utf8'), /"declaration":\s*true/);
});

const built = existsSync(`${root}dist/src/client/index.js`);

test('importing kafka-smpp-connector/client by name gives the same names as the source', { skip: built ? false : 'no dist/: run npm run build' }, () => {
  const script = `const m = await import('${pkg.name}/client'); process.stdout.write(JSON.stringify(Object.keys(m).sort()));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), Object.keys(client).sort());
  assert.ok(existsSync(`${root}dist/src/client/index.d.ts`), 'declarations are built');
});

test(
  'the packed package holds the built client, its declarations and the Avro schemas, and no development tooling',
  { skip: built ? false : 'no dist/: run npm run build' },
  () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
    const files = new Set((JSON.parse(out) as [{ files: { path: string }[] }])[0].files.map((f) => f.path));
    for (const path of ['dist/src/client/index.js', 'dist/src/client/index.d.ts', 'dist/src/cli.js', 'package.json'])
      assert.ok(files.has(path), `${path} packed`);
    // The codec reads the schemas from the package root at run time (kafka/codec.ts).
    for (const schema of readdirSync(`${root}schemas`).filter((f) => f.endsWith('.avsc')))
      assert.ok(files.has(`schemas/${schema}`), `schemas/${schema} packed`);
    const unwanted = [...files].filter((p) => p.startsWith('tools/') || p.startsWith('src/') || p.startsWith('test/') || p.startsWith('dist/src/demo/'));
    assert.deepEqual(unwanted, [], 'no sources, tests or development tooling');
  },
);
