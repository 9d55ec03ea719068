/**
 * The correlation store on disk: one LMDB environment (lmdb-js), a named database per table.
 *
 * Why LMDB: reads are synchronous memory-mapped lookups (µs), so the index keeps its synchronous
 * API on the submit and receipt paths; writes are batched into transactions committed off the
 * event loop; a copy-on-write B-tree needs no recovery on open, so opening takes the same time
 * whatever the store holds. The pages live in the OS page cache, not in the heap.
 *
 * lmdb-js makes a write readable only once its transaction commits, so each table keeps the
 * writes not yet committed in an overlay that reads consult first (see the port's header).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import * as path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { CorrelationStore, RangeQuery, RangeResult, StoreEntry, StoreKey, StoreTable, TableOptions } from '../pipeline/correlation-store-port.js';

const META_DB = 'meta';
const FORMAT_KEY = 'format';
/** The index's tables with room to spare: named databases cannot be added past it. */
const MAX_TABLES = 16;

/** A removal not committed yet. */
const REMOVED = Symbol('removed');

/**
 * Where lmdb-js keeps the shapes of the objects a table holds (msgpackr records): a value is then
 * written as a shape id plus its fields, which made a request's put 3–4 × faster and its get
 * about 2 × (measured: 1.5–2.3 µs a put, 1–1.4 µs a get). Ranges skip this key; counts include it.
 */
const STRUCTURES_KEY = Symbol.for('structures');

/** Only a key's last part may be free text (ids); the others are fixed words, numbers or topic names. */
const overlayKey = (key: StoreKey): string => (typeof key === 'string' ? key : key.join('\u0000'));

/** The writes of one lmdb-js transaction (every write of a batch gets the same commit promise). */
interface PendingBatch<V> {
  committed: Promise<boolean>;
  writes: Map<string, V | typeof REMOVED>;
}

class LmdbTable<K extends StoreKey, V> implements StoreTable<K, V> {
  /**
   * Writes not committed yet, one map per transaction, oldest first. Transactions commit in
   * order, so a committed one is dropped whole: the store holds its writes, and any later write of
   * the same key is in a newer map. (A map per write cost an allocation and a cleanup pass each.)
   */
  private readonly pending: PendingBatch<V>[] = [];

  constructor(
    private readonly db: Database<V, K>,
    private readonly track: (write: Promise<boolean>) => void,
    /** Once a commit failed, nothing more is written: no later checkpoint may cover what was lost. */
    private readonly broken: () => boolean,
    /** A set read by ranges only (TableOptions.keysOnly): its puts are not kept in the overlay. */
    private readonly keysOnly: boolean,
  ) {}

  get(key: K): V | undefined {
    const found = this.pendingValue(overlayKey(key));
    if (found !== undefined) return found === REMOVED ? undefined : found;
    return this.db.get(key);
  }

  put(key: K, value: V): void {
    if (this.broken()) return;
    const writes = this.batchOf(this.db.put(key, value));
    if (!this.keysOnly) writes.set(overlayKey(key), value);
  }

  remove(key: K): void {
    if (!this.broken()) this.batchOf(this.db.remove(key)).set(overlayKey(key), REMOVED);
  }

  range(query: RangeQuery<K>): RangeResult<K, V> {
    const entries: StoreEntry<K, V>[] = [];
    let last: K | undefined;
    let seen = 0;
    // Consumed to its end (bounded by `limit`): an abandoned lmdb-js range iterator holds a cursor
    // whose finalizer has crashed Node 24 at exit (HarperFast/harper#1365).
    for (const { key, value } of this.db.getRange({ start: query.from, end: query.to, limit: query.limit, exclusiveStart: query.after ?? false })) {
      last = key;
      seen++;
      const found = this.pending.length === 0 ? undefined : this.pendingValue(overlayKey(key));
      if (found === undefined) entries.push({ key, value });
      else if (found !== REMOVED) entries.push({ key, value: found });
    }
    return { entries, last, more: seen === query.limit };
  }

