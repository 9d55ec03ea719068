/**
 * The pipeline's port for decoding failures: what an `OutboundDecoder` may throw, and what the
 * pipeline does about it. It reads the class and its `retriable` flag, never the message:
 * - `UndecodableRecordError` (retriable: false) → the record can never become a request: it goes
 *   to the DLQ under its `code`, and the pipeline moves on;
 * - `DecoderUnavailableError` (retriable: true) → something the decoder needs did not answer: the
 *   same record is tried again after a pause.
 * The Kafka adapter's errors (kafka/errors.ts) extend these with their own closed lists of codes.
 */
import { backoffDelayMs, SPREAD_JITTER, type BackoffPolicy } from '../util/backoff.js';

const DECODER_RETRY: BackoffPolicy = { initialMs: 250, maxMs: 5_000, jitter: SPREAD_JITTER };

/** How long to wait before decoding again after attempt `attempt` (1-based) met an unavailable decoder. */
export function decoderRetryDelayMs(attempt: number): number {
  return backoffDelayMs(DECODER_RETRY, attempt - 1);
}

export class UndecodableRecordError extends Error {
  readonly retriable = false;
  constructor(
    /** Stable and short: the DLQ's reason header and the metrics' `reason` label. */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UndecodableRecordError';
  }
}

export class DecoderUnavailableError extends Error {
  readonly retriable = true;
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DecoderUnavailableError';
  }
}
