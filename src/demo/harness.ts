/**
 * What every demo scenario shares (`npm run demo`, `npm run demo -- --routes`): the local stack and a
 * throwaway TLS CA before it starts; the connector in-process with its log in .local/demo/; the
 * delivery topic folded into a DeliveryTracker with progress on screen; the wait for every outcome;
 * and, whatever happened, everything it started stopped again — connector, simulators, this run's
 * topics, groups and subjects, the stack if the demo started it — before the summary is printed.
 *
 * A scenario gets a DemoRun, starts its SMSC simulator(s) and connector through it, produces its
 * load, and returns its summary and the problems it found (an empty list: the demo passed).
 */
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { destination, pino } from 'pino';
import { REPO_ROOT } from '../../tools/dev-stack/stack.js';
import type { RunningApp } from '../app/start.js';
import type { DemoFlags } from '../cli-dev.js';
import { readDeliveryEvents } from '../client/delivery-reader.js';
import type { SmsProducer } from '../client/producer.js';
import type { Config } from '../config.js';
import { createKafka } from '../kafka/client.js';
import { createLogger, type Logger } from '../obs/logger.js';
import type { DemoRequest } from './load.js';
import { createProgress, type ProgressSnapshot } from './progress.js';
import { deleteSubjects, demoTopics, ensureStack, startConnector, stopStack, type DemoStack, type DemoTopics } from './services.js';
import { makeDemoTls, type DemoTls } from './tls.js';
import type { DeliveryTracker } from './tracker.js';

export const say = (line: string): void => {
  process.stdout.write(`[demo] ${line}\n`);
};

export interface DemoRun {
  readonly flags: DemoFlags;
  /** Ctrl-C: the scenario stops what it is doing and returns 'interrupted'. */
  readonly abort: AbortSignal;
  /** Ends the topic readers (at Ctrl-C and at the end of the run). */
  readonly readers: AbortSignal;
  readonly runId: string;
  readonly topics: DemoTopics;
  readonly stack: DemoStack;
  readonly tls: DemoTls;
  readonly startedAt: number;
  /** Registers something to stop at the end, named in the "stopping: …" line; the last registered stops first. */
  onStop(name: string, stop: () => Promise<void> | void): void;
}

export interface ScenarioResult {
  summary: string;
  /** What went wrong, one line each; empty when the demo passed. */
  problems: string[];
}

export type Scenario = (run: DemoRun) => Promise<ScenarioResult | 'interrupted'>;

function newRunId(): string {
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `demo-${stamp}-${Math.random().toString(16).slice(2, 6)}`;
}

/** Runs a scenario between the shared start and stop; resolves to the exit code (0, 1, 130). */
export async function runScenario(flags: DemoFlags, abort: AbortSignal, scenario: Scenario, options: { urgentLane?: boolean } = {}): Promise<number> {
  const runId = newRunId();
  const topics = demoTopics(runId, options);
  const readers = new AbortController();
  abort.addEventListener('abort', () => readers.abort(), { once: true });
  const stops: { name: string; stop: () => Promise<void> | void }[] = [];
  let stack: DemoStack | undefined;
  let tls: DemoTls | undefined;
  let result: ScenarioResult | undefined;
  try {
    const startedAt = Date.now();
    stack = await ensureStack(say, flags.stackDir === undefined ? undefined : path.resolve(flags.stackDir));
    tls = makeDemoTls();
    say(`throwaway CA + server certificate for ${tls.serverName} made with openssl in ${tls.dir}`);
    const run: DemoRun = {
      flags,
      abort,
      readers: readers.signal,
      runId,
      topics,
      stack,
      tls,
      startedAt,
      onStop: (name, stop) => stops.push({ name, stop }),
    };
    const outcome = await scenario(run);
    if (outcome === 'interrupted') return 130;
    result = outcome;
    return result.problems.length === 0 ? 0 : 1;
  } finally {
    readers.abort();
    const stopping = [...stops].reverse();
    say(`stopping: ${stopping.map((s) => s.name).join(', ')}` + (stack?.startedByDemo ? ', local stack' : '') + ' ...');
    for (const { name, stop } of stopping) {
      await Promise.resolve()
        .then(stop)
        .catch((err: unknown) => say(`${name} stop failed: ${String(err)}`));
    }
    tls?.remove();
    if (stack && !flags.keepTopics) await removeRunTopics(stack, topics, runId);
    if (stack) await stopStack(stack, say).catch((err: unknown) => say(`stack stop failed: ${String(err)}`));
    if (result) printResult(result);
    if (flags.keepTopics && stack) {
      const restart = stack.startedByDemo ? 'npm run stack -- up && ' : '';
      say(
        `topics kept: ${restart}KAFKA_BROKERS=${stack.info.kafkaBrokers} SCHEMA_REGISTRY_URL=${stack.info.registryUrl} TOPIC_DELIVERY=${topics.delivery} npx tsx src/cli.ts tail --from-beginning`,
      );
    }
    if (result) say(result.problems.length === 0 ? 'demo OK: every request ended where it should' : 'demo FAILED (see ✗ above)');
  }
}

