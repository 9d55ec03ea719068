/**
 * `npm run demo -- --routes`: routes, failover and the urgent lane (issue 21), in about a minute.
 *
 *   two Agile-profile SMSC simulators on TLS: `primary` (2 binds) and `fallback` (1 bind)
 *   → a routes file in a temporary folder, as an operator writes one (routes-file.ts)
 *   → the connector with ROUTES_FILE and the urgent lane (TOPIC_OUTBOUND_URGENT)
 *   → a bulk backlog (the mixed load of `npm run demo`) produced at once
 *   → once 30 % of it is submitted, the primary runs out of credit (0x103, switched live): the
 *     traffic fails over to the fallback
 *   → once the fallback has carried 10 %, a burst of one-time passwords on the urgent lane, behind
 *     what is left of the backlog
 *   → once the fallback has carried 25 %, the credit returns: new requests go back to the primary.
 *
 * The moves are taken on what the delivery topic shows, not on a clock, so the story is the same on
 * a slow machine. Exit 0 when every request ended as its kind allows, both routes carried traffic,
 * and the failover and the failback both happened.
 */
import { SmsProducer } from '../client/producer.js';
import type { Simulator, SimulatorStats } from '../simulator/simulator.js';
import {
  firstFailure,
  followDelivery,
  outcomeProblems,
  produceRequests,
  say,
  showProgress,
  startRunConnector,
  waitForOutcomes,
  type DemoRun,
  type Scenario,
} from './harness.js';
import { buildLoad, buildUrgentBurst, type DemoRequest } from './load.js';
import { writeDemoRoutesFile, type DemoRouteAccount } from './routes-file.js';
import { demoRoutesConfig, newPassword, startDemoSimulator } from './services.js';
import type { RouteTraffic, RoutesSection, SimulatorCounts } from './summary.js';
import { renderSummary } from './summary.js';
import { DeliveryTracker } from './tracker.js';

const PRIMARY = 'primary';
const FALLBACK = 'fallback';
/** One-time passwords in the urgent burst. */
const URGENT_BURST = 20;
/** Share of the bulk requests submitted when the primary's credit runs out. */
const CREDIT_OUT_AT = 0.3;
/** Share of the bulk requests the fallback has carried when the urgent burst is produced. */
const URGENT_AT = 0.1;
/** Share of the bulk requests the fallback has carried when the primary's credit returns. */
const CREDIT_BACK_AT = 0.25;
const ROUTES_BOUND_TIMEOUT_MS = 30_000;

/** The moments of the run, epoch ms (null: not yet). */
interface Moments {
  creditOutAt: number | null;
  urgentProducedAt: number | null;
  creditBackAt: number | null;
  bulkWaitingAtUrgent: number;
}

export const runRoutesScenario: Scenario = async (run) => {
  const flags = run.flags;
  const { smscs, routesFile } = await startSmscsAndRoutesFile(run);
  const [primary] = smscs;
  const config = demoRoutesConfig(run.stack.info, run.topics, run.runId, routesFile);
  const { app, logger } = await startRunConnector(run, config, 'connector-routes.log', `routes ${PRIMARY} (2 TRX binds) and ${FALLBACK} (1), urgent lane on`);
  if (!(await bothRoutesBound(() => app.readiness().checks, run.abort))) return run.abort.aborted ? 'interrupted' : routesNotBound(app.readiness().checks);

  const bulk = buildLoad(flags.count, run.runId, flags.seed);
  const urgent = buildUrgentBurst(URGENT_BURST, run.runId, flags.seed);
  const tracker = new DeliveryTracker([...bulk, ...urgent]);
  const producerOptions = { logger, maxSegments: config.sms.maxSegments, bounds: config.requestBounds };
  const bulkProducer = await SmsProducer.connect(config, producerOptions);
  run.onStop('bulk producer', () => bulkProducer.close());
  const urgentProducer = await SmsProducer.connect(config, { ...producerOptions, lane: 'urgent' });
  run.onStop('urgent producer', () => urgentProducer.close());

  let produced = 0;
  const moments: Moments = { creditOutAt: null, urgentProducedAt: null, creditBackAt: null, bulkWaitingAtUrgent: 0 };
  const progress = showProgress(tracker.total, () => ({
    finished: tracker.finished,
    total: tracker.total,
    produced,
    submits: tracker.submits,
    receipts: tracker.receipts,
    dlq: 0,
    detail: `${PRIMARY} ${tracker.segmentsOn(PRIMARY)} | ${FALLBACK} ${tracker.segmentsOn(FALLBACK)}`,
  }));
  say(`sending ${bulk.length} bulk requests to ${run.topics.outbound} ...`);
  // Produced alongside the wait: with --rate the backlog builds while the moves below are taken.
  const producing = produceRequests(bulkProducer, bulk, tracker, flags.rate, run.abort, (n) => (produced = n));
  const step = () =>
    nextMove({ tracker, bulk, moments, primary }, async () => {
      await produceRequests(urgentProducer, urgent, tracker, 0, run.abort);
      produced += urgent.length;
    });
  try {
    const failed = firstFailure(followDelivery(run, config, logger, tracker), producing);
    await waitForOutcomes(run, () => tracker.finished === tracker.total, failed, step);
    await producing;
  } finally {
    progress.stop();
  }
  if (run.abort.aborted) return 'interrupted';

  const section = routesSection(tracker, moments, smscs);
  const summary = renderSummary({
    tracker,
    poisonSent: 0,
    dlqByCode: new Map(),
    simulator: sumCounts(smscs.map((s) => smscCounts(s.stats()))),
    elapsedMs: Date.now() - run.startedAt,
    rate: flags.rate,
    routes: section,
  });
  return { summary, problems: [...outcomeProblems(tracker, flags.timeoutS), ...routeProblems(section, moments)] };
};

