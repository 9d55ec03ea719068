/**
 * Routing rules (issue 21 §2): which routes a request may go through, in order of preference.
 * PURE: no I/O, no clock — the table is data (the routes file), the decision a function of the
 * request alone, so the same request is routed the same way on every replica and after a replay.
 *
 * A table is an ordered list of rules; the FIRST rule whose `match` fits the request decides. The
 * last rule has no `match` (the default) and no other rule may lack one, so every request matches
 * exactly one rule. A match is a conjunction of what it names: the destination starts with one of
 * `to` (E.164 digits; a leading `+` is ignored), the sender is one of `from` (exact), and every
 * `metadata` key has the given value. A rule names its routes in order of preference; `split`
 * spreads the first choice over several routes by weight (the request id picks, stably), and the
 * others follow in the order of `routes` as the failover list.
 *
 * Failover itself — skipping a route that cannot take traffic — is not decided here: the caller
 * walks the returned list against the routes' health at the moment of sending.
 */
import { createHash } from 'node:crypto';

export interface RuleMatch {
  /** Destination prefixes, E.164 digits (`+39`, `39` and `39 3` are the same prefix). */
  readonly to?: readonly string[];
  /** Senders, exactly as in the request's `from`. */
  readonly from?: readonly string[];
  /** Metadata entries the request must carry, every one of them. */
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface RoutingRule {
  readonly name: string;
  /** Absent on the default rule (the last one), present on every other. */
  readonly match?: RuleMatch;
  /** Route names in order of preference: the failover list. */
  readonly routes: readonly string[];
  /** Weights of the first choice among some of `routes` (each > 0); absent: the first of `routes`. */
  readonly split?: Readonly<Record<string, number>>;
}

/** What routing needs of a request: its id (for a stable split), destination digits, sender, metadata. */
export interface RoutableRequest {
  readonly id: string;
  /** E.164 digits without `+` (the planned destination). */
  readonly to: string;
  readonly from: string;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface RouteDecision {
  /** The rule that matched. */
  readonly rule: string;
  /** The routes to try, first choice first; never empty. */
  readonly routes: readonly string[];
}

/** A table problem: `path` names the rule and field (`rules[2] (otp).split.backup`). */
export class RoutingTableError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'RoutingTableError';
  }
}

/** The digits of a destination prefix as written in a rule (`+39 3` → `393`). */
export function prefixDigits(prefix: string): string {
  return prefix.replace(/[\s+\-()]/g, '');
}

/**
 * Checks a table against the routes that exist; throws RoutingTableError naming the rule and field.
 * Returns the table with its prefixes normalised.
 */
export function checkRoutingTable(rules: readonly RoutingRule[], routeNames: readonly string[]): RoutingRule[] {
  if (rules.length === 0) throw new RoutingTableError('rules', 'at least one rule (the default, without `match`)');
  const known = new Set(routeNames);
  const seen = new Set<string>();
  return rules.map((rule, i) => {
    const at = `rules[${i}] (${rule.name})`;
    if (seen.has(rule.name)) throw new RoutingTableError(`${at}.name`, 'two rules have this name');
    seen.add(rule.name);
    const last = i === rules.length - 1;
    if (last && rule.match !== undefined) throw new RoutingTableError(`${at}.match`, 'the last rule is the default: it has no `match`');
    if (!last && rule.match === undefined)
      throw new RoutingTableError(`${at}.match`, 'only the last rule may be without `match` (it would hide the rules after it)');
    if (rule.routes.length === 0) throw new RoutingTableError(`${at}.routes`, 'at least one route');
    rule.routes.forEach((route, j) => {
      if (!known.has(route)) throw new RoutingTableError(`${at}.routes[${j}]`, `no route named '${route}' (routes: ${routeNames.join(', ')})`);
      if (rule.routes.indexOf(route) !== j) throw new RoutingTableError(`${at}.routes[${j}]`, `'${route}' is listed twice`);
    });
    for (const [route, weight] of Object.entries(rule.split ?? {})) {
      if (!rule.routes.includes(route)) throw new RoutingTableError(`${at}.split.${route}`, 'a split names only routes of this rule');
      if (!(Number.isFinite(weight) && weight > 0)) throw new RoutingTableError(`${at}.split.${route}`, 'a weight is a number above 0');
    }
    return rule.match === undefined ? rule : { ...rule, match: normalisedMatch(rule.match, at) };
  });
}

function normalisedMatch(match: RuleMatch, at: string): RuleMatch {
  if (match.to?.length === 0) throw new RoutingTableError(`${at}.match.to`, 'at least one prefix (or leave `to` out)');
  if (match.from?.length === 0) throw new RoutingTableError(`${at}.match.from`, 'at least one sender (or leave `from` out)');
  const to = match.to?.map((prefix, j) => {
    const digits = prefixDigits(prefix);
    if (!/^\d{1,15}$/.test(digits)) throw new RoutingTableError(`${at}.match.to[${j}]`, `a destination prefix is 1 to 15 digits, got '${prefix}'`);
    return digits;
  });
  if (match.to === undefined && match.from === undefined && match.metadata === undefined) {
    throw new RoutingTableError(`${at}.match`, 'names nothing to match (to, from or metadata)');
  }
  return { ...match, ...(to ? { to } : {}) };
}

/** The rule a request matches and the routes to try in order. The table must have passed `checkRoutingTable`. */
export function routeRequest(rules: readonly RoutingRule[], request: RoutableRequest): RouteDecision {
  const rule = rules.find((r) => r.match === undefined || matches(r.match, request));
  // checkRoutingTable guarantees a default rule last: a miss is a table that skipped the check
  if (rule === undefined) throw new RoutingTableError('rules', 'no default rule');
  return { rule: rule.name, routes: preferenceOrder(rule, request.id) };
}

function matches(match: RuleMatch, request: RoutableRequest): boolean {
  if (match.to && !match.to.some((prefix) => request.to.startsWith(prefix))) return false;
  if (match.from && !match.from.includes(request.from)) return false;
  for (const [key, value] of Object.entries(match.metadata ?? {})) if (request.metadata[key] !== value) return false;
  return true;
}

/** The split's pick first (stable for a request id), then the rule's routes in their order. */
function preferenceOrder(rule: RoutingRule, requestId: string): readonly string[] {
  const weighted = Object.entries(rule.split ?? {});
  if (weighted.length === 0) return rule.routes;
  const first = weightedPick(weighted, unitInterval(requestId));
  return [first, ...rule.routes.filter((route) => route !== first)];
}

function weightedPick(weighted: ReadonlyArray<readonly [string, number]>, u: number): string {
  const total = weighted.reduce((sum, [, w]) => sum + w, 0);
  let at = u * total;
  for (const [route, weight] of weighted) {
    if (at < weight) return route;
    at -= weight;
  }
  return weighted[weighted.length - 1]![0];
}

/** A request id → [0, 1), the same everywhere (a replica, a replay): the first 32 bits of its SHA-256. */
function unitInterval(id: string): number {
  return createHash('sha256').update(id).digest().readUInt32BE(0) / 2 ** 32;
}
