/**
 * The local stack's KRaft cluster id: the storage tool takes it as a command-line argument, and an id
 * starting with '-' was read as a flag (one CI run in ~64 failed to start its stack).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newClusterId } from '../../tools/dev-stack/stack.js';

test('cluster ids are 16 random bytes in base64url and never start with a dash', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 20_000; i++) {
    const id = newClusterId();
    assert.match(id, /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    assert.equal(Buffer.from(id, 'base64url').length, 16);
    seen.add(id);
  }
  assert.equal(seen.size, 20_000, 'ids repeat');
});
