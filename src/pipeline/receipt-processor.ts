/**
 * deliver_sm → event on `sms.delivery` (receipts) or `TOPIC_INBOUND` (mobile-originated), and the
 * command_status for deliver_sm_resp.
 *
 * Receipts are acknowledged (status 0) only after their event is acked by Kafka — and, when
 * receipts are logged as received (RECEIPTS_LOG=all, receipt-log.ts), after that record is too; past
 * RECEIPT_ACK_WAIT_MS we answer 0x64 (temporary) so the SMSC re-sends later instead of unbinding
 * us. The event's id is deterministic, so a re-sent receipt whose first publish did land is
 * recognised (recently published ids) and only acknowledged (the log keeps every copy received).
 *
 * With partitioned ownership (CORRELATION_OWNERSHIP=partitioned, issue 20) a receipt whose message
 * id's partition belongs to another replica is not correlated here: it is appended to the receipts
 * topic in that partition and answered once appended. The replica owning the partition reads it
 * there (receipt-owner.ts) and handles it through `forwarded`, as if it had arrived on its own bind.
 */
import { createHash } from 'node:crypto';
import type { SmsDeliveryEvent, SmsInbound } from '../contracts.js';
import type { Logger } from '../obs/logger.js';
import { classifyDeliverSm, parseReceipt, type DeliverSmInput, type Receipt } from '../smpp/protocol/dlr.js';
import { DELIVER_SM_RESP_TEMPORARY, type DeliverSm } from '../smpp/protocol/types.js';
import { decodeGsm7 } from '../sms/gsm7.js';
import { decodeUcs2 } from '../sms/plan.js';
import { finalKey, toHome, type CorrelationIndex, type FinalRecord, type RequestRecord, type SegmentRef } from './correlation-index.js';
import * as ev from './events.js';
import type { CorrelationWrite } from './outbound-processor.js';
import { OldestFirst } from './oldest-first.js';
import { deliverSmOf, loggedReceiptOf, type LoggedReceipt } from './receipt-log.js';
import { correlationId, DEFAULT_ROUTE } from './route-ids.js';
import { factsOf, summaryMarked } from './summary.js';

/** What the DLQ keeps of a receipt that cannot be parsed: its raw body and the fields that place it. */
export type UnparseableReceipt = Pick<DeliverSm, 'sessionId' | 'esmClass' | 'dataCoding' | 'shortMessage' | 'receiptedMessageId' | 'messageState'>;

export interface ReceiptSink {
  publish(events: SmsDeliveryEvent[], correlation?: CorrelationWrite[]): Promise<void>;
  /** An unparseable receipt: raw deliver_sm body to the DLQ (`__connect.errors.topic=smpp`). */
  deadLetterReceipt(d: UnparseableReceipt, reason: string): Promise<void>;
  /** null when TOPIC_INBOUND is not set: MO messages are then only answered and counted. */
  publishInbound: ((m: SmsInbound) => Promise<void>) | null;
  /** Writes a parsed receipt as received, keyed by its correlation id; null/absent: receipts are not logged. */
  logReceipt?: ((correlationId: string, receipt: LoggedReceipt) => Promise<void>) | null;
  /**
   * Hands a receipt to the replica owning it (the receipts topic): in its correlation id's
   * partition, or in `partition` (a multipart request's home); null/absent: never forwarded.
   */
  forwardReceipt?: ((correlationId: string, receipt: LoggedReceipt, partition?: number) => Promise<void>) | null;
}

export interface ReceiptObserver {
  receipt?(event: SmsDeliveryEvent, correlated: 'hit' | 'late_hit' | 'miss'): void;
  finalLatency?(status: string, seconds: number): void;
  inbound?(): void;
  unparseable?(): void;
  duplicate?(): void;
}