function printResult(result: ScenarioResult): void {
  const problems = result.problems.map((p) => `  ✗ ${p}`).join('\n');
  process.stdout.write(`${result.summary}${problems ? `\n${problems}` : ''}\n`);
}

/**
 * Starts the connector with its log in .local/demo/<logName> and waits until it is ready; it is
 * stopped at the end of the run (after the readers, before the simulators registered earlier).
 */
export async function startRunConnector(run: DemoRun, config: Readonly<Config>, logName: string, what: string): Promise<{ app: RunningApp; logger: Logger }> {
  const workDir = path.join(REPO_ROOT, '.local', 'demo');
  mkdirSync(workDir, { recursive: true });
  const logFile = path.join(workDir, logName);
  const logger = createLogger(config.logLevel, destination({ dest: logFile, sync: false, mkdir: true, append: false }));
  say(`starting the connector (topics ${run.runId}.*, group ${config.kafka.groupId}, ${what}); log: ${path.relative(process.cwd(), logFile)}`);
  const app = await startConnector(config, logger);
  run.onStop('connector', () => app.stop());
  say(`connector ready; metrics on http://127.0.0.1:${app.httpPort}/metrics`);
  return { app, logger };
}

/** Folds this run's delivery topic into the tracker; the promise rejects if the reader fails. */
export function followDelivery(run: DemoRun, config: Readonly<Config>, logger: Logger, tracker: DeliveryTracker): Promise<unknown> {
  return readDeliveryEvents(
    config,
    {
      fromBeginning: true,
      signal: run.readers,
      groupPrefix: `${run.runId}.progress`,
      logger,
      onUndecodable: (_r, err) => {
        throw err;
      },
    },
    ({ event, timestamp }) => tracker.add(event, timestamp),
  );
}

/** The error of the first task (a topic reader, a producer) to fail; a task that ends without one is no failure. */
export function firstFailure(...tasks: Promise<unknown>[]): Promise<Error> {
  return new Promise((resolve) => {
    for (const task of tasks) task.catch((err: unknown) => resolve(err as Error));
  });
}

/** A progress display refreshed every 250 ms from `snapshot`; `stop` shows the last state. */
export function showProgress(total: number, snapshot: () => ProgressSnapshot): { stop(): void } {
  const progress = createProgress(total);
  const ticker = setInterval(() => progress.update(snapshot()), 250);
  return {
    stop: () => {
      clearInterval(ticker);
      progress.update(snapshot());
      progress.stop();
    },
  };
}

/**
 * Waits until `complete()`, the run's timeout, or Ctrl-C, calling `step` (a scenario's next move)
 * every 200 ms; throws the error of a failed reader.
 */
