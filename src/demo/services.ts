/**
 * What the demo starts and must stop again: the local stack (only if it was not already running),
 * the TLS simulator, the connector in-process, and the demo's own topics and registry subjects.
 */
import { randomBytes } from 'node:crypto';
import { startApp, type RunningApp } from '../app/start.js';
import { loadConfig, type Config } from '../config.js';
import type { Logger } from '../obs/logger.js';
import { startSimulator, type Simulator } from '../simulator/simulator.js';
import { stackDown, stackStatus, stackUp, type StackInfo } from '../../tools/dev-stack/stack.js';
import { ABSENT_PREFIX } from './load.js';
import type { DemoTls } from './tls.js';

export interface DemoStack {
  info: StackInfo;
  /** True when the demo started it, so the demo stops it again. */
  startedByDemo: boolean;
}

/** Reuses the default local stack when it runs; otherwise starts it (fetching the jars with Maven the first time). */
export async function ensureStack(say: (line: string) => void, dir?: string): Promise<DemoStack> {
  const opts = dir ? { dir } : {};
  const status = await stackStatus(opts);
  if (status.kafka === 'up' && status.registry === 'up' && status.info) {
    say(`local stack already running (kafka ${status.info.kafkaBrokers}, registry ${status.info.registryUrl}): using it, leaving it running`);
    return { info: status.info, startedByDemo: false };
  }
  say('starting the local stack (Kafka KRaft + Apicurio Registry; the first run downloads them with Maven, a few minutes) ...');
  const info = await stackUp({ ...opts, verbose: true });
  return { info, startedByDemo: true };
}

export async function stopStack(stack: DemoStack, say: (line: string) => void): Promise<void> {
  if (!stack.startedByDemo) return;
  say('stopping the local stack the demo started ...');
  await stackDown({ dir: stack.info.dir, verbose: true });
}

export const DEMO_SYSTEM_ID = 'demo';

/**
 * The Agile-profile simulator on TLS only, with the demo's failures: every destination starting
 * 39333 is an absent subscriber (err 201, HLR ERROR), and 2 % of the rest fail in the network
 * with 418 (SM delivery failure).
 */
export async function startDemoSimulator(tls: DemoTls, password: string, systemId = DEMO_SYSTEM_ID): Promise<Simulator> {
  return startSimulator({
    plainPort: null,
    tlsPort: 0,
    tlsKey: tls.key,
    tlsCert: tls.cert,
    accounts: { [systemId]: password },
    behaviour: {
      receiptDelayMs: 250,
      outcomesByDestination: [{ pattern: `^\\+?${ABSENT_PREFIX}`, outcome: { kind: 'failed', err: 201 } }],
      outcomeRatios: [{ ratio: 0.02, outcome: { kind: 'failed', err: 418 } }],
    },
  });
}

export interface DemoTopics {
  outbound: string;
  /** The urgent lane's topic (TOPIC_OUTBOUND_URGENT), in scenarios that use it. */
  outboundUrgent?: string;
  delivery: string;
  dlq: string;
  correlation: string;
  correlationLive: string;
}

/** Topics of one run: a fresh set per run, so a re-run never sees an old backlog. */
export function demoTopics(runId: string, options: { urgentLane?: boolean } = {}): DemoTopics {
  return {
    outbound: `${runId}.sms.outbound`,
    ...(options.urgentLane ? { outboundUrgent: `${runId}.sms.outbound.urgent` } : {}),
    delivery: `${runId}.sms.delivery`,
    dlq: `${runId}.sms.outbound.dlq`,
    correlation: `${runId}.sms.correlation`,
    correlationLive: `${runId}.sms.correlation.live`,
  };
}

export function newPassword(): string {
  // 8 characters: SMPP 3.4's password limit, which the connector enforces (SMPP_ALLOW_LONG_CREDENTIALS)
  return randomBytes(6).toString('base64url');
}