export interface ReceiptProcessorDeps {
  index: CorrelationIndex;
  sink: ReceiptSink;
  ackWaitMs: number;
  /** How long a receipt may wait for its message id to appear (receipt before submit_sm_resp). */
  matchWaitMs: number;
  now: () => number;
  logger: Logger;
  observer?: ReceiptObserver;
  /** Partitioned ownership: which receipts this replica handles itself; absent: every one. */
  ownership?: ReceiptOwnership;
}

/**
 * Which receipts a replica handles with partitioned ownership: those whose correlation id hashes
 * into one of its partitions — except a multipart request's, which its home's owner handles, since
 * it alone holds the request's snapshot and sees every segment's final (so it alone decides the
 * summary).
 */
export interface ReceiptOwnership {
  handlesMessage(correlationId: string): boolean;
  /** The correlation partition a request's entries live in, and whether this replica owns it. */
  homeOf(request: HomedRequest): { partition: number; here: boolean };
  /** The correlation partition a correlation id's `m:` entry lives in. */
  messagePartition(correlationId: string): number;
  /** Resolves true once this replica has read `partition` up to now; false when it does not hold it or could not. */
  caughtUp(partition: number): Promise<boolean>;
}

/**
 * How a receipt finds its segment: at once, after waiting for its message id, or not at all —
 * and, not found, the multipart request its `m:` entry names when that request's snapshot is not
 * here (its home is another partition).
 */
type Lookup = (correlationId: string) => Promise<{ ref: SegmentRef | undefined; correlated: 'hit' | 'late_hit' | 'miss'; elsewhere?: HomedRequest }>;

/** What names a request's home partition. */
type HomedRequest = Pick<RequestRecord, 'id' | 'home'>;

/** A forwarded record that is not a receipt this version can read: skipped, not retried. */
export class UnreadableReceiptError extends Error {
  override readonly name = 'UnreadableReceiptError';
}

const RECENT_IDS = 50_000;

export class ReceiptProcessor {
  private readonly recent = new Set<string>();
  private readonly publishing = new Map<string, Promise<void>>();
  /** Forwards waiting for their append, by what makes their event (`forward`): a re-send joins its first copy. */
  private readonly forwarding = new Map<string, Promise<void>>();
  /** Multipart requests with a final segment handled here, waiting for segments reported elsewhere. */
  private readonly awaitingOthers = new Set<string>();
  private readonly oldestRecent = new OldestFirst(() => this.recent.values());
  private readonly oldestAwaiting = new OldestFirst(() => this.awaitingOthers.values());

  constructor(private readonly deps: ReceiptProcessorDeps) {}

  /**
   * The deliver_sm handler of a route's sessions: resolves with the deliver_sm_resp status. The
   * route qualifies the receipt's message id: two providers' ids may collide (route-ids.ts).
   */
  handlerFor(route: string): (d: DeliverSm) => Promise<number> {
    return (d) => {
      const kind = classifyDeliverSm(d.esmClass);
      const work = kind === 'receipt' || kind === 'intermediate' ? this.receipt(d, route) : this.inbound(d);
      return withDeadline(work, this.deps.ackWaitMs, DELIVER_SM_RESP_TEMPORARY);
    };
  }

  /** The handler of the route `default` (tests, and a connector without routes). */
  handle = this.handlerFor(DEFAULT_ROUTE);

  private async receipt(d: DeliverSm, route: string): Promise<number> {
    const parsed = parseReceipt({ esmClass: d.esmClass, shortMessage: d.shortMessage, tlvs: receiptTlvs(d) });
    if (!parsed.ok) {
      this.deps.observer?.unparseable?.();
      this.deps.logger.warn({ sessionId: d.sessionId, reason: parsed.reason }, 'unparseable receipt sent to the DLQ');
      await this.deps.sink.deadLetterReceipt(d, parsed.reason);
      return 0;
    }
    const r = parsed.receipt;
    const id = correlationId(route, r.messageId);
    const forward = this.deps.sink.forwardReceipt;
    if (forward && this.deps.ownership && !this.deps.ownership.handlesMessage(id)) return this.forward(forward, id, r, d, route);
    const lookup = this.localLookup;
    const log = this.deps.sink.logReceipt;
    if (!log) return this.correlate(r, id, d, route, lookup, undefined);
    // Both awaited at once: a failed log write must not go unhandled while the events are published.
    const [status] = await Promise.all([this.correlate(r, id, d, route, lookup, undefined), log(id, loggedReceiptOf(d, route))]);
    return status;
  }

