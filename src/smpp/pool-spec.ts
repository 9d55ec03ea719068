/**
 * Session specs (`SMPP_SESSIONS`): `trx:4`, `tx:2,rx:2`. PURE.
 *
 * Slots are laid out interleaved by mode (tx:2,rx:2 → tx, rx, tx, rx) so that taking the first
 * n slots — when replicas share the account's bind cap — keeps a mix of modes. If the first n
 * slots contain no receive-capable bind, or no submit-capable one, the last kept slot becomes
 * trx: a replica must never submit without anyone receiving the receipts (the SMSC would queue
 * them), nor hold binds it cannot submit on.
 */
import type { BindMode } from './types.js';

export interface SessionSpecEntry {
  mode: BindMode;
  count: number;
}

const MODES: readonly BindMode[] = ['tx', 'rx', 'trx'];

/** Parses `mode:count[,mode:count…]`; throws an Error naming the problem. */
export function parseSessionSpec(spec: string, maxBinds?: number): SessionSpecEntry[] {
  const text = spec.trim();
  if (text === '') throw new Error('SMPP sessions spec is empty; expected e.g. "trx:4" or "tx:2,rx:2"');
  const counts = new Map<BindMode, number>();
  for (const part of text.split(',')) {
    const match = /^\s*(tx|rx|trx)\s*:\s*(\d+)\s*$/i.exec(part);
    if (!match) throw new Error(`SMPP sessions spec: "${part.trim()}" is not mode:count (mode tx, rx or trx; e.g. "trx:4")`);
    const mode = (match[1] as string).toLowerCase() as BindMode;
    const count = Number(match[2]);
    if (!Number.isInteger(count) || count < 1 || count > 64) throw new Error(`SMPP sessions spec: count for ${mode} must be 1..64, got ${match[2]}`);
    if (counts.has(mode)) throw new Error(`SMPP sessions spec: mode ${mode} appears twice`);
    counts.set(mode, count);
  }
  const entries = MODES.filter((mode) => counts.has(mode)).map((mode) => ({ mode, count: counts.get(mode) as number }));
  const total = entries.reduce((sum, entry) => sum + entry.count, 0);
  if (!entries.some((e) => e.mode !== 'rx')) throw new Error('SMPP sessions spec needs at least one tx or trx session to submit');
  if (maxBinds !== undefined && total > maxBinds) {
    throw new Error(`SMPP sessions spec "${spec}" asks for ${total} binds but the account allows ${maxBinds} (SMPP_ACCOUNT_MAX_BINDS)`);
  }
  return entries;
}

/** The interleaved slot order of a spec (see the module comment). */
export function slotModes(entries: readonly SessionSpecEntry[]): BindMode[] {
  const remaining = entries.map((e) => ({ ...e }));
  const slots: BindMode[] = [];
  while (remaining.some((e) => e.count > 0)) {
    for (const entry of remaining) {
      if (entry.count > 0) {
        slots.push(entry.mode);
        entry.count -= 1;
      }
    }
  }
  return slots;
}

/** Modes of the first n slots, with the last one promoted to trx when the mix lacks a direction. */
export function modesForSlots(entries: readonly SessionSpecEntry[], n: number): BindMode[] {
  const modes = slotModes(entries).slice(0, Math.max(0, n));
  if (modes.length === 0) return modes;
  const submits = modes.some((m) => m !== 'rx');
  const receives = modes.some((m) => m !== 'tx');
  const hadReceiver = entries.some((e) => e.mode !== 'tx');
  if (!submits || (!receives && hadReceiver)) modes[modes.length - 1] = 'trx';
  return modes;
}

/** Deterministic 32-bit FNV-1a hash of a string (stable across processes and restarts). */
export function fnv1a(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i += 1) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}
