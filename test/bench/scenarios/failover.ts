/**
 * Failover and failback (issue 21 §3, §5): the primary route's credit runs out mid-run, later it
 * returns. How soon does traffic flow on the secondary, and back on the primary — and is anything
 * lost or sent twice on the way?
 *
 * Two strict simulators, each in its own process with its own PDU journal and account, 4 binds ×
 * 100 submit_sm/s (the pacing scenario's account); a connector with a routes file of two routes
 * against them, trx:4 × SMPP_RATE_LIMIT 100 each, in file order (no rules: primary first); a bulk
 * backlog in 4 partitions that lasts the whole run at one account's rate. From the primary's first
 * accepted submit_sm, `creditOutAfterS` later the primary answers every submit_sm 0x103 (the
 * simulator role's `setBehaviour` over its IPC channel), `creditOutForS` later it accepts again;
 * the run ends when both SMSCs together accepted every record.
 * ACCOUNT_PROBE_INTERVAL_MS and ROUTE_FAILOVER_UNBOUND_MS keep their product defaults (15 s, 30 s)
 * unless the bench's environment sets them: failback waits for the primary's next probe, so it
 * takes up to the probe interval.
 *
 * From the journals (wire times, SMSC side; both simulators and this process share the clock):
 * time from the credit running out to the first accepted submit_sm on the secondary, and to the
 * first 1000 ms in which the secondary accepted ≥ 95 % of its paced rate (4 × 98); the same for the
 * primary from the credit's return; records accepted by neither (missing) or more than once
 * (duplicates, by destination: benchRecord puts the record's index there); 0x58 and 0x103 answers;
 * the longest pause on both routes together after the switch — the first full run showed 12 s of
 * none: the segment routing held at the paused primary as its probe (design.md §5.7) waited its
 * turn while the rest of its fetch round was sent, and the next fetch waits for a round's last
 * record (§5.3).
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  benchTopics,
  createTopic,
  fmt,
  indexFromDestination,
  produceRequests,
  readJournal,
  say,
  sleep,
  spawnRole,
  uniqueName,
  untilSimulator,
  type Child,
} from '../common.js';
import { routedConnectorEnv, benchRoutesFile, type BenchContext } from '../context.js';

export interface FailoverPlan {
  /** Requests in the bulk backlog: more than one account sends while the run lasts. */
  backlog: number;
  /** Seconds from the primary's first accepted submit_sm until its credit runs out. */
  creditOutAfterS: number;
  /** Seconds the credit stays out. */
  creditOutForS: number;
}

/**
 * ≈ 100 s at one account's rate: 20 s on the primary, 37 s without credit, then ≥ 30 s after the
 * failback. Not a multiple of the probe interval (15 s, counted from the first 0x103): with 30 s the
 * return fell on a probe and the failback measured 118 ms; with 37 s it lands between two probes.
 */
export const FULL_FAILOVER: FailoverPlan = { backlog: 40_000, creditOutAfterS: 20, creditOutForS: 37 };
/** ≈ 36 s: 5 s, 10 s without credit (the failback is the next probe, 5 s later), then what is left. */
export const QUICK_FAILOVER: FailoverPlan = { backlog: 14_000, creditOutAfterS: 5, creditOutForS: 10 };

const SESSIONS = 4;
const RATE = 100;
const PACE = Math.floor(RATE * 0.98); // SMPP_RATE_MARGIN 0.02
/** "At its paced rate": a 1000 ms window with this many accepted submit_sm on one route. */
const AT_PACE = Math.ceil(0.95 * SESSIONS * PACE);
const NO_CREDIT = 0x103;
const THROTTLED = 0x58;

/** What one simulator's journal says about the submits it answered. */
interface Answers {
  /** Accepted submit_sm: wire time of the submit_sm_resp and the record's index (sorted by time). */
  accepted: Array<{ ts: number; index: number }>;
  throttled: number;
  noCredit: number[];
}

