import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { AssignerProtocol, type Cluster, type Consumer, type GroupDescription, type Logger, type PartitionMetadata } from 'kafkajs';
import {
  ASSIGNER_NAME,
  createBindSlotAssigner,
  decodeGroupTerms,
  RECEIPTS_CAP,
  decodeBindSlots,
  decodeMember,
  fetchOwnBindSlots,
  planAssignment,
  sharedInstances,
  type PlanMember,
} from '../../src/kafka/assigner.js';

/** A member of a connector with one route (`default`), as before routes existed. */
interface OneRoute {
  memberId: string;
  requestedBinds: number;
  cap: number;
}
const single = (members: readonly OneRoute[]): PlanMember[] =>
  members.map((m) => ({ memberId: m.memberId, routes: { default: { requestedBinds: m.requestedBinds, cap: m.cap } } }));
import { canReceive, canSubmit } from '../../src/smpp/session/bind.js';
import { modesForSlots, sessionTotal, type SessionSpecEntry } from '../../src/smpp/protocol/pool-spec.js';
import type { BindMode } from '../../src/smpp/protocol/types.js';

const memberArb = fc.record({
  memberId: fc.string({ minLength: 1, maxLength: 6 }),
  requestedBinds: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.constantFrom(-1, Number.NaN, 2.5)),
  cap: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.constant(Number.POSITIVE_INFINITY)),
});
const membersArb = fc.uniqueArray(memberArb, { selector: (m) => m.memberId, maxLength: 8 });
const partitionsArb = fc.dictionary(fc.constantFrom('sms.outbound', 'other', 'a'), fc.uniqueArray(fc.integer({ min: 0, max: 40 }), { maxLength: 30 }));

function totalSlots(plan: ReturnType<typeof planAssignment>): number {
  return Object.values(plan).reduce((sum, p) => sum + p.routeSlots['default']!.length, 0);
}

