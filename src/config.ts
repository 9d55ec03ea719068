/**
 * Configuration: every environment variable (docs/design.md §8), parsed once at start-up.
 *
 * Everything after start-up receives the frozen `Config` object — no `process.env` below this file.
 * A wrong value throws `ConfigError` whose message is ONE line naming the variable and what is
 * allowed; `main.ts` prints it and exits 2.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_REQUEST_BOUNDS, maxEchoBytes, type RequestBounds } from './pipeline/request-bounds.js';
import { DEFAULT_MAX_SEGMENTS, MAX_SEGMENTS_LIMIT } from './sms/plan.js';
import { ConfigError } from './config-error.js';
import { SessionSpecError, parseSessionSpec, type SessionSpecEntry } from './smpp/protocol/pool-spec.js';
import type { SmppTimeFormat } from './sms/smpp-time.js';
import { checkRoutingTable, RoutingTableError, type RoutingRule } from './routing/rules.js';
import { parseRoutesFile, ROUTE_FIELDS } from './config-routes.js';
import { DEFAULT_ROUTE } from './pipeline/route-ids.js';
import { COMPRESSION_NAMES, DEFAULT_COMPRESSION, type CompressionName } from './kafka/compression-names.js';
import {
  KAFKA_TLS_FILES,
  REGISTRY_TLS_FILES,
  checkCredentials,
  checkSmppCredentialLengths,
  readPemFile,
  readTlsFiles,
  refuseUrlCredentials,
  type CredentialEnv,
  type TlsFiles,
} from './config-posture.js';

export { ConfigError } from './config-error.js';
export { SMPP_CREDENTIAL_LIMITS, securityWarnings, type TlsFiles } from './config-posture.js';

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => ['true', '1', 'yes'].includes(v));
const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^-?\d+$/, `an integer from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `an integer from ${min} to ${max}`).max(max, `an integer from ${min} to ${max}`));
const durationMs = (min: number, max: number) => int(min, max);
const fraction = z
  .string()
  .regex(/^\d*\.?\d+$/, 'a number from 0 to 0.5')
  .transform(Number)
  .pipe(z.number().min(0, 'a number from 0 to 0.5').max(0.5, 'a number from 0 to 0.5'));
const nonEmpty = z.string().min(1, 'a non-empty string');
const topicName = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'a Kafka topic name ([A-Za-z0-9._-], 1-249 chars)');
const brokerList = z.string().regex(/^[^,\s:]+:\d{1,5}(,[^,\s:]+:\d{1,5})*$/, 'a comma-separated list of host:port');
const httpUrl = z.string().regex(/^https?:\/\/[^\s]+$/, 'an http(s):// URL');
const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
const saslMechanism = z.enum(['plain', 'scram-sha-256', 'scram-sha-512']);

/** The environment variables, their defaults (the Agile Telecom profile) and what is allowed. */
const envSchema = z.object({
  KAFKA_BROKERS: brokerList.default('127.0.0.1:9092'),
  KAFKA_CLIENT_ID: nonEmpty.default('sms-connector'),
  KAFKA_GROUP_ID: nonEmpty.default('sms-connector'),
  KAFKA_SSL: bool.default(false),
  KAFKA_SASL_MECHANISM: saslMechanism.optional(),
  KAFKA_SASL_USERNAME: nonEmpty.optional(),
  KAFKA_SASL_PASSWORD: nonEmpty.optional(),
  /** PEM file of the CA(s) that sign the brokers' certificates (default: Node's public CA list). Needs KAFKA_SSL=true. */
  KAFKA_SSL_CA_FILE: nonEmpty.optional(),
  /** Client certificate and its key (PEM) for mutual TLS with the brokers: both or neither. */
  KAFKA_SSL_CERT_FILE: nonEmpty.optional(),
  KAFKA_SSL_KEY_FILE: nonEmpty.optional(),
  /** Consumer group session timeout; tests shorten it so a killed member is noticed fast. */
  KAFKA_SESSION_TIMEOUT_MS: durationMs(6000, 300000).default(30000),
  KAFKA_HEARTBEAT_INTERVAL_MS: durationMs(100, 60000).default(3000),
  /** A partition's offset commits at least this far apart (re-reads after a crash are deduplicated by the correlation index). */
  KAFKA_COMMIT_INTERVAL_MS: durationMs(0, 60000).default(1000),
  /** How long the producer gathers records into one request: throughput vs. latency of events. */
  KAFKA_PRODUCER_LINGER_MS: durationMs(0, 1000).default(10),
  /** Codec of the batches the connector produces (events, correlation, DLQ); the default is measured (compression-names.ts). */
  KAFKA_COMPRESSION: z.enum(COMPRESSION_NAMES).default(DEFAULT_COMPRESSION),
  /**
   * The largest record, and produce request, the connector writes (events, correlation bundles, DLQ
   * copies). Keep it at or under the topics' max.message.bytes (the broker's default is 1,048,588);
   * a DLQ copy over it loses its value, any other record over it goes to the DLQ.
   */
  KAFKA_MAX_RECORD_BYTES: int(65536, 100 * 1024 * 1024).default(1_000_000),
  /**
   * Outbound fetches: the broker answers once this many bytes are ready or the wait is over. The
   * defaults answer at once (lowest latency); larger values mean fewer, fuller fetches — less CPU
   * per message when records trickle in (BENCHMARKS.md, "Fetch batching").
   */
  KAFKA_FETCH_MIN_BYTES: int(1, 16 * 1024 * 1024).default(1),
  KAFKA_FETCH_MAX_WAIT_MS: durationMs(10, 5000).default(500),
  SCHEMA_REGISTRY_URL: httpUrl.default('http://127.0.0.1:8081'),
  SCHEMA_REGISTRY_USERNAME: nonEmpty.optional(),
  SCHEMA_REGISTRY_PASSWORD: nonEmpty.optional(),
  /** PEM file of the CA(s) that sign the registry's certificate (an https:// URL). */
  SCHEMA_REGISTRY_CA_FILE: nonEmpty.optional(),
  /** Client certificate and its key (PEM) for mutual TLS with the registry: both or neither. */
  SCHEMA_REGISTRY_CERT_FILE: nonEmpty.optional(),
  SCHEMA_REGISTRY_KEY_FILE: nonEmpty.optional(),
  /** Deadline of every registry call (connect, answer and body); no answer in time = an outage (pause and retry). */
  SCHEMA_REGISTRY_TIMEOUT_MS: durationMs(100, 120000).default(5000),
  /** Accept only `sms.outbound` schema ids registered under `<TOPIC_OUTBOUND>-value`; others go to the DLQ (FOREIGN_SUBJECT). */
  SCHEMA_SUBJECT_STRICT: bool.default(false),
  /** An `sms.outbound` value larger than this goes to the DLQ (RECORD_TOO_LARGE) before any decoding. */
  OUTBOUND_MAX_RECORD_BYTES: int(1024, 64 * 1024 * 1024).default(256 * 1024),
  TOPIC_OUTBOUND: topicName.default('sms.outbound'),
  /**
   * The urgent lane (issue 21): requests on this topic are read by a consumer of their own and take
   * a session slot before any waiting request of TOPIC_OUTBOUND. Unset: one lane.
   */
  TOPIC_OUTBOUND_URGENT: topicName.optional(),
  /** While urgent requests wait, this share of the session slots still goes to bulk ones. */
  LANE_BULK_MIN_SHARE: fraction.default(0.1),
  TOPIC_DELIVERY: topicName.default('sms.delivery'),
  TOPIC_DLQ: topicName.default('sms.outbound.dlq'),
  TOPIC_CORRELATION: topicName.default('sms.correlation'),
  /** Compacted: the state of requests still waiting for receipts after half the restore window (correlation-promoter.ts). */
  TOPIC_CORRELATION_LIVE: topicName.default('sms.correlation.live'),
  TOPIC_INBOUND: topicName.optional(),
  /** Receipts as received (receipt-log.ts): with RECEIPTS_LOG=all, every one, as it is correlated. */
  TOPIC_RECEIPTS: topicName.default('sms.receipts'),
  /**
   * Which receipts go to TOPIC_RECEIPTS as received: `all` (an audit log: a receipt is answered only
   * once it is there too), or `forwarded` — only those handed to the replica owning their message
   * id (CORRELATION_OWNERSHIP=partitioned; with `replicated`, none).
   */
  RECEIPTS_LOG: z.enum(['forwarded', 'all']).default('forwarded'),
  /**
   * Who holds the correlation state and handles a receipt (issue 20). `partitioned`: each replica
   * holds its share (the correlation partitions of its bulk partitions and urgent homes) and handles
   * the receipts whose message id hashes there; the others forward them through TOPIC_RECEIPTS.
   * `replicated`: every replica holds the whole state and handles what arrives on its binds.
   */
  CORRELATION_OWNERSHIP: z.enum(['replicated', 'partitioned']).optional(),
  /** retention.ms of TOPIC_RECEIPTS when start-up creates it. */
  RECEIPTS_RETENTION_MS: durationMs(60000, 365 * 86400000).default(604800000),
  TOPIC_AUTO_CREATE: bool.default(true),
  TOPIC_PARTITIONS: int(1, 10000).default(12),
  SMPP_HOST: nonEmpty.default('smpp.agiletelecom.com'),
  SMPP_PORT: int(1, 65535).default(2776),
  SMPP_TLS: bool.default(true),
  SMPP_TLS_CA_FILE: nonEmpty.optional(),
  SMPP_TLS_REJECT_UNAUTHORIZED: bool.default(true),
  SMPP_TLS_SERVERNAME: nonEmpty.optional(),
  SMPP_SYSTEM_ID: z.string({ error: 'set to the account username (required)' }).min(1),
  SMPP_PASSWORD: z.string({ error: 'set to the account password, or SMPP_PASSWORD_FILE to a file holding it (required)' }).min(1),
  /**
   * SMPP 3.4 allows a system_id of 15 characters and a password of 8: longer ones are refused at start
   * (the SMSC would answer the bind with a bare 0x02). Set true only where the provider documents longer ones.
   */
  SMPP_ALLOW_LONG_CREDENTIALS: bool.default(false),
  /** Binds of this replica by mode, parsed by smpp/protocol/pool-spec.ts (the one parser) in `toConfig`. */
  SMPP_SESSIONS: nonEmpty.default('trx:4'),
  SMPP_ACCOUNT_MAX_BINDS: int(1, 64).default(4),
  SMPP_RATE_LIMIT: int(1, 100000).default(100),
  SMPP_RATE_MARGIN: fraction.default(0.02),
  SMPP_WINDOW: int(1, 1000).default(10),
  /** The provider closes a link without enquire_link for 5 minutes and asks for one every 30 s. */
  SMPP_ENQUIRE_LINK_MS: durationMs(100, 30000).default(30000),
  SMPP_RESPONSE_TIMEOUT_MS: durationMs(100, 600000).default(10000),
  SMPP_CONNECT_TIMEOUT_MS: durationMs(100, 600000).default(10000),
  SMPP_BIND_TIMEOUT_MS: durationMs(100, 600000).default(10000),
  SMPP_RECONNECT_MIN_MS: durationMs(10, 600000).default(500),
  SMPP_RECONNECT_MAX_MS: durationMs(10, 3600000).default(30000),
  /** Backoff after a bind refused for credentials (0x0D-0x0F) or too many binds (0x05). */
  SMPP_BIND_ERROR_BACKOFF_MS: durationMs(10, 3600000).default(60000),
  /** A new bind slot from a rebalance is opened only after this, so the replica giving it up has closed it. */
  SMPP_BIND_HANDOVER_MS: durationMs(0, 600000).default(3000),
  /** How schedule_delivery_time / validity_period are written (smpp/… smpp-time.ts `SmppTimeFormat`). */
  SMPP_TIME_FORMAT: z.enum(['smpp34', 'yyyymmddhhmmss']).default('smpp34'),
  /** The provider's status and receipt-error tables; Agile Telecom's is the one there is. */
  SMPP_PROFILE: z.enum(['agile']).default('agile'),
  /** Routes and routing rules (config-routes.ts); set, the SMPP_* variables above are not read. */
  ROUTES_FILE: nonEmpty.optional(),
  /** A route with no bound session for this long is skipped by routing (failover) until one binds. */
  ROUTE_FAILOVER_UNBOUND_MS: durationMs(0, 3600000).default(30000),
  /**
   * A route whose SMSC answers this many submits in a row with a system-side failure (the status
   * table's SMSC_TRANSIENT and TIMEOUT: 0x08, 0x14, 0x64, 0xFF, no answer) and none accepted is left by
   * routing: its circuit opens (pipeline/route-circuit.ts). 0: never. With one route it does nothing.
   */
  ROUTE_CIRCUIT_FAILURES: int(0, 100000).default(20),
  /** An open circuit keeps traffic off its route this long; then one request tries it, and an accepted one brings the traffic back. */
  ROUTE_CIRCUIT_OPEN_MS: durationMs(100, 3600000).default(30000),
  /** While the account is paused (credit, credentials), one record probes the SMSC this often. */
  ACCOUNT_PROBE_INTERVAL_MS: durationMs(100, 3600000).default(15000),
  SMS_MAX_SEGMENTS: int(1, MAX_SEGMENTS_LIMIT).default(DEFAULT_MAX_SEGMENTS),
  /** Bounds on the request's fields (request-bounds.ts): over one → REJECTED (VALIDATION), the field named. */
  // At most 600: a request id is a key of the correlation store, and LMDB keys hold at most 1,978
  // bytes (600 UTF-16 units are at most 1,800 bytes of UTF-8, plus the timeline key's parts).
  REQUEST_MAX_ID_CHARS: int(32, 600).default(DEFAULT_REQUEST_BOUNDS.maxIdChars),
  REQUEST_MAX_ADDRESS_CHARS: int(20, 1024).default(DEFAULT_REQUEST_BOUNDS.maxAddressChars),
  REQUEST_MAX_METADATA_ENTRIES: int(0, 10000).default(DEFAULT_REQUEST_BOUNDS.maxMetadataEntries),
  REQUEST_MAX_METADATA_BYTES: int(0, 1024 * 1024).default(DEFAULT_REQUEST_BOUNDS.maxMetadataBytes),
  RETRY_MAX_AGE_MS: durationMs(1000, 7 * 86400000).default(3600000),
  RECEIPT_WAIT_MS: durationMs(1000, 30 * 86400000).default(172800000),
  RECEIPT_ACK_WAIT_MS: durationMs(100, 600000).default(10000),
  /** After the receipt deadline, wait this much longer before calling a request's outcome UNKNOWN. */
  RECEIPT_GRACE_MS: durationMs(0, 7 * 86400000).default(900000),
  CORRELATION_RETENTION_MS: durationMs(60000, 365 * 86400000).default(604800000),
  /** Ignored since the index moved to disk (CORRELATION_STORE_DIR); accepted so that existing setups still start. */
  CORRELATION_INDEX_MAX: int(1000, 100_000_000).optional(),
  /**
   * Where the correlation index lives on disk. A restart on the same directory reads only what the
   * topic gained since; unset, a temporary directory is used and deleted at stop, so every start
   * reads the whole topic.
   */
  CORRELATION_STORE_DIR: nonEmpty.optional(),
  /**
   * This replica's name across its restarts (unset: the host name, which a StatefulSet pod keeps):
   * the group leader gives a replica that comes back the partitions its store followed, and the
   * live-state watermark is kept under it.
   */
  CONNECTOR_INSTANCE_ID: z
    .string()
    .regex(/^[\x21-\x7e]{1,253}$/, 'printable ASCII without spaces, 1-253 chars')
    .optional(),
  /** A request whose receipts are all in is dropped from the correlation index after this. */
  CORRELATION_KEEP_DONE_MS: durationMs(0, 7 * 86400000).default(600000),
  /**
   * How far back a replica on an empty store reads the correlation topic, after the live-state
   * topic; a request still waiting for receipts after half of it is written to the live-state
   * topic. Must be over twice CORRELATION_KEEP_DONE_MS; unset: 30 min, or 3 × CORRELATION_KEEP_DONE_MS if more.
   */
  CORRELATION_RESTORE_WINDOW_MS: durationMs(10_000, 7 * 86400000).optional(),
  /** How long a receipt waits for its message id to be known (receipt before submit_sm_resp). */
  RECEIPT_MATCH_WAIT_MS: durationMs(0, 600000).default(5000),
  SHUTDOWN_DRAIN_MS: durationMs(0, 600000).default(20000),
  HTTP_PORT: int(0, 65535).default(9464),
  LOG_LEVEL: logLevel.default('info'),
});

