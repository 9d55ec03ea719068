/**
 * Invariant: `kafka-smpp-connector/client` (package.json "exports") is the build output of
 * src/client/index.ts with its declarations, and importing it by the package name gives every
 * name the source module exports. The import check needs `npm run build` first (skipped without dist/).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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
