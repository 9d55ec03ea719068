// A route's health counts unbound time from the moment its last session left `bound`, not from when
// routing last asked: a backup route is asked only once its primary fails, and a reconnect of a
// second then must not look like minutes without a session (issue 21 §3, ROUTE_FAILOVER_UNBOUND_MS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { buildRoutes, routeHealthy } from '../../src/app/routes.js';
import { loadConfig } from '../../src/config.js';

test('a session that just left bound keeps the route healthy for the unbound allowance, then not', () => {
  const config = loadConfig({ SMPP_SYSTEM_ID: 'acme', SMPP_PASSWORD: 'secret' });
  const [route] = buildRoutes(config, pino({ level: 'silent' }));
  try {
    route!.bindSlots = 1;
    const unboundMs = 30_000;
    route!.readySince = Date.now() - 10 * 60_000; // bound for ten minutes, never asked
    assert.equal(routeHealthy(route!, unboundMs, Date.now()), false, 'without the state change it looks long unbound');
    route!.pool.emit('state', { sessionId: 'trx-1', state: 'connecting', previous: 'bound' });
    assert.equal(routeHealthy(route!, unboundMs, Date.now()), true, 'unbound for a moment: still healthy');
    assert.equal(routeHealthy(route!, unboundMs, Date.now() + unboundMs + 1), false, 'past the allowance: failover');
  } finally {
    route!.gate.close();
  }
});
