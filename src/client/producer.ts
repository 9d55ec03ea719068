/**
 * `SmsProducer`: sends requests to `sms.outbound` the way the connector reads them — Avro in the
 * Confluent wire format under the connector's own schema, idempotent, acks=all — after checking
 * each request with the connector's own rules (`request.ts`), so a request the connector would
 * reject fails here, in the caller's hands, instead of as a REJECTED event later.
 */
import type { Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { SmsOutbound } from '../contracts.js';
import type { RequestBounds } from '../pipeline/request-bounds.js';
import { openConnection, requireTopic, type Connection, type SmsClientConfig } from './connection.js';
import {
  checkRequest,
  RequestRejectedError,
  toSmsOutbound,
  type CheckOptions,
  type OutboundRequest,
  type RequestCheck,
  type RequestRejection,
} from './request.js';

export interface SmsProducerOptions {
  /** The SMS_MAX_SEGMENTS of the connector you send to. Default 10 (the connector's default). */
  maxSegments?: number;
  /** The REQUEST_MAX_* bounds of the connector you send to. Default the connector's defaults. */
  bounds?: RequestBounds;
  /** Where kafkajs logs; default silent. */
  logger?: Logger;
  /** Clock for the checks; default `Date.now`. */
  now?: () => number;
  /**
   * `urgent`: send to the connector's urgent lane (TOPIC_OUTBOUND_URGENT), whose requests take a
   * session before any waiting bulk request — one-time passwords behind a campaign. Default `bulk`.
   */
  lane?: 'bulk' | 'urgent';
}

/** One request and how it travels. */
export interface KeyedOutboundRequest {
  /** Kafka key; default the destination (`to`), so the requests to one number keep their order. */
  key?: string;
  value: OutboundRequest;
}

export interface SendOptions {
  /**
   * Default true. false sends requests the connector will reject (to rehearse REJECTED events on a
   * test stack); they are still encoded under the schema.
   */
  validate?: boolean;
  /** The records' Kafka timestamp (epoch ms); default the producer's clock. */
  timestamp?: number;
}

/** A request as it was sent. */
export interface SentRequest {
  key: string;
  value: SmsOutbound;
  /** Segments the connector will send (0 when sent without validation). */
  segments: number;
}

/** Records per `producer.send`: large enough to amortise the round trip, small enough to stay under the broker's request size. */
const BATCH = 500;

export class SmsProducer {
  private constructor(
    private readonly connection: Connection,
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly checks: () => CheckOptions,
  ) {}

  /**
   * Registers the schemas (idempotent), checks that the outbound topic exists and connects an
   * idempotent producer. Close it with `close()`.
   */
  static async connect(config: SmsClientConfig, options: SmsProducerOptions = {}): Promise<SmsProducer> {
    const [topic, variable] = laneTopic(config, options.lane ?? 'bulk');
    const connection = await openConnection(config, { register: true, logger: options.logger });
    await requireTopic(connection.kafka, topic, variable);
    const producer = connection.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    const now = options.now ?? Date.now;
    const checks = (): CheckOptions => ({
      now: now(),
      ...(options.maxSegments !== undefined ? { maxSegments: options.maxSegments } : {}),
      ...(options.bounds !== undefined ? { bounds: options.bounds } : {}),
    });
    return new SmsProducer(connection, producer, topic, checks);
  }

  /** The connector's verdict on a request, with this producer's settings; sends nothing. */
  check(request: OutboundRequest): RequestCheck {
    return checkRequest(request, this.checks());
  }

  /** Sends one request; throws `RequestRejectedError` (nothing sent) when the connector would reject it. */
  async send(request: OutboundRequest, options: SendOptions & { key?: string } = {}): Promise<SentRequest> {
    const { key, ...rest } = options;
    const [sent] = await this.sendMany([{ value: request, ...(key !== undefined ? { key } : {}) }], rest);
    return sent!;
  }

  /**
   * Sends requests in order. Every request is checked first: if any would be rejected, nothing is
   * sent and `RequestRejectedError` lists all of them. Resolves once the broker acknowledged all.
   */
  async sendMany(requests: readonly KeyedOutboundRequest[], options: SendOptions = {}): Promise<SentRequest[]> {
    const prepared = this.prepare(requests, options.validate ?? true);
    for (let i = 0; i < prepared.length; i += BATCH) {
      const chunk = prepared.slice(i, i + BATCH);
      await this.producer.send({
        topic: this.topic,
        acks: -1,
        messages: chunk.map((r) => ({
          key: r.key,
          value: this.connection.codec.encodeOutbound(r.value),
          ...(options.timestamp !== undefined ? { timestamp: String(options.timestamp) } : {}),
        })),
      });
    }
    return prepared;
  }

  /**
   * The request as the bytes the connector reads (wire format, registered schema), for a service
   * that sends through its own producer or an outbox. Not checked: call `check` first.
   */
  encode(request: OutboundRequest): Buffer {
    return this.connection.codec.encodeOutbound(toSmsOutbound(request));
  }

  /**
   * Sends values already encoded (by `encode`, or deliberately broken ones on a test stack) as
   * they are: no check, no re-encoding. A null value is a tombstone.
   */
  async sendEncoded(records: readonly { key: string; value: Buffer | null }[]): Promise<void> {
    for (let i = 0; i < records.length; i += BATCH) {
      await this.producer.send({ topic: this.topic, acks: -1, messages: records.slice(i, i + BATCH).map((r) => ({ key: r.key, value: r.value })) });
    }
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }

  private prepare(requests: readonly KeyedOutboundRequest[], validate: boolean): SentRequest[] {
    const rejections: RequestRejection[] = [];
    const prepared: SentRequest[] = [];
    const checks = validate ? this.checks() : null;
    for (const r of requests) {
      const value = toSmsOutbound(r.value);
      const key = r.key ?? value.to;
      if (checks === null) {
        prepared.push({ key, value, segments: 0 });
        continue;
      }
      const verdict = checkRequest(value, checks);
      if (verdict.ok) prepared.push({ key, value, segments: verdict.segments });
      else rejections.push(verdict.rejection);
    }
    if (rejections.length > 0) throw new RequestRejectedError(rejections);
    return prepared;
  }
}

/** The topic of a lane and the variable that names it; the urgent lane must be configured. */
function laneTopic(config: SmsClientConfig, lane: 'bulk' | 'urgent'): [string, string] {
  if (lane === 'bulk') return [config.topics.outbound, 'TOPIC_OUTBOUND'];
  const urgent = config.topics.outboundUrgent;
  if (!urgent) throw new Error('the urgent lane needs TOPIC_OUTBOUND_URGENT (the same value as the connector’s)');
  return [urgent, 'TOPIC_OUTBOUND_URGENT'];
}
