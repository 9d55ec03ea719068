/**
 * `npm run bench:compression` — what KAFKA_COMPRESSION trades: CPU per message against bytes on
 * the wire, every codec side by side in one run. No stack, no sockets.
 *
 *   npm run bench:compression [-- --batch 1,16,100 --messages 60000 --rounds 3]
 *
 * What is measured, per codec and batch size:
 * - bytes on the wire: the v2 record batch kafkajs sends (its own RecordBatch/Record encoders,
 *   loaded from the installed kafkajs), divided by the events in it;
 * - compress CPU: the registered codec compressing the batch's records section (what the
 *   connector adds to a produce; the record framing around it is the same for every codec and is
 *   printed once, as `framing`), µs per event;
 * - decompress CPU: the same codec decompressing it, µs per event (what every reader of
 *   sms.delivery pays, and the broker, which decompresses a batch to validate it).
 * CPU is process.cpuUsage() (user + system of all threads: the napi and zlib calls run on libuv's
 * pool), the best of `--rounds` rounds (the least disturbed on a shared machine).
 *
 * Last, why compression.ts (de)compresses small batches on the event loop: each library's
 * synchronous call against its thread-pool (async) call, on the same 16-event batch.
 *
 * The events are SmsDeliveryEvent records as the connector writes them to sms.delivery: the
 * project's Avro schema (schemas/sms-delivery.avsc) in the Confluent wire format (magic byte,
 * schema id, body), keyed by request id, a realistic mix — for each event a random request and
 * one of SUBMIT/SUBMITTED, RECEIPT/DELIVERED, SUMMARY/DELIVERED (a batch of one partition holds
 * different requests' events: a receipt comes seconds after its submit).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import avsc from 'avsc';
import { Command } from 'commander';
import * as lz4 from 'lz4-napi';
import * as snappy from 'snappy';
import type { SmsDeliveryEvent } from '../../src/contracts.js';
import { readSchema } from '../../src/kafka/codec.js';
import { COMPRESSION_NAMES, COMPRESSION_TYPES, registerCompressionCodecs, type BatchCodec, type CompressionName } from '../../src/kafka/compression.js';
import { eventId } from '../../src/pipeline/events.js';

const opts = new Command('bench:compression')
  .option('--batch <sizes>', 'events per record batch, comma-separated', (v) => v.split(',').map(Number), [1, 4, 16, 100])
  .option('--messages <count>', 'events per measurement', (v) => Number(v), 20_000)
  .option('--rounds <count>', 'rounds (the best is reported)', (v) => Number(v), 5)
  .parse()
  .opts<{ batch: number[]; messages: number; rounds: number }>();

// kafkajs' own batch encoders: the bytes it puts on the wire, not an approximation of them.
const require = createRequire(import.meta.url);
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch: (a: object) => Promise<{ size(): number }> };
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (a: object) => unknown;
const Encoder = require('kafkajs/src/protocol/encoder') as new () => { writeEncoderArray(a: unknown[]): { buffer: Buffer } };
const { lookupCodec } = require('kafkajs/src/protocol/message/compression') as { lookupCodec: (t: number) => BatchCodec };

registerCompressionCodecs();
const deliveryType = avsc.Type.forSchema(JSON.parse(readSchema('delivery')) as avsc.Schema);
const SCHEMA_ID = 7;

function wire(event: SmsDeliveryEvent): Buffer {
  const body = deliveryType.toBuffer(event);
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = 0;
  out.writeInt32BE(SCHEMA_ID, 1);
  body.copy(out, 5);
  return out;
}

const KINDS = [
  ['SUBMIT', 'SUBMITTED', 1],
  ['RECEIPT', 'DELIVERED', 1],
  ['SUMMARY', 'DELIVERED', 0],
] as const;

function sampleEvent(now: number): { key: string; value: Buffer } {
  const id = randomUUID();
  const [source, status, segment] = KINDS[Math.floor(Math.random() * KINDS.length)]!;
  const hex = randomBytes(13).toString('hex').toUpperCase();
  const messageId = `AGILE-${hex.slice(0, 8)}-${hex.slice(8, 14)}-${hex.slice(14, 20)}-${hex.slice(20, 26)}`;
  const submittedAt = now - Math.floor(Math.random() * 5000);
  const event: SmsDeliveryEvent = {
    eventId: eventId(id, source, status, segment, messageId, null),
    id,
    source,
    status,
    segment,
    segments: 1,
    messageId,
    errorCode: null,
    errorCodeRaw: source === 'RECEIPT' ? '000' : null,
    errorCategory: null,
    errorDescription: null,
    retryable: false,
    attempts: 1,
    from: 'ACME',
    to: `3934${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`,
    submittedAt,
    doneAt: source === 'SUBMIT' ? null : submittedAt + 2000,
    eventAt: now,
    metadata: { tenant: 'shop-eu', campaign: `otp-${Math.floor(Math.random() * 20)}` },
    route: 'default',
  };
  return { key: id, value: wire(event) };
}

interface Figures {
  bytesPerEvent: number;
  compressUs: number;
  decompressUs: number;
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

type Event = { key: string; value: Buffer };

/** The records section of each batch, framed once (kafkajs' Record encoder), and its framing CPU. */
function frame(events: Event[], batchSize: number): { sections: Buffer[]; framingUs: number } {
  const t0 = cpuUs();
  const sections: Buffer[] = [];
  for (let i = 0; i + batchSize <= events.length; i += batchSize) {
    const records = events.slice(i, i + batchSize).map((m, k) => Record({ key: m.key, value: m.value, headers: {}, offsetDelta: k, timestampDelta: 0 }));
    sections.push(new Encoder().writeEncoderArray(records).buffer);
  }
  return { sections, framingUs: (cpuUs() - t0) / (sections.length * batchSize) };
}

