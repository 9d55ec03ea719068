/**
 * `tail`: follows the delivery topic, decoded, one line per event (see `event-line.ts`).
 */
import { readDeliveryEvents } from '../client/delivery-reader.js';
import type { ClientConfig } from '../config.js';
import { PoisonRecordError } from '../kafka/errors.js';
import { printableLines } from '../obs/printable.js';
import { toolLogger } from './clients.js';
import { eventJson, eventLine } from './event-line.js';

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
  let printed = 0;
  await readDeliveryEvents(
    config,
    {
      fromBeginning: opts.fromBeginning,
      groupPrefix: 'sms-connector-cli.tail',
      logger: toolLogger(),
      ...(opts.signal ? { signal: opts.signal } : {}),
      // Not ours to judge: show it and keep following.
      onUndecodable: (record, err) => {
        const code = err instanceof PoisonRecordError ? err.code : 'DECODE_FAILED';
        if (opts.id === undefined) print(`# p${record.partition}@${record.offset}: undecodable (${code}: ${err.message})`);
      },
    },
    ({ event, timestamp }) => {
      if (opts.id !== undefined && event.id !== opts.id) return;
      print(opts.json ? eventJson(event, opts) : eventLine(event, opts, timestamp));
      printed += 1;
      if (opts.maxEvents !== undefined && printed >= opts.maxEvents) return 'stop';
    },
  );
  return printed;
}
