/**
 * The Kafka side of the pipeline's sinks: encodes events through the registry and publishes them
 * (acks=all) to the delivery, correlation, DLQ and inbound topics.
 *
 * Events are keyed by request id, so every event of one request lands in one partition, in order.
 * Correlation entries are JSON (connector-internal), bundled by the publisher (correlation-bundle.ts).
 */
import type { SmsDeliveryEvent, SmsInbound } from '../contracts.js';
import type { UndecodableRecordError } from '../pipeline/decode-errors.js';
import type { LiveStateSink } from '../pipeline/correlation-promoter.js';
import type { CorrelationWrite, EventSink, InboundRecord } from '../pipeline/outbound-processor.js';
import type { LoggedReceipt } from '../pipeline/receipt-log.js';
import type { ReceiptSink, UnparseableReceipt } from '../pipeline/receipt-processor.js';
import type { AvroCodec } from './codec.js';
import type { PublishError } from './publish-errors.js';
import { recordBytes, type OutRecord, type Publisher } from './publisher.js';

/** Kafka Connect's DLQ header names, so existing DLQ tooling reads ours. */
export const DLQ_HEADERS = {
  topic: '__connect.errors.topic',
  partition: '__connect.errors.partition',
  offset: '__connect.errors.offset',
  code: '__connect.errors.exception.class.name',
  message: '__connect.errors.exception.message',
} as const;

/** Headers of our own on DLQ records and shrunk events. */
export const CONNECTOR_HEADERS = {
  /** A DLQ copy too large to keep whole: its value is left out; this says how large it was and where the original is. */
  valueOmitted: 'sms-connector.dlq.value-omitted',
  /** An event written smaller than built (metadata dropped) because Kafka refused it; the full one is in the DLQ. */
  shrunk: 'sms-connector.shrunk',
} as const;

/**
 * On a logged receipt this replica correlated itself (RECEIPTS_LOG=all): a reader that correlates
 * logged receipts (partitioned ownership, issue 20 step 7b) skips it.
 */
export const CORRELATED_HERE = { 'sms-connector.correlated': 'local' } as const;

/** Longest exception message kept in a DLQ header. */
const MAX_DLQ_MESSAGE_CHARS = 1000;

/**
 * A DLQ record that fits the budget: whole if it can; else without its value (the original stays
 * readable at the coordinates in its headers); else without the original's own headers too.
 */
export function fitDlqRecord(r: OutRecord, ownHeaders: Record<string, string>, maxBytes: number): OutRecord {
  const whole: OutRecord = { ...r, headers: { ...r.headers, ...ownHeaders } };
  if (recordBytes(whole) <= maxBytes) return whole;
  const size = r.value === null ? 0 : Buffer.byteLength(r.value);
  const omitted = { [CONNECTOR_HEADERS.valueOmitted]: `${size} bytes, over KAFKA_MAX_RECORD_BYTES (${maxBytes})` };
  const withoutValue: OutRecord = { ...r, value: null, headers: { ...r.headers, ...ownHeaders, ...omitted } };
  if (recordBytes(withoutValue) <= maxBytes) return withoutValue;
  return { topic: r.topic, key: r.key !== null && Buffer.byteLength(r.key) > 1024 ? null : r.key, value: null, headers: { ...ownHeaders, ...omitted } };
}

export interface SinkTopics {
  delivery: string;
  dlq: string;
  correlation: string;
  inbound: string | null;
  /** Where receipts are logged as received (TOPIC_RECEIPTS with RECEIPTS_LOG=all); null: not logged. */
  receiptsLog?: string | null;
  /** Where receipts go to the replica owning them (TOPIC_RECEIPTS with partitioned ownership); null: never forwarded. */
  receiptsForward?: string | null;
}

export interface SinkObserver {
  published?(event: SmsDeliveryEvent): void;
  deadLettered?(reason: string): void;
  /** A receipt is in the receipts log (acked). */
  receiptLogged?(): void;
  /** A receipt is in the receipts topic for the replica owning it (acked). */
  receiptForwarded?(): void;
  /** Kafka refused a record for good (reason = its error type); `outcome` says what was written instead. */
  refused?(reason: string, topic: string, bytes: number, outcome: 'dead-lettered' | 'value-omitted' | 'dropped'): void;
}

