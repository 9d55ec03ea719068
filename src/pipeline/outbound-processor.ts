/**
 * One `sms.outbound` record from bytes to its events: decode → validate/plan → (expired?) →
 * replay check → submit each segment → SUBMITTED / REJECTED / EXPIRED (+ SUMMARY when final).
 *
 * `process()` resolves in two steps: first when the record is done with the SMSC (every segment
 * answered, or none needed), with `acked`, which resolves once every event of the record was
 * acknowledged by Kafka. The consumer lets the next records of the key go at the first step and
 * marks the offset finished (commit rule) at the second: waiting for Kafka's ack before fetching
 * more cost every record a produce round trip plus the linger of its batch (p50 ~55 ms).
 * An outage (registry, Kafka, no session, account) makes it wait, never fail; only an abort
 * (rebalance, shutdown) ends it early, and then the record stays uncommitted.
 */
import type { SmsDeliveryEvent, SmsOutbound } from '../contracts.js';
import type { Logger } from '../obs/logger.js';
import type { MessagePlan, Segment } from '../sms/plan.js';
import type { SubmitParams } from '../smpp/protocol/types.js';
import {
  finalKey,
  inPartition,
  messageEntryOf,
  messageKey,
  requestKey,
  snapshotWithFacts,
  toHome,
  type CorrelationIndex,
  type MessageEntry,
  type RequestRecord,
} from './correlation-index.js';
import { DecoderUnavailableError, decoderRetryDelayMs, UndecodableRecordError } from './decode-errors.js';
import * as ev from './events.js';
import { DEFAULT_REQUEST_BOUNDS, echoFacts, type RequestBounds } from './request-bounds.js';
import { judgeRequest } from './request-verdict.js';
import { sleep } from './sleep.js';
import { routeRequest, type RoutingRule } from '../routing/rules.js';
import { correlationId, routeOf, smscMessageId } from './route-ids.js';
import { submitRouted, type RouteAffinity, type RouteDirectory, type RoutedOutcome } from './routed-submit.js';
import type { SessionAffinity } from './submit-loop.js';

export interface InboundRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: string;
  /** The record's own headers (trace ids, redrive counts): kept when it goes to the DLQ. */
  headers?: Record<string, Buffer | string>;
}

export interface CorrelationWrite {
  key: string;
  value: unknown;
  /** The correlation partition it belongs to; unset: the one its key hashes to. */
  partition?: number;
}

/** Where events go; every method resolves once Kafka acknowledged (acks=all). */
export interface EventSink {
  publish(events: SmsDeliveryEvent[], correlation?: CorrelationWrite[]): Promise<void>;
  deadLetter(record: InboundRecord, error: UndecodableRecordError): Promise<void>;
  /**
   * Null while events can be written; a promise while Kafka refuses our writes for credentials or
   * ACLs, resolving when it takes them again. Intake waits on it: no request goes to the SMSC
   * while its events could not be published.
   */
  whenWritable?(signal: AbortSignal): Promise<void> | null;
}

/** A record done with the SMSC; `acked` resolves when Kafka acknowledged all its events. */
export interface Processed {
  acked: Promise<void>;
}

const done = (acked: Promise<void>): Processed => ({ acked });

/**
 * Done once every publish is acked. A module function, not a closure per request: under tsx a
 * named closure is wrapped in a `__name` call (defineProperty) each time it is created.
 */
function allPublished(publishes: Promise<void>[]): Processed {
  return done(Promise.all(publishes).then(() => undefined));
}

/** Turns a record's value into a request; fails only with the errors of decode-errors.ts (else it is a bug, logged and retried). */
export interface OutboundDecoder {
  decodeOutbound(value: Buffer | null): Promise<SmsOutbound>;
  /** Optional synchronous path: the decoded value, or undefined to take `decodeOutbound`. */
  decodeOutboundKnown?(value: Buffer | null): SmsOutbound | undefined;
}

export interface ProcessorObserver {
  poison?(code: string): void;
  decoded?(): void;
  decoderUnavailable?(err: DecoderUnavailableError): void;
  validationRejected?(field: string): void;
  expired?(): void;
  replayed?(segmentsSkipped: number): void;
}

