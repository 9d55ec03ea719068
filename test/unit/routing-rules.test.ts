// Invariant (issue 21 §2): every request matches exactly one rule — the first whose match fits, the
// default last — and the decision depends on the request alone; the routes returned are the rule's
// routes, each once, the split's pick first; a table that could route a request nowhere, or to a
// route that does not exist, is refused naming the rule and the field.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkRoutingTable, routeRequest, RoutingTableError, type RoutableRequest, type RoutingRule } from '../../src/routing/rules.js';

const ROUTES = ['agile', 'backup', 'uk'];

const table = checkRoutingTable(
  [
    { name: 'otp', match: { metadata: { class: 'otp' } }, routes: ['agile', 'backup'] },
    { name: 'uk', match: { to: ['+44'] }, routes: ['uk', 'agile'] },
    { name: 'brand', match: { to: ['39 3'], from: ['ACME', 'ACME-IT'] }, routes: ['agile', 'backup'], split: { agile: 3, backup: 1 } },
    { name: 'default', routes: ['agile', 'backup'] },
  ],
  ROUTES,
);

const request = (overrides: Partial<RoutableRequest> = {}): RoutableRequest => ({ id: 'r-1', to: '393471234567', from: 'ACME', metadata: {}, ...overrides });

describe('routeRequest', () => {
  it('the first matching rule decides; the default takes the rest', () => {
    assert.deepEqual(routeRequest(table, request({ metadata: { class: 'otp' }, to: '447700900123' })), { rule: 'otp', routes: ['agile', 'backup'] });
    assert.deepEqual(routeRequest(table, request({ to: '447700900123' })), { rule: 'uk', routes: ['uk', 'agile'] });
    assert.equal(routeRequest(table, request({ from: 'OTHER' })).rule, 'default', 'brand needs its sender too');
    assert.equal(routeRequest(table, request({ to: '390612345678' })).rule, 'default', 'brand needs the 393 prefix');
    assert.equal(routeRequest(table, request({ metadata: { class: 'bulk' } })).rule, 'brand', 'a metadata value must be equal');
  });

  it('a split spreads the first choice by weight, stably per request id, the others following as failover', () => {
    const firsts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const decision = routeRequest(table, request({ id: `req-${i}` }));
      assert.equal(decision.rule, 'brand');
      assert.deepEqual([...decision.routes].sort(), ['agile', 'backup']);
      assert.deepEqual(routeRequest(table, request({ id: `req-${i}` })), decision, 'the same request, the same decision');
      firsts.set(decision.routes[0]!, (firsts.get(decision.routes[0]!) ?? 0) + 1);
    }
    const agileShare = firsts.get('agile')! / 4000;
    assert.ok(Math.abs(agileShare - 0.75) < 0.03, `weights 3:1 → ~75 % first on agile (got ${(agileShare * 100).toFixed(1)} %)`);
  });
});

describe('checkRoutingTable', () => {
  const refused = (rules: RoutingRule[], path: string) =>
    assert.throws(
      () => checkRoutingTable(rules, ROUTES),
      (e: unknown) => e instanceof RoutingTableError && e.path === path,
    );

  it('names the rule and the field of what is wrong', () => {
    refused([], 'rules');
    refused([{ name: 'a', match: { to: ['39'] }, routes: ['agile'] }], 'rules[0] (a).match');
    refused(
      [
        { name: 'd', routes: ['agile'] },
        { name: 'e', routes: ['agile'] },
      ],
      'rules[0] (d).match',
    );
    refused([{ name: 'd', routes: ['nowhere'] }], 'rules[0] (d).routes[0]');
    refused([{ name: 'd', routes: ['agile', 'agile'] }], 'rules[0] (d).routes[1]');
    refused([{ name: 'd', routes: [] }], 'rules[0] (d).routes');
    refused([{ name: 'd', routes: ['agile'], split: { uk: 1 } }], 'rules[0] (d).split.uk');
    refused([{ name: 'd', routes: ['agile'], split: { agile: 0 } }], 'rules[0] (d).split.agile');
    refused(
      [
        { name: 'x', match: { to: ['+39abc'] }, routes: ['agile'] },
        { name: 'd', routes: ['agile'] },
      ],
      'rules[0] (x).match.to[0]',
    );
    refused(
      [
        { name: 'x', match: {}, routes: ['agile'] },
        { name: 'd', routes: ['agile'] },
      ],
      'rules[0] (x).match',
    );
    refused(
      [
        { name: 'd', match: { from: ['A'] }, routes: ['agile'] },
        { name: 'd', routes: ['agile'] },
      ],
      'rules[1] (d).name',
    );
  });
});