/** The two SMSCs (stopped at the end of the run) and the routes file naming them, shown as written. */
async function startSmscsAndRoutesFile(run: DemoRun): Promise<{ smscs: [Simulator, Simulator]; routesFile: string }> {
  const accounts: [DemoRouteAccount, DemoRouteAccount] = [
    { name: PRIMARY, port: 0, systemId: 'acme', password: newPassword(), binds: 2 },
    { name: FALLBACK, port: 0, systemId: 'acme-fb', password: newPassword(), binds: 1 },
  ];
  const smscs: Simulator[] = [];
  for (const account of accounts) {
    const smsc = await startDemoSimulator(run.tls, account.password, account.systemId);
    run.onStop(`${account.name} SMSC`, () => smsc.close());
    account.port = smsc.tlsPort!;
    smscs.push(smsc);
  }
  say(`two SMSC simulators (Agile profile, TLS): ${accounts.map((a) => `${a.name} on 127.0.0.1:${a.port}`).join(', ')}`);
  const routes = writeDemoRoutesFile(accounts[0], accounts[1], run.tls);
  run.onStop('routes file', () => routes.remove());
  say(`routes file ${routes.file}:\n${routes.text.replace(/^/gm, '    │ ')}`);
  return { smscs: smscs as [Simulator, Simulator], routesFile: routes.file };
}

/** Takes the scenario's next move once the delivery topic shows its condition; each is taken once, in order. */
async function nextMove(
  s: { tracker: DeliveryTracker; bulk: readonly DemoRequest[]; moments: Moments; primary: Simulator },
  produceUrgent: () => Promise<void>,
): Promise<void> {
  const { tracker, bulk, moments, primary } = s;
  const onFallback = tracker.requestsByRoute.get(FALLBACK)?.size ?? 0;
  if (moments.creditOutAt === null) {
    if (tracker.submittedRequests.size < CREDIT_OUT_AT * bulk.length) return;
    primary.setBehaviour({ creditExhausted: true });
    moments.creditOutAt = Date.now();
    say(`${PRIMARY} is out of credit: its SMSC answers every submit_sm 0x103 from now on`);
  } else if (moments.urgentProducedAt === null) {
    if (onFallback < URGENT_AT * bulk.length) return;
    moments.bulkWaitingAtUrgent = bulk.filter((r) => !tracker.submittedRequests.has(r.value.id) && !tracker.summaries.has(r.value.id)).length;
    moments.urgentProducedAt = Date.now();
    say(`urgent burst: ${URGENT_BURST} one-time passwords on the urgent lane, behind ${moments.bulkWaitingAtUrgent} bulk requests still waiting`);
    await produceUrgent();
  } else if (moments.creditBackAt === null) {
    if (onFallback < CREDIT_BACK_AT * bulk.length) return;
    primary.setBehaviour({ creditExhausted: false });
    moments.creditBackAt = Date.now();
    say(`${PRIMARY}'s credit is back: its SMSC accepts again`);
  }
}