type Env = z.output<typeof envSchema>;

/** One SMPP route: an account at a provider, its sessions and limits (SMPP_* or a routes file entry). */
export interface SmppRoute {
  /** `default` without ROUTES_FILE. */
  name: string;
  host: string;
  port: number;
  tls: boolean;
  tlsCaFile: string | null;
  tlsRejectUnauthorized: boolean;
  tlsServername: string;
  systemId: string;
  password: string;
  /** SMPP_SESSIONS, parsed and checked against the account cap. */
  sessions: SessionSpecEntry[];
  accountMaxBinds: number;
  rateLimit: number;
  rateMargin: number;
  window: number;
  enquireLinkMs: number;
  responseTimeoutMs: number;
  connectTimeoutMs: number;
  bindTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  bindErrorBackoffMs: number;
  bindHandoverMs: number;
  /** SMPP_TIME_FORMAT */
  timeFormat: SmppTimeFormat;
  /** SMPP_PROFILE */
  profile: 'agile';
}

/** A variable as `--help` lists it: its default, `undefined` when unset means off, or required. */
export interface ConfigVariable {
  name: string;
  default: string | undefined;
  required: boolean;
}

/** The variables a schema reads, in declaration order, with the defaults it declares (never a value of the environment). */
function variablesOf(schema: z.ZodObject): ConfigVariable[] {
  return Object.entries(schema.shape).map(([name, field]) => {
    if (field instanceof z.ZodDefault) return { name, default: String(field.def.defaultValue), required: false };
    return { name, default: undefined, required: !(field instanceof z.ZodOptional) };
  });
}

