// A replica that cannot read its bind slots from the group (never Stable, describeGroup failing)
// stands by rather than keep binds that may now be another replica's: the account's cap holds. It
// keeps asking, and applies the slots once the group answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { applyBindSlots } from '../../src/app/bind-slots.js';
import type { Parts } from '../../src/app/parts.js';
import { buildRoutes } from '../../src/app/routes.js';
import { loadConfig } from '../../src/config.js';
import { createMetrics } from '../../src/obs/metrics.js';

test('slots unreadable for half the handover time: every route drops to 0 binds, then the answer is applied', async () => {
  const config = loadConfig({ SMPP_SYSTEM_ID: 'acme', SMPP_PASSWORD: 'secret', SMPP_BIND_HANDOVER_MS: '1000' });
  const logger = pino({ level: 'silent' });
  const routes = buildRoutes(config, logger);
  routes[0]!.bindSlots = 2; // what the previous generation gave it
  let asked = 0;
  let answer = false;
  let slotsWhenAnswered = -1;
  const consumer = {
    ownBindSlots: async () => {
      asked += 1;
      if (!answer) throw new Error('consumer group is PreparingRebalance, bind slots not settled yet');
      slotsWhenAnswered = routes[0]!.bindSlots;
      return { default: [] };
    },
  };
  const parts = { metrics: createMetrics(), routes, consumer, assignmentGeneration: 0, stopping: false } as unknown as Parts;
  try {
    const applying = applyBindSlots(parts, 'member-1', config, logger);
    const t0 = Date.now();
    while (routes[0]!.bindSlots !== 0 && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 100));
    assert.equal(routes[0]!.bindSlots, 0, 'stood by while its slots were unknown');
    // half of SMPP_BIND_HANDOVER_MS is 500 ms; the rest is this loop's 100 ms polling and a busy machine
    assert.ok(Date.now() - t0 < 800, `stood by within half the handover time (${Date.now() - t0} ms), before another replica binds its slots`);
    const askedWhenStandingBy = asked;
    answer = true;
    await applying;
    assert.equal(slotsWhenAnswered, 0);
    assert.ok(asked > askedWhenStandingBy, 'kept asking after standing by');
  } finally {
    parts.stopping = true;
    routes[0]!.gate.close();
    await routes[0]!.pool.close(0);
  }
});