export interface OutboundProcessorDeps {
  decoder: OutboundDecoder;
  sink: EventSink;
  index: CorrelationIndex;
  /** The routes (their sessions, accounts and health) and the rules that pick among them. */
  routing: { directory: RouteDirectory; rules: readonly RoutingRule[] };
  maxSegments: number;
  /** Size bounds on the request's fields (REQUEST_MAX_*); default DEFAULT_REQUEST_BOUNDS. */
  bounds?: RequestBounds;
  receiptWaitMs: number;
  /** The correlation partition of a record's request (its home, RequestRecord.home); unset: entries go where their keys hash. */
  homeOf?: (record: InboundRecord) => number;
  /** The correlation partition of a segment's `m:` entry: where its correlation id hashes; unset: where the entry's key hashes. */
  messagePartitionOf?: (correlationId: string) => number;
  now: () => number;
  logger: Logger;
  observer?: ProcessorObserver;
}

export class OutboundProcessor {
  constructor(private readonly deps: OutboundProcessorDeps) {}

  async process(record: InboundRecord, signal: AbortSignal): Promise<Processed> {
    const writable = this.deps.sink.whenWritable?.(signal);
    if (writable) await writable;
    const known = this.deps.decoder.decodeOutboundKnown?.(record.value);
    if (known) this.deps.observer?.decoded?.();
    const request = known ?? (await this.decode(record, signal));
    if (request === 'dead-lettered') return done(Promise.resolve());
    const bounds = this.deps.bounds ?? DEFAULT_REQUEST_BOUNDS;
    const now = this.deps.now();
    const verdict = judgeRequest(request, { bounds, maxSegments: this.deps.maxSegments, referenceNumber: referenceFor(request.id), now });
    if (verdict.kind === 'oversized') return this.rejectOversized(request, bounds, verdict, record);
    const facts: ev.RequestFacts = { id: request.id, from: request.from, to: request.to, segments: 0, metadata: request.metadata, route: null };
    if (verdict.kind === 'expired') {
      this.deps.observer?.expired?.();
      return this.publishFinal([ev.expiredBeforeSend(facts, verdict.validUntil, 0, now)], facts, 'EXPIRED', 'never sent: validity passed');
    }
    if (verdict.kind === 'invalid') {
      this.deps.observer?.validationRejected?.(verdict.field);
      this.deps.logger.debug({ requestId: request.id, field: verdict.field, to: request.to, from: request.from }, 'request rejected by validation');
      const reason = `${verdict.field}: ${verdict.reason}`;
      return this.publishFinal([ev.validationRejected(facts, reason, now)], facts, 'REJECTED', reason, 'VALIDATION');
    }
    const key = record.key?.toString('utf8') ?? request.id;
    return this.submitAll(request, verdict.plan, key, this.deps.homeOf?.(record), signal);
  }

  /**
   * A field over its bound: REJECTED (VALIDATION) naming it, with an echo shortened so the events
   * fit (request-bounds.ts says how analysts find the original). Checked before the expiry and
   * before any parsing of the fields.
   */
  private rejectOversized(request: SmsOutbound, bounds: RequestBounds, bounded: { field: string; reason: string }, record: InboundRecord): Processed {
    const echo = echoFacts(request, bounds, `${record.topic}/${record.partition}/${record.offset}`);
    const facts: ev.RequestFacts = { id: echo.id, from: echo.from, to: echo.to, segments: 0, metadata: { ...echo.metadata }, route: null };
    this.deps.observer?.validationRejected?.(bounded.field);
    this.deps.logger.debug(
      { requestId: echo.id, field: bounded.field, record: `${record.topic}/${record.partition}/${record.offset}` },
      'request rejected: field over its bound',
    );
    const reason = `${bounded.field}: ${bounded.reason}`;
    return this.publishFinal([ev.validationRejected(facts, reason, this.deps.now())], facts, 'REJECTED', reason, 'VALIDATION');
  }

  private publishFinal(events: SmsDeliveryEvent[], facts: ev.RequestFacts, status: 'EXPIRED' | 'REJECTED', description: string, category?: string): Processed {
    const now = this.deps.now();
    events.push(ev.summary(facts, [], events[0]?.attempts ?? 0, now, { status, description, category: category ?? events[0]?.errorCategory ?? null }));
    return done(this.deps.sink.publish(events));
  }

