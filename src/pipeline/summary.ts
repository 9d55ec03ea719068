/**
 * What a SUMMARY event needs besides its outcomes: the request's facts, and — for a multipart
 * request — the `s:` marker that says it was published (see correlation-index.ts).
 */
import { SUMMARY_MARKER, summaryKey, toHome, type CorrelationIndex, type RequestRecord } from './correlation-index.js';
import { routeOf } from './route-ids.js';
import type { RequestFacts } from './events.js';
import type { CorrelationWrite } from './outbound-processor.js';

/** What every event of a correlated request repeats. */
export function factsOf(req: RequestRecord): RequestFacts {
  return { id: req.id, from: req.from, to: req.to, segments: req.segments, metadata: req.metadata, route: routeOf(req) };
}

/**
 * The `s:` marker that goes out with a multipart request's SUMMARY, applied locally at once. A
 * one-segment request needs none: its summary travels in the same produce request as its only
 * final, so there is no moment when the final is written and the summary is not.
 */
export function summaryMarked(index: CorrelationIndex, req: RequestRecord): CorrelationWrite[] {
  const marker = summaryMarker(req);
  for (const w of marker) index.apply(w.key, SUMMARY_MARKER);
  return marker;
}

/** The same marker, not applied: for a writer that applies its entries once they are published. */
export function summaryMarker(req: RequestRecord): CorrelationWrite[] {
  return req.segments <= 1 ? [] : [{ key: summaryKey(req.id), value: SUMMARY_MARKER, ...toHome(req) }];
}