describe('planAssignment', () => {
  test('Σ bind slots never exceeds the smallest cap any member reports, and slot ids are distinct', () => {
    fc.assert(
      fc.property(membersArb, partitionsArb, (members, partitions) => {
        const plan = planAssignment(single(members), partitions);
        const cap = Math.min(...members.map((m) => (Number.isFinite(m.cap) ? m.cap : Number.POSITIVE_INFINITY)));
        const ids = Object.values(plan).flatMap((p) => p.routeSlots['default']!);
        assert.ok(ids.length <= cap);
        assert.equal(new Set(ids).size, ids.length);
        for (const id of ids) assert.ok(Number.isInteger(id) && id >= 0 && id < Math.max(cap, ids.length));
      }),
    );
  });

  test('every partition goes to exactly one member when any member holds a slot; standbys get none', () => {
    fc.assert(
      fc.property(membersArb, partitionsArb, (members, partitions) => {
        const plan = planAssignment(single(members), partitions);
        const anyHolder = Object.values(plan).some((p) => p.routeSlots['default']!.length > 0);
        for (const [topic, list] of Object.entries(partitions)) {
          const owners = list.map((partition) => Object.values(plan).filter((p) => p.partitions[topic]?.includes(partition)).length);
          for (const n of owners) assert.equal(n, anyHolder ? 1 : 0);
        }
        for (const p of Object.values(plan)) {
          if (p.routeSlots['default']!.length === 0) assert.deepEqual(p.partitions, {});
        }
      }),
    );
  });

  test('each member gets min(requested, fair share); the cap is used up while anyone asks for more', () => {
    fc.assert(
      fc.property(membersArb, (members) => {
        const plan = planAssignment(single(members), {});
        const requested = (m: OneRoute) => (Number.isFinite(m.requestedBinds) && m.requestedBinds > 0 ? Math.floor(m.requestedBinds) : 0);
        const cap = Math.min(...members.map((m) => m.cap));
        const given = members.map((m) => plan[m.memberId]?.routeSlots['default']?.length ?? 0);
        members.forEach((m, i) => assert.ok((given[i] as number) <= requested(m)));
        const wanted = members.reduce((s, m) => s + requested(m), 0);
        if (members.length > 0) assert.equal(totalSlots(plan), Math.min(wanted, cap));
        // Max-min fairness: a member left short is never more than one slot behind anybody.
        members.forEach((m, i) => {
          if ((given[i] as number) < requested(m)) for (const g of given) assert.ok(g <= (given[i] as number) + 1);
        });
      }),
    );
  });

  test('deterministic: member order in the input does not change the plan', () => {
    fc.assert(
      fc.property(membersArb, partitionsArb, (members, partitions) => {
        assert.deepEqual(planAssignment(single([...members].reverse()), partitions), planAssignment(single(members), partitions));
      }),
    );
  });

  test('partitions are spread by slot weight (within one partition of the proportional share)', () => {
    fc.assert(
      fc.property(membersArb, fc.integer({ min: 0, max: 60 }), (members, n) => {
        const plan = planAssignment(single(members), { t: Array.from({ length: n }, (_, i) => i) });
        const total = totalSlots(plan);
        for (const p of Object.values(plan)) {
          if (total === 0) continue;
          const share = (n * p.routeSlots['default']!.length) / total;
          assert.ok(Math.abs((p.partitions['t']?.length ?? 0) - share) < 1 + 1e-9);
        }
      }),
    );
  });

  test('table: three replicas on a 4-bind account, 12 partitions', () => {
    const members = ['c', 'a', 'b'].map((memberId) => ({ memberId, requestedBinds: 4, cap: 4 }));
    const plan = planAssignment(single(members), { 'sms.outbound': Array.from({ length: 12 }, (_, i) => i) });
    assert.deepEqual(plan['a']?.routeSlots['default'], [0, 1]);
    assert.deepEqual(plan['b']?.routeSlots['default'], [2]);
    assert.deepEqual(plan['c']?.routeSlots['default'], [3]);
    assert.equal(plan['a']?.partitions['sms.outbound']?.length, 6);
    assert.equal(plan['b']?.partitions['sms.outbound']?.length, 3);
    assert.equal(plan['c']?.partitions['sms.outbound']?.length, 3);
  });

  test('table: five replicas asking 1 bind each on a cap of 4 → the fifth is a hot standby', () => {
    const members = ['m1', 'm2', 'm3', 'm4', 'm5'].map((memberId) => ({ memberId, requestedBinds: 1, cap: 4 }));
    const plan = planAssignment(single(members), { t: [0, 1, 2, 3, 4, 5, 6, 7] });
    assert.deepEqual(plan['m5'], { partitions: {}, routeSlots: { default: [] } });
    assert.deepEqual(plan['m1']?.partitions['t'], [0, 4]);
  });

  test('table: the smallest reported cap wins (a replica with a stale larger cap cannot raise it)', () => {
    const plan = planAssignment(
      single([
        { memberId: 'a', requestedBinds: 4, cap: 8 },
        { memberId: 'b', requestedBinds: 4, cap: 2 },
      ]),
      {},
    );
    assert.equal(totalSlots(plan), 2);
  });
});