async function wireBytes(name: CompressionName, events: Event[], batchSize: number): Promise<number> {
  const now = Date.now();
  let bytes = 0;
  let n = 0;
  for (let i = 0; i + batchSize <= events.length; i += batchSize) {
    const records = events.slice(i, i + batchSize).map((m, k) => Record({ key: m.key, value: m.value, headers: {}, offsetDelta: k, timestampDelta: 0 }));
    const batch = await RecordBatch({ compression: COMPRESSION_TYPES[name], records, firstTimestamp: now, maxTimestamp: now, lastOffsetDelta: batchSize - 1 });
    bytes += batch.size();
    n += batchSize;
  }
  return bytes / n;
}

async function measure(name: CompressionName, sections: Buffer[], batchSize: number, bytesPerEvent: number): Promise<Figures> {
  if (name === 'none') return { bytesPerEvent, compressUs: 0, decompressUs: 0 };
  const codec = lookupCodec(COMPRESSION_TYPES[name]);
  const compressed: Buffer[] = [];
  const t0 = cpuUs();
  for (const s of sections) compressed.push(await codec.compress({ buffer: s }));
  const t1 = cpuUs();
  for (const c of compressed) await codec.decompress(c);
  const t2 = cpuUs();
  const n = sections.length * batchSize;
  return { bytesPerEvent, compressUs: (t1 - t0) / n, decompressUs: (t2 - t1) / n };
}

