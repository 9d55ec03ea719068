/**
 * The Kafka side of the pipeline's sinks: encodes events through the registry and publishes them
 * (acks=all) to the delivery, correlation, DLQ and inbound topics.
 *
 * Events are keyed by request id, so every event of one request lands in one partition, in order.
 * Correlation entries are JSON (connector-internal), bundled by the publisher (correlation-bundle.ts).
 */
import type { SmsDeliveryEvent, SmsInbound } from '../contracts.js';
import type { CorrelationWrite, EventSink, InboundRecord } from '../pipeline/outbound-processor.js';
import type { ReceiptSink } from '../pipeline/receipt-processor.js';
import type { DeliverSm } from '../smpp/types.js';
import type { AvroCodec } from './codec.js';
import type { PoisonRecordError } from './errors.js';
import type { OutRecord, Publisher } from './publisher.js';

export interface SinkTopics {
  delivery: string;
  dlq: string;
  correlation: string;
  inbound: string | null;
}

export interface SinkObserver {
  published?(event: SmsDeliveryEvent): void;
  deadLettered?(reason: string): void;
}

export class KafkaSinks implements EventSink, ReceiptSink {
  readonly publishInbound: ((m: SmsInbound) => Promise<void>) | null;

  constructor(
    private readonly publisher: Publisher,
    private readonly codec: AvroCodec,
    private readonly topics: SinkTopics,
    private readonly observer: SinkObserver = {},
  ) {
    this.publishInbound = topics.inbound ? (m) => this.inbound(m) : null;
  }

  async publish(events: SmsDeliveryEvent[], correlation: CorrelationWrite[] = []): Promise<void> {
    const records: OutRecord[] = [];
    // JSON text: the publisher packs these into bundles at its flush, ahead of the events of the same
    // request (correlation-bundle.ts).
    for (const c of correlation) records.push({ topic: this.topics.correlation, key: c.key, value: JSON.stringify(c.value) });
    for (const e of events) {
      records.push({ topic: this.topics.delivery, key: e.id, value: this.codec.encodeDelivery(e) });
    }
    await this.publisher.publish(records);
    for (const e of events) this.observer.published?.(e);
  }

  /** Kafka Connect's DLQ header names, so existing DLQ tooling reads ours. */
  async deadLetter(record: InboundRecord, error: PoisonRecordError): Promise<void> {
    await this.publisher.publish([
      {
        topic: this.topics.dlq,
        key: record.key,
        value: record.value,
        headers: {
          ...record.headers,
          '__connect.errors.topic': record.topic,
          '__connect.errors.partition': String(record.partition),
          '__connect.errors.offset': record.offset,
          '__connect.errors.exception.class.name': error.code,
          '__connect.errors.exception.message': error.message,
        },
      },
    ]);
    this.observer.deadLettered?.(error.code);
  }

  async deadLetterReceipt(d: DeliverSm, reason: string): Promise<void> {
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

  private async inbound(m: SmsInbound): Promise<void> {
    await this.publisher.publish([{ topic: this.topics.inbound!, key: m.from, value: this.codec.encodeInbound(m) }]);
  }
}