export async function waitForOutcomes(run: DemoRun, complete: () => boolean, failed: Promise<Error>, step?: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + run.flags.timeoutS * 1000;
  while (!complete() && Date.now() < deadline && !run.abort.aborted) {
    const failure = await Promise.race([failed, new Promise<null>((r) => setTimeout(() => r(null), 200))]);
    if (failure) throw failure;
    if (!run.abort.aborted) await step?.();
  }
}

const PRODUCE_BATCH = 250;

/**
 * Produces requests in batches, each with its Kafka timestamp recorded in the tracker; `rate` > 0
 * paces them (requests/s), 0 sends them as fast as Kafka takes them.
 */
export async function produceRequests(
  producer: SmsProducer,
  load: readonly DemoRequest[],
  tracker: DeliveryTracker,
  rate: number,
  abort: AbortSignal,
  onProduced: (n: number) => void = () => undefined,
): Promise<void> {
  // Paced: small batches on a schedule, so latency shows the connector, not the queue behind a burst.
  const batch = rate > 0 ? Math.max(1, Math.min(PRODUCE_BATCH, Math.ceil(rate / 10))) : PRODUCE_BATCH;
  const t0 = Date.now();
  let produced = 0;
  for (let i = 0; i < load.length && !abort.aborted; i += batch) {
    if (rate > 0) {
      const due = t0 + (i * 1000) / rate;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    }
    const chunk = load.slice(i, i + batch);
    // The request's Kafka timestamp is set here, so submit latency is measured from it.
    const timestamp = Date.now();
    for (const r of chunk) tracker.produced(r.value.id, timestamp);
    // Unchecked: the load holds requests the connector must reject, to show its REJECTED events.
    await producer.sendMany(chunk, { validate: false, timestamp });
    produced += chunk.length;
    onProduced(produced);
  }
}

/** The problems every scenario checks: requests without a SUMMARY, and requests that ended other than their kind allows. */
export function outcomeProblems(tracker: DeliveryTracker, timeoutS: number): string[] {
  const problems: string[] = [];
  const missing = tracker.missing();
  if (missing.length > 0) {
    problems.push(
      `${missing.length} request(s) got no SUMMARY within ${timeoutS} s, e.g. ${missing
        .slice(0, 5)
        .map((m) => `${m.value.id} (${m.kind})`)
        .join(', ')}`,
    );
  }
  for (const m of tracker.mismatches.slice(0, 10)) {
    problems.push(`${m.id} (${m.kind}) ended ${m.got}, expected ${m.expected.join(' or ')}${m.description ? `: ${m.description}` : ''}`);
  }
  if (tracker.mismatches.length > 10) problems.push(`… and ${tracker.mismatches.length - 10} more unexpected outcomes`);
  return problems;
}

/** Deletes this run's topics, consumer groups and registry subjects, so re-runs leave nothing behind. */
async function removeRunTopics(stack: DemoStack, topics: DemoTopics, runId: string): Promise<void> {
  const kafka = createKafka({ brokers: stack.info.kafkaBrokers.split(','), clientId: `${runId}.cleanup`, ssl: false, sasl: null }, pino({ level: 'silent' }));
  const admin = kafka.admin();
  try {
    await admin.connect();
    const names = Object.values<string | undefined>({ ...topics }).filter((t): t is string => t !== undefined);
    await admin.deleteTopics({ topics: names, timeout: 30_000 });
    // The connector's group and its correlation reader's group(s) are this run's too.
    const { groups } = await admin.listGroups();
    const ours = groups.map((g) => g.groupId).filter((g) => g.startsWith(`${runId}.`));
    if (ours.length > 0) await admin.deleteGroups(ours).catch(() => undefined);
  } catch (err) {
    say(`could not delete this run's topics (${(err as Error).message}); they are named ${runId}.*`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  const inputs = [topics.outbound, ...(topics.outboundUrgent ? [topics.outboundUrgent] : [])];
  await deleteSubjects(
    stack.info.registryUrl,
    [...inputs, topics.delivery].map((t) => `${t}-value`),
  );
}