export async function failover(ctx: BenchContext, plan: FailoverPlan): Promise<void> {
  const S = 'failover: the primary route runs out of credit mid-run';
  ctx.report.section(S);
  const topics = benchTopics('failover');
  await createTopic(ctx.stack, topics.outbound, 4);
  say(`failover: producing a bulk backlog of ${fmt(plan.backlog)} requests`);
  await produceRequests(ctx.codec, ctx.stack, topics.outbound, plan.backlog, `${ctx.runTag}-failover`);
  const journals = { primary: freshFile(ctx, 'failover-primary.jsonl'), secondary: freshFile(ctx, 'failover-secondary.jsonl') };
  const primary = strictSimulator(journals.primary, { test: 'secret' });
  const secondary = strictSimulator(journals.secondary, { backup: 'b4ckup' });
  let connector: Child | undefined;
  const at = { creditOutAt: NaN, creditBackAt: NaN };
  try {
    const route = { sessions: `trx:${SESSIONS}`, rateLimit: RATE };
    const routesFile = benchRoutesFile(path.join(ctx.workDir, 'routes-failover.json'), [
      { name: 'primary', port: await portOf(primary), systemId: 'test', password: 'secret', ...route },
      { name: 'secondary', port: await portOf(secondary), systemId: 'backup', password: 'b4ckup', ...route },
    ]);
    connector = spawnRole('connector', {
      env: routedConnectorEnv(ctx, topics, uniqueName('failover'), routesFile, { TOPIC_PARTITIONS: '4' }),
      execArgv: ctx.connectorFlags,
    });
    await connector.ready;
    await untilSimulator(
      primary,
      (s) => s['acceptedSubmits']! > 0,
      () => 'no submit_sm accepted on the primary yet',
      120_000,
      100,
    );
    await sleep(plan.creditOutAfterS * 1000);
    at.creditOutAt = Date.now();
    await primary.request('setBehaviour', { creditExhausted: true });
    await sleep(plan.creditOutForS * 1000);
    at.creditBackAt = Date.now();
    await primary.request('setBehaviour', { creditExhausted: false });
    const both = async (s: Record<string, number>) => s['acceptedSubmits']! + (await primary.request<Record<string, number>>('stats'))['acceptedSubmits']!;
    await untilSimulator(
      secondary,
      async (s) => (await both(s)) >= plan.backlog,
      (s) => `${fmt(s['acceptedSubmits']!)} accepted on the secondary, the backlog not sent yet`,
      120_000 + (plan.backlog / (SESSIONS * PACE)) * 2000,
    );
    await sleep(2000); // a duplicate would come last: let it arrive before the count
  } finally {
    await connector?.stop();
    await Promise.all([primary.stop(), secondary.stop()]);
  }
  reportFailover(ctx, S, plan, { primary: await answersOf(journals.primary), secondary: await answersOf(journals.secondary) }, at);
}

function reportFailover(
  ctx: BenchContext,
  S: string,
  plan: FailoverPlan,
  answers: { primary: Answers; secondary: Answers },
  at: { creditOutAt: number; creditBackAt: number },
): void {
  const { primary, secondary } = answers;
  const how = `${fmt(plan.backlog)} bulk requests (4 partitions); two routes, each trx:${SESSIONS} × SMPP_RATE_LIMIT ${RATE} against its own strict simulator; the primary answers 0x103 from ${plan.creditOutAfterS} s after its first accepted submit_sm for ${plan.creditOutForS} s; ACCOUNT_PROBE_INTERVAL_MS ${probeInterval()}; the simulators' PDU journals`;
  const since = (from: number) => (t: number) => t - from;
  const toSecondary = since(at.creditOutAt);
  const toPrimary = since(at.creditBackAt);
  ctx.report.add(
    S,
    'credit out → first accepted submit_sm on the secondary',
    toSecondary(firstAfter(secondary, at.creditOutAt)),
    'ms',
    `${how}; first 0x103 on the primary ${fmt(toSecondary(primary.noCredit[0] ?? NaN))} ms after the switch; accepted on the secondary before it: ${secondary.accepted.filter((a) => a.ts < at.creditOutAt).length}`,
  );
  ctx.report.add(
    S,
    'credit out → the secondary at its paced rate',
    toSecondary(paceReached(secondary, at.creditOutAt)),
    'ms',
    `until the first 1000 ms with ≥ ${AT_PACE} accepted submit_sm on the secondary (95 % of ${SESSIONS} × ${PACE}/s)`,
  );
  ctx.report.add(
    S,
    'credit back → first accepted submit_sm on the primary',
    toPrimary(firstAfter(primary, at.creditBackAt)),
    'ms',
    "bounded by the probe interval: the first segment to go back is the primary's next probe",
  );
  ctx.report.add(
    S,
    'credit back → the primary at its paced rate',
    toPrimary(paceReached(primary, at.creditBackAt)),
    'ms',
    `until the first 1000 ms with ≥ ${AT_PACE} accepted on the primary`,
  );
  const outage = [...primary.accepted, ...secondary.accepted].filter((a) => a.ts >= at.creditOutAt && a.ts < at.creditBackAt).length;
  ctx.report.add(
    S,
    'accepted during the outage, share of one account',
    (outage / (((at.creditBackAt - at.creditOutAt) / 1000) * SESSIONS * RATE)) * 100,
    '%',
    `accepted submit_sm on both routes while the credit was out ÷ (${plan.creditOutForS} s × ${SESSIONS} × ${RATE}/s)`,
  );
  ctx.report.add(
    S,
    'longest pause after the credit ran out, both routes',
    longestPause([...primary.accepted, ...secondary.accepted], at.creditOutAt),
    'ms',
    'the longest time without an accepted submit_sm on either route, from the switch to the end of the backlog',
  );
  const { missing, duplicates } = deliveryCount(plan.backlog, [primary, secondary]);
  ctx.report.add(S, 'missing', missing, '', `records accepted by neither SMSC (by the destination's index), of ${fmt(plan.backlog)}`);
  ctx.report.add(S, 'duplicates', duplicates, '', 'acceptances beyond the first of the same record, both SMSCs together');
  ctx.report.add(S, '0x58 count', primary.throttled + secondary.throttled, '', `primary ${primary.throttled}, secondary ${secondary.throttled}`);
  ctx.report.add(
    S,
    '0x103 answers on the primary',
    primary.noCredit.length,
    '',
    'submits refused for credit: those on the wire at the switch, then the probes',
  );
  ctx.report.add(S, 'accepted per route', `primary ${fmt(primary.accepted.length)}, secondary ${fmt(secondary.accepted.length)}`, '', how);
  perSecondTable(ctx, answers, at);
}