// The slots a member gets from the plan are opened by its pool as modesForSlots(spec, n): the one
// place that turns a slot count into bind modes.
describe('replicas opening the bind slots they were given', () => {
  type Spec = SessionSpecEntry[];
  /** Every member's bind modes after the leader's plan, all members running `spec`. */
  function modesPerMember(spec: Spec, replicas: number, cap: number): BindMode[][] {
    const members = Array.from({ length: replicas }, (_, i) => ({ memberId: `m${i}`, requestedBinds: sessionTotal(spec), cap }));
    const plan = planAssignment(single(members), { 'sms.outbound': Array.from({ length: 12 }, (_, i) => i) });
    return members.map((m) => modesForSlots(spec, plan[m.memberId]?.routeSlots['default']?.length ?? 0));
  }

  const cases: [string, Spec, number, number, BindMode[][]][] = [
    [
      'tx:1,trx:1,rx:1 on one replica with 2 slots of 2: trx first, then submit capacity',
      [
        { mode: 'tx', count: 1 },
        { mode: 'trx', count: 1 },
        { mode: 'rx', count: 1 },
      ],
      1,
      2,
      [['trx', 'tx']],
    ],
    [
      'tx:1,trx:1,rx:1, three replicas on a cap of 3: each one trx',
      [
        { mode: 'tx', count: 1 },
        { mode: 'trx', count: 1 },
        { mode: 'rx', count: 1 },
      ],
      3,
      3,
      [['trx'], ['trx'], ['trx']],
    ],
    [
      'tx:2,rx:2, three replicas on a cap of 4',
      [
        { mode: 'tx', count: 2 },
        { mode: 'rx', count: 2 },
      ],
      3,
      4,
      [['tx', 'rx'], ['trx'], ['trx']],
    ],
    [
      'tx:2,rx:2, two replicas on a cap of 4',
      [
        { mode: 'tx', count: 2 },
        { mode: 'rx', count: 2 },
      ],
      2,
      4,
      [
        ['tx', 'rx'],
        ['tx', 'rx'],
      ],
    ],
    ['trx:4, five replicas on a cap of 4: the fifth is a standby', [{ mode: 'trx', count: 4 }], 5, 4, [['trx'], ['trx'], ['trx'], ['trx'], []]],
    [
      'rx first in the spec, one slot: trx',
      [
        { mode: 'rx', count: 1 },
        { mode: 'trx', count: 1 },
      ],
      2,
      2,
      [['trx'], ['trx']],
    ],
    ['tx only stays tx', [{ mode: 'tx', count: 3 }], 1, 2, [['tx', 'tx']]],
    [
      'tx:1,rx:3, one replica with 3 slots',
      [
        { mode: 'tx', count: 1 },
        { mode: 'rx', count: 3 },
      ],
      1,
      3,
      [['tx', 'rx', 'rx']],
    ],
  ];
  for (const [name, spec, replicas, cap, expected] of cases) {
    test(`table: ${name}`, () => assert.deepEqual(modesPerMember(spec, replicas, cap), expected));
  }

  test('any spec, replicas and cap: Σ binds ≤ cap; every slot holder submits, and receives when the spec does', () => {
    const specArb = fc.uniqueArray(fc.record({ mode: fc.constantFrom('tx' as const, 'rx' as const, 'trx' as const), count: fc.integer({ min: 1, max: 6 }) }), {
      selector: (e) => e.mode,
      minLength: 1,
    });
    fc.assert(
      fc.property(specArb, fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 8 }), (spec, replicas, cap) => {
        fc.pre(spec.some((e) => e.mode !== 'rx'));
        const perMember = modesPerMember(spec, replicas, cap);
        assert.ok(perMember.flat().length <= cap);
        const specReceives = spec.some((e) => e.mode !== 'tx');
        for (const modes of perMember) {
          assert.ok(modes.length <= sessionTotal(spec));
          if (modes.length === 0) continue;
          assert.ok(
            modes.some((m) => canSubmit(m)),
            `can submit: ${modes.join(',')}`,
          );
          if (specReceives)
            assert.ok(
              modes.some((m) => canReceive(m)),
              `can receive: ${modes.join(',')}`,
            );
        }
      }),
    );
  });
});

