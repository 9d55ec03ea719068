/** An `SmsOutbound` request as producers write it, for tests; no I/O (unit tests import it too). */
import type { SmsOutbound } from '../../src/contracts.js';

export function outbound(id: string, overrides: Partial<SmsOutbound> = {}): SmsOutbound {
  return {
    id,
    from: 'ACME',
    to: '+393471234567',
    text: `hello ${id}`,
    encoding: 'AUTO',
    requestDeliveryReport: true,
    scheduleAt: null,
    validUntil: null,
    metadata: { test: 'yes' },
    ...overrides,
  };
}
