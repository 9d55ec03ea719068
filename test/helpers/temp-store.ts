/**
 * A correlation index on a real LMDB store in a temporary directory, for tests of the pure core:
 * the store is what production runs on, so the index is tested with its real read-your-writes and
 * range behaviour. The directories are removed when the test process exits.
 */
import { rmSync } from 'node:fs';
import { CORRELATION_STORE_FORMAT, CorrelationIndex, type CorrelationIndexOptions, type RequestRecord } from '../../src/pipeline/correlation-index.js';
import { openCorrelationStore, type LmdbCorrelationStore } from '../../src/store/lmdb-store.js';

const opened: LmdbCorrelationStore[] = [];
process.on('exit', () => {
  for (const store of opened) rmSync(store.dir, { recursive: true, force: true });
});

/** A failed commit in a test is a failure of the test, not a state to carry on in. */
export const failOnWriteError = (err: Error): void => {
  throw err;
};

export function tempStore(): LmdbCorrelationStore {
  const store = openCorrelationStore({ format: CORRELATION_STORE_FORMAT, onWriteError: failOnWriteError });
  opened.push(store);
  return store;
}

export function tempIndex(clock?: () => number, options?: CorrelationIndexOptions): CorrelationIndex {
  return new CorrelationIndex(tempStore(), clock, options);
}

/** A request snapshot as the index stores it; one segment per message id, receipts asked. */
export function requestRecord(id: string, messageIds: (string | null)[], overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    v: 1,
    id,
    from: 'ACME',
    to: '393471234567',
    metadata: {},
    segments: messageIds.length,
    messageIds,
    attempts: 1,
    submittedAt: 1000,
    receipts: true,
    receiptDeadline: 10_000,
    ...overrides,
  };
}
