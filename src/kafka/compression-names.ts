/**
 * The values of KAFKA_COMPRESSION, apart from the codecs themselves (compression.ts) so that
 * config.ts can validate the variable without loading kafkajs or native code.
 */
export const COMPRESSION_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type CompressionName = (typeof COMPRESSION_NAMES)[number];

/**
 * KAFKA_COMPRESSION's default, chosen by `npm run bench:compression` (BENCHMARKS.md
 * "Compression"): delivery events are small (~240 bytes), and at the batch sizes the connector
 * usually writes (1–16 events per partition and flush) the cheapest codec, lz4, adds 1.4–3.6 µs per
 * event to compress — 3–8 % of the connector's CPU per message when chosen, a smaller share since
 * the correlation store — and zstd or gzip 2.6–39 µs, to save 15–130 bytes per event. Kafka clients' own default is none too. Set
 * lz4 where bytes cost more than CPU (cross-zone traffic, long retention).
 */
export const DEFAULT_COMPRESSION: CompressionName = 'none';