describe('kafkajs glue', () => {
  const silent = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Logger;
  const cluster = {
    findTopicPartitionMetadata: (topic: string) =>
      Array.from({ length: topic === 'sms.outbound' ? 6 : 0 }, (_, partitionId) => ({ partitionId }) as PartitionMetadata),
  } as unknown as Cluster;

  test('subscription userData round-trips through the leader into each member assignment', async () => {
    const make = (requestedBinds: number) =>
      createBindSlotAssigner({ requestedBinds, sessions: `trx:${requestedBinds}`, cap: 4 })({ cluster, groupId: 'g', logger: silent });
    const a = make(4);
    const b = make(4);
    const c = make(4);
    const d = make(4);
    const protos = [a, b, c, d].map((x) => x.protocol({ topics: ['sms.outbound'] }));
    assert.equal(protos[0]?.name, ASSIGNER_NAME);
    const members = protos.map((p, i) => ({ memberId: `member-${i}`, memberMetadata: p.metadata }));
    const result = await a.assign({ members, topics: ['sms.outbound'] });
    assert.equal(result.length, 4, 'standbys get an entry too');
    const slots = result.map((r) => decodeBindSlots(r.memberAssignment));
    assert.deepEqual(slots, [[0], [1], [2], [3]]);
    const decoded = result.map((r) => AssignerProtocol.MemberAssignment.decode(r.memberAssignment));
    assert.deepEqual(decoded[0]?.assignment, { 'sms.outbound': [0, 4] });
    assert.match(JSON.parse(decoded[0]?.userData.toString() ?? '{}').generationNote, /4 of 4 members hold 4 bind slots/);
  });

  test('a member with unreadable metadata asks for nothing and does not lower the cap', async () => {
    const a = createBindSlotAssigner({ requestedBinds: 3, sessions: 'trx:3', cap: 4 })({ cluster, groupId: 'g', logger: silent });
    const members = [
      { memberId: 'a', memberMetadata: a.protocol({ topics: ['sms.outbound'] }).metadata },
      { memberId: 'b', memberMetadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics: ['sms.outbound'], userData: Buffer.from('not json') }) },
    ];
    const result = await a.assign({ members, topics: ['sms.outbound'] });
    assert.deepEqual(
      result.map((r) => decodeBindSlots(r.memberAssignment)),
      [[0, 1, 2], []],
    );
  });

  test('receipts are forwarded only while every member says it reads them (RECEIPTS_CAP); garbage or an older leader: not', async () => {
    const member = (caps?: string[]) =>
      createBindSlotAssigner({ requestedBinds: 2, sessions: 'trx:2', cap: 4, ...(caps ? { caps } : {}) })({ cluster, groupId: 'g', logger: silent });
    const termsOf = async (...assigners: ReturnType<typeof member>[]) => {
      const members = assigners.map((x, i) => ({ memberId: `m-${i}`, memberMetadata: x.protocol({ topics: ['sms.outbound'] }).metadata }));
      const result = await assigners[0]!.assign({ members, topics: ['sms.outbound'] });
      return result.map((r) => decodeGroupTerms(r.memberAssignment).forwardReceipts);
    };
    assert.deepEqual(await termsOf(member([RECEIPTS_CAP]), member([RECEIPTS_CAP])), [true, true]);
    assert.deepEqual(await termsOf(member([RECEIPTS_CAP]), member()), [false, false], 'one member without it (replicated, or an older version)');
    assert.deepEqual(await termsOf(member([RECEIPTS_CAP]), member(['something-else'])), [false, false]);
    const olderLeader = AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: {}, userData: Buffer.from('{"bindSlots":[1]}') });
    assert.equal(decodeGroupTerms(olderLeader).forwardReceipts, false);
    assert.equal(decodeGroupTerms(Buffer.from([1, 2, 3])).forwardReceipts, false);
  });

  test('decodeBindSlots: garbage → [] (no binds is the safe side)', () => {
    assert.deepEqual(decodeBindSlots(Buffer.alloc(0)), []);
    assert.deepEqual(decodeBindSlots(Buffer.from([1, 2, 3])), []);
    const bad = AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: {}, userData: Buffer.from('{"bindSlots":[1,-1,"x",2.5,3]}') });
    assert.deepEqual(decodeBindSlots(bad), [1, 3]);
  });

  test('fetchOwnBindSlots reads its own member from describeGroup, refuses an unsettled group', async () => {
    const assignment = AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: { t: [0] }, userData: Buffer.from('{"bindSlots":[2,3]}') });
    const group = (state: GroupDescription['state']): GroupDescription => ({
      groupId: 'g',
      protocol: ASSIGNER_NAME,
      protocolType: 'consumer',
      state,
      members: [{ memberId: 'me', clientId: 'c', clientHost: 'h', memberMetadata: Buffer.alloc(0), memberAssignment: assignment }],
    });
    const consumer = (state: GroupDescription['state']) => ({ describeGroup: async () => group(state) }) as Pick<Consumer, 'describeGroup'>;
    assert.deepEqual(await fetchOwnBindSlots(consumer('Stable'), 'me'), { default: [2, 3] });
    await assert.rejects(fetchOwnBindSlots(consumer('Stable'), 'someone-else'), /not found/);
    await assert.rejects(fetchOwnBindSlots(consumer('CompletingRebalance'), 'me'), /not settled/);
  });
});

