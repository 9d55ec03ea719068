/**
 * Correlation ids (issue 21 §3): message ids of two providers may collide, so correlation is keyed
 * by route and message id. The id a request record, the index and `f:` entries use for an SMSC
 * message id is the id itself on the route `default` — so a connector without a routes file keeps
 * the state it wrote before routes existed — and `<route>:<id>` on any other. Events carry the
 * SMSC's own id.
 */
import type { RequestRecord } from './correlation-index.js';

/** The route every request had before routes existed, and the only one without ROUTES_FILE. */
export const DEFAULT_ROUTE = 'default';

/** The correlation id of `messageId` as received on `route`. */
export function correlationId(route: string, messageId: string): string {
  return route === DEFAULT_ROUTE ? messageId : `${route}:${messageId}`;
}

/** The SMSC's message id back from a correlation id of `route`. */
export function smscMessageId(route: string, id: string): string {
  return route === DEFAULT_ROUTE ? id : id.slice(route.length + 1);
}

/** The route of a request record (records written before routes: `default`). */
export function routeOf(rec: Pick<RequestRecord, 'route'>): string {
  return rec.route ?? DEFAULT_ROUTE;
}