  /** A receipt received here: its message id may still be on its way (receipt before submit_sm_resp). */
  private readonly localLookup: Lookup = async (id) => {
    const ref = this.deps.index.segmentOf(id);
    if (ref) return { ref, correlated: 'hit' };
    const known = this.elsewhere(id, undefined);
    if (known.elsewhere) return { ref: undefined, correlated: 'miss', ...known };
    const waited = await this.deps.index.waitForMessageId(id, this.deps.matchWaitMs, this.isElsewhere(id, undefined));
    if (waited) return { ref: waited, correlated: 'late_hit' };
    const pointed = this.elsewhere(id, undefined);
    if (pointed.elsewhere) return { ref: undefined, correlated: 'miss', ...pointed };
    const late = await this.afterCatchUp(id);
    if (late) return { ref: late, correlated: 'late_hit' };
    return { ref: undefined, correlated: 'miss', ...this.elsewhere(id, undefined) };
  };

  /** Ends a wait for a message id once its `m:` entry names a request another replica handles. */
  private isElsewhere(id: string, readFrom: number | undefined): (() => boolean) | undefined {
    return this.deps.ownership ? () => this.elsewhere(id, readFrom).elsewhere !== undefined : undefined;
  }

  /**
   * Partitioned ownership: a receipt still unmatched is called unknown only once its partition is
   * read up to now — a replica holds only its share, and one gained a moment ago may still be
   * restoring. Not held, or not caught up: rejected, and the SMSC is answered "try later".
   */
  private async afterCatchUp(id: string): Promise<SegmentRef | undefined> {
    const ownership = this.deps.ownership;
    if (!ownership) return undefined;
    // A multipart request's `m:` entry is here but not its snapshot: that lies in its home.
    const pending = this.deps.index.pendingRequestOf(id);
    const partitions = [ownership.messagePartition(id), ...(pending ? [ownership.homeOf(pending).partition] : [])];
    for (const partition of new Set(partitions))
      if (!(await ownership.caughtUp(partition))) throw new Error(`correlation partition ${partition} not held or not caught up for ${id}; answered try later`);
    return this.deps.index.segmentOf(id);
  }

  /** Not found here, but its `m:` entry names a multipart request whose home another replica owns: that one handles it. */
  private elsewhere(id: string, readFrom: number | undefined): { elsewhere?: HomedRequest } {
    const pending = this.deps.ownership ? this.deps.index.pendingRequestOf(id) : undefined;
    return pending && !this.handlesHome(pending, readFrom) ? { elsewhere: pending } : {};
  }

  /**
   * Whether this replica handles a multipart request's receipts: it owns the request's home — or
   * the receipt was read from that home's partition of the receipts topic, so this replica follows
   * it (during a rebalance the assignment can say otherwise for a moment: passing it on would send
   * it back to this same partition).
   */
  private handlesHome(request: HomedRequest, readFrom: number | undefined): boolean {
    const home = this.deps.ownership?.homeOf(request);
    return !home || home.here || home.partition === readFrom;
  }

  /**
   * To the replica owning its correlation id, through the receipts topic; answered once appended.
   * A re-send while the first copy's append waits joins it — a re-send is what would make the same
   * event: the same id, state, error and done date (a state carried in a TLV is not in the text).
   * One after the append is appended again, and the owner recognises its event (the same eventId).
   */
  private async forward(
    forward: NonNullable<ReceiptSink['forwardReceipt']>,
    id: string,
    r: Receipt,
    d: DeliverSm,
    route: string,
    partition?: number,
  ): Promise<number> {
    const copy = `${id}\u0000${r.state}\u0000${r.errRaw ?? ''}\u0000${r.doneDate ?? ''}`;
    const pending = this.forwarding.get(copy);
    if (pending) {
      this.deps.observer?.duplicate?.();
      await pending;
      return 0;
    }
    const write = forward(id, loggedReceiptOf(d, route), partition);
    this.deps.logger.debug({ correlationId: id, state: r.state, partition }, 'receipt forwarded');
    this.forwarding.set(copy, write);
    try {
      await write;
    } finally {
      this.forwarding.delete(copy);
    }
    return 0;
  }

