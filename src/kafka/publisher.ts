/**
 * Publishes records with acks=all through one idempotent producer, in micro-batches.
 *
 * Why batch by hand: every submit result and receipt is one small record, and a produce request
 * per record caps throughput at one round trip each (the idempotent producer allows one request in
 * flight). Callers `await publish(...)`; the promise resolves only once Kafka acknowledged the
 * record (acks=all), which is what the commit rule and the receipt-ack rule wait for.
 */
import type { CompressionTypes, Kafka, Message, Producer } from 'kafkajs';
import type { CorrelationBundler, CorrelationEntry } from './correlation-bundle.js';
import { KeyHashPartitioner } from './partitioner.js';
import { classifyPublishError, LOCAL_RECORD_TOO_LARGE, PublishError } from './publish-errors.js';
import { byteLength, isTopicMisconfigured, recordBytes, SizeRefusals } from './record-size.js';
import { backoffDelayMs, NO_JITTER, type BackoffPolicy } from '../util/backoff.js';

export { recordBytes };

export interface OutRecord {
  topic: string;
  key: string | Buffer | null;
  /** A string only for the bundled topic (an entry's JSON); bytes everywhere else. */
  value: Buffer | string | null;
  headers?: Record<string, string | Buffer>;
  /**
   * Where it goes: unset, the partition its key hashes to (murmur2, as the Java client). Set for a
   * correlation entry that belongs to a partition its key does not name (a request's home).
   */
  partition?: number;
  /** What the record was encoded from (an event), handed back to the refusal handler to shrink it. */
  source?: unknown;
}

/**
 * Kafka refused `record` for good (RECORD_REFUSED): the records to write in its place — a DLQ
 * copy, a smaller version — or none. Called again for a replacement that is refused in turn, so it
 * must end (e.g. a refused DLQ copy → one without its value → nothing).
 */
export type RefusalHandler = (record: OutRecord, error: PublishError) => OutRecord[];

/** Retry pause after a failed send: 200 ms doubling to 5 s. */
const SEND_RETRY: BackoffPolicy = { initialMs: 200, maxMs: 5000, jitter: NO_JITTER };
const backoffMs = (attempt: number): number => backoffDelayMs(SEND_RETRY, attempt);

/** One publish() call: resolves once each of its records is acknowledged (or replaced, when refused). */
interface Pending {
  unsettled: number;
  failed: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Item {
  record: OutRecord;
  bytes: number;
  owner: Pending;
  settled: boolean;
}

export interface PublisherOptions {
  /** Flush when this many records are queued. Default 1000. */
  maxBatchRecords?: number;
  /**
   * Bytes per produce request (and so per record batch of one partition, and per correlation
   * bundle), and the largest single record: KAFKA_MAX_RECORD_BYTES, default 1,000,000 — under the
   * broker's default message.max.bytes (1,048,588) with room for the batch header. A larger record
   * is refused here, without a round trip, and goes to the refusal handler.
   */
  maxRecordBytes?: number;
  /**
   * Flush at most this long after the first queued record. Measured (`e2e` scenario, 2026-11-25; BENCHMARKS.md at e17a696): the broker's
   * cost is per produce request, so on a 2-core machine 2 ms → 10 ms raised end-to-end throughput
   * ~30 % and halved the broker's CPU per message; sending as soon as the previous request
   * returned made it worse (many small requests).
   */
  lingerMs?: number;
  /** Records for this topic are packed into bundles at each flush (see correlation-bundle.ts). */
  bundle?: { topic: string; bundler: CorrelationBundler };
  /** Codec of produce requests (kafkajs CompressionTypes); default none. */
  compression?: CompressionTypes;
}

export class Publisher {
  private producer: Producer;
  /** Set when the producer was replaced: the next send connects it first. */
  private mustConnect = false;
  private queue: Item[] = [];
  private queuedBytes = 0;
  /** When the oldest queued record arrived: the linger counts from there, not from the last flush. */
  private oldestQueuedAt = 0;
  private flushing = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly maxBatchRecords: number;
  private readonly maxRecordBytes: number;
  private readonly lingerMs: number;
  private readonly bundle: PublisherOptions['bundle'];
  private readonly compression: CompressionTypes | undefined;
  private lastAckAt = 0;
  private lastError: PublishError | null = null;
  /** Set while sends fail for credentials/ACLs: intake waits (whenAuthorized) and /readyz says why. */
  private authProblem: PublishError | null = null;
  private authWaiters: Array<() => void> = [];
  private connected = false;
  private refusalHandler: RefusalHandler = () => [];
  private readonly tooLarge = new SizeRefusals();
  private closed = false;