  /** Decodes, waiting out a decoder that is unavailable; an undecodable record goes to the DLQ (exactly once per record). */
  private async decode(record: InboundRecord, signal: AbortSignal): Promise<SmsOutbound | 'dead-lettered'> {
    for (let attempt = 1; ; attempt++) {
      try {
        const value = await this.deps.decoder.decodeOutbound(record.value);
        this.deps.observer?.decoded?.();
        return value;
      } catch (err) {
        if (err instanceof UndecodableRecordError) {
          this.deps.observer?.poison?.(err.code);
          this.deps.logger.warn(
            { topic: record.topic, partition: record.partition, offset: record.offset, code: err.code, reason: err.message },
            'poison record sent to the DLQ',
          );
          await this.deps.sink.deadLetter(record, err);
          return 'dead-lettered';
        }
        if (!(err instanceof DecoderUnavailableError)) {
          this.deps.logger.error({ err, partition: record.partition, offset: record.offset }, 'unexpected decode failure; retrying');
        } else {
          this.deps.observer?.decoderUnavailable?.(err);
          // Today the schema registry is the only thing a decoder waits for (f17 counts this line).
          if (attempt === 1) this.deps.logger.warn({ code: err.code, reason: err.message }, 'schema registry unavailable; waiting');
        }
        await sleep(decoderRetryDelayMs(attempt), signal);
      }
    }
  }

