/**
 * Reading `sms.delivery`: every event the connector publishes about your requests, decoded through
 * the schema registry (the writer's schema, judged and bounded like the connector's own reads).
 *
 * Reads outside any real consumer group (topic-reader.ts): it never commits, never moves anyone's
 * offsets, and a second reader sees the same events. Two shapes: a callback (`readDeliveryEvents`,
 * back-pressured — the next event waits for your callback) and an async iterator
 * (`deliveryEvents`, the same underneath, one event held at a time).
 */
import type { Logger } from 'pino';
import type { SmsDeliveryEvent } from '../contracts.js';
import { DecoderUnavailableError, decoderRetryDelayMs } from '../pipeline/decode-errors.js';
import { sleep } from '../pipeline/sleep.js';
import { openConnection, requireTopic, type SmsClientConfig } from './connection.js';
import { readTopic, type RawRecord } from './topic-reader.js';

/** One delivery event and where it was read. */
export interface DeliveryRecord {
  event: SmsDeliveryEvent;
  partition: number;
  offset: string;
  /** The record's Kafka timestamp (epoch ms). */
  timestamp: number;
}

export interface DeliveryReadOptions {
  /** Start at the earliest event kept; default false (only events written after the reader joined). */
  fromBeginning?: boolean;
  /** Stop once every partition reached the end it had when reading started; default false (follow). */
  stopAtEnd?: boolean;
  /** Stop reading when aborted. */
  signal?: AbortSignal;
  /** A record that does not decode (not Avro, an unknown schema); default: skipped. */
  onUndecodable?: (record: RawRecord, error: Error) => void | Promise<void>;
  /** Prefix of the throwaway consumer group's id, so an operator can tell who reads. Default `sms-client.delivery`. */
  groupPrefix?: string;
  /** Where kafkajs logs; default silent. */
  logger?: Logger;
}

export interface DeliveryReadResult {
  events: number;
  reason: 'end' | 'stopped' | 'aborted';
}

/**
 * Calls `onEvent` for each event in partition order; return `'stop'` to end the read. Resolves
 * when stopped, aborted or (with `stopAtEnd`) at the end.
 */
export async function readDeliveryEvents(
  config: SmsClientConfig,
  options: DeliveryReadOptions,
  onEvent: (record: DeliveryRecord) => void | 'stop' | Promise<void | 'stop'>,
): Promise<DeliveryReadResult> {
  const { kafka, codec } = await openConnection(config, { register: false, logger: options.logger });
  await requireTopic(kafka, config.topics.delivery, 'TOPIC_DELIVERY');
  let events = 0;
  const { reason } = await readTopic({
    kafka,
    topic: config.topics.delivery,
    fromBeginning: options.fromBeginning ?? false,
    stopAtEnd: options.stopAtEnd ?? false,
    groupPrefix: options.groupPrefix ?? 'sms-client.delivery',
    ...(options.signal ? { signal: options.signal } : {}),
    onRecord: async (record) => {
      let event: SmsDeliveryEvent;
      for (let attempt = 1; ; attempt++) {
        try {
          event = (await codec.decodeRaw(record.value)) as unknown as SmsDeliveryEvent;
          break;
        } catch (err) {
          // A registry outage is not a bad event: wait it out on the same record (nothing skipped).
          if (err instanceof DecoderUnavailableError && !options.signal?.aborted) {
            options.logger?.warn({ code: err.code, attempt }, 'schema registry unavailable while reading delivery events; retrying');
            // Abortable: a reader stopped during an outage ends at once (the loop then sees the abort).
            await sleep(decoderRetryDelayMs(attempt), options.signal).catch(() => undefined);
            continue;
          }
          await options.onUndecodable?.(record, err as Error);
          return;
        }
      }
      events += 1;
      return onEvent({ event, partition: record.partition, offset: record.offset, timestamp: record.timestamp });
    },
  });
  return { events, reason };
}

/**
 * The events as an async iterator: `for await (const { event } of deliveryEvents(config)) …`.
 * Leaving the loop (break, return, throw) stops the reader; a reader error is thrown from the loop.
 */
export async function* deliveryEvents(config: SmsClientConfig, options: DeliveryReadOptions = {}): AsyncGenerator<DeliveryRecord, void, undefined> {
  const stop = new AbortController();
  const onOuterAbort = () => stop.abort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (options.signal?.aborted) stop.abort();
  // One-slot hand-off: the reader waits until the loop took the previous event.
  let slot: DeliveryRecord | null = null;
  let taken: (() => void) | null = null;
  let wake: (() => void) | null = null;
  const wakeLoop = () => {
    wake?.();
    wake = null;
  };
  let failure: { error: unknown } | null = null;
  let ended = false;
  const reading = readDeliveryEvents(config, { ...options, signal: stop.signal }, async (record) => {
    slot = record;
    wakeLoop();
    await new Promise<void>((resolve) => {
      taken = resolve;
      if (stop.signal.aborted) resolve();
    });
    return stop.signal.aborted ? 'stop' : undefined;
  })
    .then(
      () => undefined,
      (error: unknown) => void (failure = { error }),
    )
    .finally(() => {
      ended = true;
      wakeLoop();
    });
  const releaseReader = () => {
    taken?.();
    taken = null;
  };
  stop.signal.addEventListener('abort', releaseReader, { once: true });
  try {
    for (;;) {
      if (slot === null && !ended) await new Promise<void>((resolve) => (wake = resolve));
      if (slot !== null) {
        const record: DeliveryRecord = slot;
        slot = null;
        releaseReader();
        yield record;
        continue;
      }
      if (failure !== null) throw (failure as { error: unknown }).error;
      return;
    }
  } finally {
    stop.abort();
    options.signal?.removeEventListener('abort', onOuterAbort);
    await reading;
  }
}