  count(): number {
    const entries = (this.db.getStats() as { entryCount: number }).entryCount;
    return entries - (this.db.doesExist(STRUCTURES_KEY as unknown as K) ? 1 : 0);
  }

  /** The newest uncommitted write of `key`, if any. */
  private pendingValue(key: string): V | typeof REMOVED | undefined {
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const found = this.pending[i]!.writes.get(key);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  private batchOf(committed: Promise<boolean>): Map<string, V | typeof REMOVED> {
    const last = this.pending.at(-1);
    if (last?.committed === committed) return last.writes;
    const batch: PendingBatch<V> = { committed, writes: new Map() };
    this.pending.push(batch);
    this.track(committed);
    // Failed too: the store is then reported broken (track), and its reads fall back to what committed.
    const settle = () => {
      const at = this.pending.indexOf(batch);
      if (at >= 0) this.pending.splice(at, 1);
    };
    committed.then(settle, settle);
    return batch.writes;
  }
}

export const openCorrelationStore = (options: LmdbStoreOptions): LmdbCorrelationStore => LmdbCorrelationStore.open(options);

const OWNER_FILE = 'owner.json';
/**
 * Present while every write of the store committed. Removed (an unlink works on a full disk) when
 * one failed: transactions queued behind the failed one may still commit a checkpoint that
 * covers what it lost, so the next open wipes the store and reads the topic again.
 */
const HEALTHY_FILE = 'healthy';
/** The owner renews its claim this often; a claim not renewed for LEASE_STALE_MS is free. */
const LEASE_RENEW_MS = 5_000;
const LEASE_STALE_MS = 20_000;

interface Owner {
  pid?: number;
  host?: string;
  /** When the claim was last renewed (ms). */
  at?: number;
}

function readOwner(dir: string): Owner {
  try {
    return JSON.parse(readFileSync(path.join(dir, OWNER_FILE), 'utf8')) as Owner;
  } catch {
    return {}; // none, or unreadable: nobody to defer to
  }
}

function writeOwner(dir: string): void {
  writeFileSync(path.join(dir, OWNER_FILE), JSON.stringify({ pid: process.pid, host: hostname(), at: Date.now() }));
}

/**
 * Refuses a directory another live process uses. LMDB itself would let two processes share it,
 * but each writes its own checkpoints, so each would skip what the other applied. A claim is a
 * lease renewed every few seconds, not only a pid: processes in other containers (other pid
 * namespaces, other host names) sharing the volume are seen too, and a pid that a restarted
 * container reuses for another process does not hold the directory for ever.
 */
function claimDirectory(dir: string): void {
  const owner = readOwner(dir);
  const ours = owner.host === hostname() && owner.pid === process.pid;
  const deadHere = owner.host === hostname() && typeof owner.pid === 'number' && !isAlive(owner.pid);
  const age = Date.now() - (owner.at ?? 0);
  if (!ours && !deadHere && age < LEASE_STALE_MS)
    throw new Error(
      `in use by process ${owner.pid} on ${owner.host}, which renewed its claim ${(age / 1000).toFixed(0)} s ago (${path.join(dir, OWNER_FILE)}; a claim not renewed for ${LEASE_STALE_MS / 1000} s is free)`,
    );
  writeOwner(dir);
}

const TEMPORARY_PREFIX = 'sms-connector-correlation-';

/** Temporary stores whose process died without its stop (a crash, a kill -9): they would pile up in the temp directory. */
function removeAbandonedTemporaryStores(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(TEMPORARY_PREFIX)) continue;
    const dir = path.join(tmpdir(), name);
    try {
      const owner = readOwner(dir);
      const stale = Date.now() - (owner.at ?? 0) >= LEASE_STALE_MS;
      if (owner.host === hostname() && typeof owner.pid === 'number' && !isAlive(owner.pid) && stale) rmSync(dir, { recursive: true, force: true });
    } catch {
      // removed meanwhile by another process's sweep
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface LmdbStoreOptions {
  /** Where the store lives; unset: a temporary directory, deleted on close. */
  dir?: string;
  /**
   * The layout its user writes. A store written with another layout is wiped on open: it is a
   * cache of the Kafka topics, which are read again from their beginning.
   */
  format: number;
  /**
   * A write that failed to commit (disk full, I/O error). Nothing more is written after it, and the
   * next open wipes the store: the process should stop and start again.
   */
  onWriteError: (err: Error) => void;
}

export class LmdbCorrelationStore implements CorrelationStore {
  private readonly tables = new Map<string, LmdbTable<StoreKey, unknown>>();
  private lastWrite: Promise<unknown> = Promise.resolve();
  private tracked: Promise<boolean> | undefined;
  /** The commit that failed, if one did: nothing is written after it. */
  private failure: Error | undefined;
  private readonly lease: NodeJS.Timeout;

  private constructor(
    readonly dir: string,
    private readonly ephemeral: boolean,
    private readonly onWriteError: (err: Error) => void,
    private readonly env: RootDatabase,
    /** Why the store found on open was wiped, if it was: another layout, or a write that had failed. */
    readonly wiped: string | undefined,
  ) {
    this.lease = setInterval(() => writeOwner(dir), LEASE_RENEW_MS);
    this.lease.unref();
  }

  static open(options: LmdbStoreOptions): LmdbCorrelationStore {
    const ephemeral = options.dir === undefined;
    if (ephemeral) removeAbandonedTemporaryStores();
    const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), TEMPORARY_PREFIX));
    mkdirSync(dir, { recursive: true });
    claimDirectory(dir);
    const env = open({ path: dir, maxDbs: MAX_TABLES });
    const meta = env.openDB<number, string>(META_DB, {});
    const found = meta.get(FORMAT_KEY);
    const wiped =
      found === undefined
        ? undefined
        : found !== options.format
          ? `written with layout ${found}, this version writes ${options.format}`
          : !existsSync(path.join(dir, HEALTHY_FILE))
            ? 'a write had failed to commit'
            : undefined;
    // The root database lists the named ones: every table is emptied.
    if (wiped !== undefined) for (const name of env.getKeys()) env.openDB(String(name), {}).clearSync();
    meta.putSync(FORMAT_KEY, options.format);
    writeFileSync(path.join(dir, HEALTHY_FILE), '');
    return new LmdbCorrelationStore(dir, ephemeral, options.onWriteError, env, wiped);
  }

  table<K extends StoreKey, V>(name: string, options: TableOptions = {}): StoreTable<K, V> {
    let table = this.tables.get(name);
    if (!table) {
      table = new LmdbTable(
        this.env.openDB<unknown, StoreKey>(name, { sharedStructuresKey: STRUCTURES_KEY }),
        (w) => this.track(w),
        () => this.failure !== undefined,
        options.keysOnly ?? false,
      );
      this.tables.set(name, table);
    }
    return table as unknown as StoreTable<K, V>;
  }

  /** Why the store cannot be trusted any more (readiness), or undefined while it can. */
  problem(): string | undefined {
    return this.failure && `write failed: ${this.failure.message}`;
  }

  written(): Promise<void> {
    return this.lastWrite.then(() => undefined);
  }

  async close(): Promise<void> {
    clearInterval(this.lease);
    await this.written().catch(() => undefined);
    await this.env.close();
    rmSync(path.join(this.dir, OWNER_FILE), { force: true });
    if (this.ephemeral) rmSync(this.dir, { recursive: true, force: true });
  }

  private track(write: Promise<boolean>): void {
    // Every table of the environment joins the same transaction in one event-loop turn: one handler each.
    if (write === this.tracked) return;
    this.tracked = write;
    this.lastWrite = write.catch((err: unknown) => {
      if (this.failure) return;
      this.failure = err instanceof Error ? err : new Error(String(err));
      rmSync(path.join(this.dir, HEALTHY_FILE), { force: true });
      this.onWriteError(this.failure);
    });
  }
}