  private async submitAll(request: SmsOutbound, plan: MessagePlan, key: string, home: number | undefined, signal: AbortSignal): Promise<Processed> {
    const segments = plan.segments.length;
    const facts: ev.RequestFacts = {
      id: request.id,
      from: plan.source.addr,
      to: plan.destination.addr,
      segments,
      metadata: request.metadata,
      route: null,
    };
    const prior = this.deps.index.request(request.id);
    // A replay keeps the record's home as it was first written (none before homes existed): its
    // snapshots must stay in one partition, in order. A one-segment snapshot is stored without its
    // facts: the record decoded again has them.
    const rec: RequestRecord =
      prior && prior.segments === segments
        ? snapshotOf(snapshotWithFacts(prior, facts))
        : newRecord(request, facts, this.deps.now(), this.deps.receiptWaitMs, home);
    const { directory, rules } = this.deps.routing;
    const decision = routeRequest(rules, { id: request.id, to: plan.destination.addr, from: request.from, metadata: request.metadata });
    // Events of earlier segments are published while the next segment goes out; the record's
    // `acked` waits for all of them (the publisher keeps their order).
    const publishes: Promise<void>[] = [];
    // A request with a segment already accepted (a replay) stays on the route that took it — unless
    // that route is no longer configured (a changed routes file): then it is sent again, whole.
    if (rec.messageIds.some((m) => m !== null) && !directory.knows(routeOf(rec))) {
      this.deps.logger.warn({ requestId: rec.id, route: routeOf(rec) }, 'replayed request names a route no longer configured: it is sent again, whole');
      publishes.push(this.forgetRoute(rec));
    }
    const pinned: RouteAffinity = rec.messageIds.some((m) => m !== null) ? { route: routeOf(rec) } : {};
    if (pinned.route !== undefined) facts.route = pinned.route;
    let skipped = 0;
    // Every segment of a concatenated message on the session that took the first one (see SessionAffinity).
    const affinity: SessionAffinity | undefined = segments > 1 ? {} : undefined;
    for (let i = 0; i < plan.segments.length; i++) {
      const segment = plan.segments[i]!;
      const known = rec.messageIds[segment.seq - 1];
      if (known) {
        // Replay after a crash: the SMSC already has this segment. Re-emit the same SUBMITTED
        // event (same eventId: consumers drop the copy) instead of sending it again, and with the
        // first one the snapshot: the store keeps it across a restart, but its publish may never
        // have been acknowledged, and other replicas learn the message id only from the topic.
        skipped++;
        const message = this.messageWrite(rec, segment.seq, known);
        // Applied here too when missing: read back, this process's own copy is skipped.
        if (segments === 1) this.deps.index.applyReplayedSubject(known, message.value as MessageEntry);
        const writes = [message];
        if (skipped === 1) writes.unshift(snapshotWrite(snapshotOf(rec)));
        // And its final, when it has one: a reader of the republished `m:` that never read that final
        // (a fresh restore whose window starts between the two) would make the request wait again.
        // It goes where the receipt path writes it (`toHome` of the request the id correlates with).
        const ref = this.deps.index.segmentOf(known);
        const final = ref && this.deps.index.final(known);
        if (final) writes.push({ key: finalKey(known), value: final, ...toHome(ref.request) });
        const smscId = smscMessageId(routeOf(rec), known);
        publishes.push(this.deps.sink.publish([ev.submitted(facts, segment.seq, smscId, rec.attempts, rec.submittedAt, this.deps.now())], writes));
        continue;
      }
      const outcome = await submitRouted(directory, decision.routes, key, submitParams(plan, segment), request.validUntil, signal, pinned, affinity);
      if (outcome.kind === 'route-lost') {
        // Its route stopped taking traffic mid-message while another can: the parts it took can
        // never be completed there, so the message goes again, whole, on another route (its first
        // parts are reported SUBMITTED twice, once per route; design.md §5.7).
        this.deps.logger.warn(
          { requestId: rec.id, route: outcome.route, partsAccepted: rec.messageIds.filter((m) => m !== null).length, segments },
          'route lost mid-message: the message is sent again, whole, on another route',
        );
        publishes.push(this.forgetRoute(rec));
        pinned.route = undefined;
        facts.route = null;
        if (affinity) affinity.sessionId = undefined;
        i = -1;
        continue;
      }
      const now = this.deps.now();
      if (outcome.kind === 'accepted') {
        // the message stays on this route: its later segments, and any replay of it
        pinned.route = outcome.route;
        facts.route = outcome.route;
        rec.route = outcome.route;
        rec.messageIds[segment.seq - 1] = outcome.messageId === null ? null : correlationId(outcome.route, outcome.messageId);
        rec.attempts = Math.max(rec.attempts, outcome.attempts);
        if (segment.seq === 1 || rec.submittedAt === 0) rec.submittedAt = outcome.submittedAt;
        // Guarded: the fields object would be built for every segment even with debug off.
        if (this.deps.logger.isLevelEnabled('debug')) {
          this.deps.logger.debug(
            { requestId: rec.id, segment: segment.seq, segments, to: facts.to, messageId: outcome.messageId, attempts: outcome.attempts, route: outcome.route },
            'segment submitted',
          );
        }
        // Apply locally first: a receipt can overtake the correlation record's round trip. A
        // one-segment request's `m:` entry first: its subject then knows its partition.
        const snapshot = snapshotOf(rec);
        const accepted = snapshot.messageIds[segment.seq - 1];
        const message = accepted ? this.messageWrite(snapshot, segment.seq, accepted) : null;
        if (accepted && message && segments === 1) this.deps.index.applyNewSubject(accepted, message.value as MessageEntry);
        this.deps.index.applyOwnSnapshot(snapshot);
        const writes = [snapshotWrite(snapshot), ...(message ? [message] : [])];
        publishes.push(this.deps.sink.publish([ev.submitted(facts, segment.seq, outcome.messageId ?? '', outcome.attempts, outcome.submittedAt, now)], writes));
        continue;
      }
      this.deps.logger.debug(
        { requestId: rec.id, segment: segment.seq, to: facts.to, outcome: outcome.kind, code: outcome.kind === 'rejected' ? outcome.status.hex : null },
        'segment not submitted',
      );
      // Rejected or expired: the remaining segments are not sent (a partial concatenated SMS is
      // useless to the recipient); each gets its own event so the sequence stays complete.
      // the route that refused it, or that it waited on until its validity ran out
      facts.route = outcome.route;
      publishes.push(this.finishUnsent(facts, plan, segment.seq, outcome, request.validUntil ?? now));
      return allPublished(publishes);
    }
    if (skipped > 0) this.deps.observer?.replayed?.(skipped);
    if (!request.requestDeliveryReport) {
      publishes.push(
        this.deps.sink.publish([
          ev.summary(facts, [], rec.attempts, this.deps.now(), { status: 'SUBMITTED', description: 'submitted; no delivery report requested' }),
        ]),
      );
    }
    return allPublished(publishes);
  }

  /**
   * The record as if nothing of it had been sent: its message goes again, whole, on another route.
   * The `m:` entries of the ids it leaves get tombstones (here and in the topic), so a reader of
   * their partitions drops what they made — a one-segment request's would otherwise wait for a
   * receipt that can no longer come, and be summarised UNKNOWN at its deadline.
   */
  private forgetRoute(rec: RequestRecord): Promise<void> {
    const left = rec.messageIds.filter((m): m is string => m !== null);
    rec.messageIds.fill(null);
    delete rec.route;
    const tombstones = left.map((m) => ({ key: messageKey(m), value: null, ...inPartition(this.deps.messagePartitionOf?.(m)) }));
    for (const t of tombstones) this.deps.index.apply(t.key, null);
    return tombstones.length === 0 ? Promise.resolve() : this.deps.sink.publish([], tombstones);
  }

