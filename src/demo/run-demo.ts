/**
 * `npm run demo` (the `demo` subcommand; its options are in src/cli-dev.ts): the whole product on one
 * machine, unattended, in a couple of minutes.
 *
 *   local stack (reused if running, else started; jars via Maven the first time)
 *   → Agile-profile SMSC simulator on TLS (throwaway CA made with openssl; verification on)
 *   → the connector in-process, on this run's own topics and group
 *   → a mixed load (GSM-7, UCS-2 + emoji, multipart, alphanumeric senders, invalid numbers,
 *     absent subscribers, no-report, poison records)
 *   → progress from sms.delivery → summary table → everything it started is stopped again.
 *
 * Exit 0 when every request reached a SUMMARY its kind allows and every poison record reached the
 * DLQ; 1 when anything went missing or ended wrong; 130 on Ctrl-C.
 *
 * Development tooling: it drives tools/dev-stack, so the production build leaves src/demo/ out.
 */
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { destination, pino } from 'pino';
import { REPO_ROOT } from '../../tools/dev-stack/stack.js';
import type { RunningApp } from '../app/start.js';
import type { DemoFlags, RunDemo } from '../cli-dev.js';
import { readDeliveryEvents } from '../client/delivery-reader.js';
import { SmsProducer } from '../client/producer.js';
import { createKafka } from '../kafka/client.js';
import { createLogger } from '../obs/logger.js';
import type { Simulator } from '../simulator/simulator.js';
import { readTopic } from '../client/topic-reader.js';
import { buildLoad, poisonRecords, type DemoRequest } from './load.js';
import { createProgress } from './progress.js';
import { deleteSubjects, demoConfig, demoTopics, ensureStack, newPassword, startConnector, startDemoSimulator, stopStack, type DemoStack } from './services.js';
import { renderSummary } from './summary.js';
import { makeDemoTls, type DemoTls } from './tls.js';
import { DeliveryTracker } from './tracker.js';

const say = (line: string): void => {
  process.stdout.write(`[demo] ${line}\n`);
};

function newRunId(): string {
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `demo-${stamp}-${Math.random().toString(16).slice(2, 6)}`;
}

const PRODUCE_BATCH = 250;

async function run(args: DemoFlags, abort: AbortSignal): Promise<number> {
  const started = Date.now();
  const runId = newRunId();
  const topics = demoTopics(runId);
  const workDir = path.join(REPO_ROOT, '.local', 'demo');
  mkdirSync(workDir, { recursive: true });
  const logFile = path.join(workDir, 'connector.log');

  let stack: DemoStack | undefined;
  let tls: DemoTls | undefined;
  let sim: Simulator | undefined;
  let app: RunningApp | undefined;
  const readers = new AbortController();
  abort.addEventListener('abort', () => readers.abort(), { once: true });
  let summaryText = '';
  let ok = false;
  try {
    stack = await ensureStack(say, args.stackDir === undefined ? undefined : path.resolve(args.stackDir));
    tls = makeDemoTls();
    say(`throwaway CA + server certificate for ${tls.serverName} made with openssl in ${tls.dir}`);
    const password = newPassword();
    sim = await startDemoSimulator(tls, password);
    say(`SMSC simulator (Agile profile) on TLS 127.0.0.1:${sim.tlsPort}: 39333… → err 201 absent subscriber, 2 % → err 418`);

    const config = demoConfig(stack.info, topics, runId, sim.tlsPort!, tls, password);
    const logger = createLogger(config.logLevel, destination({ dest: logFile, sync: false, mkdir: true, append: false }));
    say(
      `starting the connector (topics ${runId}.*, group ${config.kafka.groupId}, 4 TRX binds over verified TLS); log: ${path.relative(process.cwd(), logFile)}`,
    );
    app = await startConnector(config, logger);
    say(`connector ready; metrics on http://127.0.0.1:${app.httpPort}/metrics`);
    if (abort.aborted) return 130;

    const kafka = createKafka(config.kafka, logger);
    // The demo produces and reads as an upstream service does: through the client.
    const producer = await SmsProducer.connect(config, { logger, maxSegments: config.sms.maxSegments, bounds: config.requestBounds });

    const load = buildLoad(args.count, runId, args.seed);
    const poison = poisonRecords(producer.encode(load[0]!.value), runId);
    const tracker = new DeliveryTracker(load);
    const dlqByCode = new Map<string, number>();
    const dlqKeys = new Set(poison.map((p) => p.key));
    let produced = 0;

    const deliveryRead = readDeliveryEvents(
      config,
      {
        fromBeginning: true,
        signal: readers.signal,
        groupPrefix: `${runId}.progress`,
        logger,
        onUndecodable: (_r, err) => {
          throw err;
        },
      },
      ({ event, timestamp }) => tracker.add(event, timestamp),
    );
    const dlqRead = readTopic({
      kafka,
      topic: topics.dlq,
      fromBeginning: true,
      signal: readers.signal,
      groupPrefix: `${runId}.dlq`,
      onRecord: (r) => {
        const code = r.headers['__connect.errors.exception.class.name'] ?? '(none)';
        dlqByCode.set(code, (dlqByCode.get(code) ?? 0) + 1);
        if (r.key) dlqKeys.delete(r.key.toString());
      },
    });
    // A failed reader must end the demo, not hang it.
    const readerFailed = Promise.race([deliveryRead, dlqRead]).then(
      () => null,
      (err: unknown) => err as Error,
    );

    const progress = createProgress(load.length);
    const snapshot = () => ({
      finished: tracker.finished,
      total: tracker.total,
      produced,
      submits: tracker.submits,
      receipts: tracker.receipts,
      dlq: [...dlqByCode.values()].reduce((a, b) => a + b, 0),
    });
    const ticker = setInterval(() => progress.update(snapshot()), 250);

    say(`sending ${load.length} requests + ${poison.length} poison records to ${topics.outbound} ...`);
    try {
      await produceLoad(producer, load, poison, tracker, args.rate, abort, (n) => (produced = n));
    } finally {
      await producer.close();
    }

    const deadline = Date.now() + args.timeoutS * 1000;
    let failure: Error | null = null;
    const complete = () => tracker.finished === tracker.total && dlqKeys.size === 0;
    while (!complete() && Date.now() < deadline && !abort.aborted) {
      failure = await Promise.race([readerFailed, new Promise<null>((r) => setTimeout(() => r(null), 200))]);
      if (failure) break;
    }
    clearInterval(ticker);
    progress.update(snapshot());
    progress.stop();
    if (abort.aborted) return 130;
    if (failure) throw failure;

    const stats = sim.stats();
    summaryText = renderSummary({ tracker, poisonSent: poison.length, dlqByCode, simulator: stats, elapsedMs: Date.now() - started, rate: args.rate });
    const missing = tracker.missing();
    const problems: string[] = [];
    if (missing.length > 0) {
      problems.push(
        `${missing.length} request(s) got no SUMMARY within ${args.timeoutS} s, e.g. ${missing
          .slice(0, 5)
          .map((m) => `${m.value.id} (${m.kind})`)
          .join(', ')}`,
      );
    }
    if (dlqKeys.size > 0) problems.push(`${dlqKeys.size} poison record(s) never reached the DLQ: ${[...dlqKeys].join(', ')}`);
    for (const m of tracker.mismatches.slice(0, 10)) {
      problems.push(`${m.id} (${m.kind}) ended ${m.got}, expected ${m.expected.join(' or ')}${m.description ? `: ${m.description}` : ''}`);
    }
    if (tracker.mismatches.length > 10) problems.push(`… and ${tracker.mismatches.length - 10} more unexpected outcomes`);
    ok = problems.length === 0;
    if (!ok) summaryText += `\n${problems.map((p) => `  ✗ ${p}`).join('\n')}`;
    return ok ? 0 : 1;
  } finally {
    readers.abort();
    say('stopping: connector, simulator' + (stack?.startedByDemo ? ', local stack' : '') + ' ...');
    await app?.stop().catch((err: unknown) => say(`connector stop failed: ${String(err)}`));
    await sim?.close().catch(() => undefined);
    tls?.remove();
    if (stack && !args.keepTopics) await removeRunTopics(stack, topics, runId);
    if (stack) await stopStack(stack, say).catch((err: unknown) => say(`stack stop failed: ${String(err)}`));
    if (summaryText) process.stdout.write(`${summaryText}\n`);
    if (args.keepTopics && stack) {
      const restart = stack.startedByDemo ? 'npm run stack -- up && ' : '';
      say(
        `topics kept: ${restart}KAFKA_BROKERS=${stack.info.kafkaBrokers} SCHEMA_REGISTRY_URL=${stack.info.registryUrl} TOPIC_DELIVERY=${topics.delivery} npx tsx src/cli.ts tail --from-beginning`,
      );
    }
    if (summaryText) say(ok ? 'demo OK: every request ended where it should' : 'demo FAILED (see ✗ above)');
  }
}

