/**
 * The urgent lane follows the bind slots (docs/design.md §5.6): it joins its group while the
 * replica holds slots and leaves it when it loses them — and then tells the correlation share it
 * has no urgent partitions any more (their homes are no longer part of what it must hold).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { UrgentLane, type LaneConsumer } from '../../src/app/urgent-lane.js';

class FakeConsumer implements LaneConsumer {
  isJoined = false;
  async start(): Promise<void> {
    this.isJoined = true;
  }
  async stop(): Promise<void> {
    this.isJoined = false;
  }
}

test('leaving the urgent group (slots lost) reports it once the consumer stopped; joining does not', async () => {
  const created: FakeConsumer[] = [];
  let left = 0;
  const lane = new UrgentLane(
    () => {
      const c = new FakeConsumer();
      created.push(c);
      return c;
    },
    pino({ level: 'silent' }),
    () => {
      left++;
      assert.equal(created.at(-1)?.isJoined, false, 'reported after the consumer stopped');
    },
  );
  await lane.follow(true);
  assert.equal(lane.isJoined, true);
  assert.equal(left, 0);
  await lane.follow(false);
  assert.equal(left, 1);
  await lane.follow(false);
  assert.equal(left, 1, 'not in the group: nothing to leave again');
  await lane.follow(true);
  await lane.stop();
  assert.equal(left, 2, 'a shutdown leaves too');
});
