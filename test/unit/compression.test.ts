import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as zlib from 'node:zlib';
import kafkajs from 'kafkajs';
import * as lz4 from 'lz4-napi';
import * as snappy from 'snappy';
import { ConfigError, loadConfig } from '../../src/config.js';
import {
  COMPRESSION_NAMES,
  COMPRESSION_TYPES,
  INLINE_BELOW_BYTES,
  MAX_DECOMPRESSED_BYTES,
  decompressedCap,
  lz4FrameBound,
  XERIAL_MAGIC,
  gzipCodec,
  isXerialFramed,
  lz4Codec,
  registerCompressionCodecs,
  snappyCodec,
  snappyUncompressedLength,
  xerialFrame,
  zstdCodec,
} from '../../src/kafka/compression.js';

const { CompressionCodecs, CompressionTypes } = kafkajs;

/** Records-like bytes: repetitive text with random parts, 200 KB (several xerial and lz4 blocks). */
function sampleBatch(): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < 800; i++) parts.push(Buffer.from(`{"id":"req-${i}","to":"+4917${i}","text":"hello ${i}"}`), randomBytes(8));
  return Buffer.concat(parts, 200_000);
}

const CODECS = { gzip: gzipCodec, snappy: snappyCodec, lz4: lz4Codec, zstd: zstdCodec };

for (const [name, codec] of Object.entries(CODECS)) {
  test(`compression: ${name} round-trips a batch and shrinks repetitive records`, async () => {
    const data = sampleBatch();
    const packed = await codec.compress({ buffer: data });
    assert.ok(packed.length < data.length * 0.9, `${name}: ${packed.length} bytes for ${data.length}`);
    assert.deepEqual(await codec.decompress(packed), data);
    const empty = await codec.compress({ buffer: Buffer.alloc(0) });
    assert.equal((await codec.decompress(empty)).length, 0);
  });
}

test('compression: every KAFKA_COMPRESSION name maps to a distinct kafkajs type', () => {
  assert.deepEqual(
    COMPRESSION_NAMES.map((n) => COMPRESSION_TYPES[n]),
    [CompressionTypes.None, CompressionTypes.GZIP, CompressionTypes.Snappy, CompressionTypes.LZ4, CompressionTypes.ZSTD],
  );
});

test('compression: registration replaces kafkajs\' "not implemented" snappy/lz4/zstd in its own table', () => {
  const table = CompressionCodecs as unknown as Record<number, () => unknown>;
  registerCompressionCodecs();
  registerCompressionCodecs(); // idempotent
  assert.equal(table[CompressionTypes.Snappy]!(), snappyCodec);
  assert.equal(table[CompressionTypes.LZ4]!(), lz4Codec);
  assert.equal(table[CompressionTypes.ZSTD]!(), zstdCodec);
  assert.equal(table[CompressionTypes.GZIP]!(), gzipCodec);
});

test('compression: snappy decodes raw snappy (librdkafka) and xerial-framed snappy (Java client) alike', async () => {
  const data = sampleBatch();
  const raw = snappy.compressSync(data);
  assert.equal(isXerialFramed(raw), false);
  assert.deepEqual(await snappyCodec.decompress(raw), data);
  const framed = await xerialFrame(data);
  assert.equal(isXerialFramed(framed), true);
  assert.deepEqual(framed.subarray(0, 8), XERIAL_MAGIC);
  assert.equal(framed.readInt32BE(8), 1);
  assert.ok(framed.length > 16 + 4 * 7, '200 KB is at least 7 blocks of 32 KiB');
  assert.deepEqual(await snappyCodec.decompress(framed), data);
});

test('compression: xerial framing written by hand (as snappy-java writes it, unequal blocks) decodes', async () => {
  const a = Buffer.from('first block '.repeat(100));
  const b = Buffer.from('second, shorter');
  const blocks = [a, b].map((x) => snappy.compressSync(x));
  const header = Buffer.concat([XERIAL_MAGIC, Buffer.from([0, 0, 0, 1, 0, 0, 0, 1])]);
  const body = blocks.flatMap((blk) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(blk.length);
    return [len, blk];
  });
  assert.deepEqual(await snappyCodec.decompress(Buffer.concat([header, ...body])), Buffer.concat([a, b]));
});

