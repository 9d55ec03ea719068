/**
 * The runner's check that every started subtest reported: a `# Subtest:` without its `ok` / `not ok`
 * at the same indentation is found and named with its ancestors; complete TAP yields nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { missingResults } from '../helpers/tap-results.js';

const tap = (...lines: string[]): string => lines.join('\n') + '\n';

/** Node 24's TAP reporter output for two files: a suite, a test with a subtest, a top-level test. */
const COMPLETE = tap(
  'TAP version 13',
  '# Subtest: suite A',
  '    # Subtest: a1',
  '    ok 1 - a1',
  '      ---',
  '      duration_ms: 0.79',
  "      type: 'test'",
  '      ...',
  '    # Subtest: a2 \\# with a hash',
  '    ok 2 - a2 \\# with a hash # SKIP not here',
  '    1..2',
  'ok 1 - suite A',
  '  ---',
  "  type: 'suite'",
  '  ...',
  '# Subtest: top b',
  '    # Subtest: inner',
  '    not ok 1 - inner # TODO later',
  '    1..1',
  'not ok 2 - top b',
  '  ---',
  "  error: 'expected\\n# Subtest: quoted\\nok 1 - quoted'",
  '  stack: |-',
  '    # Subtest: quoted in a stack',
  '    ok 9 - not a result',
  '  ...',
  '1..2',
  '# pass 1',
  '# fail 1',
);

test('complete TAP, with YAML blocks quoting TAP text and SKIP/TODO directives: nothing missing', () => {
  assert.deepEqual(missingResults(COMPLETE), []);
});

test('a group that started and vanished before the next top-level test: the group and its open child', () => {
  const text = tap('TAP version 13', '# Subtest: group', '    # Subtest: first', '# Subtest: other', 'ok 1 - other', '1..1', '# pass 1', '# fail 0');
  assert.deepEqual(missingResults(text), [
    { path: ['group'], line: 2 },
    { path: ['group', 'first'], line: 3 },
  ]);
});

test('a child without a result inside a parent that reported', () => {
  const text = tap('# Subtest: g', '    # Subtest: lost', '    # Subtest: kept', '    ok 1 - kept', '    1..2', 'ok 1 - g');
  assert.deepEqual(missingResults(text), [{ path: ['g', 'lost'], line: 2 }]);
});

test('the stream ends inside a subtest (a forced exit): everything still open', () => {
  const text = tap('# Subtest: done', 'ok 1 - done', '# Subtest: last', '    # Subtest: deep', '        # Subtest: deeper');
  assert.deepEqual(
    missingResults(text).map((m) => m.path.join(' > ')),
    ['last', 'last > deep', 'last > deep > deeper'],
  );
});

test('a result under another name does not settle the open subtest', () => {
  const text = tap('# Subtest: asked', 'ok 1 - someone else');
  assert.deepEqual(missingResults(text), [{ path: ['asked'], line: 1 }]);
});