/** The live-state topic (compacted): JSON values under their own keys, null for a tombstone; not bundled. */
export function liveStateSink(publisher: Publisher, topic: string): LiveStateSink {
  return {
    write: (records) => publisher.publish(records.map((r) => ({ topic, key: r.key, value: r.value === null ? null : Buffer.from(JSON.stringify(r.value)) }))),
  };
}

export class KafkaSinks implements EventSink, ReceiptSink {
  readonly publishInbound: ((m: SmsInbound) => Promise<void>) | null;
  readonly logReceipt: ((correlationId: string, receipt: LoggedReceipt) => Promise<void>) | null;
  readonly forwardReceipt: ((correlationId: string, receipt: LoggedReceipt, partition?: number) => Promise<void>) | null;

  constructor(
    private readonly publisher: Publisher,
    private readonly codec: AvroCodec,
    private readonly topics: SinkTopics,
    private readonly observer: SinkObserver = {},
    /** KAFKA_MAX_RECORD_BYTES: the largest record written (DLQ copies are cut to it). */
    private readonly maxRecordBytes = 1_000_000,
  ) {
    this.publishInbound = topics.inbound ? (m) => this.inbound(m) : null;
    const receiptsLog = topics.receiptsLog;
    // Keyed by correlation id: with as many partitions as the correlation topic, a receipt lands in
    // the partition of its `m:` entry (correlation-index.ts).
    this.logReceipt = receiptsLog
      ? (correlationId, receipt) => this.appendReceipt(receiptsLog, correlationId, receipt, { headers: CORRELATED_HERE }, () => this.observer.receiptLogged?.())
      : null;
    const forwardTo = topics.receiptsForward;
    // Unmarked: the replica reading this partition handles it (receipt-owner.ts).
    this.forwardReceipt = forwardTo
      ? (correlationId, receipt, partition) => this.appendReceipt(forwardTo, correlationId, receipt, { partition }, () => this.observer.receiptForwarded?.())
      : null;
    publisher.onRefused((record, error) => this.refused(record, error));
  }

  whenWritable(signal: AbortSignal): Promise<void> | null {
    return this.publisher.whenAuthorized(signal);
  }

  /**
   * What replaces a record Kafka refused for good: its copy in the DLQ (named reason, the topic it
   * was meant for) and, for a delivery event, the same event without its metadata in its place, so
   * the request's event sequence stays complete. A refused DLQ copy is retried once without its
   * value, then dropped (counted and logged by the observer).
   */
  private refused(record: OutRecord, error: PublishError): OutRecord[] {
    const bytes = recordBytes(record);
    if (record.topic === this.topics.dlq) {
      const retry = record.value !== null;
      this.observer.refused?.(error.kafkaType, record.topic, bytes, retry ? 'value-omitted' : 'dropped');
      if (!retry) return [];
      const omitted = { [CONNECTOR_HEADERS.valueOmitted]: `${Buffer.byteLength(record.value!)} bytes, refused by Kafka (${error.kafkaType})` };
      return [{ topic: record.topic, key: record.key, value: null, headers: { ...record.headers, ...omitted } }];
    }
    this.observer.refused?.(error.kafkaType, record.topic, bytes, 'dead-lettered');
    this.observer.deadLettered?.(error.kafkaType);
    const copy = fitDlqRecord(
      { topic: this.topics.dlq, key: record.key, value: typeof record.value === 'string' ? Buffer.from(record.value) : record.value, headers: record.headers },
      {
        [DLQ_HEADERS.topic]: record.topic,
        [DLQ_HEADERS.code]: error.kafkaType,
        [DLQ_HEADERS.message]: `Kafka refused a record of ${bytes} bytes for ${record.topic}: ${error.kafkaType}`.slice(0, MAX_DLQ_MESSAGE_CHARS),
      },
      this.maxRecordBytes,
    );
    const out = [copy];
    const event =
      record.topic === this.topics.delivery && record.headers?.[CONNECTOR_HEADERS.shrunk] === undefined
        ? (record.source as SmsDeliveryEvent | undefined)
        : undefined;
    if (event) {
      const shrunk: SmsDeliveryEvent = { ...event, metadata: {}, errorDescription: event.errorDescription?.slice(0, 256) ?? null };
      out.push({ topic: record.topic, key: record.key, value: this.codec.encodeDelivery(shrunk), headers: { [CONNECTOR_HEADERS.shrunk]: error.kafkaType } });
    }
    return out;
  }

