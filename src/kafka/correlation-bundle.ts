/**
 * Correlation records travel in bundles: every flush of the publisher packs the `r:`/`f:` entries it
 * carries into one Kafka record per correlation partition.
 *
 * Why: each message needs two correlation entries (its request snapshot and its final receipt), and
 * kafkajs' cost is per record — encoding, allocation, and on every replica's tail the decoding of
 * the record again. As separate records they were two of the five records written per message and
 * two of the three read back; bundled, they cost a few records per flush (measured in
 * the `c`/`e2e` scenarios, three interleaved pairs: CPU per message −8 %, submits/s +9 %;
 * BENCHMARKS.md "Producer linger and correlation bundles").
 *
 * Order: an entry goes into the bundle of the partition its own key hashes to (Kafka's default
 * partitioner, as when it was a record of its own), so all snapshots of one request stay in one
 * partition, in the order written — the index applies the last one written, as before. An entry
 * may name its partition instead (issue 20's layout: a request's entries in its home partition);
 * the writer then keeps every entry of one key in that one partition.
 *
 * Keys are unique per bundle (`b:<origin>:<sequence>`): the topic is compacted, and a bundle key
 * that repeated would let compaction drop an older bundle and the entries in it. Retention
 * (`CORRELATION_RETENTION_MS`) is what removes bundles.
 *
 * The tail still reads a single-entry record (`r:`/`f:` key, JSON value) as written before bundles.
 */
import type { Message } from 'kafkajs';
import { partitionForKey } from './partitioner.js';

export const BUNDLE_PREFIX = 'b:';
/** Header naming the connector process that wrote a bundle: its own tail skips it (applied locally). */
export const ORIGIN_HEADER = 'sms-connector.origin';

/** One correlation entry as the sinks hand it over: its key and its value already as JSON. */
export interface CorrelationEntry {
  key: string;
  json: string;
  /** Unset: the partition the key hashes to. */
  partition?: number | undefined;
}

export interface BundlerOptions {
  /** Partition count of the correlation topic. */
  partitions: number;
  /** Unique per process: starts every bundle key, and goes into the origin header. */
  origin: string;
}

export class CorrelationBundler {
  private sequence = 0;

  constructor(private readonly options: BundlerOptions) {
    if (!Number.isInteger(options.partitions) || options.partitions < 1) {
      throw new Error(`correlation topic partition count must be a positive integer, got ${options.partitions}`);
    }
  }

  /** The partition the entry's key hashes to — the same one a record with that key would get. */
  partitionFor(key: string): number {
    return partitionForKey(key, this.options.partitions);
  }

  /** Why an entry's named partition cannot be used (outside the topic), or null when it can (or none is named). */
  misplaced(e: Pick<CorrelationEntry, 'key' | 'partition'>): string | null {
    const p = e.partition;
    if (p === undefined || (Number.isInteger(p) && p >= 0 && p < this.options.partitions)) return null;
    return `correlation entry ${e.key} names partition ${p}; the topic has ${this.options.partitions}`;
  }

  /**
   * One message per partition that has entries; the entries keep their order within it. A named
   * partition outside the topic is a bug of the writer; the publisher refuses such an entry when it
   * is handed over (`misplaced`), and this throws as a last guard rather than land the entry where
   * no reader of that key looks.
   */
  pack(entries: CorrelationEntry[]): Message[] {
    const byPartition = new Map<number, string[]>();
    for (const e of entries) {
      const partition = e.partition ?? this.partitionFor(e.key);
      const wrong = this.misplaced(e);
      if (wrong !== null) throw new Error(wrong);
      let list = byPartition.get(partition);
      if (!list) byPartition.set(partition, (list = []));
      list.push(`[${JSON.stringify(e.key)},${e.json}]`);
    }
    const messages: Message[] = [];
    for (const [partition, parts] of byPartition) {
      messages.push({
        key: `${BUNDLE_PREFIX}${this.options.origin}:${++this.sequence}`,
        // Concatenated, not stringified as a whole: the values are JSON already (no re-encoding).
        value: `{"v":1,"e":[${parts.join(',')}]}`,
        partition,
        headers: { [ORIGIN_HEADER]: this.options.origin },
      });
    }
    return messages;
  }
}

/** A correlation record's entries: a bundle's in order, or the one entry of an unbundled record. */
export function unpackCorrelation(key: string, value: Buffer | null): Array<[string, unknown]> {
  if (!key.startsWith(BUNDLE_PREFIX)) return [[key, value ? JSON.parse(value.toString('utf8')) : null]];
  if (!value) return [];
  const bundle = JSON.parse(value.toString('utf8')) as { v?: unknown; e?: unknown };
  if (bundle.v !== 1 || !Array.isArray(bundle.e)) throw new Error(`unknown correlation bundle format (v=${String(bundle.v)})`);
  return bundle.e.filter((x): x is [string, unknown] => Array.isArray(x) && typeof x[0] === 'string');
}