/** The connector's probe interval: the product default unless this run's environment sets one (spawnRole passes it on). */
function probeInterval(): string {
  return process.env['ACCOUNT_PROBE_INTERVAL_MS'] ?? '15000 (default)';
}

/** A strict simulator (the pacing scenario's: the 101st submit_sm of any 1000 ms per connection → 0x58) with one account. */
function strictSimulator(journalPath: string, accounts: Record<string, string>): Child {
  return spawnRole('simulator', { args: [JSON.stringify({ journalPath, accounts, behaviour: { throughputPerSecond: RATE, maxBindsPerSystemId: SESSIONS } })] });
}

async function portOf(sim: Child): Promise<number> {
  return ((await sim.ready) as { port: number }).port;
}

function freshFile(ctx: BenchContext, name: string): string {
  const file = path.join(ctx.workDir, name);
  if (existsSync(file)) rmSync(file);
  return file;
}

async function answersOf(journal: string): Promise<Answers> {
  const destinations = new Map<string, string>();
  const answers: Answers = { accepted: [], throttled: 0, noCredit: [] };
  await readJournal(journal, (r) => {
    const pdu = `${r.conn}:${r.seq}`;
    if (r.dir === 'in' && r.command === 'submit_sm' && r.destination !== undefined) destinations.set(pdu, r.destination);
    if (r.dir !== 'out' || r.command !== 'submit_sm_resp') return;
    const destination = destinations.get(pdu);
    destinations.delete(pdu);
    if (r.status === 0 && destination !== undefined) answers.accepted.push({ ts: r.ts, index: indexFromDestination(destination) });
    else if (r.status === THROTTLED) answers.throttled += 1;
    else if (r.status === NO_CREDIT) answers.noCredit.push(r.ts);
  });
  answers.accepted.sort((a, b) => a.ts - b.ts);
  return answers;
}

function firstAfter(answers: Answers, from: number): number {
  return answers.accepted.find((a) => a.ts >= from)?.ts ?? NaN;
}

/** The end of the first 1000 ms window after `from` in which the route accepted AT_PACE submits (NaN: never). */
function paceReached(answers: Answers, from: number): number {
  const ts = answers.accepted.filter((a) => a.ts >= from).map((a) => a.ts);
  for (let lo = 0, hi = 0; hi < ts.length; hi++) {
    while (ts[hi]! - ts[lo]! >= 1000) lo++;
    if (hi - lo + 1 >= AT_PACE) return ts[hi]!;
  }
  return NaN;
}

function longestPause(accepted: Answers['accepted'], from: number): number {
  const ts = accepted
    .map((a) => a.ts)
    .filter((t) => t >= from)
    .sort((a, b) => a - b);
  let longest = ts.length > 0 ? ts[0]! - from : NaN;
  for (let i = 1; i < ts.length; i++) longest = Math.max(longest, ts[i]! - ts[i - 1]!);
  return longest;
}

function deliveryCount(backlog: number, routes: Answers[]): { missing: number; duplicates: number } {
  const times = new Uint16Array(backlog);
  let outside = 0;
  for (const r of routes) {
    for (const a of r.accepted) {
      if (a.index < backlog) times[a.index]! += 1;
      else outside += 1;
    }
  }
  if (outside > 0) throw new Error(`failover: ${outside} accepted submit_sm name no record of the backlog`);
  let missing = 0;
  let duplicates = 0;
  for (const n of times) {
    if (n === 0) missing += 1;
    else duplicates += n - 1;
  }
  return { missing, duplicates };
}

/** Accepted submit_sm per route and second, from the primary's first: to the console and `<workDir>/failover.txt`. */
function perSecondTable(ctx: BenchContext, answers: { primary: Answers; secondary: Answers }, at: { creditOutAt: number; creditBackAt: number }): void {
  const start = answers.primary.accepted[0]?.ts ?? at.creditOutAt;
  const second = (t: number) => Math.floor((t - start) / 1000);
  const rows = Object.entries(answers).map(([name, a]) => {
    const perSecond = new Array<number>(second(Math.max(...a.accepted.map((x) => x.ts), start)) + 1).fill(0);
    for (const x of a.accepted) perSecond[second(x.ts)]! += 1;
    return `${name}: ${perSecond.join(' ')}`;
  });
  const table = [
    `# failover: accepted submit_sm per second from the primary's first; credit out in second ${second(at.creditOutAt)}, back in second ${second(at.creditBackAt)}`,
    ...rows,
  ].join('\n');
  say(table);
  writeFileSync(path.join(ctx.workDir, 'failover.txt'), `${table}\n`);
}
