/**
 * Record-batch compression for kafkajs: gzip, snappy, lz4 and zstd, both ways.
 *
 * kafkajs 2.2.4 ships gzip only; a batch in any other codec throws KafkaJSNotImplemented while the
 * fetch response is decoded, which crashed the consumer on every fetch (issue 17, finding 1).
 * kafkajs looks codecs up in its mutable `CompressionCodecs` table, so registering them once,
 * before the first fetch or produce, is enough for every client this process builds (connector,
 * `tail`, `redrive`): {@link registerCompressionCodecs} is called by `createKafka`.
 *
 * The libraries (README "Compression" says why these):
 * - gzip and zstd: `node:zlib` (zstd is built in since Node 22.15 / 23.8).
 * - snappy: `snappy` (napi-rs, prebuilt binaries as per-platform npm packages).
 * - lz4: `lz4-napi` (napi-rs over lz4_flex, prebuilt likewise) — its *frame* functions, the format
 *   Kafka uses since message format v1.
 *
 * The codec contract (node_modules/kafkajs/src/protocol/message/compression/gzip.js):
 * `compress(encoder)` receives kafkajs' Encoder and compresses `encoder.buffer`; `decompress(buffer)`
 * receives the batch's records bytes; both return a Promise<Buffer>.
 */
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import kafkajs, { type CompressionTypes as CompressionType } from 'kafkajs';
import * as lz4 from 'lz4-napi';
import * as snappy from 'snappy';
import { COMPRESSION_NAMES, type CompressionName } from './compression-names.js';

export { COMPRESSION_NAMES, type CompressionName };

// kafkajs is CommonJS and these two are not visible to Node's named-export detection.
const { CompressionCodecs, CompressionTypes } = kafkajs;

/** kafkajs' attribute value for each name (what `sendBatch({ compression })` takes). */
export const COMPRESSION_TYPES: Readonly<Record<CompressionName, CompressionType>> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

/** What kafkajs calls on a registered codec. */
export interface BatchCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

/**
 * A batch that decompresses to more than its cap is refused instead of allocated: a few hundred KB
 * of zstd or gzip can expand to gigabytes. The cap is tied to the input — at most
 * MAX_EXPANSION × its compressed size (LZ4's own ceiling, ~255:1; gzip and zstd go past 1000:1 only on
 * degenerate input), never under 4 MiB (any batch a producer builds with default settings passes,
 * whatever its ratio: librdkafka's batch.size is 1 MB, the Java client's 16 KB) and never over 64 MiB.
 * Enforced where the format lets us know or stop early: zlib's maxOutputLength, snappy's length
 * preamble, and the block sizes of an LZ4 frame walked before decompressing. (F18 caught a tighter
 * 64 × / 1 MiB cap refusing legitimate batches of repetitive text.)
 */
export const MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;
export const MIN_DECOMPRESSED_CAP_BYTES = 4 * 1024 * 1024;
export const MAX_EXPANSION = 255;

export function decompressedCap(compressedBytes: number): number {
  return Math.min(MAX_DECOMPRESSED_BYTES, Math.max(MIN_DECOMPRESSED_CAP_BYTES, MAX_EXPANSION * compressedBytes));
}

/**
 * Below this size a batch is (de)compressed on the event loop, above it on libuv's thread pool.
 * Measured (`npm run bench:compression`, its sync/async table; BENCHMARKS.md "Compression",
 * the full tables in docs/perf-log.md, 2026-12-02): on a 16-event
 * batch (~4 KB) the hop to the pool cost 4.6–8.8 × the CPU of the call itself, for every library
 * and direction. 64 KiB keeps one call on the event loop short (about 16 × the 4 KB figures:
 * ~0.5 ms for gzip and zstd compress, well under for the rest).
 */
export const INLINE_BELOW_BYTES = 64 * 1024;

function inlineOrPooled(sync: (b: Buffer) => Buffer, pooled: (b: Buffer) => Promise<Buffer>): (b: Buffer) => Promise<Buffer> {
  return async (b) => (b.length < INLINE_BELOW_BYTES ? sync(b) : pooled(b));
}