  /** The `m:` entry of an accepted segment, to the partition its correlation id hashes to. */
  private messageWrite(rec: RequestRecord, segment: number, correlationId: string): CorrelationWrite {
    const partition = this.deps.messagePartitionOf?.(correlationId);
    return { key: messageKey(correlationId), value: messageEntryOf(rec, segment, partition), ...inPartition(partition) };
  }

  private finishUnsent(
    facts: ev.RequestFacts,
    plan: MessagePlan,
    fromSeq: number,
    outcome: Exclude<RoutedOutcome, { kind: 'accepted' | 'route-lost' }>,
    validUntil: number,
  ): Promise<void> {
    const now = this.deps.now();
    const events: SmsDeliveryEvent[] = [];
    const sentBefore = fromSeq - 1;
    if (outcome.kind === 'expired') {
      this.deps.observer?.expired?.();
      events.push(ev.expiredBeforeSend(facts, validUntil, outcome.attempts, now));
    } else {
      for (let seq = fromSeq; seq <= plan.segments.length; seq++) {
        const note = seq === fromSeq ? outcome.note : `not sent: segment ${fromSeq} was rejected`;
        events.push(ev.submitRejected(facts, seq, outcome.status, seq === fromSeq ? outcome.attempts : 0, now, note));
      }
    }
    const status = outcome.kind === 'expired' ? 'EXPIRED' : 'REJECTED';
    const description =
      sentBefore === 0
        ? status === 'EXPIRED'
          ? 'never sent: validity passed'
          : `rejected at submit: ${events[0]!.errorDescription}`
        : `${sentBefore} of ${plan.segments.length} segments submitted; the rest ${status === 'EXPIRED' ? 'expired' : 'were rejected'}`;
    events.push(
      ev.summary(facts, [], outcome.attempts, now, {
        status: sentBefore === 0 ? status : 'UNDELIVERED',
        description,
        category: events[0]!.errorCategory,
      }),
    );
    return this.deps.sink.publish(events);
  }
}

/** A copy of the record as it stands: the one being built keeps changing as segments go out. */
function snapshotOf(rec: RequestRecord): RequestRecord {
  return { ...rec, messageIds: [...rec.messageIds] };
}

/** The `r:` entry of a snapshot, to its home partition. */
function snapshotWrite(rec: RequestRecord): CorrelationWrite {
  return { key: requestKey(rec.id), value: rec, ...toHome(rec) };
}

function newRecord(request: SmsOutbound, facts: ev.RequestFacts, now: number, receiptWaitMs: number, home: number | undefined): RequestRecord {
  const rec: RequestRecord = {
    v: 1,
    id: request.id,
    from: facts.from,
    to: facts.to,
    metadata: request.metadata,
    segments: facts.segments,
    messageIds: new Array<string | null>(facts.segments).fill(null),
    attempts: 0,
    submittedAt: 0,
    receipts: request.requestDeliveryReport,
    receiptDeadline: request.validUntil ?? now + receiptWaitMs,
  };
  if (home !== undefined) rec.home = home;
  rec.messageEntries = true;
  return rec;
}

function submitParams(plan: MessagePlan, segment: Segment): SubmitParams {
  return {
    sourceAddr: plan.source.addr,
    sourceAddrTon: plan.source.ton,
    sourceAddrNpi: plan.source.npi,
    destinationAddr: plan.destination.addr,
    destAddrTon: plan.destination.ton,
    destAddrNpi: plan.destination.npi,
    dataCoding: plan.dataCoding,
    esmClass: segment.esmClass,
    registeredDelivery: plan.registeredDelivery,
    shortMessage: segment.shortMessage,
    scheduleDeliveryTime: plan.scheduleDeliveryTime,
    validityPeriod: plan.validityPeriod,
  };
}

/** The UDH concatenation reference: stable per request id, so a resend uses the same one. */
export function referenceFor(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) | 0;
  return h & 0xff;
}
