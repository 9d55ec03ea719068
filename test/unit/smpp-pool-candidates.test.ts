// Invariant: a message's first segment may go to any ready submit-capable session — the one its pacer
// lets send soonest first, then (on a tie) the key's own session and slot order from it; receive-only
// and not-ready sessions are never candidates.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fnv1a } from '../../src/smpp/protocol/pool-spec.js';
import { SmppPool } from '../../src/smpp/session/pool.js';
import { fastSessionOptions } from '../integration/smpp-helpers.js';

/** Never connected: port 1 is only a placeholder. */
const options = fastSessionOptions(1);

/** A pool whose sessions are never started; `ready` says which report ready. */
function poolWith(spec: string, ready: (id: string) => boolean): SmppPool {
  const pool = new SmppPool({ spec, maxBinds: 8, session: options });
  for (const s of pool.sessions()) s.isReady = () => ready(s.id);
  return pool;
}

describe('SmppPool.submitCandidates', () => {
  it("lists every ready submitter, the key's own session (sessionForKey) first", () => {
    const pool = poolWith('trx:4', () => true);
    for (const key of ['k1', 'k2', 'k3', 'k4', 'k5']) {
      const candidates = pool.submitCandidates(key);
      assert.equal(candidates.length, 4);
      assert.equal(candidates[0], pool.sessionForKey(key)!.id);
      const start = fnv1a(key) % 4;
      assert.deepEqual(
        candidates,
        [0, 1, 2, 3].map((i) => `trx-${(start + i) % 4}`),
      );
    }
  });

  it('a session whose pacer must wait comes after those that may send at once, the shorter wait first', () => {
    const pool = poolWith('trx:4', () => true);
    const key = 'hot';
    const own = pool.sessionForKey(key)!.id;
    const delays: Record<string, number> = { [own]: 8 };
    const other = pool.sessions().find((s) => s.id !== own)!;
    delays[other.id] = 3;
    for (const s of pool.sessions()) s.sendDelayMs = () => delays[s.id] ?? 0;
    const candidates = pool.submitCandidates(key);
    assert.deepEqual(candidates.slice(2), [other.id, own]);
    assert.equal(new Set(candidates).size, 4);
  });

  it('leaves out receive-only and not-ready sessions; none ready → empty', () => {
    const pool = poolWith('tx:2,rx:2', (id) => id !== 'tx-0');
    const submitters = pool
      .sessions()
      .filter((s) => s.mode === 'tx')
      .map((s) => s.id);
    assert.equal(submitters.length, 2);
    const candidates = pool.submitCandidates('k');
    assert.deepEqual(
      candidates,
      submitters.filter((id) => id !== 'tx-0'),
    );
    assert.deepEqual(poolWith('trx:2', () => false).submitCandidates('k'), []);
  });

  it('session(id) finds a held session', () => {
    const pool = poolWith('trx:2', () => true);
    assert.equal(pool.session('trx-1'), pool.sessions()[1]);
    assert.equal(pool.session('nope'), undefined);
  });
});
