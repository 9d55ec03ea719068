/**
 * Publishes records with acks=all through one idempotent producer, in micro-batches.
 *
 * Why batch by hand: every submit result and receipt is one small record, and a produce request
 * per record caps throughput at one round trip each (the idempotent producer allows one request in
 * flight). Callers `await publish(...)`; the promise resolves only once Kafka acknowledged the
 * record (acks=all), which is what the commit rule and the receipt-ack rule wait for.
 */
import type { Kafka, Message, Producer } from 'kafkajs';
import type { CorrelationBundler } from './correlation-bundle.js';
import { KeyHashPartitioner } from './partitioner.js';

export interface OutRecord {
  topic: string;
  key: string | Buffer | null;
  /** A string only for the bundled topic (an entry's JSON); bytes everywhere else. */
  value: Buffer | string | null;
  headers?: Record<string, string | Buffer>;
}

interface Pending {
  records: OutRecord[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface PublisherOptions {
  /** Flush when this many records are queued. */
  maxBatchRecords?: number;
  /**
   * Flush at most this long after the first queued record. Measured (BENCHMARKS.md): the broker's
   * cost is per produce request, so on a 2-core machine 2 ms → 10 ms raised end-to-end throughput
   * ~30 % and halved the broker's CPU per message; sending as soon as the previous request
   * returned made it worse (many small requests).
   */
  lingerMs?: number;
  /** Records for this topic are packed into bundles at each flush (see correlation-bundle.ts). */
  bundle?: { topic: string; bundler: CorrelationBundler };
}

export class Publisher {
  private readonly producer: Producer;
  private queue: Pending[] = [];
  private queuedRecords = 0;
  /** When the oldest queued record arrived: the linger counts from there, not from the last flush. */
  private oldestQueuedAt = 0;
  private flushing = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly maxBatchRecords: number;
  private readonly lingerMs: number;
  private readonly bundle: PublisherOptions['bundle'];
  private lastAckAt = 0;
  private lastError: unknown = null;
  private connected = false;

  constructor(kafka: Kafka, options: PublisherOptions = {}) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: KeyHashPartitioner,
    });
    this.maxBatchRecords = options.maxBatchRecords ?? 1000;
    this.lingerMs = options.lingerMs ?? 10;
    this.bundle = options.bundle;
    this.producer.on(this.producer.events.DISCONNECT, () => {
      this.connected = false;
    });
    this.producer.on(this.producer.events.CONNECT, () => {
      this.connected = true;
    });
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    this.connected = true;
  }

  /** Resolves when every record is acknowledged by all in-sync replicas. */
  publish(records: OutRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      if (this.queue.length === 0) this.oldestQueuedAt = Date.now();
      this.queue.push({ records, resolve, reject });
      this.queuedRecords += records.length;
      this.schedule();
    });
  }

  /** Producer health for readiness: connected and not stuck behind a failing send. */
  healthy(now = Date.now()): boolean {
    if (!this.connected) return false;
    return !(this.flushing && this.lastError !== null && now - this.lastAckAt > 10000);
  }

  get pendingRecords(): number {
    return this.queuedRecords;
  }

  private schedule(): void {
    if (this.flushing) return;
    // Records that queued up while the previous request was in flight have already lingered:
    // waiting a full linger again after each flush added up to one linger to every record's latency.
    const waited = Date.now() - this.oldestQueuedAt;
    if (this.queuedRecords >= this.maxBatchRecords || waited >= this.lingerMs) {
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
      await this.sendWithRetry(batch);
      for (const p of batch) p.resolve();
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.flushing = false;
      if (this.queue.length > 0) this.schedule();
    }
  }

  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    let count = 0;
    while (this.queue.length > 0 && (count === 0 || count + this.queue[0]!.records.length <= this.maxBatchRecords)) {
      const p = this.queue.shift()!;
      count += p.records.length;
      batch.push(p);
    }
    this.queuedRecords -= count;
    return batch;
  }

  /**
   * kafkajs gives up after its retry budget; an unwritable topic (fault F7) must not turn into a
   * lost event, so keep trying until it works or the publisher is closed. Callers that have a
   * deadline (receipts) race this promise with their own timer.
   */
  private async sendWithRetry(batch: Pending[]): Promise<void> {
    const topicMessages = this.toTopicMessages(batch);
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new Error('publisher closed before Kafka acknowledged the records');
      try {
        await this.producer.sendBatch({ topicMessages, acks: -1 });
        this.lastAckAt = Date.now();
        this.lastError = null;
        return;
      } catch (err) {
        this.lastError = err;
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** Math.min(attempt, 5))));
      }
    }
  }

  /** Built once per flush, so every retry sends the same records (the same bundle keys). */
  private toTopicMessages(batch: Pending[]): { topic: string; messages: Message[] }[] {
    const byTopic = new Map<string, Message[]>();
    const bundled: { key: string; json: string }[] = [];
    for (const p of batch) {
      for (const r of p.records) {
        if (r.topic === this.bundle?.topic) {
          bundled.push({ key: String(r.key), json: String(r.value) });
          continue;
        }
        let list = byTopic.get(r.topic);
        if (!list) byTopic.set(r.topic, (list = []));
        list.push(encoderReadyMessage(r));
      }
    }
    const topicMessages = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    // First in the request, as the entries were first in their batches: a consumer that sees an
    // event can then find its mapping.
    if (this.bundle && bundled.length > 0) topicMessages.unshift({ topic: this.bundle.topic, messages: this.bundle.bundler.pack(bundled) });
    return topicMessages;
  }

  private closed = false;

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
 * the fast one (~0.15 µs). kafkajs overwrites both values; one shape for every message (headers
 * present or undefined, which the encoder defaults to none) keeps its call sites monomorphic.
 */
function encoderReadyMessage(r: OutRecord): Message {
  const message: Message & { offsetDelta: number; timestampDelta: number } = {
    key: r.key,
    value: r.value,
    headers: r.headers,
    offsetDelta: 0,
    timestampDelta: 0,
  };
  return message;
}
