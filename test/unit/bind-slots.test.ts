// A replica that cannot read its bind slots from the group (never Stable, describeGroup failing)
// stands by rather than keep binds that may now be another replica's: the account's cap holds. It
// keeps asking, and applies the slots once the group answers.
import type { OutboundConsumer } from '../../src/kafka/outbound-consumer.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { applyBindSlots } from '../../src/app/bind-slots.js';
import type { Parts } from '../../src/app/parts.js';
import { buildRoutes } from '../../src/app/routes.js';
import { loadConfig } from '../../src/config.js';
import { createMetrics } from '../../src/obs/metrics.js';

/** How long a replica whose slots cannot be read keeps its binds (ms), and that it then applies the answer. */
async function standByAfter(handoverMs: number): Promise<number> {
  const config = loadConfig({ SMPP_SYSTEM_ID: 'acme', SMPP_PASSWORD: 'secret', SMPP_BIND_HANDOVER_MS: String(handoverMs) });
  const logger = pino({ level: 'silent' });
  const routes = buildRoutes(config, logger);
  routes[0]!.bindSlots = 2; // what the previous generation gave it
  let asked = 0;
  let answer = false;
  let slotsWhenAnswered = -1;
  const consumer: Pick<OutboundConsumer, 'ownAssignment'> = {
    ownAssignment: async () => {
      asked += 1;
      if (!answer) throw new Error('consumer group is PreparingRebalance, bind slots not settled yet');
      slotsWhenAnswered = routes[0]!.bindSlots;
      return { routeSlots: { default: [] }, terms: { forwardReceipts: false } };
    },
  };
  const parts = { metrics: createMetrics(), routes, consumer, assignmentGeneration: 0, stopping: false } as unknown as Parts;
  try {
    const applying = applyBindSlots(parts, 'member-1', config, logger);
    const t0 = Date.now();
    while (routes[0]!.bindSlots !== 0 && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 50));
    const stoodByAfterMs = Date.now() - t0;
    assert.equal(routes[0]!.bindSlots, 0, 'stood by while its slots were unknown');
    const askedWhenStandingBy = asked;
    answer = true;
    await applying;
    assert.equal(slotsWhenAnswered, 0);
    assert.ok(asked > askedWhenStandingBy, 'kept asking after standing by');
    return stoodByAfterMs;
  } finally {
    parts.stopping = true;
    routes[0]!.gate.close();
    await routes[0]!.pool.close(0);
  }
}

test('slots unreadable for half the handover time: every route drops to 0 binds, then the answer is applied', async () => {
  const ms = await standByAfter(4000);
  // half of 4 s; the rest is the 50 ms polling here and a busy machine
  assert.ok(ms >= 1900 && ms < 2400, `stood by after ${ms} ms: within half the handover time, before another replica binds its slots`);
});

test('a group unsettled for a moment after a join is no reason to stand by: not before 1.5 s, however short the handover', async () => {
  const ms = await standByAfter(200); // the tests' handover: half of it would close every bind at every join
  assert.ok(ms >= 1400 && ms < 1900, `stood by after ${ms} ms`);
});