/** Every variable of the connector (`run --help` prints this list, so it cannot drift from the schema). */
export function configVariables(): ConfigVariable[] {
  return variablesOf(envSchema);
}

/** Secrets that can come from a file instead: `<NAME>_FILE` names it and wins over `<NAME>`. */
export const SECRET_FILE_VARIABLES = ['SMPP_PASSWORD', 'KAFKA_SASL_PASSWORD', 'SCHEMA_REGISTRY_PASSWORD'] as const;

export interface Config {
  kafka: {
    brokers: string[];
    clientId: string;
    groupId: string;
    ssl: boolean;
    sasl: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string } | null;
    /** KAFKA_SSL_CA_FILE / _CERT_FILE / _KEY_FILE, read at start. */
    pem: TlsFiles;
    sessionTimeoutMs: number;
    heartbeatIntervalMs: number;
    commitIntervalMs: number;
    producerLingerMs: number;
    /** KAFKA_COMPRESSION */
    compression: CompressionName;
    /** KAFKA_MAX_RECORD_BYTES */
    maxRecordBytes: number;
    fetchMinBytes: number;
    fetchMaxWaitMs: number;
  };
  registry: {
    url: string;
    auth: { username: string; password: string } | null;
    /** SCHEMA_REGISTRY_CA_FILE / _CERT_FILE / _KEY_FILE, read at start. */
    pem: TlsFiles;
    /** SCHEMA_REGISTRY_TIMEOUT_MS */
    timeoutMs: number;
    /** SCHEMA_SUBJECT_STRICT */
    subjectStrict: boolean;
  };
  /** OUTBOUND_MAX_RECORD_BYTES */
  outboundMaxRecordBytes: number;
  topics: {
    outbound: string;
    /** TOPIC_OUTBOUND_URGENT: null = no urgent lane. */
    outboundUrgent: string | null;
    delivery: string;
    dlq: string;
    correlation: string;
    /** TOPIC_CORRELATION_LIVE */
    correlationLive: string;
    inbound: string | null;
    /** TOPIC_RECEIPTS */
    receipts: string;
    autoCreate: boolean;
    partitions: number;
  };
  /** The first route (the only one without ROUTES_FILE): what the single-route parts still read. */
  smpp: SmppRoute;
  /** Every route, in the file's order (without ROUTES_FILE: one, `default`, from the SMPP_* variables). */
  routes: SmppRoute[];
  /** The routing rules, checked against the routes (routing/rules.ts). */
  routingRules: RoutingRule[];
  /** ROUTE_FAILOVER_UNBOUND_MS */
  routeFailoverUnboundMs: number;
  /** ROUTE_CIRCUIT_FAILURES (0: no circuit) */
  routeCircuitFailures: number;
  /** ROUTE_CIRCUIT_OPEN_MS */
  routeCircuitOpenMs: number;
  /** SMPP_* variables set beside ROUTES_FILE, which then does not read them: start-up warns (a kept SMPP_RATE_LIMIT would silently not apply). */
  ignoredVariables?: string[];
  accountProbeIntervalMs: number;
  /** Set only to warn that it is ignored. */
  correlationIndexMax?: number;
  correlationStoreDir?: string;
  /** CONNECTOR_INSTANCE_ID; unset: the host name (resolved at start). */
  instanceId?: string;
  correlationKeepDoneMs: number;
  /** CORRELATION_RESTORE_WINDOW_MS, its default resolved */
  correlationRestoreWindowMs: number;
  receiptMatchWaitMs: number;
  sms: { maxSegments: number };
  /** REQUEST_MAX_* */
  requestBounds: RequestBounds;
  retryMaxAgeMs: number;
  receiptWaitMs: number;
  receiptAckWaitMs: number;
  receiptGraceMs: number;
  correlationRetentionMs: number;
  /** RECEIPTS_LOG */
  receiptsLog: 'forwarded' | 'all';
  /** RECEIPTS_RETENTION_MS */
  receiptsRetentionMs: number;
  /** CORRELATION_OWNERSHIP (default partitioned) */
  correlationOwnership: 'replicated' | 'partitioned';
  /**
   * Whether CORRELATION_OWNERSHIP was set. Unset, a deployment whose topics cannot pair partitions
   * (start.ts `resolveOwnership`) runs replicated with a warning instead of refusing to start.
   */
  correlationOwnershipSet: boolean;
  shutdownDrainMs: number;
  /** LANE_BULK_MIN_SHARE */
  laneBulkMinShare: number;
  httpPort: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/** SMPP_SESSIONS through the one spec parser; its complaint becomes a one-line ConfigError. */
