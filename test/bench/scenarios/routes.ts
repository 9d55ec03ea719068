/**
 * Two routes against one (issue 21 §5): does routing cost throughput? The end-to-end measurement
 * (runBacklog) on the shared backlog, unthrottled, once with one route from the SMPP_* variables
 * (trx:4, exactly the `e2e` run) and once with a routes file of two routes, trx:2 each, whose rule
 * splits the requests 50/50 by weight — the same sessions and window in total, against the same
 * simulator process, so that the difference is what routing costs (the rule, the per-route pools,
 * gates and admissions, the route-keyed correlation), not more binds.
 *
 * Each round runs the naive loop (c) first, then the two connectors, their order alternating from
 * round to round (the box drifts within a round too); each connector's ratio is to the naive run of
 * its round. Figures: per variant the medians over the rounds, and two ÷ one per round.
 */
import { fmt, median, say } from '../common.js';
import type { BenchContext } from '../context.js';
import { naiveLoop } from './ceilings.js';
import { reportBacklogRun, runBacklog, type BacklogRoutes } from './connector.js';

const VARIANTS: Record<BacklogRoutes, { section: string; sessions: string }> = {
  one: { section: 'routes: one route (SMPP_*)', sessions: '1 route, 4 trx binds × SMPP_WINDOW 10' },
  two: { section: 'routes: two routes, split 50/50', sessions: '2 routes (a routes file, rule split 50/50 by weight), 2 trx binds × SMPP_WINDOW 10 each' },
};

const RATIO = 'ratio to (c) naive loop, submits';

export async function routesAgainstOne(ctx: BenchContext, rounds: number): Promise<void> {
  for (let round = 1; round <= rounds; round++) {
    say(`\n# routes, round ${round} of ${rounds}: (c), then one and two routes${round % 2 === 0 ? ' (two first)' : ''}`);
    await naiveLoop(ctx);
    const order: BacklogRoutes[] = round % 2 === 1 ? ['one', 'two'] : ['two', 'one'];
    for (const routes of order) {
      const { section, sessions } = VARIANTS[routes];
      ctx.report.section(section);
      reportBacklogRun(ctx, section, await runBacklog(ctx, `routes-${routes}${round}`, [], routes), sessions);
    }
  }
  summarise(ctx, rounds);
}

function summarise(ctx: BenchContext, rounds: number): void {
  const S = 'routes: two against one';
  ctx.report.section(S);
  const one = ctx.report.all(VARIANTS.one.section, 'submits/s');
  const two = ctx.report.all(VARIANTS.two.section, 'submits/s');
  const list = (xs: number[]) => xs.map((x) => x.toFixed(3)).join(', ');
  for (const routes of ['one', 'two'] as const) {
    const ratios = ctx.report.all(VARIANTS[routes].section, RATIO);
    ctx.report.add(
      S,
      `${routes} route${routes === 'one' ? '' : 's'} ÷ (c) naive loop, median of ${ratios.length}`,
      median(ratios),
      '×',
      `each round: (c), then both connectors; per round ${list(ratios)}; goal ≥ 0.8`,
    );
  }
  const perRound = two.map((t, i) => t / one[i]!);
  ctx.report.add(
    S,
    `two routes ÷ one route, submits, median of ${rounds}`,
    median(perRound),
    '×',
    `steady submits/s of the same round; per round ${list(perRound)} (two: ${two.map((x) => fmt(x)).join(', ')}; one: ${one.map((x) => fmt(x)).join(', ')})`,
  );
  const cpu = (routes: BacklogRoutes) => median(ctx.report.all(VARIANTS[routes].section, 'CPU per 1,000'));
  ctx.report.add(
    S,
    'connector CPU per 1,000, two routes ÷ one route',
    cpu('two') / cpu('one'),
    '×',
    `medians: ${cpu('two').toFixed(3)} ÷ ${cpu('one').toFixed(3)} CPU-s/1k`,
  );
}
