/**
 * The routes file (`ROUTES_FILE`, YAML or JSON; issue 21): any number of SMPP routes — accounts or
 * providers — and the rule table that picks among them. Its shape is checked here; each route's
 * values are then checked by config.ts with the SAME rules as the `SMPP_*` variables they stand for
 * (`ROUTE_FIELDS`): one definition of what a port, a window or a session list may be.
 *
 *   routes:
 *     - name: agile
 *       host: smpp.agiletelecom.com
 *       systemId: acme
 *       passwordFile: /run/secrets/agile
 *       sessions: trx:4
 *     - name: backup
 *       host: smpp.backup.example
 *       ...
 *   rules:                     # optional: without it every request goes to the routes in file order
 *     - name: otp
 *       match: { metadata: { class: otp } }
 *       routes: [agile, backup]
 *     - name: default
 *       routes: [agile, backup]
 */
import { parse } from 'yaml';
import { ConfigError } from './config-error.js';
import type { RoutingRule } from './routing/rules.js';

/** Each route field of the file and the variable whose rules, default and meaning it has. */
export const ROUTE_FIELDS = {
  host: 'SMPP_HOST',
  port: 'SMPP_PORT',
  tls: 'SMPP_TLS',
  tlsCaFile: 'SMPP_TLS_CA_FILE',
  tlsRejectUnauthorized: 'SMPP_TLS_REJECT_UNAUTHORIZED',
  tlsServername: 'SMPP_TLS_SERVERNAME',
  systemId: 'SMPP_SYSTEM_ID',
  password: 'SMPP_PASSWORD',
  passwordFile: 'SMPP_PASSWORD_FILE',
  allowLongCredentials: 'SMPP_ALLOW_LONG_CREDENTIALS',
  sessions: 'SMPP_SESSIONS',
  accountMaxBinds: 'SMPP_ACCOUNT_MAX_BINDS',
  rateLimit: 'SMPP_RATE_LIMIT',
  rateMargin: 'SMPP_RATE_MARGIN',
  window: 'SMPP_WINDOW',
  enquireLinkMs: 'SMPP_ENQUIRE_LINK_MS',
  responseTimeoutMs: 'SMPP_RESPONSE_TIMEOUT_MS',
  connectTimeoutMs: 'SMPP_CONNECT_TIMEOUT_MS',
  bindTimeoutMs: 'SMPP_BIND_TIMEOUT_MS',
  reconnectMinMs: 'SMPP_RECONNECT_MIN_MS',
  reconnectMaxMs: 'SMPP_RECONNECT_MAX_MS',
  bindErrorBackoffMs: 'SMPP_BIND_ERROR_BACKOFF_MS',
  bindHandoverMs: 'SMPP_BIND_HANDOVER_MS',
  timeFormat: 'SMPP_TIME_FORMAT',
  profile: 'SMPP_PROFILE',
} as const;

export type RouteField = keyof typeof ROUTE_FIELDS;

/** A route of the file: its name, and its values as the variables they stand for (strings, as from an environment). */
export interface RouteEntry {
  readonly name: string;
  /** `routes[1] (backup)`: how errors name it. */
  readonly at: string;
  readonly variables: Record<string, string>;
}

export interface RoutesFile {
  readonly routes: RouteEntry[];
  /** The rule table as written (checked against the routes by the caller), or the default: every route in file order. */
  readonly rules: RoutingRule[];
}

const ROUTE_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** Parses the file's text (YAML, of which JSON is a subset); throws ConfigError naming ROUTES_FILE and the place. */
export function parseRoutesFile(text: string): RoutesFile {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw fileError(`not YAML or JSON (${(err as Error).message.split('\n')[0]})`);
  }
  const top = record(doc, 'the file');
  unknownKeys(top, ['routes', 'rules'], 'the file');
  const routes = list(top['routes'], 'routes').map(routeEntry);
  if (routes.length === 0) throw fileError('routes: at least one route');
  const names = routes.map((r) => r.name);
  names.forEach((name, i) => {
    if (names.indexOf(name) !== i) throw fileError(`${routes[i]!.at}.name: two routes have this name`);
  });
  const rules = top['rules'] === undefined ? [{ name: 'default', routes: names }] : list(top['rules'], 'rules').map(ruleEntry);
  return { routes, rules };
}