const capped = (b: Buffer): { maxOutputLength: number } => ({ maxOutputLength: decompressedCap(b.length) });
const gzipCompress = inlineOrPooled((b) => zlib.gzipSync(b), promisify(zlib.gzip));
const gunzip = inlineOrPooled(
  (b) => zlib.gunzipSync(b, capped(b)),
  (b) => promisify(zlib.gunzip)(b, capped(b)),
);

export const gzipCodec: BatchCodec = {
  compress: (encoder) => gzipCompress(encoder.buffer),
  decompress: (buffer) => gunzip(buffer),
};

/** Level 3 is zstd's and Kafka's (`compression.zstd.level`) default. */
const zstdOptions: zlib.ZstdOptions = { params: { [zlib.constants.ZSTD_c_compressionLevel]: 3 } };
const zstdCompress = inlineOrPooled(
  (b) => zlib.zstdCompressSync(b, zstdOptions),
  (b) => promisify(zlib.zstdCompress)(b, zstdOptions),
);
const zstdDecompress = inlineOrPooled(
  (b) => zlib.zstdDecompressSync(b, capped(b)),
  (b) => promisify(zlib.zstdDecompress)(b, capped(b)),
);

export const zstdCodec: BatchCodec = {
  compress: (encoder) => zstdCompress(encoder.buffer),
  decompress: (buffer) => zstdDecompress(buffer),
};

/**
 * LZ4 frame format with lz4_flex's defaults — independent 64 KB blocks, no checksums but the
 * header's — which is what the Java client's KafkaLZ4BlockInputStream can read (it refuses
 * dependent blocks).
 */
const lz4Compress = inlineOrPooled(
  (b) => lz4.compressFrameSync(b),
  (b) => lz4.compressFrame(b),
);
const lz4Decompress = inlineOrPooled(
  (b) => lz4.decompressFrameSync(b),
  (b) => lz4.decompressFrame(b),
);

export const lz4Codec: BatchCodec = {
  compress: (encoder) => lz4Compress(encoder.buffer),
  decompress: (buffer) => {
    const bound = lz4FrameBound(buffer);
    if (bound > decompressedCap(buffer.length))
      return Promise.reject(new Error(`lz4: frame may decompress to ${bound} bytes, over the cap of ${decompressedCap(buffer.length)}`));
    return lz4Decompress(buffer);
  },
};

/** LZ4 frame format: magic, FLG/BD descriptor, blocks of [uint32 LE size, high bit = stored][data][checksum?], end mark 0. */
const LZ4_MAGIC = 0x184d2204;
const LZ4_MAX_RATIO = 255;
const LZ4_BLOCK_MAX_BYTES: Record<number, number> = { 4: 64 * 1024, 5: 256 * 1024, 6: 1024 * 1024, 7: 4 * 1024 * 1024 };

/**
 * The most bytes the LZ4 frame(s) in `buffer` can decompress to (per block: its size when stored,
 * else the least of the frame's block maximum and 255 × its size), walked from the block headers
 * without decompressing: lz4-napi has no output limit.
 */
export function lz4FrameBound(buffer: Buffer): number {
  let bound = 0;
  let at = 0;
  while (at < buffer.length) {
    if (at + 7 > buffer.length || buffer.readUInt32LE(at) !== LZ4_MAGIC) throw new Error(`lz4: no frame magic at byte ${at}`);
    const flg = buffer[at + 4]!;
    const blockMax = LZ4_BLOCK_MAX_BYTES[(buffer[at + 5]! >> 4) & 0x7];
    if (blockMax === undefined || flg >> 6 !== 1) throw new Error('lz4: unsupported frame descriptor');
    const blockChecksum = (flg & 0x10) !== 0;
    at += 4 + 2 + ((flg & 0x08) !== 0 ? 8 : 0) + ((flg & 0x01) !== 0 ? 4 : 0) + 1;
    for (;;) {
      if (at + 4 > buffer.length) throw new Error('lz4: truncated frame');
      const word = buffer.readUInt32LE(at);
      const size = word & 0x7fffffff;
      at += 4;
      if (size === 0) break;
      at += size + (blockChecksum ? 4 : 0);
      // A stored block is itself; a compressed one expands at most ~255:1 (each length byte adds ≤ 255).
      bound += (word & 0x80000000) !== 0 ? size : Math.min(blockMax, LZ4_MAX_RATIO * size + 16);
    }
    if ((flg & 0x04) !== 0) at += 4; // content checksum
  }
  return bound;
}