// Routes (issue 21): each route's slots under its own cap; only members with a slot on every route take
// partitions (a record may be routed anywhere); a member short of one route holds nothing.
describe('planAssignment with routes', () => {
  const routeReq = fc.record({ requestedBinds: fc.integer({ min: 0, max: 6 }), cap: fc.integer({ min: 1, max: 6 }) });
  const routedMembersArb = fc.uniqueArray(fc.record({ memberId: fc.string({ minLength: 1, maxLength: 4 }), routes: fc.record({ a: routeReq, b: routeReq }) }), {
    selector: (m) => m.memberId,
    maxLength: 6,
  });

  test('per route Σ slots ≤ the smallest cap; partition holders have slots on every route; the others hold none', () => {
    fc.assert(
      fc.property(routedMembersArb, fc.integer({ min: 0, max: 24 }), (members, n) => {
        const plan = planAssignment(members, { t: Array.from({ length: n }, (_, i) => i) });
        for (const route of ['a', 'b']) {
          const cap = Math.min(...members.map((m) => m.routes[route as 'a' | 'b'].cap));
          const ids = Object.values(plan).flatMap((p) => p.routeSlots[route] ?? []);
          assert.ok(ids.length <= cap, `route ${route}: ${ids.length} slots over cap ${cap}`);
          assert.equal(new Set(ids).size, ids.length);
        }
        for (const p of Object.values(plan)) {
          const everywhere = ['a', 'b'].every((r) => (p.routeSlots[r]?.length ?? 0) > 0);
          const any = ['a', 'b'].some((r) => (p.routeSlots[r]?.length ?? 0) > 0);
          if (!everywhere) assert.ok(!any, 'a member short of one route holds no slots');
          if ((p.partitions['t']?.length ?? 0) > 0) assert.ok(everywhere, 'partitions only with every route');
        }
        const holders = Object.values(plan).filter((p) => (p.routeSlots['a']?.length ?? 0) > 0).length;
        if (holders > 0)
          assert.equal(
            Object.values(plan).reduce((s, p) => s + (p.partitions['t']?.length ?? 0), 0),
            n,
            'every partition placed',
          );
      }),
    );
  });

  test('members announcing different route sets (a routes file rolled out): the most common set holds, never nobody', () => {
    const sets = fc.subarray(['a', 'b', 'c'], { minLength: 1 });
    const members = fc.uniqueArray(fc.record({ memberId: fc.string({ minLength: 1, maxLength: 4 }), routes: sets }), {
      selector: (m) => m.memberId,
      minLength: 1,
      maxLength: 6,
    });
    fc.assert(
      fc.property(members, (list) => {
        // every member asks for one bind per route and every cap fits them all: only disagreement can stand a member by
        const plan = planAssignment(
          list.map((m) => ({ memberId: m.memberId, routes: Object.fromEntries(m.routes.map((r) => [r, { requestedBinds: 1, cap: 6 }])) })),
          { t: [0, 1, 2, 3] },
        );
        const holders = list.filter((m) => (plan[m.memberId]?.partitions['t']?.length ?? 0) > 0);
        assert.ok(holders.length > 0, 'some member holds the partitions');
        const key = (routes: string[]) => [...routes].sort().join(',');
        assert.equal(new Set(holders.map((m) => key(m.routes))).size, 1, 'the holders announce one route set');
        const count = (k: string) => list.filter((m) => key(m.routes) === k).length;
        assert.ok(
          list.every((m) => count(key(m.routes)) <= count(key(holders[0]!.routes))),
          'and no set has more members',
        );
      }),
    );
  });

  test('table: a route renamed under a rolling update — two replicas on {a, b}, one on {a, c}', () => {
    const req = { requestedBinds: 1, cap: 4 };
    const plan = planAssignment(
      [
        { memberId: 'old1', routes: { a: req, b: req } },
        { memberId: 'old2', routes: { a: req, b: req } },
        { memberId: 'new1', routes: { a: req, c: req } },
      ],
      { t: [0, 1, 2, 3] },
    );
    assert.deepEqual(plan['old1']?.routeSlots, { a: [0], b: [0] });
    assert.deepEqual(plan['old2']?.routeSlots, { a: [1], b: [1] });
    assert.deepEqual(plan['new1'], { partitions: {}, routeSlots: { a: [], b: [] } });
  });

  test('table: three replicas, route a capped at 4 and b at 2 → two replicas active, the third a standby', () => {
    const members = ['r1', 'r2', 'r3'].map((memberId) => ({ memberId, routes: { a: { requestedBinds: 2, cap: 4 }, b: { requestedBinds: 1, cap: 2 } } }));
    const plan = planAssignment(members, { t: [0, 1, 2, 3] });
    assert.deepEqual(plan['r1']?.routeSlots, { a: [0, 1], b: [0] });
    assert.deepEqual(plan['r2']?.routeSlots, { a: [2, 3], b: [1] });
    assert.deepEqual(plan['r3'], { partitions: {}, routeSlots: { a: [], b: [] } });
  });
});