  /**
   * A receipt another replica received and forwarded to this one, the owner of its correlation id
   * (receipt-owner.ts). Resolves once its events are acked; rejects when they could not be
   * written, and the caller reads it again. Its message id may still be on its way when it is read
   * here: it waits until RECEIPT_MATCH_WAIT_MS after the receipt was received (by the receiving
   * replica's clock: never longer than RECEIPT_MATCH_WAIT_MS from now, whatever the skew), and then
   * until `caughtUp` says the correlation partition is applied up to then, before calling it
   * unknown — so an owner still reading the partition never does. A catch-up that fails rejects:
   * the receipt is tried again, not published as unknown. When its `m:` entry names a multipart
   * request whose snapshot is not here yet, the catch-up is of that request's home. `readFrom`:
   * the partition of the receipts topic it was read from. A record that cannot be read as a
   * deliver_sm rejects with UnreadableReceiptError (skipped by the caller, not retried).
   */
  async forwarded(receipt: LoggedReceipt, readFrom: number, caughtUp: (writtenBefore: number, partition: number) => Promise<boolean>): Promise<void> {
    let d: DeliverSm;
    try {
      d = deliverSmOf(receipt);
    } catch (err) {
      throw new UnreadableReceiptError(`not a deliver_sm: ${(err as Error).message}`);
    }
    const route = receipt.route;
    const parsed = parseReceipt({ esmClass: d.esmClass, shortMessage: d.shortMessage, tlvs: receiptTlvs(d) });
    if (!parsed.ok) {
      this.deps.observer?.unparseable?.();
      await this.deps.sink.deadLetterReceipt(d, parsed.reason);
      return;
    }
    const r = parsed.receipt;
    const lookup: Lookup = async (id) => {
      const ref = this.deps.index.segmentOf(id);
      if (ref) return { ref, correlated: 'hit' };
      const known = this.elsewhere(id, readFrom);
      if (known.elsewhere) return { ref: undefined, correlated: 'miss', ...known };
      const matchWait = this.deps.matchWaitMs;
      const now = this.deps.now();
      const wait = Math.min(matchWait, Math.max(0, d.receivedAt + matchWait - now));
      const waited = await this.deps.index.waitForMessageId(id, wait, this.isElsewhere(id, readFrom));
      if (waited) return { ref: waited, correlated: 'late_hit' };
      // Its m: entry, if any, was written before now + wait; a multipart request's snapshot it
      // names lies in that request's home: what the catch-up must cover (or, not ours, where it goes).
      const pending = this.deps.ownership ? this.deps.index.pendingRequestOf(id) : undefined;
      if (pending && !this.handlesHome(pending, readFrom)) return { ref: undefined, correlated: 'miss', elsewhere: pending };
      const partition = pending ? this.deps.ownership!.homeOf(pending).partition : readFrom;
      if (!(await caughtUp(now + wait, partition))) throw new Error(`correlation partition ${partition} not caught up for ${id}; the receipt is tried again`);
      const late = this.deps.index.segmentOf(id);
      return { ref: late, correlated: late ? 'late_hit' : 'miss' };
    };
    await this.correlate(r, correlationId(route, r.messageId), d, route, lookup, readFrom);
  }

