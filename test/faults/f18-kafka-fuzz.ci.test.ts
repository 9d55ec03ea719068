// Invariant (Kafka-side fuzz, issue 17): whatever a producer writes to sms.outbound — random bytes
// behind a valid header, random and foreign schema ids, block counts no body can hold, oversized
// fields, batches in every compression codec — the connector never crashes or restarts its consumer,
// every good record interleaved in the same partitions is delivered once and in key order, every bad
// record is accounted for (exactly one DLQ record with a reason, or one REJECTED/VALIDATION event),
// and the heap stays flat.
// Volume: 2,000 bad + 1,000 good records in 4 rounds under --faults-ci, 10,000 bad in the full suite
// (KSC_F18_BAD / KSC_F18_GOOD / KSC_FUZZ_SEED win over both).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompressionTypes, type Message } from 'kafkajs';
import type { SmsOutbound } from '../../src/contracts.js';
import { prng } from '../../src/util/prng.js';
import { valueSubject } from '../../src/kafka/codec.js';
import { POISON_CODES } from '../../src/kafka/errors.js';
import { LoadGenerator, report, verdict, type LoadRecord } from '../helpers/fault-oracle.js';
import { envNumber, envVolume, heapAfterGc, startFaultPipeline, type FaultFixture } from '../helpers/faults.js';
import { committedVsEnd, kafkaFor, readDlq, waitUntil } from '../helpers/pipeline.js';

const BAD = envVolume('KSC_F18_BAD', { ci: 2000, full: 10_000 });
const GOOD = envNumber('KSC_F18_GOOD', 1000);
const ROUNDS = 4;
const SEED = envNumber('KSC_FUZZ_SEED', 0x18f022 ^ (Date.now() & 0xffff));
const CODECS = [CompressionTypes.None, CompressionTypes.GZIP, CompressionTypes.Snappy, CompressionTypes.LZ4, CompressionTypes.ZSTD];
const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** What the test expects of one bad record: a DLQ record under its key, or a REJECTED event for its id. */
type Expect = { kind: string; key: string } & ({ outcome: 'dlq' } | { outcome: 'rejected'; idPrefix: string } | { outcome: 'any' });
type Bad = Expect & { value: Buffer | null };

