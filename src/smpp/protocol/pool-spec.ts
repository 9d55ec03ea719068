/**
 * Session specs (`SMPP_SESSIONS`): `trx:4`, `tx:2,rx:2`. PURE. The one parser of the spec: the
 * config parses it at start-up and everything after receives the entries.
 *
 * Slot order: a replica sharing the account opens only the first n slots of its spec (n = the bind
 * slots the group's assigner hands it), so the order decides what a replica with few slots can do.
 * A tx-only replica can submit but never receives the receipts of what it sent (the SMSC delivers
 * them to a receiver bind of the account, and queues them when there is none). So trx comes first —
 * one bind that does both — then tx and rx interleaved (tx:2,rx:2 → tx, rx, tx, rx), submit
 * capacity before receive-only capacity. If the first n slots still lack a direction, the last kept
 * slot becomes trx: a replica must never submit while nobody of the spec's receivers is bound, nor
 * hold binds it cannot submit on.
 */
import type { BindMode } from './types.js';

export interface SessionSpecEntry {
  mode: BindMode;
  count: number;
}

/** The slot order (see the module comment). */
const SLOT_ORDER: readonly BindMode[] = ['trx', 'tx', 'rx'];
/** Most binds of one mode a spec may ask for (far above any provider's account cap). */
const MAX_COUNT = 64;
const SPEC_EXAMPLE = 'a list like trx:4 or tx:2,rx:2 (modes tx, rx, trx)';

/** A spec that cannot be used; the message says what is wrong without naming a variable. */
export class SessionSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SessionSpecError';
  }
}

/**
 * Parses `mode:count[,mode:count…]` (case and spaces ignored) and checks it with
 * {@link checkSessionSpec}; throws {@link SessionSpecError}.
 */
export function parseSessionSpec(spec: string, maxBinds?: number): SessionSpecEntry[] {
  const text = spec.trim();
  if (text === '') throw new SessionSpecError(`must be ${SPEC_EXAMPLE}, got an empty spec`);
  const entries: SessionSpecEntry[] = [];
  for (const part of text.split(',')) {
    const match = /^\s*(tx|rx|trx)\s*:\s*(\d+)\s*$/i.exec(part);
    if (!match) throw new SessionSpecError(`must be ${SPEC_EXAMPLE}: "${part.trim()}" is not mode:count`);
    const mode = (match[1] as string).toLowerCase() as BindMode;
    if (entries.some((e) => e.mode === mode)) throw new SessionSpecError(`mode ${mode} appears twice`);
    entries.push({ mode, count: Number(match[2]) });
  }
  return checkSessionSpec(entries, maxBinds);
}

/**
 * Checks parsed entries: each count 1..64, at least one bind that submits, and no more binds in
 * total than the account allows (when `maxBinds` is given). Returns them for chaining.
 */
export function checkSessionSpec<T extends readonly SessionSpecEntry[]>(entries: T, maxBinds?: number): T {
  for (const { mode, count } of entries) {
    if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) throw new SessionSpecError(`count for ${mode} must be 1..${MAX_COUNT}, got ${count}`);
  }
  if (!entries.some((e) => e.mode !== 'rx')) throw new SessionSpecError('needs at least one tx or trx bind to submit');
  const total = sessionTotal(entries);
  if (maxBinds !== undefined && total > maxBinds) {
    // The cap is the account's, shared by every replica: more binds than it allows can never all be up.
    throw new SessionSpecError(
      `asks for ${total} binds but SMPP_ACCOUNT_MAX_BINDS allows ${maxBinds} for the account (the provider's default is 4: e.g. trx:4, or tx:2,rx:2)`,
    );
  }
  return entries;
}

/** Binds the spec asks for, all modes together. */
export function sessionTotal(entries: readonly SessionSpecEntry[]): number {
  return entries.reduce((sum, e) => sum + e.count, 0);
}

/** The spec in its text form, e.g. for logs and the assigner's informational field. */
export function formatSessionSpec(entries: readonly SessionSpecEntry[]): string {
  return entries.map((e) => `${e.mode}:${e.count}`).join(',');
}

/** The slot order of a spec (see the module comment): trx first, then tx and rx interleaved. */
export function slotModes(entries: readonly SessionSpecEntry[]): BindMode[] {
  const remaining = SLOT_ORDER.map((mode) => ({ mode, count: entries.filter((e) => e.mode === mode).reduce((sum, e) => sum + e.count, 0) }));
  const slots: BindMode[] = [];
  const trx = remaining[0] as { count: number };
  for (; trx.count > 0; trx.count -= 1) slots.push('trx');
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
  const modes = slotModes(entries).slice(0, Math.max(0, Math.floor(n)));
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