function sessionsOf(e: Pick<Env, 'SMPP_SESSIONS' | 'SMPP_ACCOUNT_MAX_BINDS'>): SessionSpecEntry[] {
  try {
    return parseSessionSpec(e.SMPP_SESSIONS, e.SMPP_ACCOUNT_MAX_BINDS);
  } catch (err) {
    if (!(err instanceof SessionSpecError)) throw err;
    throw new ConfigError('SMPP_SESSIONS', `SMPP_SESSIONS: ${err.message} (got ${JSON.stringify(e.SMPP_SESSIONS)})`);
  }
}

/** `X_FILE` wins over `X` for secrets, so passwords can come from a mounted secret. */
function withSecretFiles(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...env };
  for (const name of SECRET_FILE_VARIABLES) {
    const file = env[`${name}_FILE`];
    if (file === undefined || file === '') continue;
    try {
      out[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new ConfigError(`${name}_FILE`, `${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  // An empty variable means "not set", as in most twelve-factor tools.
  for (const [k, v] of Object.entries(out)) if (v === '') delete out[k];
  return out;
}

/** Both loaders: the refusals that must happen before zod could echo a value, then the parse. */
function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): { data: z.output<S>; raw: Record<string, string | undefined> } {
  const raw = withSecretFiles(env);
  refuseUrlCredentials(raw);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw configErrorOf(parsed.error, env);
  checkCredentials(parsed.data as CredentialEnv);
  return { data: parsed.data, raw };
}

/** With ROUTES_FILE the routes come from the file: the SMPP_* variables are not read (the file's fields stand for them). */
function withoutRouteVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !ROUTE_VARIABLES.has(name)));
}

/** The variables a routes file entry stands for. */
const ROUTE_VARIABLES: ReadonlySet<string> = new Set(Object.values(ROUTE_FIELDS));

/** …and the account variables are then not required either. */
const routesFileEnvSchema = envSchema.extend({ SMPP_SYSTEM_ID: z.string().default(''), SMPP_PASSWORD: z.string().default('') });

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const { data, raw } = env['ROUTES_FILE'] ? parseEnv(routesFileEnvSchema, withoutRouteVariables(env)) : parseEnv(envSchema, env);
  const config = toConfig(data, raw);
  if (env['ROUTES_FILE']) config.ignoredVariables = [...ROUTE_VARIABLES].filter((name) => env[name] !== undefined && env[name] !== '');
  return deepFreeze(config);
}

function configErrorOf(error: z.ZodError, env: NodeJS.ProcessEnv): ConfigError {
  const issue = error.issues[0]!;
  const variable = String(issue.path[0] ?? 'environment');
  const raw = env[variable];
  const allowed = issue.code === 'invalid_value' ? `one of ${issue.values.join(', ')}` : issue.message;
  const got = raw === undefined ? 'not set' : raw === '' ? 'empty' : variable.includes('PASSWORD') ? 'got a value' : `got ${JSON.stringify(raw)}`;
  return new ConfigError(variable, `${variable}: must be ${allowed} (${got})`);
}

/** What the client tools (`produce`, `tail`, `redrive`) need: Kafka, the registry and the topic names. */
export interface ClientConfig {
  kafka: Pick<Config['kafka'], 'brokers' | 'clientId' | 'ssl' | 'sasl' | 'pem'>;
  registry: Config['registry'];
  topics: Pick<Config['topics'], 'outbound' | 'delivery' | 'dlq'> & { outboundUrgent?: string | null };
  /** The connector's SMS_MAX_SEGMENTS and REQUEST_MAX_* from the same environment: `produce` checks requests as that connector will. */
  requestChecks?: { maxSegments: number; bounds: RequestBounds };
}

const clientEnvSchema = envSchema.pick({
  KAFKA_BROKERS: true,
  KAFKA_SSL: true,
  KAFKA_SASL_MECHANISM: true,
  KAFKA_SASL_USERNAME: true,
  KAFKA_SASL_PASSWORD: true,
  KAFKA_SSL_CA_FILE: true,
  KAFKA_SSL_CERT_FILE: true,
  KAFKA_SSL_KEY_FILE: true,
  SCHEMA_REGISTRY_URL: true,
  SCHEMA_REGISTRY_USERNAME: true,
  SCHEMA_REGISTRY_PASSWORD: true,
  SCHEMA_REGISTRY_CA_FILE: true,
  SCHEMA_REGISTRY_CERT_FILE: true,
  SCHEMA_REGISTRY_KEY_FILE: true,
  SCHEMA_REGISTRY_TIMEOUT_MS: true,
  SCHEMA_SUBJECT_STRICT: true,
  TOPIC_OUTBOUND: true,
  TOPIC_OUTBOUND_URGENT: true,
  TOPIC_DELIVERY: true,
  TOPIC_DLQ: true,
  SMS_MAX_SEGMENTS: true,
  REQUEST_MAX_ID_CHARS: true,
  REQUEST_MAX_ADDRESS_CHARS: true,
  REQUEST_MAX_METADATA_ENTRIES: true,
  REQUEST_MAX_METADATA_BYTES: true,
});

/** The variables the client tools read, with their defaults. */
export function clientConfigVariables(): ConfigVariable[] {
  return variablesOf(clientEnvSchema);
}

/**
 * The client tools' subset of the environment, with the same defaults, rules and one-line errors
 * as `loadConfig` — but no SMPP variable is read, so a producer's shell needs no SMSC credentials.
 */
export function loadClientConfig(env: NodeJS.ProcessEnv = process.env, clientId = 'sms-connector-cli'): Readonly<ClientConfig> {
  const { data: e, raw } = parseEnv(clientEnvSchema, env);
  return deepFreeze({
    kafka: {
      brokers: e.KAFKA_BROKERS.split(','),
      clientId,
      ssl: e.KAFKA_SSL,
      sasl: e.KAFKA_SASL_MECHANISM ? { mechanism: e.KAFKA_SASL_MECHANISM, username: e.KAFKA_SASL_USERNAME!, password: e.KAFKA_SASL_PASSWORD! } : null,
      pem: readTlsFiles(raw, KAFKA_TLS_FILES, e.KAFKA_SSL, 'KAFKA_SSL=true'),
    },
    registry: registryConfig(e, raw),
    topics: { outbound: e.TOPIC_OUTBOUND, outboundUrgent: e.TOPIC_OUTBOUND_URGENT ?? null, delivery: e.TOPIC_DELIVERY, dlq: e.TOPIC_DLQ },
    requestChecks: { maxSegments: e.SMS_MAX_SEGMENTS, bounds: requestBoundsOf(e) },
  });
}

function requestBoundsOf(
  e: Pick<Env, 'REQUEST_MAX_ID_CHARS' | 'REQUEST_MAX_ADDRESS_CHARS' | 'REQUEST_MAX_METADATA_ENTRIES' | 'REQUEST_MAX_METADATA_BYTES'>,
): RequestBounds {
  return {
    maxIdChars: e.REQUEST_MAX_ID_CHARS,
    maxAddressChars: e.REQUEST_MAX_ADDRESS_CHARS,
    maxMetadataEntries: e.REQUEST_MAX_METADATA_ENTRIES,
    maxMetadataBytes: e.REQUEST_MAX_METADATA_BYTES,
  };
}

function registryConfig(
  e: Pick<Env, 'SCHEMA_REGISTRY_URL' | 'SCHEMA_REGISTRY_USERNAME' | 'SCHEMA_REGISTRY_PASSWORD' | 'SCHEMA_REGISTRY_TIMEOUT_MS' | 'SCHEMA_SUBJECT_STRICT'>,
  raw: Record<string, string | undefined>,
): Config['registry'] {
  return {
    url: e.SCHEMA_REGISTRY_URL.replace(/\/+$/, ''),
    auth: e.SCHEMA_REGISTRY_USERNAME ? { username: e.SCHEMA_REGISTRY_USERNAME, password: e.SCHEMA_REGISTRY_PASSWORD ?? '' } : null,
    pem: readTlsFiles(raw, REGISTRY_TLS_FILES, e.SCHEMA_REGISTRY_URL.startsWith('https://'), 'an https:// SCHEMA_REGISTRY_URL'),
    timeoutMs: e.SCHEMA_REGISTRY_TIMEOUT_MS,
    subjectStrict: e.SCHEMA_SUBJECT_STRICT,
  };
}

/**
 * The largest record a request within the REQUEST_MAX_* bounds can produce: its state in the
 * live-state topic (JSON: a control character in metadata escapes to 6 bytes; per segment an SMSC
 * message id of ≤ 65 octets, and again as the key of its final, ≤ 128 bytes) — larger than its
 * correlation entry and than any of its Avro events, which echo the same fields unescaped.
 */
function worstRecordBytes(e: Env): number {
  const echo = maxEchoBytes(requestBoundsOf(e));
  return 6 * echo + e.SMS_MAX_SEGMENTS * (2 * 6 * 65 + 128) + 4096;
}

/**
 * A completed request is pruned before its promotion could come (half the window), so the
 * live-state topic holds only what still waits; and its completing final stays inside the window
 * that a restore reads until the tombstone of its promoted state is written.
 */
function restoreWindowOf(e: Env): number {
  const window = e.CORRELATION_RESTORE_WINDOW_MS;
  if (window === undefined) return Math.max(30 * 60_000, 3 * e.CORRELATION_KEEP_DONE_MS);
  if (window <= 2 * e.CORRELATION_KEEP_DONE_MS) {
    throw new ConfigError(
      'CORRELATION_RESTORE_WINDOW_MS',
      `CORRELATION_RESTORE_WINDOW_MS: must be more than twice CORRELATION_KEEP_DONE_MS (${e.CORRELATION_KEEP_DONE_MS} ms)`,
    );
  }
  return window;
}

/** The urgent lane's topic must be a topic of its own: read by a second consumer, it would otherwise be read twice. */
function urgentTopicOf(e: Env): string | null {
  const urgent = e.TOPIC_OUTBOUND_URGENT;
  if (urgent === undefined) return null;
  const taken = (
    ['TOPIC_OUTBOUND', 'TOPIC_DELIVERY', 'TOPIC_DLQ', 'TOPIC_CORRELATION', 'TOPIC_CORRELATION_LIVE', 'TOPIC_INBOUND', 'TOPIC_RECEIPTS'] as const
  ).find((name) => e[name] === urgent);
  if (taken) throw new ConfigError('TOPIC_OUTBOUND_URGENT', `TOPIC_OUTBOUND_URGENT: must be a topic of its own, not ${taken}'s (${urgent})`);
  return urgent;
}

/** The SMPP_* variables a route reads (a routes file entry stands for them: config-routes.ts). */
type SmppEnv = Pick<Env, Extract<keyof Env, `SMPP_${string}`>>;

/** One route from its variables, with the checks that span several of them. */
function smppRouteOf(name: string, e: SmppEnv): SmppRoute {
  if (e.SMPP_RECONNECT_MIN_MS > e.SMPP_RECONNECT_MAX_MS) {
    throw new ConfigError('SMPP_RECONNECT_MIN_MS', 'SMPP_RECONNECT_MIN_MS: must not exceed SMPP_RECONNECT_MAX_MS');
  }
  checkSmppCredentialLengths(e);
  if (e.SMPP_TLS_CA_FILE !== undefined) {
    if (!e.SMPP_TLS) throw new ConfigError('SMPP_TLS_CA_FILE', 'SMPP_TLS_CA_FILE: needs SMPP_TLS=true (set, but the connection is not TLS)');
    readPemFile('SMPP_TLS_CA_FILE', e.SMPP_TLS_CA_FILE); // read again by the sessions; a bad path stops start-up here
  }
  return {
    name,
    host: e.SMPP_HOST,
    port: e.SMPP_PORT,
    tls: e.SMPP_TLS,
    tlsCaFile: e.SMPP_TLS_CA_FILE ?? null,
    tlsRejectUnauthorized: e.SMPP_TLS_REJECT_UNAUTHORIZED,
    tlsServername: e.SMPP_TLS_SERVERNAME ?? e.SMPP_HOST,
    systemId: e.SMPP_SYSTEM_ID,
    password: e.SMPP_PASSWORD,
    sessions: sessionsOf(e),
    accountMaxBinds: e.SMPP_ACCOUNT_MAX_BINDS,
    rateLimit: e.SMPP_RATE_LIMIT,
    rateMargin: e.SMPP_RATE_MARGIN,
    window: e.SMPP_WINDOW,
    enquireLinkMs: e.SMPP_ENQUIRE_LINK_MS,
    responseTimeoutMs: e.SMPP_RESPONSE_TIMEOUT_MS,
    connectTimeoutMs: e.SMPP_CONNECT_TIMEOUT_MS,
    bindTimeoutMs: e.SMPP_BIND_TIMEOUT_MS,
    reconnectMinMs: e.SMPP_RECONNECT_MIN_MS,
    reconnectMaxMs: e.SMPP_RECONNECT_MAX_MS,
    bindErrorBackoffMs: e.SMPP_BIND_ERROR_BACKOFF_MS,
    bindHandoverMs: e.SMPP_BIND_HANDOVER_MS,
    timeFormat: e.SMPP_TIME_FORMAT,
    profile: e.SMPP_PROFILE,
  };
}

/** The schema of one route's variables: the SMPP_* part of the environment's. */
const smppSchema = envSchema.pick(
  Object.fromEntries(
    Object.keys(envSchema.shape)
      .filter((k) => k.startsWith('SMPP_'))
      .map((k) => [k, true]),
  ) as { [K in keyof SmppEnv]: true },
);

/**
 * The routes and rules: from ROUTES_FILE, each route checked by the rules of the SMPP_* variables it
 * stands for (an error names the route and its field), or one route `default` from the variables.
 */
function routesOf(e: Env): { routes: SmppRoute[]; rules: RoutingRule[] } {
  if (e.ROUTES_FILE === undefined) return { routes: [smppRouteOf(DEFAULT_ROUTE, e)], rules: [{ name: 'default', routes: [DEFAULT_ROUTE] }] };
  let text: string;
  try {
    text = readFileSync(e.ROUTES_FILE, 'utf8');
  } catch (err) {
    throw new ConfigError('ROUTES_FILE', `ROUTES_FILE: cannot read ${e.ROUTES_FILE} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const file = parseRoutesFile(text);
  const routes = file.routes.map((entry) => {
    try {
      const parsed = smppSchema.safeParse(withSecretFiles(entry.variables));
      if (!parsed.success) throw configErrorOf(parsed.error, entry.variables);
      return smppRouteOf(entry.name, parsed.data);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      throw new ConfigError('ROUTES_FILE', `ROUTES_FILE: ${entry.at}.${fieldOf(err.message)}`);
    }
  });
  refuseSharedAccounts(routes);
  try {
    return {
      routes,
      rules: checkRoutingTable(
        file.rules,
        routes.map((r) => r.name),
      ),
    };
  } catch (err) {
    if (!(err instanceof RoutingTableError)) throw err;
    throw new ConfigError('ROUTES_FILE', `ROUTES_FILE: ${err.message}`);
  }
}

/**
 * Two routes on one account would each hold the account's bind cap (the assigner shares slots per
 * route), so together they could bind twice what the provider allows: one account, one route.
 */
function refuseSharedAccounts(routes: readonly SmppRoute[]): void {
  const byAccount = new Map<string, string>();
  for (const route of routes) {
    // not the port: one account is often reachable on a TLS and a plain port
    const account = `${route.host.toLowerCase()} ${route.systemId}`;
    const other = byAccount.get(account);
    if (other !== undefined)
      throw new ConfigError(
        'ROUTES_FILE',
        `ROUTES_FILE: routes '${other}' and '${route.name}' are the same account (${account}); an account's binds and rate belong to one route`,
      );
    byAccount.set(account, route.name);
  }
}

/** A variable's complaint in a route's words: `SMPP_PORT: must be …` → `port: must be …`. */
function fieldOf(message: string): string {
  return Object.entries(ROUTE_FIELDS).reduce((text, [field, variable]) => text.replaceAll(new RegExp(`\\b${variable}\\b`, 'g'), field), message);
}

function toConfig(e: Env, raw: Record<string, string | undefined>): Config {
  const { routes, rules } = routesOf(e);
  if (e.KAFKA_HEARTBEAT_INTERVAL_MS * 3 > e.KAFKA_SESSION_TIMEOUT_MS) {
    throw new ConfigError('KAFKA_HEARTBEAT_INTERVAL_MS', 'KAFKA_HEARTBEAT_INTERVAL_MS: must be at most a third of KAFKA_SESSION_TIMEOUT_MS');
  }
  const worst = worstRecordBytes(e);
  if (worst > e.KAFKA_MAX_RECORD_BYTES) {
    throw new ConfigError(
      'REQUEST_MAX_METADATA_BYTES',
      `REQUEST_MAX_METADATA_BYTES: with these REQUEST_MAX_* bounds one correlation record can reach ${worst} bytes, over KAFKA_MAX_RECORD_BYTES (${e.KAFKA_MAX_RECORD_BYTES}): lower the bounds or raise KAFKA_MAX_RECORD_BYTES`,
    );
  }
  return {
    kafka: {
      brokers: e.KAFKA_BROKERS.split(','),
      clientId: e.KAFKA_CLIENT_ID,
      groupId: e.KAFKA_GROUP_ID,
      ssl: e.KAFKA_SSL,
      sasl: e.KAFKA_SASL_MECHANISM ? { mechanism: e.KAFKA_SASL_MECHANISM, username: e.KAFKA_SASL_USERNAME!, password: e.KAFKA_SASL_PASSWORD! } : null,
      pem: readTlsFiles(raw, KAFKA_TLS_FILES, e.KAFKA_SSL, 'KAFKA_SSL=true'),
      sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: e.KAFKA_HEARTBEAT_INTERVAL_MS,
      commitIntervalMs: e.KAFKA_COMMIT_INTERVAL_MS,
      producerLingerMs: e.KAFKA_PRODUCER_LINGER_MS,
      compression: e.KAFKA_COMPRESSION,
      maxRecordBytes: e.KAFKA_MAX_RECORD_BYTES,
      fetchMinBytes: e.KAFKA_FETCH_MIN_BYTES,
      fetchMaxWaitMs: e.KAFKA_FETCH_MAX_WAIT_MS,
    },
    registry: registryConfig(e, raw),
    outboundMaxRecordBytes: e.OUTBOUND_MAX_RECORD_BYTES,
    topics: {
      outbound: e.TOPIC_OUTBOUND,
      outboundUrgent: urgentTopicOf(e),
      delivery: e.TOPIC_DELIVERY,
      dlq: e.TOPIC_DLQ,
      correlation: e.TOPIC_CORRELATION,
      correlationLive: e.TOPIC_CORRELATION_LIVE,
      inbound: e.TOPIC_INBOUND ?? null,
      receipts: e.TOPIC_RECEIPTS,
      autoCreate: e.TOPIC_AUTO_CREATE,
      partitions: e.TOPIC_PARTITIONS,
    },
    smpp: routes[0]!,
    routes,
    routingRules: rules,
    routeFailoverUnboundMs: e.ROUTE_FAILOVER_UNBOUND_MS,
    routeCircuitFailures: e.ROUTE_CIRCUIT_FAILURES,
    routeCircuitOpenMs: e.ROUTE_CIRCUIT_OPEN_MS,
    accountProbeIntervalMs: e.ACCOUNT_PROBE_INTERVAL_MS,
    correlationIndexMax: e.CORRELATION_INDEX_MAX,
    correlationStoreDir: e.CORRELATION_STORE_DIR,
    instanceId: e.CONNECTOR_INSTANCE_ID,
    correlationKeepDoneMs: e.CORRELATION_KEEP_DONE_MS,
    correlationRestoreWindowMs: restoreWindowOf(e),
    receiptMatchWaitMs: e.RECEIPT_MATCH_WAIT_MS,
    sms: { maxSegments: e.SMS_MAX_SEGMENTS },
    requestBounds: requestBoundsOf(e),
    retryMaxAgeMs: e.RETRY_MAX_AGE_MS,
    receiptWaitMs: e.RECEIPT_WAIT_MS,
    receiptAckWaitMs: e.RECEIPT_ACK_WAIT_MS,
    receiptGraceMs: e.RECEIPT_GRACE_MS,
    correlationRetentionMs: e.CORRELATION_RETENTION_MS,
    receiptsLog: e.RECEIPTS_LOG,
    receiptsRetentionMs: e.RECEIPTS_RETENTION_MS,
    correlationOwnership: e.CORRELATION_OWNERSHIP ?? 'partitioned',
    correlationOwnershipSet: e.CORRELATION_OWNERSHIP !== undefined,
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
    laneBulkMinShare: e.LANE_BULK_MIN_SHARE,
    httpPort: e.HTTP_PORT,
    logLevel: e.LOG_LEVEL,
  };
}

const SECRET_KEYS = new Set(['password']);

/** The effective config for the start-up log line, with every secret replaced and PEM files only named as present. */
export function redactedConfig(config: Config): unknown {
  return JSON.parse(
    JSON.stringify(config, (key, value: unknown) => {
      if (SECRET_KEYS.has(key) && value) return '[REDACTED]';
      if (key === 'pem')
        return Object.entries(value as TlsFiles)
          .filter(([, v]) => v !== null)
          .map(([k]) => k);
      return value;
    }),
  );
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