async function bothRoutesBound(checks: () => Record<string, boolean | string>, abort: AbortSignal): Promise<boolean> {
  const until = Date.now() + ROUTES_BOUND_TIMEOUT_MS;
  const bound = () => checks()[`route:${PRIMARY}`] === true && checks()[`route:${FALLBACK}`] === true;
  while (!bound() && Date.now() < until && !abort.aborted) await new Promise((r) => setTimeout(r, 200));
  return bound();
}

function routesNotBound(checks: Record<string, boolean | string>): { summary: string; problems: string[] } {
  return { summary: '', problems: [`both routes were not bound within ${ROUTES_BOUND_TIMEOUT_MS / 1000} s: ${JSON.stringify(checks)}`] };
}

function routesSection(tracker: DeliveryTracker, m: Moments, smscs: readonly Simulator[]): RoutesSection {
  const out = m.creditOutAt ?? Infinity;
  const back = m.creditBackAt ?? Infinity;
  const traffic = (name: string, smsc: Simulator): RouteTraffic => ({
    name,
    segmentsBefore: tracker.segmentsOn(name, -Infinity, out),
    segmentsDuring: tracker.segmentsOn(name, out, back),
    segmentsAfter: tracker.segmentsOn(name, back),
    requests: tracker.requestsByRoute.get(name)?.size ?? 0,
    smsc: smscCounts(smsc.stats()),
  });
  const firstOnFallback = m.creditOutAt === null ? null : tracker.firstSubmitOn(FALLBACK, m.creditOutAt);
  const firstBackOnPrimary = m.creditBackAt === null ? null : tracker.firstSubmitOn(PRIMARY, m.creditBackAt);
  const sinceStart = (at: number | null) => (at === null ? null : (at - tracker.firstProducedAt) / 1000);
  return {
    routes: [traffic(PRIMARY, smscs[0]!), traffic(FALLBACK, smscs[1]!)],
    creditOutAtS: sinceStart(m.creditOutAt),
    creditBackAtS: sinceStart(m.creditBackAt),
    failoverMs: firstOnFallback === null ? null : firstOnFallback - m.creditOutAt!,
    failbackMs: firstBackOnPrimary === null ? null : firstBackOnPrimary - m.creditBackAt!,
    bulkWaitingAtUrgent: m.bulkWaitingAtUrgent,
  };
}

/** What the routes scenario must show beyond every request's outcome. */
function routeProblems(r: RoutesSection, m: Moments): string[] {
  const problems: string[] = [];
  if (m.creditOutAt === null) problems.push(`${PRIMARY}'s credit never ran out: too few requests were submitted`);
  else if (r.failoverMs === null) problems.push(`no failover: nothing was submitted on ${FALLBACK} after ${PRIMARY}'s credit ran out`);
  else if (m.urgentProducedAt === null) problems.push(`the urgent burst was never produced: ${FALLBACK} carried too little`);
  else if (m.creditBackAt === null) problems.push(`${PRIMARY}'s credit never returned: ${FALLBACK} carried too little`);
  else if (r.failbackMs === null) problems.push(`no failback: nothing was submitted on ${PRIMARY} after its credit returned`);
  for (const route of r.routes) {
    if (route.segmentsBefore + route.segmentsDuring + route.segmentsAfter === 0) problems.push(`${route.name} carried no traffic`);
  }
  return problems;
}

/**
 * An SMSC's counters with every refusal in `rejectedSubmits`: the simulator counts there only the
 * refusals of its outcome rules, and a 0x103 (out of credit) is answered before those are read.
 */
function smscCounts(stats: SimulatorStats): SimulatorCounts {
  return { ...stats, rejectedSubmits: stats.submitsReceived - stats.acceptedSubmits - stats.throttled - stats.unansweredSubmits };
}

function sumCounts(stats: readonly SimulatorCounts[]): SimulatorCounts {
  const sum = (key: keyof SimulatorCounts) => stats.reduce((total, s) => total + s[key], 0);
  return {
    submitsReceived: sum('submitsReceived'),
    acceptedSubmits: sum('acceptedSubmits'),
    rejectedSubmits: sum('rejectedSubmits'),
    throttled: sum('throttled'),
    receiptsSent: sum('receiptsSent'),
  };
}