/** The connector's configuration for the demo: the local stack, the TLS simulator, verification on. */
export function demoConfig(stack: StackInfo, topics: DemoTopics, runId: string, smppPort: number, tls: DemoTls, password: string): Readonly<Config> {
  return loadConfig({
    ...sharedVariables(stack, topics, runId),
    SMPP_HOST: '127.0.0.1',
    SMPP_PORT: String(smppPort),
    SMPP_TLS: 'true',
    SMPP_TLS_CA_FILE: tls.caFile,
    SMPP_TLS_REJECT_UNAUTHORIZED: 'true',
    SMPP_TLS_SERVERNAME: tls.serverName,
    SMPP_SYSTEM_ID: DEMO_SYSTEM_ID,
    SMPP_PASSWORD: password,
    SMPP_SESSIONS: 'trx:4',
    SMPP_ACCOUNT_MAX_BINDS: '4',
    // One replica: no other member holds bind slots, so no hand-over wait is needed.
    SMPP_BIND_HANDOVER_MS: '0',
  });
}

/**
 * The routes scenario's configuration: the SMPP side comes from the routes file (the SMPP_*
 * variables are then not read), both lanes are on.
 */
export function demoRoutesConfig(stack: StackInfo, topics: DemoTopics, runId: string, routesFile: string): Readonly<Config> {
  return loadConfig({
    ...sharedVariables(stack, topics, runId),
    ...(topics.outboundUrgent ? { TOPIC_OUTBOUND_URGENT: topics.outboundUrgent } : {}),
    ROUTES_FILE: routesFile,
    // A route paused for credit is probed this often (default 15 s): a demo of a minute must see the
    // credit's return within a second, not after the backlog has drained on the fallback.
    ACCOUNT_PROBE_INTERVAL_MS: '1000',
  });
}

/** The local stack, this run's topics and group, an ephemeral metrics port: what every demo scenario's connector shares. */
function sharedVariables(stack: StackInfo, topics: DemoTopics, runId: string): Record<string, string> {
  return {
    KAFKA_BROKERS: stack.kafkaBrokers,
    KAFKA_CLIENT_ID: 'sms-connector-demo',
    KAFKA_GROUP_ID: `${runId}.connector`,
    KAFKA_SESSION_TIMEOUT_MS: '10000',
    KAFKA_HEARTBEAT_INTERVAL_MS: '1000',
    SCHEMA_REGISTRY_URL: stack.registryUrl,
    TOPIC_OUTBOUND: topics.outbound,
    TOPIC_DELIVERY: topics.delivery,
    TOPIC_DLQ: topics.dlq,
    TOPIC_CORRELATION: topics.correlation,
    TOPIC_CORRELATION_LIVE: topics.correlationLive,
    TOPIC_PARTITIONS: '6',
    SHUTDOWN_DRAIN_MS: '5000',
    HTTP_PORT: '0',
    LOG_LEVEL: 'info',
  };
}

/** Starts the connector in-process and waits until it is ready (consumer joined, a session bound). */
export async function startConnector(config: Readonly<Config>, logger: Logger, timeoutMs = 90_000): Promise<RunningApp> {
  const app = await startApp(config, logger);
  const until = Date.now() + timeoutMs;
  while (!app.readiness().ready) {
    if (Date.now() > until) {
      const checks = JSON.stringify(app.readiness().checks);
      await app.stop();
      throw new Error(`the connector was not ready within ${timeoutMs / 1000} s: ${checks}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return app;
}

/** Removes the run's subjects from the registry (soft, then permanent delete); best effort. */
export async function deleteSubjects(registryUrl: string, subjects: string[]): Promise<void> {
  for (const subject of subjects) {
    const url = `${registryUrl}/subjects/${encodeURIComponent(subject)}`;
    try {
      await fetch(url, { method: 'DELETE', signal: AbortSignal.timeout(5000) });
      await fetch(`${url}?permanent=true`, { method: 'DELETE', signal: AbortSignal.timeout(5000) });
    } catch {
      /* a leftover subject is harmless */
    }
  }
}
