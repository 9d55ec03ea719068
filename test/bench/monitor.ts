/**
 * Samples counters (from a child's `stats`) and the CPU of named processes until a condition holds,
 * and turns the samples into steady-state rates and CPU per 1,000 messages.
 */
import { cpuSeconds, sleep, steadyRate, timeAt, type Series } from './common.js';

export interface Sample {
  t: number;
  counts: Record<string, number>;
  cpu: Record<string, number>;
}

export async function monitor(opts: {
  sample: () => Promise<Record<string, number>>;
  pids: Record<string, number>;
  done: (counts: Record<string, number>) => boolean;
  timeoutMs: number;
  intervalMs?: number;
  onSample?: (s: Sample) => void;
}): Promise<{ samples: Sample[]; timedOut: boolean }> {
  const samples: Sample[] = [];
  const until = Date.now() + opts.timeoutMs;
  for (;;) {
    const counts = await opts.sample();
    const cpu: Record<string, number> = {};
    for (const [name, pid] of Object.entries(opts.pids)) cpu[name] = cpuSeconds(pid);
    const s = { t: Date.now(), counts, cpu };
    samples.push(s);
    opts.onSample?.(s);
    if (opts.done(counts)) return { samples, timedOut: false };
    if (Date.now() > until) return { samples, timedOut: true };
    await sleep(opts.intervalMs ?? 200);
  }
}

export function seriesOf(samples: Sample[], counter: string): Series {
  return samples.map((s) => [s.t, s.counts[counter] ?? 0]);
}

/** CPU seconds of `proc` at time t (linear between samples). */
function cpuAt(samples: Sample[], proc: string, t: number): number {
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    if (b.t >= t) {
      const f = b.t === a.t ? 1 : (t - a.t) / (b.t - a.t);
      return (a.cpu[proc] ?? 0) + f * ((b.cpu[proc] ?? 0) - (a.cpu[proc] ?? 0));
    }
  }
  return samples.at(-1)?.cpu[proc] ?? 0;
}

export interface Throughput {
  /** msg/s between 10 % and 90 % of `total` on `counter`. */
  steady: number;
  /** msg/s from the first to the last message. */
  overall: number;
  /** CPU seconds per 1,000 messages of each process, over the same steady window. */
  cpuPer1000: Record<string, number>;
  seconds: number;
}

export function throughput(samples: Sample[], counter: string, total: number): Throughput {
  const series = seriesOf(samples, counter);
  const first = series.find(([, v]) => v > 0)?.[0] ?? NaN;
  const last = timeAt(series, total);
  const t1 = timeAt(series, total * 0.1);
  const t2 = timeAt(series, total * 0.9);
  const cpuPer1000: Record<string, number> = {};
  for (const proc of Object.keys(samples[0]?.cpu ?? {})) {
    cpuPer1000[proc] = ((cpuAt(samples, proc, t2) - cpuAt(samples, proc, t1)) / (total * 0.8)) * 1000;
  }
  return { steady: steadyRate(series, total), overall: total / ((last - first) / 1000), cpuPer1000, seconds: (last - first) / 1000 };
}
