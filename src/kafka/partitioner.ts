/**
 * The producer's partitioner: the same partition for a key as kafkajs' DefaultPartitioner and the
 * Java client (murmur2 of the key's UTF-8 bytes, sign bit cleared, modulo the partition count), so
 * per-key order and co-partitioning with other producers are unchanged — at a fraction of the cost.
 *
 * Why by hand: kafkajs computes murmur2 with an emulated 64-bit Long (an object per step) and a
 * Buffer per key; with three delivery events and two correlation entries per message it was ~6 %
 * of the connector's CPU (the `e2e` scenario's profile, docs/perf-log.md 2026-11-26). Math.imul gives the 32-bit arithmetic of the Java
 * original directly. No maintained npm package hashes the way Kafka does (the murmurhash ones hash
 * UTF-16 code units, not UTF-8 bytes). A property test checks it against kafkajs' own function.
 */
import type { ICustomPartitioner } from 'kafkajs';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 (32-bit, signed result, as Java's `Utils.murmur2`) of `length` bytes of `data`. */
function murmur2(data: Uint8Array, length = data.length): number {
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3; // the last one to three bytes, little-endian, as Java's fall-through switch
  if (rest > 0) {
    if (rest === 3) h ^= data[whole + 2]! << 16;
    if (rest >= 2) h ^= data[whole + 1]! << 8;
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Reused for string keys: UTF-8 is written into it instead of a new Buffer per key. */
const scratch = Buffer.allocUnsafe(1024);

/** murmur2 of a key as Kafka sees it: a string's UTF-8 bytes, or the bytes of a Buffer. */
export function murmur2OfKey(key: string | Buffer): number {
  if (typeof key !== 'string') return murmur2(key);
  // A UTF-16 code unit never takes more than 3 UTF-8 bytes, so a key this short always fits.
  if (key.length * 3 > scratch.length) return murmur2(Buffer.from(key, 'utf8'));
  return murmur2(scratch, scratch.write(key, 'utf8'));
}

/** The partition Kafka's default partitioner gives a keyed record. */
export function partitionForKey(key: string | Buffer, partitionCount: number): number {
  return (murmur2OfKey(key) & 0x7fffffff) % partitionCount;
}

/**
 * kafkajs' DefaultPartitioner with the fast hash: an explicit partition wins, a key is hashed over
 * all partitions, a record without key goes round-robin over the partitions that have a leader.
 */
export const KeyHashPartitioner: ICustomPartitioner = () => {
  const counters = new Map<string, number>();
  return ({ topic, partitionMetadata, message }) => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    if (message.key !== null && message.key !== undefined) return partitionForKey(message.key, partitionMetadata.length);
    const next = (counters.get(topic) ?? Math.floor(Math.random() * 0x7fffffff)) + 1;
    counters.set(topic, next);
    const available = partitionMetadata.filter((p) => p.leader >= 0);
    if (available.length === 0) return (next & 0x7fffffff) % partitionMetadata.length;
    return available[(next & 0x7fffffff) % available.length]!.partitionId;
  };
};