/** Zig-zag varint of a non-negative count (Avro `long`). */
function varint(n: bigint): Buffer {
  const out: number[] = [];
  let v = n * 2n;
  while (v >= 0x80n) {
    out.push(Number((v & 0x7fn) | 0x80n));
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

function header(id: number): Buffer {
  const h = Buffer.alloc(5);
  h.writeInt32BE(id, 1);
  return h;
}

/** Registers a schema of any type under `subject` through the Confluent-compatible API; its id. */
async function registerForeign(registryUrl: string, subject: string, schemaType: 'AVRO' | 'JSON' | 'PROTOBUF', schema: string): Promise<number> {
  const res = await fetch(`${registryUrl}/subjects/${encodeURIComponent(subject)}/versions`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify(schemaType === 'AVRO' ? { schema } : { schemaType, schema }),
  });
  const text = await res.text();
  assert.ok(res.ok, `registering ${schemaType} under ${subject}: HTTP ${res.status} ${text}`);
  return (JSON.parse(text) as { id: number }).id;
}

interface ForeignIds {
  ours: number;
  json: number;
  protobuf: number;
  arrayOfNull: number;
  unrelatedRecord: number;
}

function badGenerator(rand: () => number, ids: ForeignIds, template: (o: Partial<SmsOutbound>) => Buffer, runId: string) {
  const int = (n: number) => Math.floor(rand() * n);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  let n = 0;
  const emptyPrefix = Buffer.from([0, 0, 0, 0, 0, 1, 0, 0]); // id, from, to, text '', AUTO, true, null, null
  const cases: Array<{ w: number; make: (key: string) => Bad }> = [
    {
      w: 12,
      // Random body under our own id: almost always poison; when it happens to decode, the request
      // is answered (a REJECTED or other final event for whatever id it carries) — counted below.
      make: (key) => ({ kind: 'random-body', key, outcome: 'any', value: Buffer.concat([header(ids.ours), bytes(int(120))]) }),
    },
    { w: 6, make: (key) => ({ kind: 'random-id', key, outcome: 'dlq', value: Buffer.concat([header(1_000_000 + int(1_000_000_000)), bytes(int(60))]) }) },
    { w: 4, make: (key) => ({ kind: 'json-schema-id', key, outcome: 'dlq', value: Buffer.concat([header(ids.json), Buffer.from('{"pattern":"(a+)+$"}')]) }) },
    { w: 4, make: (key) => ({ kind: 'protobuf-schema-id', key, outcome: 'dlq', value: Buffer.concat([header(ids.protobuf), bytes(int(40))]) }) },
    {
      w: 4,
      make: (key) => ({ kind: 'array-of-null-huge', key, outcome: 'dlq', value: Buffer.concat([header(ids.arrayOfNull), varint(1n << BigInt(20 + int(40)))]) }),
    },
    { w: 3, make: (key) => ({ kind: 'unrelated-record', key, outcome: 'dlq', value: Buffer.concat([header(ids.unrelatedRecord), bytes(int(30))]) }) },
    // A metadata map whose block count no body could hold: avsc alone would loop on it for ever.
    {
      w: 6,
      make: (key) => ({
        kind: 'huge-map-count',
        key,
        outcome: 'dlq',
        value: Buffer.concat([header(ids.ours), emptyPrefix, varint(1n << BigInt(30 + int(30))), bytes(int(8))]),
      }),
    },
    {
      w: 3,
      make: (key) => ({
        kind: 'negative-block-size',
        key,
        outcome: 'dlq',
        value: Buffer.concat([header(ids.ours), emptyPrefix, Buffer.from([0x01]), varint(1n << 40n)]),
      }),
    },
    { w: 2, make: (key) => ({ kind: 'bad-magic', key, outcome: 'dlq', value: Buffer.concat([Buffer.from([1 + int(255)]), bytes(int(30))]) }) },
    { w: 2, make: (key) => ({ kind: 'short-header', key, outcome: 'dlq', value: Buffer.concat([Buffer.from([0]), bytes(int(4))]) }) },
    { w: 1, make: (key) => ({ kind: 'null', key, outcome: 'dlq', value: null }) },
    {
      w: 3,
      make: (key) => {
        // The event may echo a shortened id: matched by its unique prefix.
        const idPrefix = `${runId}-longid-${n}-`;
        return { kind: 'oversized-id', key, outcome: 'rejected', idPrefix, value: template({ id: idPrefix + 'x'.repeat(300 + int(100_000)) }) };
      },
    },
    {
      w: 3,
      make: (key) => {
        const id = `${runId}-meta-${n}~`; // "~" ends the prefix: -meta-9 must not match -meta-90
        const metadata = Object.fromEntries(Array.from({ length: 65 + int(500) }, (_, i) => [`k${i}`, 'v'.repeat(int(400))]));
        return { kind: 'oversized-metadata', key, outcome: 'rejected', idPrefix: id, value: template({ id, metadata }) };
      },
    },
    {
      w: 3,
      make: (key) => {
        const id = `${runId}-text-${n}~`;
        return { kind: 'oversized-text', key, outcome: 'rejected', idPrefix: id, value: template({ id, text: 'y'.repeat(2_000 + int(200_000)) }) };
      },
    },
  ];
  const total = cases.reduce((s, c) => s + c.w, 0);
  return (): Bad => {
    n += 1;
    const key = `${runId}-bad-${n}`;
    let r = int(total);
    for (const c of cases) {
      if (r < c.w) return c.make(key);
      r -= c.w;
    }
    return cases[0]!.make(key);
  };
}

/** Produces one round: good and bad records shuffled together, in batches of every codec. */
async function produceRound(fx: FaultFixture, rand: () => number, good: LoadRecord[], bad: Bad[]): Promise<void> {
  const messages: Message[] = [
    ...good.map((r) => ({ key: r.key, value: fx.codec.encodeOutbound(r.value) })),
    ...bad.map((b) => ({ key: b.key, value: b.value })),
  ];
  // Shuffle, but keep each good key's records in sequence (per-key order is part of the verdict).
  const tagged = messages.map((m) => ({ m, r: rand() }));
  tagged.sort((a, b) => a.r - b.r);
  const goodByKey = new Map<string, Message[]>();
  for (const m of messages.slice(0, good.length)) goodByKey.set(String(m.key), [...(goodByKey.get(String(m.key)) ?? []), m]);
  const ordered = tagged.map(({ m }) => (goodByKey.has(String(m.key)) ? goodByKey.get(String(m.key))!.shift()! : m));
  const producer = kafkaFor(fx.stack).producer();
  await producer.connect();
  try {
    // Batches of 1–60 records, each in a random codec, kept under the broker's 1 MB batch limit.
    let i = 0;
    while (i < ordered.length) {
      const want = 1 + Math.floor(rand() * 60);
      const batch: Message[] = [];
      let bytes = 0;
      while (i < ordered.length && batch.length < want) {
        const size = (ordered[i]!.value as Buffer | null)?.length ?? 0;
        if (batch.length > 0 && bytes + size > 700_000) break;
        batch.push(ordered[i]!);
        bytes += size;
        i += 1;
      }
      const codec = CODECS[Math.floor(rand() * CODECS.length)]!;
      await producer.send({ topic: fx.topics.outbound, messages: batch, acks: -1, compression: codec });
    }
  } finally {
    await producer.disconnect();
  }
}

/** The sum of a topic's high watermarks. */
async function topicEnd(fx: FaultFixture, topic: string): Promise<number> {
  const admin = kafkaFor(fx.stack).admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

test('F18: Kafka-side fuzz — random, foreign, unbounded and oversized records in every codec never stop the connector; good records flow; each bad one is accounted for', async () => {
  const fx = await startFaultPipeline('f18', { env: { SMPP_SESSIONS: 'trx:2' } });
  try {
    await waitUntil(() => fx.sim.stats().bindsBySystemId['test'] === 2, 30000, 'sessions bound');
    const rand = prng(SEED);
    const runId = `f18-${Date.now()}`;
    const url = fx.stack.registryUrl;
    const ids: ForeignIds = {
      ours: fx.codec.schemaId('outbound'),
      json: await registerForeign(
        url,
        `${runId}-json-value`,
        'JSON',
        JSON.stringify({ type: 'object', properties: { a: { type: 'string', pattern: '^(a+)+$' } } }),
      ),
      protobuf: await registerForeign(url, `${runId}-proto-value`, 'PROTOBUF', 'syntax = "proto3";\nmessage Fuzz { string a = 1; }\n'),
      arrayOfNull: await registerForeign(url, `${runId}-arr-value`, 'AVRO', JSON.stringify({ type: 'array', items: 'null' })),
      unrelatedRecord: await registerForeign(
        url,
        `${runId}-rec-value`,
        'AVRO',
        JSON.stringify({ type: 'record', name: 'Unrelated', fields: [{ name: 'n', type: 'int' }] }),
      ),
    };
    assert.ok(valueSubject(fx.topics.outbound).length > 0);
    const base = fx.codec.encodeOutbound;
    const template = (o: Partial<SmsOutbound>): Buffer =>
      base.call(fx.codec, {
        id: 'x',
        from: 'ACME',
        to: '+393471234567',
        text: 'fuzz',
        encoding: 'AUTO',
        requestDeliveryReport: true,
        scheduleAt: null,
        validUntil: null,
        metadata: {},
        ...o,
      });
    const nextBad = badGenerator(rand, ids, template, runId);
    const gen = new LoadGenerator(runId, { keys: 30, multipartEvery: 9 });
    const goodAll: LoadRecord[] = [];
    const badAll: Bad[] = [];
    const heap: number[] = [];
    const t0 = Date.now();
    for (let round = 0; round < ROUNDS; round++) {
      const good = gen.next(Math.ceil(GOOD / ROUNDS));
      const bad = Array.from({ length: Math.ceil(BAD / ROUNDS) }, nextBad);
      goodAll.push(...good);
      badAll.push(...bad);
      await produceRound(fx, rand, good, bad);
      const goodIds = new Set(goodAll.map((r) => r.value.id));
      await waitUntil(
        () => {
          const summarised = new Set(
            fx
              .events()
              .filter((e) => e.source === 'SUMMARY')
              .map((e) => e.id),
          );
          return [...goodIds].every((id) => summarised.has(id));
        },
        120000,
        `round ${round + 1}: every good record summarised`,
      ).catch((err: Error) => {
        const summarised = new Set(
          fx
            .events()
            .filter((e) => e.source === 'SUMMARY')
            .map((e) => e.id),
        );
        const waiting = [...goodIds].filter((id) => !summarised.has(id));
        const problems = fx.log.lines
          .filter((l) => Number(l['level']) >= 40)
          .slice(-8)
          .map((l) => `${String(l['msg'])} ${JSON.stringify(l['err'] ?? l['reason'] ?? '')}`.slice(0, 300));
        throw new Error(
          `${err.message} (seed ${SEED}; ${waiting.length} waiting, e.g. ${waiting.slice(0, 3).join(', ')}; last warnings: ${problems.join(' | ')})`,
        );
      });
      heap.push(heapAfterGc());
    }
    const elapsedMs = Date.now() - t0;
    const dlqExpected = badAll.filter((b) => b.outcome === 'dlq');
    await waitUntil(
      async () => {
        const { committed, end } = await committedVsEnd(fx);
        return committed === end;
      },
      60000,
      'offsets committed to the end',
    );
    // Offsets at the end means every DLQ record and event was acknowledged first (commit rule):
    // read the DLQ to its end, and wait for the collector to hold every expected REJECTED event.
    const dlqEnd = await topicEnd(fx, fx.topics.dlq);
    assert.ok(dlqEnd >= dlqExpected.length, `DLQ holds ${dlqEnd} records, at least ${dlqExpected.length} expected`);
    const dlq = await readDlq(fx, (rs) => rs.length >= dlqEnd, 60000);
    const rejectedPrefixes = badAll.flatMap((b) => (b.outcome === 'rejected' ? [b.idPrefix] : []));
    await waitUntil(
      () => {
        const ids = fx
          .events()
          .filter((e) => e.status === 'REJECTED')
          .map((e) => e.id);
        return rejectedPrefixes.every((p) => ids.some((id) => id.startsWith(p)));
      },
      30000,
      'a REJECTED event for every oversized request',
    ).catch(() => undefined); // the verdict below names the missing ones
    const events = fx.events();
    const v = verdict({ records: goodAll, accepted: fx.sim.acceptedSubmits(), events });
    const dlqByKey = new Map<string, string[]>();
    for (const d of dlq) dlqByKey.set(d.key ?? '', [...(dlqByKey.get(d.key ?? '') ?? []), d.headers['__connect.errors.exception.class.name'] ?? '']);
    let decodedAny = 0;
    const unaccounted: string[] = [];
    const reasons: Record<string, number> = {};
    for (const b of badAll) {
      const inDlq = dlqByKey.get(b.key) ?? [];
      for (const code of inDlq) reasons[code] = (reasons[code] ?? 0) + 1;
      const ok =
        b.outcome === 'dlq'
          ? inDlq.length === 1 && (POISON_CODES as readonly string[]).includes(inDlq[0]!)
          : b.outcome === 'rejected'
            ? inDlq.length === 0 &&
              events.filter((e) => e.id.startsWith(b.idPrefix) && e.status === 'REJECTED' && e.errorCategory === 'VALIDATION' && e.source === 'CONNECTOR')
                .length === 1
            : inDlq.length <= 1;
      if (b.outcome === 'any' && inDlq.length === 0) decodedAny += 1;
      if (!ok) unaccounted.push(`${b.kind}:${b.key}:dlq=${inDlq.join('|')}`);
    }
    // Random bodies that happened to decode: each answered with a final event under an id that is
    // neither a good record's nor an oversized one's (ids may repeat: at least one, at most one each).
    const knownIds = new Set(goodAll.map((r) => r.value.id));
    const strayFinalIds = new Set(
      events.filter((e) => e.source === 'SUMMARY' && !knownIds.has(e.id) && !rejectedPrefixes.some((p) => e.id.startsWith(p))).map((e) => e.id),
    );
    const restarts = fx.log.count('restarting the consumer') + fx.log.count('consumer crashed');
    const heapGrowthMiB = (heap[heap.length - 1]! - heap[0]!) / 2 ** 20;
    report('F18', {
      seed: SEED,
      good: goodAll.length,
      bad: badAll.length,
      kinds: Object.fromEntries([...new Set(badAll.map((b) => b.kind))].map((k) => [k, badAll.filter((b) => b.kind === k).length])),
      codecs: CODEC_NAMES,
      dlqRecords: dlq.length,
      reasons,
      unaccounted: unaccounted.length,
      randomBodiesDecoded: decodedAny,
      strayFinalIds: strayFinalIds.size,
      missing: v.missing,
      duplicates: v.duplicates,
      orderViolations: v.orderViolations,
      restarts,
      heapMiB: heap.map((h) => Math.round(h / 2 ** 20)),
      elapsedMs,
    });
    assert.ok(badAll.length >= BAD && v.sent >= GOOD * 0.9, 'minimum volume');
    assert.equal(dlq.length, dlqEnd, 'the whole DLQ read');
    assert.deepEqual(unaccounted.slice(0, 10), [], `every bad record accounted for exactly once (seed ${SEED})`);
    assert.ok(
      strayFinalIds.size <= decodedAny && (decodedAny === 0 || strayFinalIds.size >= 1),
      `random bodies that decoded (${decodedAny}) answered: ${strayFinalIds.size} final id(s)`,
    );
    assert.equal(v.missing, 0, `missing ${JSON.stringify(v.missingIds)}`);
    assert.equal(v.missingEvents, 0, `missing events ${JSON.stringify(v.missingEventIds)}`);
    assert.equal(v.duplicates, 0);
    assert.equal(v.orderViolations, 0);
    assert.equal(restarts, 0, 'no consumer restart');
    assert.equal(fx.sim.stats().bindAttempts, 2, 'no session restart');
    assert.ok(heapGrowthMiB < 48, `heap flat: grew ${heapGrowthMiB.toFixed(1)} MiB from round 1 to round ${ROUNDS}`);
  } finally {
    await fx.stop();
  }
});
