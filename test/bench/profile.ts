/**
 * Reads a V8 .cpuprofile (from `node --cpu-prof`) and sums self time per function and per
 * module (a package under node_modules, a file of ours, or Node's internals).
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  idleMs: number;
  topFunctions: Array<{ name: string; ms: number; share: number }>;
  topModules: Array<{ name: string; ms: number; share: number }>;
}

function moduleOf(url: string): string {
  if (!url) return '(native/V8)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return `npm:${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (url.startsWith('node:')) return 'node:internals';
  const m = /\/(src|test)\/(.*)$/.exec(url);
  return m ? `${m[1]}/${m[2]}` : url;
}

export function latestProfile(dir: string): string | undefined {
  try {
    // One file per thread: <date>.<time>.<pid>.<thread>.<seq>; thread 0 is the main thread
    // (tsx's module loader runs in a worker and writes its own profile).
    const files = readdirSync(dir)
      .filter((f) => /\.0\.\d+\.cpuprofile$/.test(f))
      .sort();
    return files.length > 0 ? path.join(dir, files.at(-1)!) : undefined;
  } catch {
    return undefined;
  }
}

/** Self time per function and module, between `fromUs` and `toUs` (µs since the profile's start; default: all). */
export function summariseProfile(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const fns = new Map<string, number>();
  const mods = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const fn = n.callFrame.functionName || '(anonymous)';
    if (fn === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    const where = n.callFrame.url ? `${moduleOf(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : '';
    const key = where ? `${fn} (${where})` : fn;
    fns.set(key, (fns.get(key) ?? 0) + us);
    const mod = fn === '(garbage collector)' ? '(garbage collector)' : fn === '(program)' ? '(program)' : moduleOf(n.callFrame.url);
    mods.set(mod, (mods.get(mod) ?? 0) + us);
  }
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, share: us / total }));
  return { file, totalMs: total / 1000, idleMs: idle / 1000, topFunctions: rank(fns), topModules: rank(mods) };
}
