/**
 * What glibc's allocator holds in another process (the connector), read with gdb: Node exposes
 * V8's account of its heap but nothing of malloc, where lmdb-js, Node's buffers and V8's own
 * malloc'd tables live. gdb attaches (the process stops for a second or two), calls malloc_info()
 * or malloc_trim() in it, or walks a list of LMDB's, and detaches. Without gdb on the PATH, or
 * when attaching is not allowed, the readings are undefined and the scenario says so.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** glibc's totals over every arena (malloc_info's closing lines), in bytes. */
export interface MallocTotals {
  arenas: number;
  /** Address space the arenas took from the system (sbrk and heap mmaps): resident once touched. */
  system: number;
  /** Free chunks kept in the arenas (fast bins, other bins, each arena's top chunk). */
  free: number;
  /** Chunks too large for an arena, mmap'd one each (returned to the system when freed). */
  mmapped: number;
  /** In use by the program: system − free, plus the mmap'd chunks. */
  inUse: number;
}

/** Runs gdb commands attached to `pid`; false when gdb is missing or could not attach. */
function gdbCall(pid: number, commands: string[]): boolean {
  try {
    execFileSync('gdb', ['-p', String(pid), '-batch', '-nx', '-q', ...commands.flatMap((c) => ['-ex', c])], { stdio: 'ignore', timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

/** malloc_info(0, file) in `pid` (libc has no debug symbols here: every call is cast to its prototype). */
export function mallocTotals(pid: number): MallocTotals | undefined {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-malloc-'));
  const file = path.join(dir, 'malloc-info.xml');
  try {
    const ok = gdbCall(pid, [
      `set $f = ((void*(*)(const char*, const char*))fopen)("${file}", "w")`,
      'call ((int(*)(int, void*))malloc_info)(0, $f)',
      'call ((int(*)(void*))fclose)($f)',
    ]);
    if (!ok) return undefined;
    const xml = readFileSync(file, 'utf8');
    // The totals follow the last arena's </heap>.
    const totals = xml.slice(xml.lastIndexOf('</heap>'));
    const size = (kind: string, type: string) => Number(new RegExp(`<${kind} type="${type}"(?: count="\\d+")? size="(\\d+)"`).exec(totals)?.[1] ?? NaN);
    const system = size('system', 'current');
    const free = size('total', 'fast') + size('total', 'rest');
    const mmapped = size('total', 'mmap');
    return { arenas: (xml.match(/<heap nr=/g) ?? []).length, system, free, mmapped, inUse: system - free + mmapped };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** malloc_trim(0) in `pid`: every arena gives back the whole free pages it holds. False when gdb could not. */
export function mallocTrim(pid: number): boolean {
  return gdbCall(pid, ['call ((int(*)(unsigned long))malloc_trim)(0)']);
}

/**
 * LMDB keeps every page a write transaction dirtied, once committed, on a free list for the next
 * transactions (`me_dpages`, mdb.c) and frees it only when the environment closes: its size is the
 * most pages any one transaction dirtied. To glibc it is memory in use. Read through lmdb-js's
 * table of open environments (`EnvWrap::envTracking`) with the debug information its prebuilt
 * addon ships; undefined when gdb or that information is missing.
 */
export function lmdbFreeDirtyPages(pid: number): { pages: number; bytes: number } | undefined {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-lmdb-'));
  const script = path.join(dir, 'dpages.gdb');
  const out = path.join(dir, 'dpages.txt');
  writeFileSync(
    script,
    [
      'set $envs = EnvWrap::envTracking->envs._M_impl',
      'set $pages = 0',
      'set $bytes = 0',
      'set $i = 0',
      'while $envs._M_start + $i < $envs._M_finish',
      '  set $e = $envs._M_start[$i].env',
      '  set $n = 0',
      '  set $p = $e->me_dpages',
      '  while $p',
      '    set $n = $n + 1',
      '    set $p = $p->mp_hdr.mh_p.p_next',
      '  end',
      '  set $pages = $pages + $n',
      '  set $bytes = $bytes + $n * $e->me_psize',
      '  set $i = $i + 1',
      'end',
      `set logging file ${out}`,
      'set logging redirect on',
      'set logging enabled on',
      'printf "%lu %lu\\n", $pages, $bytes',
      'set logging enabled off',
      '',
    ].join('\n'),
  );
  try {
    if (!gdbCall(pid, [`source ${script}`])) return undefined;
    const [pages, bytes] = readFileSync(out, 'utf8').trim().split(/\s+/).map(Number) as [number, number];
    return Number.isFinite(pages) ? { pages, bytes } : undefined;
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