// Sticky (issue 20): a member's instance, what it owned and what its store followed (warm) keep
// partitions where they are, within the same targets; a replica that comes back gets its own back.
describe('planAssignment, sticky', () => {
  const T = 'sms.outbound';
  const all = (n: number) => Array.from({ length: n }, (_, i) => i);
  const partitionSetArb = fc.uniqueArray(fc.integer({ min: 0, max: 15 }), { maxLength: 16 });
  const stickyMembersArb = fc.uniqueArray(
    fc.record({
      memberId: fc.string({ minLength: 1, maxLength: 6 }),
      instance: fc.option(fc.constantFrom('pod-0', 'pod-1', 'pod-2', 'pod-3'), { nil: undefined }),
      requestedBinds: fc.integer({ min: 0, max: 4 }),
      owned: partitionSetArb,
      warm: partitionSetArb,
    }),
    { selector: (m) => m.memberId, maxLength: 6 },
  );
  const asPlanMembers = (list: readonly { memberId: string; instance?: string | undefined; requestedBinds: number; owned: number[]; warm: number[] }[]) =>
    list.map((m): PlanMember => ({
      memberId: m.memberId,
      ...(m.instance !== undefined ? { instance: m.instance } : {}),
      routes: { default: { requestedBinds: m.requestedBinds, cap: 8 } },
      owned: { [T]: m.owned },
      warm: { [T]: m.warm },
    }));

  test('the same targets whatever members own or hold warm: every partition once, each member within one of its share, deterministic', () => {
    fc.assert(
      fc.property(stickyMembersArb, fc.integer({ min: 0, max: 16 }), (list, n) => {
        const members = asPlanMembers(list);
        const plan = planAssignment(members, { [T]: all(n) });
        const bare = planAssignment(
          members.map(({ memberId, routes }) => ({ memberId, routes })),
          { [T]: all(n) },
        );
        const got = Object.values(plan).flatMap((p) => p.partitions[T] ?? []);
        const holders = Object.values(plan).filter((p) => p.routeSlots['default']!.length > 0).length;
        assert.deepEqual(
          [...got].sort((a, b) => a - b),
          holders > 0 ? all(n) : [],
        );
        const slots = Object.values(plan).reduce((s, p) => s + p.routeSlots['default']!.length, 0);
        assert.equal(
          slots,
          Object.values(bare).reduce((s, p) => s + p.routeSlots['default']!.length, 0),
          'the same bind slots in all',
        );
        for (const p of Object.values(plan)) {
          if (slots === 0) continue;
          assert.ok(Math.abs((p.partitions[T]?.length ?? 0) - (n * p.routeSlots['default']!.length) / slots) < 1 + 1e-9);
          assert.deepEqual(
            p.partitions[T] ?? [],
            [...(p.partitions[T] ?? [])].sort((a, b) => a - b),
            'listed in order',
          );
        }
        assert.deepEqual(planAssignment([...members].reverse(), { [T]: all(n) }), plan);
      }),
    );
  });

  test('members that own disjoint partitions keep every one of them that fits their share', () => {
    fc.assert(
      fc.property(stickyMembersArb, fc.integer({ min: 1, max: 16 }), (list, n) => {
        const seen = new Set<number>();
        const disjoint = list.map((m) => ({ ...m, owned: m.owned.filter((p) => p < n && !seen.has(p) && (seen.add(p), true)) }));
        const plan = planAssignment(asPlanMembers(disjoint), { [T]: all(n) });
        for (const m of disjoint) {
          const got = plan[m.memberId]?.partitions[T] ?? [];
          if (m.owned.length <= got.length) for (const p of m.owned) assert.ok(got.includes(p), `${m.memberId} kept ${p}`);
        }
      }),
    );
  });

  /** One generation: members (id, instance) with what they owned before and their store's last assignment. */
  function generation(members: { id: string; instance: string; owned: number[]; warm: number[] }[], n = 12) {
    return planAssignment(
      members.map((m) => ({
        memberId: m.id,
        instance: m.instance,
        routes: { default: { requestedBinds: 1, cap: 8 } },
        owned: { [T]: m.owned },
        warm: { [T]: m.warm },
      })),
      { [T]: all(n) },
    );
  }
  const partitionsOf = (plan: ReturnType<typeof planAssignment>, id: string) => plan[id]?.partitions[T] ?? [];

  test('a rolling restart: the replica that comes back (a new member id) gets its own partitions back from those that covered for it', () => {
    const first = generation([
      { id: 'm1', instance: 'pod-0', owned: [], warm: [] },
      { id: 'm2', instance: 'pod-1', owned: [], warm: [] },
      { id: 'm3', instance: 'pod-2', owned: [], warm: [] },
    ]);
    const [a, b, c] = ['m1', 'm2', 'm3'].map((id) => partitionsOf(first, id));
    // pod-1 stops: the others keep theirs and split its four
    const without = generation([
      { id: 'm1', instance: 'pod-0', owned: a!, warm: a! },
      { id: 'm3', instance: 'pod-2', owned: c!, warm: c! },
    ]);
    for (const p of a!) assert.ok(partitionsOf(without, 'm1').includes(p));
    for (const p of c!) assert.ok(partitionsOf(without, 'm3').includes(p));
    // pod-1 is back under a new member id, its store remembering its four; the others remember six each
    const back = generation([
      { id: 'm1', instance: 'pod-0', owned: partitionsOf(without, 'm1'), warm: partitionsOf(without, 'm1') },
      { id: 'm9', instance: 'pod-1', owned: [], warm: b! },
      { id: 'm3', instance: 'pod-2', owned: partitionsOf(without, 'm3'), warm: partitionsOf(without, 'm3') },
    ]);
    assert.deepEqual(partitionsOf(back, 'm1'), a);
    assert.deepEqual(partitionsOf(back, 'm9'), b);
    assert.deepEqual(partitionsOf(back, 'm3'), c);
    // and the slot ids follow the instance, not the member id
    assert.deepEqual(back['m9']?.routeSlots['default'], first['m2']?.routeSlots['default']);
  });

  test('table: the returning replica held 0–3 (not what a round robin would give it) and gets exactly those back', () => {
    const back = generation([
      { id: 'x1', instance: 'pod-0', owned: [0, 1, 4, 5, 6, 7], warm: [0, 1, 4, 5, 6, 7] },
      { id: 'x2', instance: 'pod-1', owned: [], warm: [0, 1, 2, 3] },
      { id: 'x3', instance: 'pod-2', owned: [2, 3, 8, 9, 10, 11], warm: [2, 3, 8, 9, 10, 11] },
    ]);
    assert.deepEqual(partitionsOf(back, 'x1'), [4, 5, 6, 7]);
    assert.deepEqual(partitionsOf(back, 'x2'), [0, 1, 2, 3]);
    assert.deepEqual(partitionsOf(back, 'x3'), [8, 9, 10, 11]);
  });

  test('a replica joining moves only what it takes: three of twelve partitions for the fourth member', () => {
    const three = generation([
      { id: 'm1', instance: 'pod-0', owned: [], warm: [] },
      { id: 'm2', instance: 'pod-1', owned: [], warm: [] },
      { id: 'm3', instance: 'pod-2', owned: [], warm: [] },
    ]);
    const mine = (id: string) => partitionsOf(three, id);
    const four = generation([
      { id: 'm1', instance: 'pod-0', owned: mine('m1'), warm: mine('m1') },
      { id: 'm2', instance: 'pod-1', owned: mine('m2'), warm: mine('m2') },
      { id: 'm3', instance: 'pod-2', owned: mine('m3'), warm: mine('m3') },
      { id: 'm4', instance: 'pod-3', owned: [], warm: [] },
    ]);
    const moved = ['m1', 'm2', 'm3'].reduce((sum, id) => sum + mine(id).filter((p) => !partitionsOf(four, id).includes(p)).length, 0);
    assert.equal(moved, 3);
    assert.equal(partitionsOf(four, 'm4').length, 3);
  });

  test('standing that cannot be read is ignored: the member is placed as by a version before it', () => {
    const metadata = (userData: unknown) =>
      AssignerProtocol.MemberMetadata.encode({ version: 1, topics: [T], userData: Buffer.from(JSON.stringify(userData)) });
    const member = decodeMember(metadata({ requestedBinds: 2, sessions: 'trx:2', cap: 4, instance: 42, owned: [1, 2], warm: { [T]: [3, -1, 2.5, 'x', 4] } }));
    assert.deepEqual(member, { routes: { default: { requestedBinds: 2, cap: 4 } }, warm: { [T]: [3, 4] } });
    assert.deepEqual(decodeMember(metadata({ requestedBinds: 1, cap: 2, instance: 'pod-0', owned: { [T]: [0] } })), {
      routes: { default: { requestedBinds: 1, cap: 2 } },
      instance: 'pod-0',
      owned: { [T]: [0] },
    });
  });
});

test('instance names announced by more than one member are named (the leader warns: they no longer follow their replicas)', () => {
  assert.deepEqual(sharedInstances([{ instance: 'pod-0' }, { instance: 'pod-1' }, {}, { instance: 'pod-0' }, {}]), ['pod-0']);
  assert.deepEqual(sharedInstances([{ instance: 'a' }, { instance: 'b' }, {}]), []);
});
