// Invariant: the on-disk correlation store reads its own writes before they commit, ranges see
// committed entries with later writes applied, a store of another layout is wiped on open, and a
// directory another live process uses is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCorrelationStore, type LmdbCorrelationStore } from '../../src/store/lmdb-store.js';
import { failOnWriteError } from '../helpers/temp-store.js';

function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'ksc-lmdb-test-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

const open = (dir: string, format = 1): LmdbCorrelationStore => openCorrelationStore({ dir, format, onWriteError: failOnWriteError });

test('lmdb store: a write is readable at once, before its commit; a removal hides the committed value at once', async () => {
  await withDir(async (dir) => {
    const store = open(dir);
    const t = store.table<string, { n: number }>('t');
    t.put('a', { n: 1 });
    assert.deepEqual(t.get('a'), { n: 1 }, 'before the commit');
    await store.written();
    assert.deepEqual(t.get('a'), { n: 1 }, 'after it');
    t.remove('a');
    assert.equal(t.get('a'), undefined, 'removed before its commit');
    t.put('a', { n: 2 });
    t.put('a', { n: 3 });
    assert.deepEqual(t.get('a'), { n: 3 }, 'the last write wins');
    await store.written();
    assert.deepEqual(t.get('a'), { n: 3 });
    assert.equal(t.count(), 1);
    await store.close();
  });
});

test('lmdb store: a range returns committed entries in key order, with later removals and updates applied, up to its limit, and continues after a key', async () => {
  await withDir(async (dir) => {
    const store = open(dir);
    const t = store.table<['due', number, string], number>('timeline');
    for (const [at, id] of [
      [30, 'c'],
      [10, 'a'],
      [20, 'b'],
      [20, 'a'],
      [99, 'z'],
    ] as const)
      t.put(['due', at, id], at);
    await store.written();
    t.remove(['due', 20, 'a']);
    t.put(['due', 30, 'c'], -1);
    t.put(['due', 15, 'new'], 15); // not committed yet: a range does not see it
    const all = t.range({ from: ['due', 0, ''], to: ['due', 50, ''], limit: 100 });
    assert.equal(all.more, false);
    assert.deepEqual(
      all.entries.map((e) => [e.key[1], e.key[2], e.value]),
      [
        [10, 'a', 10],
        [20, 'b', 20],
        [30, 'c', -1],
      ],
    );
    const first = t.range({ from: ['due', 0, ''], to: ['due', 50, ''], limit: 1 });
    assert.equal(first.more, true);
    const rest = t.range({ from: first.last!, to: ['due', 50, ''], limit: 100, after: true });
    assert.deepEqual(
      [...first.entries, ...rest.entries].map((e) => e.key[2]),
      ['a', 'b', 'c'],
    );
    const two = t.range({ from: ['due', 0, ''], to: ['due', 50, ''], limit: 2 });
    assert.deepEqual(
      two.entries.map((e) => e.key[2]),
      ['a'],
      '[20, a] is removed: visited, not returned',
    );
    assert.deepEqual(two.last, ['due', 20, 'a'], 'where to continue: the last key visited');
    assert.equal(two.more, true, 'the limit was reached, so more may follow');
    await store.written();
    assert.deepEqual(
      t.range({ from: ['due', 0, ''], to: ['due', 50, ''], limit: 100 }).entries.map((e) => e.key[2]),
      ['a', 'new', 'b', 'c'],
      'committed now',
    );
    await store.close();
  });
});

test('lmdb store: a keysOnly table hides a removal from ranges at once; a key removed and put again before the commit is seen, like a new key, from the commit on', async () => {
  await withDir(async (dir) => {
    const store = open(dir);
    const t = store.table<['due', number, string], 1>('timeline', { keysOnly: true });
    const ids = () => t.range({ from: ['due', 0, ''], to: ['due', 50, ''], limit: 100 }).entries.map((e) => e.key[2]);
    t.put(['due', 10, 'a'], 1);
    t.put(['due', 20, 'b'], 1);
    await store.written();
    t.remove(['due', 10, 'a']);
    t.remove(['due', 20, 'b']);
    t.put(['due', 20, 'b'], 1);
    assert.deepEqual(ids(), [], 'both hidden before the commit');
    await store.written();
    assert.deepEqual(ids(), ['b'], 'the one put again is there once committed');
    await store.close();
  });
});

test('lmdb store: what was committed is there after a reopen; a store of another layout, or one whose write failed, is wiped', async () => {
  await withDir(async (dir) => {
    const first = open(dir, 1);
    first.table<string, string>('t').put('k', 'v');
    await first.close();
    const again = open(dir, 1);
    assert.equal(again.wiped, undefined);
    assert.equal(again.table<string, string>('t').get('k'), 'v');
    await again.close();
    const newer = open(dir, 2);
    assert.match(newer.wiped ?? '', /layout 1/);
    assert.equal(newer.table<string, string>('t').get('k'), undefined);
    newer.table<string, string>('t').put('k', 'v2');
    await newer.close();
    // What a failed commit leaves behind (the store removes the marker; an unlink works on a full disk).
    rmSync(join(dir, 'healthy'));
    const afterFailure = open(dir, 2);
    assert.match(afterFailure.wiped ?? '', /failed/);
    assert.equal(afterFailure.table<string, string>('t').get('k'), undefined);
    await afterFailure.close();
  });
});

test('lmdb store: a directory claimed by a live process, here or in another container, is refused; a stale claim or a dead process is taken over', async () => {
  await withDir(async (dir) => {
    const claim = (owner: object) => writeFileSync(join(dir, 'owner.json'), JSON.stringify(owner));
    claim({ pid: process.ppid, host: hostname(), at: Date.now() });
    assert.throws(() => open(dir), /in use by process/);
    claim({ pid: 1, host: 'another-container', at: Date.now() - 1_000 });
    assert.throws(() => open(dir), /another-container, which renewed its claim 1 s ago/);
    claim({ pid: 1, host: 'another-container', at: Date.now() - 60_000 });
    const taken = open(dir);
    await taken.close();
    // A pid far above any pid_max: no such process here, however fresh its claim.
    claim({ pid: 2 ** 30, host: hostname(), at: Date.now() });
    const store = open(dir);
    await store.close();
  });
});

test('lmdb store: without a directory it lives in a temporary one, removed at close', async () => {
  const store = openCorrelationStore({ format: 1, onWriteError: failOnWriteError });
  assert.ok(existsSync(store.dir));
  await store.close();
  assert.equal(existsSync(store.dir), false);
});
