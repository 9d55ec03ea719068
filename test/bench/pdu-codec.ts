/**
 * `npm run bench:codec` — the SMPP codec per PDU, node-smpp's generic code against ours
 * (src/smpp/protocol/pdu-encode.ts for submit_sm / deliver_sm_resp; pdu-decode.ts's decodePduBody for what
 * arrives). No stack, no sockets: the CPU cost of one PDU, which the connector pays per message
 * (one submit_sm and one deliver_sm_resp written, one submit_sm_resp and one deliver_sm read).
 *
 *   npm run bench:codec [-- --n 200000 --rounds 3]
 * Prints, per round, the mean ns per PDU of each side, then the best round's figures.
 */
import { Command } from 'commander';
import { deliverSmResp, smpp, submitSmPdu } from '../../src/smpp/session/library.js';
import { decodePduBody } from '../../src/smpp/session/pdu-decode.js';
import { librarySubmitSm, sampleSubmit } from '../helpers/smpp-reference.js';

const opts = new Command('bench:codec')
  .option('--n <count>', 'PDUs per measurement', (v) => Number(v), 200_000)
  .option('--rounds <count>', 'rounds (the best is reported: the least disturbed by the shared machine)', (v) => Number(v), 3)
  .parse()
  .opts<{ n: number; rounds: number }>();

const params = sampleSubmit('Your code is 123456. It expires in 10 minutes.');
const receiptText = 'id:ABCDEF0123 sub:001 dlvrd:001 submit date:2611261200 done date:2611261201 stat:DELIVRD err:000 text:Your code is 1234';
const deliverSm = new smpp.PDU('deliver_sm', {
  sequence_number: 5,
  source_addr: '393471234567',
  destination_addr: 'ACME',
  esm_class: 4,
  short_message: Buffer.from(receiptText, 'latin1'),
  receipted_message_id: 'ABCDEF0123',
  message_state: 2,
}).toBuffer();
const submitSmResp = new smpp.PDU('submit_sm_resp', { sequence_number: 9, message_id: 'ABCDEF0123' }).toBuffer();
const request = new smpp.PDU('deliver_sm', { sequence_number: 3 });

/** The library's decode as its fromStream did it: the length put back in front, then new PDU(buffer). */
function libraryDecode(wire: Buffer): smpp.PDU {
  return new smpp.PDU(Buffer.concat([wire.subarray(0, 4), wire.subarray(4)]));
}

const cases: Array<[string, () => unknown, () => unknown]> = [
  ['submit_sm encode', () => librarySubmitSm(params, 7), () => (submitSmPdu(params, 7) as smpp.PDU).toBuffer()],
  ['deliver_sm_resp encode', () => request.response({ command_status: 0 }).toBuffer(), () => deliverSmResp(request, 0).toBuffer()],
  ['submit_sm_resp decode', () => libraryDecode(submitSmResp), () => decodePduBody(submitSmResp.length, submitSmResp.subarray(4))],
  ['deliver_sm (receipt) decode', () => libraryDecode(deliverSm), () => decodePduBody(deliverSm.length, deliverSm.subarray(4))],
];

function nsPer(fn: () => unknown): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < opts.n; i++) fn();
  return Number(process.hrtime.bigint() - start) / opts.n;
}

console.log(`# SMPP codec, ns per PDU: ${opts.n} PDUs per measurement, ${opts.rounds} rounds, Node ${process.version}`);
const best = new Map<string, { library: number; ours: number }>();
for (let round = 1; round <= opts.rounds; round++) {
  for (const [name, library, ours] of cases) {
    const figures = { library: nsPer(library), ours: nsPer(ours) };
    console.log(`  round ${round}  ${name.padEnd(28)} node-smpp ${figures.library.toFixed(0).padStart(6)} ns   ours ${figures.ours.toFixed(0).padStart(6)} ns`);
    const previous = best.get(name);
    if (!previous || figures.library + figures.ours < previous.library + previous.ours) best.set(name, figures);
  }
}
console.log('# best round per PDU');
let perMessage = { library: 0, ours: 0 };
for (const [name, f] of best) {
  console.log(
    `  ${name.padEnd(28)} node-smpp ${f.library.toFixed(0).padStart(6)} ns   ours ${f.ours.toFixed(0).padStart(6)} ns   (${(f.library / f.ours).toFixed(1)} ×)`,
  );
  perMessage = { library: perMessage.library + f.library, ours: perMessage.ours + f.ours };
}
console.log(`  per message (one of each)    node-smpp ${(perMessage.library / 1000).toFixed(1)} µs   ours ${(perMessage.ours / 1000).toFixed(1)} µs`);
