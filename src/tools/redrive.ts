/**
 * `redrive`: sends dead-lettered requests back to the outbound topic — the original key and value
 * bytes, the DLQ's headers kept (so the record's history stays readable) plus redrive markers.
 *
 * Reads the DLQ from the beginning up to its end *when the command started* (see topic-reader.ts),
 * so a record that fails again and returns to the DLQ is not redriven twice in one run. Running the
 * command twice redrives twice: the connector's dedupe on the request id is what keeps that safe.
 *
 * Receipts the connector could not parse (`__connect.errors.topic=smpp`) are not requests: they
 * are listed, never sent.
 */
import type { ClientConfig } from '../config.js';
import { maskMsisdn, maskNumbersIn } from '../obs/mask.js';
import { printable, printableLines } from '../obs/printable.js';
import { openClients, requireTopic } from './clients.js';
import { readTopic, type RawRecord } from '../client/topic-reader.js';
import { DLQ_HEADERS as DLQ_HEADER } from '../kafka/sinks.js';

/** Marker headers on every redriven record. */
export const REDRIVE_HEADER = {
  /** ISO time of the redrive. */
  at: 'sms.redrive.at',
  /** `<dlq topic>/<partition>/<offset>` the record was taken from. */
  from: 'sms.redrive.from',
  /** How often this record was redriven (1 the first time). */
  count: 'sms.redrive.count',
} as const;

export interface RedriveOptions {
  /** Only records whose error code (`__connect.errors.exception.class.name`) is one of these. */
  codes?: readonly string[];
  dryRun: boolean;
  now?: () => number;
}

export interface RedriveResult {
  scanned: number;
  redriven: number;
  skippedByFilter: number;
  skippedNotRequest: number;
}

const BATCH = 500;

export async function redrive(config: Readonly<ClientConfig>, opts: RedriveOptions, printRaw: (line: string) => void): Promise<RedriveResult> {
  const print = printableLines(printRaw);
  const { kafka } = await openClients(config, { register: false });
  await requireTopic(kafka, config.topics.dlq, 'TOPIC_DLQ');
  if (!opts.dryRun) await requireTopic(kafka, config.topics.outbound, 'TOPIC_OUTBOUND');
  const now = opts.now ?? Date.now;
  const producer = opts.dryRun ? null : kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer?.connect();
  const result: RedriveResult = { scanned: 0, redriven: 0, skippedByFilter: 0, skippedNotRequest: 0 };
  // A request goes back to the lane it came from (its DLQ record names the topic).
  const urgent = config.topics.outboundUrgent ?? null;
  const targetOf = (origin: string | undefined) => (urgent !== null && origin === urgent ? urgent : config.topics.outbound);
  let pending: RawRecord[] = [];
  const flush = async () => {
    if (producer && pending.length > 0) {
      const at = new Date(now()).toISOString();
      const byTopic = new Map<string, RawRecord[]>();
      for (const r of pending) {
        const topic = targetOf(r.headers[DLQ_HEADER.topic]);
        (byTopic.get(topic) ?? byTopic.set(topic, []).get(topic)!).push(r);
      }
      await producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, records]) => ({
          topic,
          messages: records.map((r) => ({ key: r.key, value: r.value, headers: redriveHeaders(r, config.topics.dlq, at) })),
        })),
      });
    }
    pending = [];
  };
  try {
    await readTopic({
      kafka,
      topic: config.topics.dlq,
      fromBeginning: true,
      stopAtEnd: true,
      groupPrefix: 'sms-connector-cli.redrive',
      onRecord: async (r) => {
        result.scanned += 1;
        const code = r.headers[DLQ_HEADER.code] ?? '(no code)';
        if (opts.codes && !opts.codes.includes(code)) {
          result.skippedByFilter += 1;
          return;
        }
        // Not requests: unparseable receipts (`smpp`) and connector records Kafka refused (the
        // delivery or correlation topic named — publisher refusals, see sinks.ts).
        const origin = r.headers[DLQ_HEADER.topic];
        if (origin === 'smpp' || (origin !== undefined && origin !== config.topics.outbound && origin !== urgent)) {
          result.skippedNotRequest += 1;
          print(`skip   ${describe(r, code)}  (${origin === 'smpp' ? 'an unparseable receipt' : `a record refused for ${origin}`}, not a request)`);
          return;
        }
        result.redriven += 1;
        print(`${opts.dryRun ? 'would send' : 'send'}  ${describe(r, code)}  → ${targetOf(origin)}`);
        pending.push(r);
        if (pending.length >= BATCH) await flush();
      },
    });
    await flush();
  } finally {
    await producer?.disconnect();
  }
  print(
    `${opts.dryRun ? 'dry run: would redrive' : 'redrove'} ${result.redriven} of ${result.scanned} DLQ record(s)` +
      ` (${result.skippedByFilter} not matching the filter, ${result.skippedNotRequest} receipts skipped)`,
  );
  return result;
}

/** One DLQ record for the operator: the key masked, the error text with any phone number in it masked. */
export function describe(r: RawRecord, code: string): string {
  const key = r.key === null ? 'null' : JSON.stringify(maskNumbersIn(maskMsisdn(printable(r.key.toString('utf8')))));
  const size = r.value === null ? 'null value' : `${r.value.length} bytes`;
  const msg = r.headers[DLQ_HEADER.message];
  return `p${r.partition}@${r.offset}  key=${key}  ${size}  ${maskNumbersIn(code)}${msg ? `: ${maskNumbersIn(msg)}` : ''}`;
}

export function redriveHeaders(r: RawRecord, dlqTopic: string, at: string): Record<string, string> {
  const previous = Number(r.headers[REDRIVE_HEADER.count] ?? 0);
  return {
    ...r.headers,
    [REDRIVE_HEADER.at]: at,
    [REDRIVE_HEADER.from]: `${dlqTopic}/${r.partition}/${r.offset}`,
    [REDRIVE_HEADER.count]: String((Number.isFinite(previous) ? previous : 0) + 1),
  };
}