async function produceLoad(
  producer: SmsProducer,
  load: readonly DemoRequest[],
  poison: ReturnType<typeof poisonRecords>,
  tracker: DeliveryTracker,
  rate: number,
  abort: AbortSignal,
  onProduced: (n: number) => void,
): Promise<void> {
  // Paced: small batches on a schedule, so latency shows the connector, not the queue behind a burst.
  const batch = rate > 0 ? Math.max(1, Math.min(PRODUCE_BATCH, Math.ceil(rate / 10))) : PRODUCE_BATCH;
  const t0 = Date.now();
  // The poison first: the DLQ path is exercised while the valid load flows behind it.
  await producer.sendEncoded(poison);
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

/** Deletes this run's topics, consumer groups and registry subjects, so re-runs leave nothing behind. */
async function removeRunTopics(stack: DemoStack, topics: ReturnType<typeof demoTopics>, runId: string): Promise<void> {
  const kafka = createKafka({ brokers: stack.info.kafkaBrokers.split(','), clientId: `${runId}.cleanup`, ssl: false, sasl: null }, pino({ level: 'silent' }));
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.deleteTopics({ topics: [topics.outbound, topics.delivery, topics.dlq, topics.correlation, topics.correlationLive], timeout: 30_000 });
    // The connector's group and its correlation reader's group(s) are this run's too.
    const { groups } = await admin.listGroups();
    const ours = groups.map((g) => g.groupId).filter((g) => g.startsWith(`${runId}.`));
    if (ours.length > 0) await admin.deleteGroups(ours).catch(() => undefined);
  } catch (err) {
    say(`could not delete this run's topics (${(err as Error).message}); they are named ${runId}.*`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  await deleteSubjects(stack.info.registryUrl, [`${topics.outbound}-value`, `${topics.delivery}-value`]);
}

/** Runs the demo; the first Ctrl-C cleans up (exit 130), a second one exits at once. */
export const runDemo: RunDemo = async (flags: DemoFlags): Promise<number> => {
  const abort = new AbortController();
  const onSignal = () => {
    if (abort.signal.aborted) process.exit(130);
    say('interrupted: cleaning up (Ctrl-C again to exit at once)');
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await run(flags, abort.signal);
  } catch (err) {
    process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
};
