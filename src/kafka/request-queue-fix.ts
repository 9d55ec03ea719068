/**
 * kafkajs 2.2.4 keeps every broker connection's event loop busy for nothing. Its RequestQueue
 * re-arms a timer after each check of its pending requests, even when there are none: with no
 * throttle (`throttledUntil` = -1) the delay is `-1 - Date.now()`, which Node clamps to 1 ms (and,
 * since Node 24, warns about: TimeoutNegativeWarning). So each connection wakes the loop about
 * 1,000 times a second, for as long as it is open (tulios/kafkajs#1704, #1751; the fixes, #1755 and
 * #1768, are not released, and kafkajs is pinned).
 *
 * The patch schedules nothing when nothing is pending and no throttle is running; everything else
 * is kafkajs' own code. A request that has to wait is pushed through `push`, which schedules the
 * check again, and a response re-runs the check itself, so nothing waits on the dropped timer.
 */
import { createRequire } from 'node:module';

interface RequestQueueInternals {
  pending: unknown[];
  throttledUntil: number;
  scheduleCheckPendingRequests: (this: RequestQueueInternals) => void;
}

const PATCHED = Symbol.for('sms-connector.request-queue-fix');

/** Installs the patch once per process (idempotent); returns whether kafkajs' queue was found to patch. */
export function fixRequestQueueTimer(): boolean {
  const require = createRequire(import.meta.url);
  const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueueInternals & { [PATCHED]?: true } };
  const proto = RequestQueue.prototype;
  if (proto[PATCHED]) return true;
  if (typeof proto.scheduleCheckPendingRequests !== 'function') return false;
  const original = proto.scheduleCheckPendingRequests;
  proto.scheduleCheckPendingRequests = function (this: RequestQueueInternals): void {
    if (this.pending.length === 0 && this.throttledUntil <= Date.now()) return;
    original.call(this);
  };
  proto[PATCHED] = true;
  return true;
}