function routeEntry(value: unknown, i: number): RouteEntry {
  const entry = record(value, `routes[${i}]`);
  const name = entry['name'];
  if (typeof name !== 'string' || !ROUTE_NAME.test(name)) {
    throw fileError(`routes[${i}].name: a name of 1 to 32 characters a-z, 0-9, '-', '_' (it labels metrics and events)`);
  }
  const at = `routes[${i}] (${name})`;
  unknownKeys(entry, ['name', ...Object.keys(ROUTE_FIELDS)], at);
  // SMPP_HOST's default (Agile's host) would send a route that forgot its host, with its own
  // credentials, to another provider: in a file of several routes each names its SMSC.
  if (entry['host'] === undefined || entry['host'] === null || entry['host'] === '') throw fileError(`${at}.host: required (the SMSC's host name)`);
  const variables: Record<string, string> = {};
  for (const [field, variable] of Object.entries(ROUTE_FIELDS)) {
    const v = entry[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw fileError(`${at}.${field}: a string, number or true/false`);
    variables[variable] = String(v);
  }
  return { name, at, variables };
}

function ruleEntry(value: unknown, i: number): RoutingRule {
  const entry = record(value, `rules[${i}]`);
  const name = entry['name'];
  if (typeof name !== 'string' || name === '') throw fileError(`rules[${i}].name: a non-empty string`);
  const at = `rules[${i}] (${name})`;
  unknownKeys(entry, ['name', 'match', 'routes', 'split'], at);
  const routes = list(entry['routes'], `${at}.routes`).map((r, j) => text(r, `${at}.routes[${j}]`));
  const rule: { name: string; routes: string[]; match?: RoutingRule['match']; split?: Record<string, number> } = { name, routes };
  if (entry['match'] !== undefined) {
    const match = record(entry['match'], `${at}.match`);
    unknownKeys(match, ['to', 'from', 'metadata'], `${at}.match`);
    rule.match = {
      ...(match['to'] !== undefined ? { to: list(match['to'], `${at}.match.to`).map((p, j) => String(text(p, `${at}.match.to[${j}]`, true))) } : {}),
      ...(match['from'] !== undefined ? { from: list(match['from'], `${at}.match.from`).map((s, j) => text(s, `${at}.match.from[${j}]`, true)) } : {}),
      ...(match['metadata'] !== undefined
        ? {
            metadata: Object.fromEntries(
              Object.entries(record(match['metadata'], `${at}.match.metadata`)).map(([k, v]) => [k, text(v, `${at}.match.metadata.${k}`, true)]),
            ),
          }
        : {}),
    };
  }
  if (entry['split'] !== undefined) {
    rule.split = Object.fromEntries(
      Object.entries(record(entry['split'], `${at}.split`)).map(([route, w]) => {
        if (typeof w !== 'number') throw fileError(`${at}.split.${route}: a number above 0`);
        return [route, w];
      }),
    );
  }
  return rule;
}

function record(value: unknown, at: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fileError(`${at}: a mapping (key: value)`);
  return value as Record<string, unknown>;
}

function list(value: unknown, at: string): unknown[] {
  if (!Array.isArray(value)) throw fileError(`${at}: a list`);
  return value;
}

/** A string; with `numbersToo`, a number is taken as its digits (YAML reads `+39` and `39` as numbers). */
function text(value: unknown, at: string, numbersToo = false): string {
  if (typeof value === 'string' && value !== '') return value;
  if (numbersToo && typeof value === 'number') return String(value);
  throw fileError(`${at}: a non-empty string`);
}

function unknownKeys(obj: Record<string, unknown>, known: readonly string[], at: string): void {
  const extra = Object.keys(obj).find((k) => !known.includes(k));
  if (extra !== undefined) throw fileError(`${at}.${extra}: not a known field (${known.join(', ')})`);
}

function fileError(message: string): ConfigError {
  return new ConfigError('ROUTES_FILE', `ROUTES_FILE: ${message}`);
}
