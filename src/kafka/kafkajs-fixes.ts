/**
 * Two patches to kafkajs 2.2.4 internals, each installed once per process by `createKafka` and
 * each leaving everything else to kafkajs' own code. kafkajs is pinned to that exact version; each
 * patch checks that what it replaces is where 2.2.4 has it and reports false otherwise.
 *
 * The request queue's idle timer. kafkajs keeps every broker connection's event loop busy for
 * nothing: its RequestQueue re-arms a timer after each check of its pending requests, even when
 * there are none: with no throttle (`throttledUntil` = -1) the delay is `-1 - Date.now()`, which
 * Node clamps to 1 ms (and, since Node 24, warns about: TimeoutNegativeWarning). So each connection
 * wakes the loop about 1,000 times a second, for as long as it is open (tulios/kafkajs#1704, #1751;
 * the fixes, #1755 and #1768, are not released). The patch schedules nothing when nothing is
 * pending and no throttle is running. A request that has to wait is pushed through `push`, which
 * schedules the check again, and a response re-runs the check itself, so nothing waits on the
 * dropped timer.
 *
 * The encoder's buffers. Every produce request is built by Encoders — one per record, per header,
 * per batch and per request — each starting with `Buffer.alloc(512)` and doubling through
 * `Buffer.alloc` when a write does not fit: zero-filled, and below 4 KiB an ArrayBuffer of its own
 * each time, which V8 tracks as external memory. The connector writes three events and its
 * correlation entries per message; a record batch of 12 such records costs 0.63 × the CPU with
 * pooled buffers (`Buffer.allocUnsafe`: a slice of Node's 8 KiB pool below 4 KiB, no fill;
 * `npm run bench:kafkajs-encoder`). An Encoder
 * writes only forward from offset 0, each write after `ensureAvailable`, and hands out
 * `buf.slice(0, offset)`, so no byte it did not write is ever read. The patch starts every Encoder
 * empty (its constructor sizes its buffer with the static `nextPowerOfTwo`, which nothing else
 * calls once `ensureAvailable` is replaced) and gives it a pooled buffer of 512 bytes or more at its
 * first write.
 */
import { createRequire } from 'node:module';

interface RequestQueueInternals {
  pending: unknown[];
  throttledUntil: number;
  scheduleCheckPendingRequests: (this: RequestQueueInternals) => void;
}

const PATCHED = Symbol.for('sms-connector.request-queue-fix');
const ENCODER_PATCHED = Symbol.for('sms-connector.encoder-buffers-fix');

/** Installs the patch once per process (idempotent); returns whether kafkajs' queue was found to patch. */
export function fixRequestQueueTimer(): boolean {
  const require = createRequire(import.meta.url);
  const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueueInternals & { [PATCHED]?: true } };
  const proto = RequestQueue.prototype;
  if (proto[PATCHED]) return true;
  if (typeof proto.scheduleCheckPendingRequests !== 'function') return false;
  const original = proto.scheduleCheckPendingRequests;
  proto.scheduleCheckPendingRequests = function (this: RequestQueueInternals): void {
    if (this.pending.length === 0 && this.throttledUntil <= Date.now()) return;
    original.call(this);
  };
  proto[PATCHED] = true;
  return true;
}

interface EncoderInternals {
  buf: Buffer;
  offset: number;
  ensureAvailable(this: EncoderInternals, length: number): void;
}

/** kafkajs' own first buffer size: an Encoder's first write gets at least this much. */
const FIRST_BUFFER_BYTES = 512;

/** Installs the encoder patch once per process (idempotent); returns whether kafkajs' Encoder was found as 2.2.4 has it. */
export function fixEncoderBuffers(): boolean {
  const require = createRequire(import.meta.url);
  const Encoder = require('kafkajs/src/protocol/encoder.js') as {
    nextPowerOfTwo: (value: number) => number;
    prototype: EncoderInternals & { [ENCODER_PATCHED]?: true };
  };
  const proto = Encoder.prototype;
  if (proto[ENCODER_PATCHED]) return true;
  // The one constructor line the patch relies on, and the method it replaces.
  const source = Function.prototype.toString.call(Encoder);
  if (!source.includes('this.buf = Buffer.alloc(Encoder.nextPowerOfTwo(initialSize))') || typeof proto.ensureAvailable !== 'function') return false;
  // kafkajs' sizing kept for the growth; the static answers 0 to the constructor, its only other caller.
  const nextPowerOfTwo = Encoder.nextPowerOfTwo;
  Encoder.nextPowerOfTwo = () => 0;
  proto.ensureAvailable = function (this: EncoderInternals, length: number): void {
    const needed = this.offset + length;
    if (needed <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(FIRST_BUFFER_BYTES, nextPowerOfTwo(needed)));
    this.buf.copy(grown, 0, 0, this.offset);
    this.buf = grown;
  };
  proto[ENCODER_PATCHED] = true;
  return true;
}