test('compression: a truncated xerial block is an error, not a short batch', async () => {
  const framed = await xerialFrame(sampleBatch());
  await assert.rejects(snappyCodec.decompress(framed.subarray(0, framed.length - 10)), /runs past the end/);
});

test('compression: a bomb is refused before allocation (snappy preamble, zlib maxOutputLength)', async () => {
  const huge = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x7f]); // varint ≈ 34 GB
  assert.ok(snappyUncompressedLength(huge) > MAX_DECOMPRESSED_BYTES);
  await assert.rejects(snappyCodec.decompress(huge), /over its cap/);
  const zeros = Buffer.alloc(MAX_DECOMPRESSED_BYTES + 1024);
  await assert.rejects(gzipCodec.decompress(zlib.gzipSync(zeros)));
  await assert.rejects(zstdCodec.decompress(zlib.zstdCompressSync(zeros)));
});

test("compression: the cap follows the input (≤ 255 × the compressed size, ≥ 4 MiB, ≤ 64 MiB); an LZ4 frame's bound is walked before decompressing", async () => {
  assert.equal(decompressedCap(10), 4 * 1024 * 1024);
  assert.equal(decompressedCap(100_000), 25_500_000);
  assert.equal(decompressedCap(10_000_000), MAX_DECOMPRESSED_BYTES);
  // 16 MiB of zeros packs to a few KB in gzip and zstd: ratios no producer batch has, refused before allocation
  const zeros = Buffer.alloc(16 * 1024 * 1024);
  await assert.rejects(gzipCodec.decompress(zlib.gzipSync(zeros)));
  await assert.rejects(zstdCodec.decompress(zlib.zstdCompressSync(zeros)));
  // a batch under 4 MiB passes whatever its ratio (F18: repetitive oversized texts in one batch)
  const small = Buffer.alloc(3 * 1024 * 1024, 7);
  for (const codec of [gzipCodec, zstdCodec, lz4Codec, snappyCodec]) assert.deepEqual(await codec.decompress(await codec.compress({ buffer: small })), small);
  // the walked LZ4 bound is never below what the frame holds (so a legitimate frame is never refused)
  for (const data of [small, zeros, randomBytes(300_000)]) assert.ok(lz4FrameBound(lz4.compressFrameSync(data)) >= data.length);
});

test('compression: lz4 output is a standard LZ4 frame (magic 0x184D2204, independent blocks)', async () => {
  const packed = await lz4Codec.compress({ buffer: sampleBatch() });
  assert.equal(packed.readUInt32LE(0), 0x184d2204);
  const flg = packed[4]!;
  assert.equal(flg >> 6, 0b01, 'frame version 01');
  assert.equal((flg >> 5) & 1, 1, 'block independence (the Java client refuses dependent blocks)');
  // and frames from another LZ4 writer decode too
  assert.deepEqual(
    await lz4Codec.decompress(lz4.compressFrameSync(Buffer.from('x'.repeat(1000)), { contentChecksum: true, blockChecksums: true })),
    Buffer.from('x'.repeat(1000)),
  );
});

test('compression: KAFKA_COMPRESSION is one of the five names, default none; anything else stops start-up naming it', () => {
  const required = { SMPP_SYSTEM_ID: 'acme', SMPP_PASSWORD: 's3cret' };
  assert.equal(loadConfig(required).kafka.compression, 'none');
  for (const name of COMPRESSION_NAMES) assert.equal(loadConfig({ ...required, KAFKA_COMPRESSION: name }).kafka.compression, name);
  assert.throws(
    () => loadConfig({ ...required, KAFKA_COMPRESSION: 'brotli' }),
    (err: unknown) => err instanceof ConfigError && /^KAFKA_COMPRESSION: must be one of none, gzip, snappy, lz4, zstd/.test(err.message),
  );
});

test('compression: batches above the inline size take the thread-pool path and round-trip too', async () => {
  const data = randomBytes(INLINE_BELOW_BYTES * 2); // incompressible: the compressed form is large as well
  for (const [name, codec] of Object.entries(CODECS)) {
    const packed = await codec.compress({ buffer: data });
    assert.ok(packed.length >= INLINE_BELOW_BYTES, `${name}: compressed ${packed.length} bytes`);
    assert.deepEqual(await codec.decompress(packed), data, name);
  }
});