async function main(): Promise<void> {
  const now = Date.now();
  const events = Array.from({ length: opts.messages }, () => sampleEvent(now));
  const valueBytes = events.reduce((n, e) => n + e.value.length + e.key.length, 0) / events.length;
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  console.log(`# bench:compression — ${new Date().toISOString()}`);
  console.log(
    `# machine: ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}; node ${process.version}`,
  );
  console.log(
    `# ${opts.messages} SmsDeliveryEvent records (Avro, Confluent wire format, key + value ${valueBytes.toFixed(0)} bytes on average), best of ${opts.rounds} rounds`,
  );
  console.log(`# command: npm run bench:compression -- --batch ${opts.batch.join(',')} --messages ${opts.messages} --rounds ${opts.rounds}`);
  // one warm-up pass, so the first codec does not pay for JIT and library loading
  const warm = frame(events.slice(0, 2000), 16).sections;
  for (const name of COMPRESSION_NAMES) await measure(name, warm, 16, 0);
  for (const batchSize of opts.batch) {
    const { sections, framingUs } = frame(events, batchSize);
    const bytes = new Map<CompressionName, number>();
    for (const name of COMPRESSION_NAMES) bytes.set(name, await wireBytes(name, events, batchSize));
    const best = new Map<CompressionName, Figures>();
    // rounds interleave the codecs, so a busy moment of the machine does not favour one of them
    for (let round = 0; round < opts.rounds; round++) {
      for (const name of COMPRESSION_NAMES) {
        const f = await measure(name, sections, batchSize, bytes.get(name)!);
        const prev = best.get(name);
        best.set(name, prev ? { ...f, compressUs: Math.min(prev.compressUs, f.compressUs), decompressUs: Math.min(prev.decompressUs, f.decompressUs) } : f);
      }
    }
    const none = best.get('none')!;
    console.log(`\n## ${batchSize} event(s) per batch (record framing, the same for every codec: ${framingUs.toFixed(2)} µs/event)`);
    console.log(
      '| codec | bytes/event on the wire | ÷ none | bytes saved/event | compress µs/event | decompress µs/event | bytes saved per µs of CPU (compress + decompress) |',
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    for (const name of COMPRESSION_NAMES) {
      const f = best.get(name)!;
      const saved = none.bytesPerEvent - f.bytesPerEvent;
      const cpu = f.compressUs + f.decompressUs;
      console.log(
        `| ${name} | ${f.bytesPerEvent.toFixed(1)} | ${(f.bytesPerEvent / none.bytesPerEvent).toFixed(2)} | ${saved.toFixed(1)} | ${f.compressUs.toFixed(2)} | ${f.decompressUs.toFixed(2)} | ${name === 'none' ? '—' : (saved / cpu).toFixed(1)} |`,
      );
    }
  }
}

/** Sync (event loop) against async (libuv's pool) calls of each library, on one 16-event batch. */
async function inlineVersusPool(events: Event[]): Promise<void> {
  const section = frame(events.slice(0, 16), 16).sections[0]!;
  const z = { zstd: zlib.zstdCompressSync(section), gzip: zlib.gzipSync(section), lz4: lz4.compressFrameSync(section), snappy: snappy.compressSync(section) };
  const pairs: Array<[string, () => unknown, () => Promise<unknown>]> = [
    ['gzip compress', () => zlib.gzipSync(section), () => promisify(zlib.gzip)(section)],
    ['gunzip', () => zlib.gunzipSync(z.gzip), () => promisify(zlib.gunzip)(z.gzip)],
    ['zstd compress', () => zlib.zstdCompressSync(section), () => promisify(zlib.zstdCompress)(section)],
    ['zstd decompress', () => zlib.zstdDecompressSync(z.zstd), () => promisify(zlib.zstdDecompress)(z.zstd)],
    ['lz4 compress', () => lz4.compressFrameSync(section), () => lz4.compressFrame(section)],
    ['lz4 decompress', () => lz4.decompressFrameSync(z.lz4), () => lz4.decompressFrame(z.lz4)],
    ['snappy compress', () => snappy.compressSync(section), () => snappy.compress(section)],
    ['snappy decompress', () => snappy.uncompressSync(z.snappy), () => snappy.uncompress(z.snappy)],
  ];
  const calls = 2000;
  const time = async (f: () => unknown): Promise<number> => {
    let best = Infinity;
    for (let round = 0; round < opts.rounds; round++) {
      const t0 = cpuUs();
      for (let i = 0; i < calls; i++) await f();
      best = Math.min(best, (cpuUs() - t0) / calls);
    }
    return best;
  };
  console.log(`\n## one 16-event batch (${section.length} bytes): on the event loop (sync) against libuv's thread pool (async), µs per call`);
  console.log('| call | sync | async | async ÷ sync |');
  console.log('| --- | --- | --- | --- |');
  for (const [name, sync, pooled] of pairs) {
    await time(sync); // warm-up
    const a = await time(sync);
    const b = await time(pooled);
    console.log(`| ${name} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(b / a).toFixed(1)} × |`);
  }
}

await main();
await inlineVersusPool(Array.from({ length: 16 }, () => sampleEvent(Date.now())));
