/** An abortable sleep: shutdown and rebalance must not wait out a retry backoff. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Exponential growth of a base delay with ±20 % jitter, capped. */
export function backoffDelay(baseMs: number, retry: number, capMs = 60_000, random = Math.random): number {
  const raw = Math.min(capMs, Math.max(baseMs, 50) * 2 ** Math.max(0, retry - 1));
  return Math.round(raw * (0.8 + 0.4 * random()));
}
