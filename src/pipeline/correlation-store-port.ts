/**
 * What the correlation index needs from a store: named tables of ordered keys, read synchronously,
 * written in the background. The pipeline stays free of I/O; src/store/ implements it on disk.
 *
 * Reads see this process's own writes at once, before they are committed: a receipt for a message
 * id must find the request its submit_sm_resp just recorded. A range sees committed entries with
 * this process's later writes applied (a removed entry is skipped), but not keys added since the
 * last commit — the sweeps that use ranges run every second and pick those up on the next pass.
 * A `keysOnly` table keeps only its removals for reads before the commit (TableOptions).
 */

/** A key: a string, or parts compared one by one (numbers by value, strings by code unit). */
export type StoreKey = string | (string | number)[];

export interface StoreEntry<K extends StoreKey, V> {
  key: K;
  value: V;
}

export interface RangeQuery<K extends StoreKey> {
  /** Inclusive, unless `after` is set. */
  from: K;
  /** Exclusive; unset: to the table's end. */
  to?: K;
  limit: number;
  /** Start strictly after `from` (to continue a range from its last key). */
  after?: boolean;
}

export interface RangeResult<K extends StoreKey, V> {
  entries: StoreEntry<K, V>[];
  /** The last key the range visited (entries removed since the last commit included): where to continue. */
  last: K | undefined;
  /** Whether the range stopped at its limit (more may follow `last`). */
  more: boolean;
}

export interface StoreTable<K extends StoreKey, V> {
  get(key: K): V | undefined;
  put(key: K, value: V): void;
  remove(key: K): void;
  range(query: RangeQuery<K>): RangeResult<K, V>;
  /** Committed entries (a gauge). */
  count(): number;
}

export interface TableOptions {
  /**
   * The table is a set of keys read by ranges only (every value the same, never read by `get`):
   * a put is not kept among the uncommitted writes, so a range sees a key removed and put again
   * since the last commit only from the commit on — as it sees a key new since then. Spares each
   * put the overlay's entry, whose key is a string built from the parts (a number's decimal form
   * and a hash: about a third of a µs a put, on the submit and receipt paths).
   */
  keysOnly?: boolean;
}

export interface CorrelationStore {
  /** The table `name`; its options are those of the first call. */
  table<K extends StoreKey, V>(name: string, options?: TableOptions): StoreTable<K, V>;
  /** Resolves once every write made so far is committed (the order of writes is the order of commits). */
  written(): Promise<void>;
}