// Arbitrary tables: some rules with random matches over a small alphabet (so they collide), a default last.
const prefixes = fc.constantFrom('3', '39', '393', '44', '4477', '1');
const senders = fc.constantFrom('ACME', 'BRAND', 'OTP');
const metaEntry = fc.constantFrom<[string, string]>(['class', 'otp'], ['class', 'bulk'], ['tenant', 't1']);
const match = fc
  .record(
    {
      to: fc.array(prefixes, { minLength: 1, maxLength: 2 }),
      from: fc.array(senders, { minLength: 1, maxLength: 2 }),
      metadata: fc.array(metaEntry, { maxLength: 2 }),
    },
    { requiredKeys: [] },
  )
  .filter((m) => m.to !== undefined || m.from !== undefined || (m.metadata !== undefined && m.metadata.length > 0))
  .map((m) => ({
    ...(m.to ? { to: m.to } : {}),
    ...(m.from ? { from: m.from } : {}),
    ...(m.metadata?.length ? { metadata: Object.fromEntries(m.metadata) } : {}),
  }));
const routeList = fc.shuffledSubarray(ROUTES, { minLength: 1 });
const rulesArb = fc
  .array(fc.tuple(match, routeList), { maxLength: 6 })
  .chain((body) =>
    routeList.map((defaultRoutes): RoutingRule[] => [
      ...body.map(([m, routes], i) => ({ name: `r${i}`, match: m, routes })),
      { name: 'default', routes: defaultRoutes },
    ]),
  );
const requestArb = fc.record({
  id: fc.string({ minLength: 1, maxLength: 12 }),
  to: fc.constantFrom('393471234567', '447700900123', '12025550123', '390612345678'),
  from: senders,
  metadata: fc.array(metaEntry, { maxLength: 2 }).map((es) => Object.fromEntries(es)),
});

/** An independent reading of one rule's match, condition by condition. */
function fits(rule: RoutingRule, r: RoutableRequest): boolean {
  const m = rule.match;
  if (m === undefined) return true;
  const toOk = m.to === undefined || m.to.some((p) => r.to.slice(0, p.length) === p);
  const fromOk = m.from === undefined || m.from.some((s) => s === r.from);
  const metaOk = Object.keys(m.metadata ?? {}).every((k) => Object.prototype.hasOwnProperty.call(r.metadata, k) && r.metadata[k] === m.metadata![k]);
  return toOk && fromOk && metaOk;
}

describe('routing properties', () => {
  it('every request matches exactly one rule: the first that fits; the routes are that rule’s, each once; the same request, the same decision', () => {
    fc.assert(
      fc.property(rulesArb, requestArb, (rules, r) => {
        const checked = checkRoutingTable(rules, ROUTES);
        const decision = routeRequest(checked, r);
        const index = checked.findIndex((rule) => rule.name === decision.rule);
        assert.ok(index >= 0);
        assert.ok(fits(checked[index]!, r), 'the deciding rule fits');
        for (const earlier of checked.slice(0, index)) assert.ok(!fits(earlier, r), `an earlier rule (${earlier.name}) fits too`);
        assert.deepEqual([...decision.routes].sort(), [...checked[index]!.routes].sort());
        assert.deepEqual(routeRequest(checked, r), decision);
      }),
      { numRuns: 500 },
    );
  });
});