  private async correlate(r: Receipt, id: string, d: DeliverSm, route: string, lookup: Lookup, readFrom: number | undefined): Promise<number> {
    const { ref, correlated, elsewhere } = await lookup(id);
    // A multipart request's receipt goes to the owner of its home, which holds the request.
    const multipart = elsewhere ?? (ref && !ref.subject && ref.request.segments > 1 ? ref.request : undefined);
    const forward = this.deps.sink.forwardReceipt;
    if (multipart && forward && !this.handlesHome(multipart, readFrom))
      return this.forward(forward, id, r, d, route, this.deps.ownership!.homeOf(multipart).partition);
    // Named elsewhere, and the home became this replica's meanwhile (ready, or forwarding turned
    // off): its snapshot may still be on its way, so not unknown — tried again (0x64, or re-read).
    if (elsewhere && !ref) throw new Error(`the home of ${id}'s request became this replica's during its lookup; tried again`);
    const { events, correlation } = this.eventsFor(r, ref, d, route);
    const first = events[0]!;
    if (this.recent.has(first.eventId)) {
      this.deps.observer?.duplicate?.();
      return 0;
    }
    // A receipt the SMSC re-sends (after our 0x64) while its first publish is still waiting for
    // Kafka joins that publish instead of queueing a second copy of the same event.
    const pending = this.publishing.get(first.eventId);
    if (pending) {
      this.deps.observer?.duplicate?.();
      await pending;
      return 0;
    }
    const publish = this.deps.sink.publish(events, correlation);
    this.publishing.set(first.eventId, publish);
    try {
      await publish;
    } finally {
      this.publishing.delete(first.eventId);
    }
    this.remember(first.eventId);
    // Only a miss: this runs for every receipt, and a miss is what a lost correlation looks like.
    if (!ref) this.deps.logger.debug({ correlationId: id, eventId: first.eventId, readFrom }, 'receipt published uncorrelated');
    this.deps.observer?.receipt?.(first, correlated);
    if (ref && r.final && ref.request.submittedAt > 0) {
      this.deps.observer?.finalLatency?.(first.status, Math.max(0, (this.deps.now() - ref.request.submittedAt) / 1000));
    }
    return 0;
  }

  private eventsFor(r: Receipt, ref: SegmentRef | undefined, d: DeliverSm, route: string): { events: SmsDeliveryEvent[]; correlation: CorrelationWrite[] } {
    const now = this.deps.now();
    if (!ref) {
      // Nothing matches (pruned after CORRELATION_KEEP_DONE_MS, or submitted by another system on this account): still
      // published, so the fact is not lost, under a request id that says so.
      // the route in the id too (on any route but default): two providers' ids may be equal
      const facts = { id: `unknown:${correlationId(route, r.messageId)}`, from: d.destinationAddr, to: d.sourceAddr, segments: 0, metadata: {}, route };
      return { events: [ev.receiptEvent(facts, { segment: 0, attempts: 0, submittedAt: null }, r, now)], correlation: [] };
    }
    const req = ref.request;
    const facts = factsOf(req);
    const event = ev.receiptEvent(facts, { segment: ref.segment, attempts: req.attempts, submittedAt: req.submittedAt || null }, r, now);
    if (!r.final) return { events: [event], correlation: [] };
    const final: FinalRecord = { v: 1, status: event.status, errorCategory: event.errorCategory, at: now };
    // Applied locally at once so the next segment's receipt sees it without the topic round trip.
    const outcomes = this.deps.index.applyFinalOf(ref, final);
    const events = [event];
    const correlation: CorrelationWrite[] = [{ key: finalKey(correlationId(route, r.messageId)), value: final, ...toHome(req) }];
    if (outcomes) {
      events.push(ev.summary(facts, outcomes, req.attempts, now));
      correlation.push(...summaryMarked(this.deps.index, req));
    } else if (req.segments > 1) this.awaitingOthers.add(req.id);
    return { events, correlation };
  }

