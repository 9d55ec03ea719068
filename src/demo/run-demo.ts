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
 * `--routes` runs the second scenario instead (routes-scenario.ts): two SMSCs, failover on credit
 * exhaustion and back, an urgent burst behind a bulk backlog. What both share is in harness.ts.
 *
 * Development tooling: it drives tools/dev-stack, so the production build leaves src/demo/ out.
 */
import type { DemoFlags, RunDemo } from '../cli-dev.js';
import { SmsProducer } from '../client/producer.js';
import { readTopic } from '../client/topic-reader.js';
import { createKafka } from '../kafka/client.js';
import {
  firstFailure,
  followDelivery,
  outcomeProblems,
  produceRequests,
  runScenario,
  say,
  showProgress,
  startRunConnector,
  waitForOutcomes,
  type Scenario,
} from './harness.js';
import { buildLoad, poisonRecords } from './load.js';
import { runRoutesScenario } from './routes-scenario.js';
import { demoConfig, newPassword, startDemoSimulator } from './services.js';
import { renderSummary } from './summary.js';
import { DeliveryTracker } from './tracker.js';

/** The mixed load on one TLS SMSC, with poison records for the DLQ. */
const runMixedScenario: Scenario = async (run) => {
  const args = run.flags;
  const password = newPassword();
  const sim = await startDemoSimulator(run.tls, password);
  run.onStop('simulator', () => sim.close());
  say(`SMSC simulator (Agile profile) on TLS 127.0.0.1:${sim.tlsPort}: 39333… → err 201 absent subscriber, 2 % → err 418`);

  const config = demoConfig(run.stack.info, run.topics, run.runId, sim.tlsPort!, run.tls, password);
  const { logger } = await startRunConnector(run, config, 'connector.log', '4 TRX binds over verified TLS');
  if (run.abort.aborted) return 'interrupted';

  const kafka = createKafka(config.kafka, logger);
  // The demo produces and reads as an upstream service does: through the client.
  const producer = await SmsProducer.connect(config, { logger, maxSegments: config.sms.maxSegments, bounds: config.requestBounds });

  const load = buildLoad(args.count, run.runId, args.seed);
  const poison = poisonRecords(producer.encode(load[0]!.value), run.runId);
  const tracker = new DeliveryTracker(load);
  const dlqByCode = new Map<string, number>();
  const dlqKeys = new Set(poison.map((p) => p.key));
  let produced = 0;

  const deliveryRead = followDelivery(run, config, logger, tracker);
  const dlqRead = readTopic({
    kafka,
    topic: run.topics.dlq,
    fromBeginning: true,
    signal: run.readers,
    groupPrefix: `${run.runId}.dlq`,
    onRecord: (r) => {
      const code = r.headers['__connect.errors.exception.class.name'] ?? '(none)';
      dlqByCode.set(code, (dlqByCode.get(code) ?? 0) + 1);
      if (r.key) dlqKeys.delete(r.key.toString());
    },
  });
  // A failed reader must end the demo, not hang it.
  const readerFailed = firstFailure(deliveryRead, dlqRead);

  const progress = showProgress(load.length, () => ({
    finished: tracker.finished,
    total: tracker.total,
    produced,
    submits: tracker.submits,
    receipts: tracker.receipts,
    dlq: [...dlqByCode.values()].reduce((a, b) => a + b, 0),
  }));
  try {
    say(`sending ${load.length} requests + ${poison.length} poison records to ${run.topics.outbound} ...`);
    try {
      // The poison first: the DLQ path is exercised while the valid load flows behind it.
      await producer.sendEncoded(poison);
      await produceRequests(producer, load, tracker, args.rate, run.abort, (n) => (produced = n));
    } finally {
      await producer.close();
    }
    await waitForOutcomes(run, () => tracker.finished === tracker.total && dlqKeys.size === 0, readerFailed);
  } finally {
    progress.stop();
  }
  if (run.abort.aborted) return 'interrupted';

  const summary = renderSummary({
    tracker,
    poisonSent: poison.length,
    dlqByCode,
    simulator: sim.stats(),
    elapsedMs: Date.now() - run.startedAt,
    rate: args.rate,
  });
  const problems = outcomeProblems(tracker, args.timeoutS);
  if (dlqKeys.size > 0) problems.push(`${dlqKeys.size} poison record(s) never reached the DLQ: ${[...dlqKeys].join(', ')}`);
  return { summary, problems };
};

function run(flags: DemoFlags, abort: AbortSignal): Promise<number> {
  return flags.routes ? runScenario(flags, abort, runRoutesScenario, { urgentLane: true }) : runScenario(flags, abort, runMixedScenario);
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
