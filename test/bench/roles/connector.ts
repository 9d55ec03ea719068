/**
 * Bench role: one connector instance (startApp, exactly as `npm start` wires it), configured by
 * the environment. Requests: usage (CPU, memory), readiness, liveHeap (full GC first when run
 * with --expose-gc; with V8's own account of what it committed, per space, and what it malloc'd),
 * releaseHeap (a last-resort GC: V8 gives back the pages it keeps for reuse, which its heap
 * statistics do not count), loopDelay (event-loop delay since the last reset: the process's own stalls),
 * correlation (entries its start-up read from the correlation topic, requests in its store).
 */
import * as v8 from 'node:v8';
import { startApp } from '../../../src/app/start.js';
import { loadConfig } from '../../../src/config.js';
import { createLogger } from '../../../src/obs/logger.js';
import { loopDelayProbe, serveRole } from '../common.js';

try {
  const config = loadConfig(process.env);
  const app = await startApp(config, createLogger(process.env['LOG_LEVEL'] ?? 'warn'));
  serveRole(
    {
      usage: () => ({ at: Date.now(), cpu: process.cpuUsage(), mem: process.memoryUsage() }),
      readiness: () => app.readiness(),
      // Live set: heap right after a full collection (needs --expose-gc; otherwise as found).
      liveHeap: () => {
        (globalThis as { gc?: () => void }).gc?.();
        return {
          at: Date.now(),
          mem: process.memoryUsage(),
          collected: typeof (globalThis as { gc?: unknown }).gc === 'function',
          heap: v8.getHeapStatistics(),
          spaces: v8.getHeapSpaceStatistics(),
        };
      },
      // What a memory-reducing collection gives back: the pages V8 keeps after ordinary collections.
      releaseHeap: () => {
        const gc = (globalThis as { gc?: (options: { type: string; execution: string; flavor: string }) => void }).gc;
        gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
        return { collected: gc !== undefined, heap: v8.getHeapStatistics() };
      },
      loopDelay: loopDelayProbe(),
      correlation: async () => ({
        entriesRead: (await app.metrics.correlationCatchUpEntries.get()).values[0]?.value ?? null,
        requests: (await app.metrics.correlationIndexEntries.get()).values[0]?.value ?? null,
      }),
    },
    () => app.stop(),
  );
  process.send?.({ type: 'ready', pid: process.pid });
} catch (err) {
  process.send?.({ type: 'failed', error: (err as Error).message });
  process.exit(1);
}