  /**
   * Another replica's correlation entry arrived through the tail. When segments of one message
   * report to different replicas, each may see only its own segment final; the one that already
   * handled a segment of this request and now sees the request complete emits the summary. Both
   * may do so — the summary carries the same eventId either way.
   *
   * Complete can come two ways: the other segment's final (`f:`), or — when that final was read
   * first — the request snapshot (`r:`) that maps the other segment's message id (a segment
   * re-sent by another replica after a rebalance). The two travel in different partitions of the
   * correlation topic, so they arrive in either order; checking on the final alone lost the
   * summary when the snapshot came second.
   */
  onRemoteEntry(key: string): void {
    // Called for every entry the tail applies: most often nothing here waits for another replica.
    if (this.awaitingOthers.size === 0) return;
    const request = this.deps.index.requestOfEntry(key);
    if (!request || !this.awaitingOthers.has(request.id)) return;
    const outcomes = this.deps.index.outcomes(request);
    if (!outcomes) return;
    this.awaitingOthers.delete(request.id);
    this.deps.sink
      .publish([ev.summary(factsOf(request), outcomes, request.attempts, this.deps.now())], summaryMarked(this.deps.index, request))
      .catch((err: unknown) => this.deps.logger.warn({ err, requestId: request.id }, 'summary after a remote entry failed'));
  }

  private async inbound(d: DeliverSm): Promise<number> {
    this.deps.observer?.inbound?.();
    const publish = this.deps.sink.publishInbound;
    if (!publish) return 0;
    // A long MO travels in message_payload with sm_length 0 (up to 64 KB; the session reads it whole).
    const raw = d.shortMessage.length === 0 && d.messagePayload !== undefined ? d.messagePayload : d.shortMessage;
    const message: SmsInbound = {
      eventId: createHash('sha256')
        .update(`${d.sourceAddr}\u0000${d.destinationAddr}\u0000${d.esmClass}\u0000${d.dataCoding}\u0000`)
        .update(raw)
        .digest('base64url')
        .slice(0, 32),
      from: d.sourceAddr,
      to: d.destinationAddr,
      text: decodeText(raw, d.dataCoding, d.esmClass),
      textRaw: raw,
      dataCoding: d.dataCoding,
      esmClass: d.esmClass,
      receivedAt: d.receivedAt,
      sessionId: d.sessionId,
    };
    await publish(message);
    return 0;
  }

  private remember(id: string): void {
    if (this.awaitingOthers.size > RECENT_IDS) this.awaitingOthers.delete(this.oldestAwaiting.next()!);
    this.recent.add(id);
    if (this.recent.size > RECENT_IDS) this.recent.delete(this.oldestRecent.next()!);
  }
}

/** The TLVs a receipt can carry, only those present (assigned, not spread: this runs per receipt). */
function receiptTlvs(d: DeliverSm): NonNullable<DeliverSmInput['tlvs']> {
  const tlvs: { -readonly [K in keyof NonNullable<DeliverSmInput['tlvs']>]: NonNullable<DeliverSmInput['tlvs']>[K] } = {};
  if (d.receiptedMessageId !== undefined) tlvs.receipted_message_id = d.receiptedMessageId;
  if (d.messageState !== undefined) tlvs.message_state = d.messageState;
  if (d.networkErrorCode !== undefined) tlvs.network_error_code = d.networkErrorCode;
  if (d.messagePayload !== undefined) tlvs.message_payload = d.messagePayload;
  return tlvs;
}

function decodeText(raw: Buffer, dataCoding: number, esmClass: number): string {
  const body = (esmClass & 0x40) !== 0 && raw.length > 0 ? raw.subarray(1 + raw[0]!) : raw;
  if (dataCoding === 0x08) return decodeUcs2(body);
  if (dataCoding === 0x00) return decodeGsm7(body);
  return body.toString('latin1');
}

/** Resolves with the work's status, or `fallback` if it takes longer than `ms` (work goes on). */
function withDeadline(work: Promise<number>, ms: number, fallback: number): Promise<number> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    work.then(
      (status) => {
        clearTimeout(timer);
        resolve(status);
      },
      () => {
        clearTimeout(timer);
        resolve(fallback);
      },
    );
  });
}
