/**
 * `tail`: follows the delivery topic, decoded, one line per event (see `event-line.ts`).
 */
import type { ClientConfig } from '../config.js';
import type { SmsDeliveryEvent } from '../contracts.js';
import { PoisonRecordError } from '../kafka/errors.js';
import { printableLines } from '../obs/printable.js';
import { openClients, requireTopic } from './clients.js';
import { eventJson, eventLine } from './event-line.js';
import { readTopic } from './topic-reader.js';

export interface TailOptions {
  fromBeginning: boolean;
  /** Only events of this request id. */
  id?: string;
  json: boolean;
  showNumbers: boolean;
  /** Exit after printing this many events (scripts, tests); default: follow until stopped. */
  maxEvents?: number;
  signal?: AbortSignal;
}

/** Returns the number of events printed. */
export async function tail(config: Readonly<ClientConfig>, opts: TailOptions, printRaw: (line: string) => void): Promise<number> {
  const print = printableLines(printRaw);
  const { kafka, codec } = await openClients(config, { register: false });
  await requireTopic(kafka, config.topics.delivery, 'TOPIC_DELIVERY');
  let printed = 0;
  await readTopic({
    kafka,
    topic: config.topics.delivery,
    fromBeginning: opts.fromBeginning,
    groupPrefix: 'sms-connector-cli.tail',
    ...(opts.signal ? { signal: opts.signal } : {}),
    onRecord: async (record) => {
      let event: SmsDeliveryEvent;
      try {
        event = (await codec.decodeRaw(record.value)) as unknown as SmsDeliveryEvent;
      } catch (err) {
        // Not ours to judge: show it and keep following.
        const code = err instanceof PoisonRecordError ? err.code : 'DECODE_FAILED';
        if (opts.id === undefined) print(`# p${record.partition}@${record.offset}: undecodable (${code}: ${(err as Error).message})`);
        return;
      }
      if (opts.id !== undefined && event.id !== opts.id) return;
      print(opts.json ? eventJson(event, opts) : eventLine(event, opts, record.timestamp));
      printed += 1;
      if (opts.maxEvents !== undefined && printed >= opts.maxEvents) return 'stop';
    },
  });
  return printed;
}
