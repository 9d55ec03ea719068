/**
 * Receipts held back instead of dispatched (`holdReceipts: true`), then released all at once
 * (issue 20: memory of the connector with millions of requests waiting for a receipt, then every
 * receipt arriving in random order).
 *
 * Millions of receipts must fit in the simulator's own memory, so a held receipt is no object and
 * no timer: its facts are packed into ~100 bytes of a large shared buffer, and only the offset of
 * each record is kept (8 bytes in a typed array). A release decodes one record at a time, just
 * before its deliver_sm is sent, and keeps at most `maxInFlight` receipts unacknowledged, so that
 * neither the simulator nor the socket buffers hold the whole backlog as PDUs.
 */
import { RECEIPT_STATES, type ReceiptStat } from './behaviour.js';
import type { ReceiptFacts } from './receipts.js';
import { prng } from '../util/prng.js';

/** A held receipt as stored: everything needed to build its deliver_sm later, but the done date. */
export type HeldFacts = Omit<ReceiptFacts, 'doneAt'>;

export type ReleaseOrder = 'fifo' | 'random';

export interface ReleaseOptions {
  /** `fifo`: in submit order; `random`: a uniform shuffle (default random). */
  order?: ReleaseOrder;
  /** Seed of the shuffle, to repeat an order (default: a random seed). */
  seed?: number;
  /** Receipts sent and not yet acknowledged, across every receiver, at most (default 1000). */
  maxInFlight?: number;
}

export const DEFAULT_RELEASE_IN_FLIGHT = 1_000;

const STATS = Object.keys(RECEIPT_STATES) as ReceiptStat[];
/** Records never span two chunks; a chunk is large enough that the last few unused bytes do not matter. */
const CHUNK_BYTES = 4 * 1024 * 1024;
/** Strings are written with a 2-byte length: no field of a PDU comes near it. */
const MAX_FIELD_BYTES = 0xffff;

/** The packed store, in submit order. */
export class HeldReceiptStore {
  private readonly chunks: Buffer[] = [];
  private used = CHUNK_BYTES;
  private positions = new Float64Array(1024);
  private count = 0;

  size(): number {
    return this.count;
  }

  add(systemId: string, facts: HeldFacts): void {
    const strings = [systemId, facts.messageId, facts.sourceAddr, facts.destinationAddr].map((s) => Buffer.from(s, 'utf8'));
    const fields = [...strings, facts.textSample];
    if (fields.some((f) => f.length > MAX_FIELD_BYTES)) throw new RangeError('held receipt field longer than 65535 bytes');
    // 5 lengths (2 each) + 4 TON/NPI + stat (1) + err (4) + submittedAt (8)
    const bytes = fields.reduce((n, f) => n + 2 + f.length, 0) + 4 + 1 + 4 + 8;
    if (this.used + bytes > CHUNK_BYTES) {
      this.chunks.push(Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes)));
      this.used = 0;
    }
    const chunk = this.chunks[this.chunks.length - 1] as Buffer;
    let at = this.used;
    for (const f of fields) {
      at = chunk.writeUInt16LE(f.length, at);
      at += f.copy(chunk, at);
    }
    for (const b of [facts.sourceAddrTon, facts.sourceAddrNpi, facts.destAddrTon, facts.destAddrNpi, STATS.indexOf(facts.stat)])
      at = chunk.writeUInt8(b & 0xff, at);
    // The provider's delivery codes are 3 digits; anything else is stored modulo 2^32.
    at = chunk.writeUInt32LE(facts.err >>> 0, at);
    chunk.writeDoubleLE(facts.submittedAt, at);
    this.push((this.chunks.length - 1) * CHUNK_BYTES + this.used);
    this.used += bytes;
  }

  /** Record `i` (0 = first held). */
  get(i: number): { systemId: string; facts: HeldFacts } {
    const position = this.positions[i] as number;
    const chunk = this.chunks[Math.floor(position / CHUNK_BYTES)] as Buffer;
    let at = position % CHUNK_BYTES;
    const field = (): Buffer => {
      const length = chunk.readUInt16LE(at);
      const bytes = chunk.subarray(at + 2, at + 2 + length);
      at += 2 + length;
      return bytes;
    };
    const [systemId, messageId, sourceAddr, destinationAddr] = [field(), field(), field(), field()].map((b) => b.toString('utf8')) as [
      string,
      string,
      string,
      string,
    ];
    const textSample = Buffer.from(field()); // a copy: the chunk is freed when the release ends
    const byte = (): number => chunk.readUInt8(at++);
    const [sourceAddrTon, sourceAddrNpi, destAddrTon, destAddrNpi] = [byte(), byte(), byte(), byte()] as [number, number, number, number];
    const stat = STATS[byte()] ?? 'UNKNOWN';
    const err = chunk.readUInt32LE(at);
    const submittedAt = chunk.readDoubleLE(at + 4);
    return {
      systemId,
      facts: { messageId, sourceAddr, sourceAddrTon, sourceAddrNpi, destinationAddr, destAddrTon, destAddrNpi, submittedAt, stat, err, textSample },
    };
  }

  private push(position: number): void {
    if (this.count === this.positions.length) {
      const grown = new Float64Array(this.positions.length * 2);
      grown.set(this.positions);
      this.positions = grown;
    }
    this.positions[this.count++] = position;
  }
}

/**
 * Sends one released receipt; calls `acked` once the receiver answered it with status 0 (the
 * dispatcher re-sends it until then). Returns false when the simulator is stopping.
 */
export type SendReceipt = (systemId: string, facts: HeldFacts, acked: () => void) => boolean;

/** One release of a store: its receipts in the chosen order, at most `maxInFlight` unacknowledged. */
export class HeldReceiptRelease {
  private readonly order: Uint32Array;
  private readonly maxInFlight: number;
  private next = 0;
  private inFlight = 0;
  private stopped = false;

  constructor(
    private readonly store: HeldReceiptStore,
    options: ReleaseOptions,
    private readonly send: SendReceipt,
  ) {
    this.order = releaseOrder(store.size(), options.order ?? 'random', options.seed ?? Math.floor(Math.random() * 2 ** 32));
    this.maxInFlight = options.maxInFlight ?? DEFAULT_RELEASE_IN_FLIGHT;
    if (!(Number.isInteger(this.maxInFlight) && this.maxInFlight > 0)) throw new RangeError('releaseHeldReceipts maxInFlight must be a whole number > 0');
  }

  /** Receipts of this release not sent yet. */
  remaining(): number {
    return this.order.length - this.next;
  }

  /** True once every receipt was sent and acknowledged (or the simulator stopped). */
  done(): boolean {
    return this.stopped || (this.remaining() === 0 && this.inFlight === 0);
  }

  /** Sends until the in-flight cap is reached; called again by every acknowledgement. */
  pump(): void {
    while (!this.stopped && this.inFlight < this.maxInFlight && this.next < this.order.length) {
      const { systemId, facts } = this.store.get(this.order[this.next++] as number);
      this.inFlight += 1;
      const sent = this.send(systemId, facts, () => {
        this.inFlight -= 1;
        this.pump();
      });
      if (!sent) this.stopped = true;
    }
  }
}

/** 0..n-1 in submit order, or shuffled (Fisher–Yates) with a seeded generator. */
export function releaseOrder(n: number, order: ReleaseOrder, seed: number): Uint32Array {
  const indices = new Uint32Array(n);
  for (let i = 0; i < n; i++) indices[i] = i;
  if (order === 'fifo') return indices;
  const random = prng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = indices[i] as number;
    indices[i] = indices[j] as number;
    indices[j] = swap;
  }
  return indices;
}