  constructor(
    private readonly kafka: Kafka,
    options: PublisherOptions = {},
  ) {
    this.maxBatchRecords = options.maxBatchRecords ?? 1000;
    this.maxRecordBytes = options.maxRecordBytes ?? 1_000_000;
    this.lingerMs = options.lingerMs ?? 10;
    this.bundle = options.bundle;
    this.compression = options.compression;
    this.producer = this.createProducer();
  }

  private createProducer(): Producer {
    const producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: KeyHashPartitioner,
    });
    // Events of a replaced producer are ignored: its disconnect is ours, not an outage.
    producer.on(producer.events.DISCONNECT, () => {
      if (producer === this.producer) this.connected = false;
    });
    producer.on(producer.events.CONNECT, () => {
      if (producer === this.producer) this.connected = true;
    });
    return producer;
  }

  /**
   * Connects the producer. Refused credentials or a missing IdempotentWrite ACL do not stop
   * start-up: the replica starts not ready with intake paused (whenAuthorized) and reconnects with
   * backoff until they are fixed. Any other failure throws. (In the app the admin logs in first: a
   * login refused at start-up stops the process there, a ConfigError — app/start.ts connectKafka.
   * What reaches this wait is a missing ACL, or credentials revoked after that first login.)
   */
  async connect(): Promise<void> {
    try {
      await this.producer.connect();
      this.connected = true;
    } catch (err) {
      const e = classifyPublishError(err);
      if (e.code !== 'NOT_AUTHORIZED') throw err;
      this.failed(e);
      this.mustConnect = true;
      void this.reconnectUntilAuthorized();
    }
  }

  private async reconnectUntilAuthorized(): Promise<void> {
    for (let attempt = 0; this.authProblem !== null && !this.closed; attempt++) {
      await new Promise((r) => setTimeout(r, backoffMs(attempt)));
      // A flush in progress retries (and connects) by itself; its success clears the problem.
      if (this.flushing || !this.mustConnect || this.closed) continue;
      try {
        await this.producer.connect();
        this.mustConnect = false;
        this.connected = true;
        this.succeeded();
      } catch (err) {
        this.failed(classifyPublishError(err));
      }
    }
  }

  /** Where refused records go (the sinks: DLQ copy, smaller event). Default: dropped. */
  onRefused(handler: RefusalHandler): void {
    this.refusalHandler = handler;
  }

  /** Whether this process has handed over any correlation entry yet (the tail's gains ask: correlation-tail.ts). */
  correlationWritten = false;

  /** Resolves when every record is acknowledged by all in-sync replicas, or refused and replaced. */
  publish(records: OutRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    // Refused here, for this caller only: in a flush it would fail every record batched with it.
    // (A loop over the few records of a publish; most name no partition and cost one comparison.)
    for (const record of records) {
      if (record.topic !== this.bundle?.topic) continue;
      this.correlationWritten = true;
      if (record.partition === undefined) continue;
      const wrong = this.bundle.bundler.misplaced({ key: String(record.key), partition: record.partition });
      if (wrong !== null) return Promise.reject(new Error(wrong));
    }
    return new Promise<void>((resolve, reject) => {
      if (this.queue.length === 0) this.oldestQueuedAt = Date.now();
      const owner: Pending = { unsettled: records.length, failed: false, resolve, reject };
      for (const record of records) {
        // A bundled entry's key is JSON-escaped again inside its bundle: a control character takes 6 bytes.
        const bytes = recordBytes(record) + (record.topic === this.bundle?.topic ? 5 * byteLength(record.key) : 0);
        this.queuedBytes += bytes;
        this.queue.push({ record, bytes, owner, settled: false });
      }
      this.schedule();
    });
  }

  /** Producer health for readiness: connected, authorized and not stuck behind a failing send. */
  healthy(now = Date.now()): boolean {
    return this.problem(now) === null;
  }

  /** Why the producer is not healthy (for /readyz), or null. */
  problem(now = Date.now()): string | null {
    if (this.authProblem) return `not authorized: ${this.authProblem.kafkaType}`;
    if (!this.connected && !this.mustConnect) return 'not connected';
    if (this.flushing && this.lastError !== null && now - this.lastAckAt > 10000) return `sends failing: ${this.lastError.kafkaType}`;
    return null;
  }

  /**
   * Null while Kafka takes our writes; during an authorization failure, a promise that resolves once
   * a send succeeds again (rejects with the signal's reason on abort). Intake waits on it, so no
   * new request reaches the SMSC while its events could not be written.
   */
  whenAuthorized(signal?: AbortSignal): Promise<void> | null {
    if (!this.authProblem) return null;
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.authWaiters = this.authWaiters.filter((w) => w !== wake);
        reject(signal!.reason);
      };
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.authWaiters.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  get pendingRecords(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.flushing) return;
    // Records that queued up while the previous request was in flight have already lingered:
    // waiting a full linger again after each flush added up to one linger to every record's latency.
    const waited = Date.now() - this.oldestQueuedAt;
    if (this.queue.length >= this.maxBatchRecords || this.queuedBytes >= this.maxRecordBytes || waited >= this.lingerMs) {
      void this.flush();
    } else if (this.timer === null) {
      this.timer = setTimeout(() => void this.flush(), this.lingerMs - waited);
    }
  }

  private async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.flushing || this.queue.length === 0) return;
    this.flushing = true;
    const batch = this.takeBatch();
    try {
      await this.deliver(batch);
    } catch (err) {
      for (const item of batch) this.fail(item, err);
    } finally {
      this.flushing = false;
      if (this.queue.length > 0) this.schedule();
    }
  }

  /**
   * Up to maxBatchRecords records and maxRecordBytes bytes, whole records in queue order (one
   * publish() may span flushes); a record over the budget alone goes alone, to be refused.
   */
  private takeBatch(): Item[] {
    let count = 0;
    let bytes = 0;
    while (count < this.queue.length && count < this.maxBatchRecords) {
      const next = this.queue[count]!.bytes;
      if (count > 0 && bytes + next > this.maxRecordBytes) break;
      bytes += next;
      count++;
    }
    this.queuedBytes -= bytes;
    return this.queue.splice(0, count);
  }

  /**
   * Sends `items` until Kafka acknowledged them, each item settled (or refused and replaced).
   *
   * kafkajs gives up after its retry budget; an unwritable topic (fault F7) must not turn into a
   * lost event, so an outage is retried until it works or the publisher is closed. Callers that
   * have a deadline (receipts) race this promise with their own timer.
   *
   * A refusal (RECORD_REFUSED) is about some record(s) of the batch, and kafkajs reports only the
   * first failing partition of a request: the batch is halved until the refused record is alone.
   * The producer is replaced after a refusal (and on a producer-state error): the partitions of the same request that the broker
   * did write have had their sequence numbers rolled back by kafkajs, and the idempotent producer
   * would otherwise fail them with OUT_OF_ORDER_SEQUENCE_NUMBER. Their records are written again
   * (duplicates with the same eventId, which consumers drop; correlation entries are idempotent).
   */
  private async deliver(items: Item[]): Promise<void> {
    let refusal: PublishError | null = null;
    const known = this.tooLarge.empty ? -1 : items.findIndex((i) => (refusal = this.tooLarge.refusal(i.record.topic, i.bytes)) !== null);
    if (known >= 0 && refusal !== null) {
      // Around it in order, so a replacement lands where the refused record was. The refusal is
      // taken now: the learned limit may expire while the records before it are delivered.
      if (known > 0) await this.deliver(items.slice(0, known));
      await this.refuse(items[known]!, refusal);
      if (known + 1 < items.length) await this.deliver(items.slice(known + 1));
      return;
    }
    if (items.length === 1 && items[0]!.bytes > this.maxRecordBytes) {
      const item = items[0]!;
      const err = new PublishError(
        'RECORD_REFUSED',
        LOCAL_RECORD_TOO_LARGE,
        false,
        `record of ${item.bytes} bytes for ${item.record.topic} is over KAFKA_MAX_RECORD_BYTES (${this.maxRecordBytes})`,
      );
      return this.refuse(item, err);
    }
    const topicMessages = this.toTopicMessages(items);
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new Error('publisher closed before Kafka acknowledged the records');
      try {
        if (this.mustConnect) {
          await this.producer.connect();
          this.mustConnect = false;
        }
        await this.producer.sendBatch({ topicMessages, acks: -1, ...(this.compression !== undefined ? { compression: this.compression } : {}) });
        this.succeeded();
        for (const item of items) this.settle(item);
        return;
      } catch (err) {
        const e = classifyPublishError(err);
        this.failed(e);
        // A topic that refuses even a small record as too large is misconfigured (max.message.bytes
        // set far too low): an outage to wait out, or every event would be dead-lettered.
        const topicMisconfigured = items.length === 1 && isTopicMisconfigured(e, items[0]!.bytes);
        if (e.code === 'RECORD_REFUSED' && !topicMisconfigured) {
          await this.replaceProducer();
          if (items.length === 1) {
            this.tooLarge.learn(items[0]!.record.topic, items[0]!.bytes, e);
            return this.refuse(items[0]!, e);
          }
          const half = Math.ceil(items.length / 2);
          await this.deliver(items.slice(0, half));
          return this.deliver(items.slice(half));
        }
        if (e.code === 'PRODUCER_STATE') await this.replaceProducer();
        await new Promise((r) => setTimeout(r, backoffMs(attempt)));
      }
    }
  }

  /** The refused record is settled once its replacements (if any) are written, in its place. */
  private async refuse(item: Item, error: PublishError): Promise<void> {
    const replacements = this.refusalHandler(item.record, error);
    if (replacements.length > 0) {
      item.owner.unsettled += replacements.length;
      await this.deliver(replacements.map((record) => ({ record, bytes: recordBytes(record), owner: item.owner, settled: false })));
    }
    this.settle(item);
  }

  private async replaceProducer(): Promise<void> {
    const old = this.producer;
    this.producer = this.createProducer();
    this.mustConnect = true;
    try {
      await old.disconnect();
    } catch {
      // the old producer is dropped either way
    }
  }

  private succeeded(): void {
    this.lastAckAt = Date.now();
    this.lastError = null;
    if (this.authProblem) {
      this.authProblem = null;
      for (const wake of this.authWaiters.splice(0)) wake();
    }
  }

  private failed(e: PublishError): void {
    this.lastError = e;
    if (e.code === 'NOT_AUTHORIZED') this.authProblem = e;
  }

  private settle(item: Item): void {
    if (item.settled) return;
    item.settled = true;
    if (--item.owner.unsettled === 0 && !item.owner.failed) item.owner.resolve();
  }

  private fail(item: Item, err: unknown): void {
    if (item.settled || item.owner.failed) return;
    item.owner.failed = true;
    item.owner.reject(err);
  }

  /** Built once per (sub-)batch, so every retry sends the same records (the same bundle keys). */
  private toTopicMessages(items: Item[]): { topic: string; messages: Message[] }[] {
    const byTopic = new Map<string, Message[]>();
    const bundled: CorrelationEntry[] = [];
    for (const { record: r } of items) {
      if (r.topic === this.bundle?.topic) {
        bundled.push({ key: String(r.key), json: String(r.value), partition: r.partition });
        continue;
      }
      let list = byTopic.get(r.topic);
      if (!list) byTopic.set(r.topic, (list = []));
      list.push(encoderReadyMessage(r));
    }
    const topicMessages = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    // First in the request, as the entries were first in their batches: a consumer that sees an
    // event can then find its mapping.
    if (this.bundle && bundled.length > 0) topicMessages.unshift({ topic: this.bundle.topic, messages: this.bundle.bundler.pack(bundled) });
    return topicMessages;
  }

  /** Flushes what is queued (waiting up to `deadlineMs`), then disconnects. */
  async close(deadlineMs = 10000): Promise<void> {
    const until = Date.now() + deadlineMs;
    while ((this.queue.length > 0 || this.flushing) && Date.now() < until) {
      if (!this.flushing) void this.flush();
      await new Promise((r) => setTimeout(r, 20));
    }
    this.closed = true;
    await this.producer.disconnect();
  }
}

/**
 * A kafkajs message that already has the two fields kafkajs' record encoder adds to each message
 * (`{ ...message, offsetDelta, timestampDelta }`, produce/v3/request.js). V8 runs a spread followed
 * by new properties on a slow path — ~1.2 µs per record in a micro-benchmark, 3.5 % of the
 * connector's CPU in the end-to-end profile — and a spread that only overwrites existing fields on
 * the fast one (~0.15 µs). kafkajs overwrites both values; one shape for every message (headers and
 * partition present or undefined, which the encoder and the partitioner treat as absent) keeps its
 * call sites monomorphic.
 */
function encoderReadyMessage(r: OutRecord): Message {
  const message: Message & { offsetDelta: number; timestampDelta: number } = {
    key: r.key,
    value: r.value,
    headers: r.headers,
    partition: r.partition,
    offsetDelta: 0,
    timestampDelta: 0,
  };
  return message;
}