/**
 * Snappy comes in two shapes in Kafka: raw snappy (librdkafka, kafkajs-snappy) and the framing of
 * xerial's snappy-java (the Java client and the broker itself): a 16-byte header — magic
 * `\x82SNAPPY\0`, version, compatible version (int32 BE each) — then blocks of
 * [int32 BE compressed length][raw snappy]. Both are read; we write the xerial framing with the
 * Java client's 32 KiB blocks, which every Kafka client reads (librdkafka and snappy-java detect
 * the header).
 */
export const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;
const XERIAL_BLOCK_BYTES = 32 * 1024;

export const snappyCodec: BatchCodec = {
  compress: (encoder) => xerialFrame(encoder.buffer),
  decompress: async (buffer) =>
    isXerialFramed(buffer) ? Buffer.concat(await Promise.all(xerialBlocks(buffer).map(rawSnappyDecompress))) : rawSnappyDecompress(buffer),
};

export function isXerialFramed(buffer: Buffer): boolean {
  return buffer.length >= XERIAL_HEADER_BYTES && buffer.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC);
}

/** The raw snappy blocks of a xerial-framed buffer; a truncated block is an error, not a short read. */
export function xerialBlocks(buffer: Buffer): Buffer[] {
  const blocks: Buffer[] = [];
  let declared = 0;
  for (let at = XERIAL_HEADER_BYTES; at < buffer.length;) {
    if (at + 4 > buffer.length) throw new Error(`snappy (xerial): truncated block length at byte ${at}`);
    const length = buffer.readUInt32BE(at);
    at += 4;
    if (at + length > buffer.length) throw new Error(`snappy (xerial): block of ${length} bytes at byte ${at} runs past the end (${buffer.length})`);
    const block = buffer.subarray(at, at + length);
    declared += snappyUncompressedLength(block);
    if (declared > decompressedCap(buffer.length))
      throw new Error(`snappy (xerial): batch decompresses to more than its cap of ${decompressedCap(buffer.length)} bytes`);
    blocks.push(block);
    at += length;
  }
  return blocks;
}

export async function xerialFrame(data: Buffer): Promise<Buffer> {
  const header = Buffer.alloc(XERIAL_HEADER_BYTES);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(1, 8); // version
  header.writeInt32BE(1, 12); // oldest compatible version
  const parts: Buffer[] = [header];
  for (let at = 0; at < data.length; at += XERIAL_BLOCK_BYTES) {
    const block = snappy.compressSync(data.subarray(at, at + XERIAL_BLOCK_BYTES)); // ≤ 32 KiB: inline
    const length = Buffer.alloc(4);
    length.writeUInt32BE(block.length, 0);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

async function rawSnappyDecompress(block: Buffer): Promise<Buffer> {
  const length = snappyUncompressedLength(block);
  if (length > decompressedCap(block.length)) throw new Error(`snappy: block declares ${length} bytes, over its cap of ${decompressedCap(block.length)}`);
  return (block.length < INLINE_BELOW_BYTES ? snappy.uncompressSync(block, { asBuffer: true }) : await snappy.uncompress(block, { asBuffer: true })) as Buffer;
}

/** A raw snappy block starts with its uncompressed length as a little-endian base-128 varint. */
export function snappyUncompressedLength(block: Buffer): number {
  let length = 0;
  for (let i = 0; i < 5 && i < block.length; i++) {
    const byte = block[i]!;
    length += (byte & 0x7f) * 2 ** (7 * i);
    if (byte < 0x80) return length;
  }
  throw new Error('snappy: invalid length preamble');
}

const CODECS: ReadonlyArray<[CompressionType, BatchCodec]> = [
  [CompressionTypes.GZIP, gzipCodec],
  [CompressionTypes.Snappy, snappyCodec],
  [CompressionTypes.LZ4, lz4Codec],
  [CompressionTypes.ZSTD, zstdCodec],
];

/** Installs the four codecs in kafkajs' table (idempotent; replaces kafkajs' own gzip for the size bound). */
export function registerCompressionCodecs(): void {
  const table = CompressionCodecs as unknown as Record<number, () => BatchCodec>;
  for (const [type, codec] of CODECS) table[type] = () => codec;
}
