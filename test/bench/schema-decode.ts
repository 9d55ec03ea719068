/**
 * `npx tsx test/bench/schema-decode.ts` — the cost of the trusted decode of one `sms.outbound` value
 * (the synchronous path every record of a known schema id takes), side by side with the decode it
 * replaced: avsc's `fromBuffer` with the writer's own type, unbounded. Both end in
 * `outboundFromDecoded`. No stack: CPU per record only.
 *
 *   npx tsx test/bench/schema-decode.ts [--n 300000 --rounds 3]
 * Prints, per round, the mean ns per record of each side, then the best round's figures and ratio.
 */
import avsc from 'avsc';
import { Command } from 'commander';
import { readSchema } from '../../src/kafka/codec.js';
import { outboundFromDecoded } from '../../src/kafka/outbound-shape.js';
import { decodeUnder, judgeOutbound } from '../../src/kafka/schema-trust.js';

const opts = new Command('schema-decode')
  .option('--n <count>', 'records per measurement', (v) => Number(v), 300_000)
  .option('--rounds <count>', 'rounds (the best is reported: the least disturbed by the shared machine)', (v) => Number(v), 3)
  .parse()
  .opts<{ n: number; rounds: number }>();

const schema = readSchema('outbound');
const type = avsc.Type.forSchema(JSON.parse(schema) as avsc.Schema);
const value = {
  id: 'req-000123456',
  from: 'ACME',
  to: '+393471234567',
  text: 'Your code is 123456. It expires in 10 minutes.',
  encoding: 'AUTO',
  requestDeliveryReport: true,
  scheduleAt: null,
  validUntil: null,
  metadata: { tenant: 'acme', campaign: 'otp', trace: '4bf92f3577b34da6a3ce929d0e0e4736' },
};
const header = Buffer.from([0, 0, 0, 0, 7]);
const record = Buffer.concat([header, type.toBuffer(value)]);
const verdict = judgeOutbound(7, { schemaType: 'AVRO', schema, references: [] }, schema);
const evolved = JSON.parse(schema) as { fields: unknown[] };
evolved.fields.push({ name: 'channel', type: ['null', 'string'], default: null });
const evolvedType = avsc.Type.forSchema(evolved as avsc.Schema);
const evolvedRecord = Buffer.concat([header, evolvedType.toBuffer({ ...value, channel: 'sms' })]);
const evolvedVerdict = judgeOutbound(8, { schemaType: 'AVRO', schema: JSON.stringify(evolved), references: [] }, schema);

const sides: Record<string, () => unknown> = {
  'before: avsc fromBuffer (unbounded)': () => outboundFromDecoded(type.fromBuffer(record.subarray(5)) as Record<string, unknown>),
  'now: bounded walk + decode (own schema)': () => outboundFromDecoded(decodeUnder(verdict, 7, record)),
  'now: evolved writer (v2) via resolver': () => outboundFromDecoded(decodeUnder(evolvedVerdict, 8, evolvedRecord)),
};

let sink = 0;
function measure(fn: () => unknown): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < opts.n; i++) sink += (fn() as { id: string }).id.length;
  return Number(process.hrtime.bigint() - t0) / opts.n;
}

console.log(`# npx tsx test/bench/schema-decode.ts --n ${opts.n} --rounds ${opts.rounds}  (node ${process.version}, ${record.length}-byte record)`);
for (const fn of Object.values(sides)) measure(fn); // warm-up
const best: Record<string, number> = {};
for (let round = 1; round <= opts.rounds; round++) {
  const line: string[] = [];
  for (const [name, fn] of Object.entries(sides)) {
    const ns = measure(fn);
    best[name] = Math.min(best[name] ?? Infinity, ns);
    line.push(`${name}: ${ns.toFixed(0)} ns`);
  }
  console.log(`round ${round}: ${line.join(' | ')}`);
}
const [before, now] = Object.keys(sides) as [string, string];
for (const [name, ns] of Object.entries(best)) console.log(`best  ${name.padEnd(40)} ${ns.toFixed(0)} ns/record`);
console.log(`ratio now/before: ${(best[now]! / best[before]!).toFixed(2)} ×  (checksum ${sink % 997})`);