  async publish(events: SmsDeliveryEvent[], correlation: CorrelationWrite[] = []): Promise<void> {
    const records: OutRecord[] = [];
    // JSON text: the publisher packs these into bundles at its flush, ahead of the events of the same
    // request (correlation-bundle.ts).
    for (const c of correlation) records.push({ topic: this.topics.correlation, key: c.key, value: JSON.stringify(c.value), partition: c.partition });
    for (const e of events) {
      records.push({ topic: this.topics.delivery, key: e.id, value: this.codec.encodeDelivery(e), source: e });
    }
    await this.publisher.publish(records);
    for (const e of events) this.observer.published?.(e);
  }

  /**
   * The poison record's original key, value and headers with the reason (Kafka Connect's header
   * names). Cut to KAFKA_MAX_RECORD_BYTES: an original near the outbound topic's own limit plus
   * our headers could be over what the DLQ takes (fitDlqRecord).
   */
  async deadLetter(record: InboundRecord, error: UndecodableRecordError): Promise<void> {
    await this.publisher.publish([
      fitDlqRecord(
        { topic: this.topics.dlq, key: record.key, value: record.value, ...(record.headers ? { headers: record.headers } : {}) },
        {
          [DLQ_HEADERS.topic]: record.topic,
          [DLQ_HEADERS.partition]: String(record.partition),
          [DLQ_HEADERS.offset]: record.offset,
          [DLQ_HEADERS.code]: error.code,
          [DLQ_HEADERS.message]: error.message.slice(0, MAX_DLQ_MESSAGE_CHARS),
        },
        this.maxRecordBytes,
      ),
    ]);
    this.observer.deadLettered?.(error.code);
  }

  async deadLetterReceipt(d: UnparseableReceipt, reason: string): Promise<void> {
    await this.publisher.publish([
      {
        topic: this.topics.dlq,
        key: d.receiptedMessageId ?? null,
        value: d.shortMessage,
        headers: {
          '__connect.errors.topic': 'smpp',
          '__connect.errors.exception.class.name': 'UNPARSEABLE_RECEIPT',
          '__connect.errors.exception.message': reason,
          'smpp.session.id': d.sessionId,
          'smpp.esm_class': String(d.esmClass),
          'smpp.data_coding': String(d.dataCoding),
          ...(d.messageState !== undefined ? { 'smpp.message_state': String(d.messageState) } : {}),
        },
      },
    ]);
    this.observer.deadLettered?.('UNPARSEABLE_RECEIPT');
  }

  /** A receipt as received to the receipts topic, in its correlation id's partition unless `partition` is named; `acked` once Kafka has it. */
  private async appendReceipt(
    topic: string,
    correlationId: string,
    receipt: LoggedReceipt,
    { headers, partition }: { headers?: Record<string, string>; partition?: number | undefined },
    acked: () => void,
  ): Promise<void> {
    const record: OutRecord = { topic, key: correlationId, value: Buffer.from(JSON.stringify(receipt)) };
    if (headers) record.headers = headers;
    if (partition !== undefined) record.partition = partition;
    await this.publisher.publish([record]);
    acked();
  }

  private async inbound(m: SmsInbound): Promise<void> {
    await this.publisher.publish([{ topic: this.topics.inbound!, key: m.from, value: this.codec.encodeInbound(m) }]);
  }
}
