/**
 * `SmsBindSlotAssigner`: a kafkajs partition assigner that hands out partitions *and SMPP bind slots*.
 *
 * Replicas of the connector share one SMPP account whose binds — all modes, all replicas together —
 * must never exceed `SMPP_ACCOUNT_MAX_BINDS` (the cap). The consumer group already elects one leader
 * that decides for everyone, so the leader's `assign()` is where the cap is enforced:
 *
 *  - each member announces `{ requestedBinds, sessions, cap }` (JSON in its subscription userData);
 *  - the leader uses the smallest cap any member reports (a replica with a stale, larger cap must not
 *    raise the limit for everyone) and gives slot ids `0..cap-1` out by water-filling over members
 *    sorted by memberId: everyone gets min(requested, fair share), leftovers go to members that asked
 *    for more; Σ slots ≤ cap always;
 *  - members with no slot get no partitions (hot standby: they stay in the group, take over on the
 *    next rebalance when a slot frees up);
 *  - every partition of the subscribed topics goes to exactly one slot-holding member, weighted by
 *    its slot count (a member with 2 binds can submit twice as fast as one with 1; each member stays
 *    within one partition of its exact share), deterministically;
 *  - each member's assignment carries JSON `{ bindSlots: number[], generationNote }` in userData.
 *
 * Rebalances in kafkajs are eager (every member gives up everything before the new assignment), but
 * a member's binds are closed by the app, not by kafkajs: the app shrinks its pool to the new slot
 * count before it grows, and for the few seconds of a rebalance a bind may still be closing while
 * another replica opens one. The SMSC answers that with 0x05 (bind limit), which backs the session
 * off (see smpp/protocol/status.ts) — the cap can be touched, never silently exceeded for long.
 *
 * Routes (issue 21): a member announces one request per route (`routes`; the top-level fields are
 * its first route's, which is all a leader of an older version reads). Each route's slots are
 * handed out as above, under that route's own cap — and only members holding at least one slot on
 * EVERY route take partitions: a record may be routed to any route, and a replica without a
 * session of that route could not send it. A member left without a slot on some route gives its
 * slots on the others back (they are handed out again among the rest) and stands by. Members that
 * announce a different set of routes than most (a rolling update of the routes file) stand by too
 * (`agreedRoutes`). With one route this is exactly the rule above.
 *
 * Sticky (issue 20): a member also announces a stable `instance` name (CONNECTOR_INSTANCE_ID, the
 * host name by default: a StatefulSet pod's survives its restarts), the partitions it `owned` in
 * the generation before, and those it holds `warm` — the ones it owned last, remembered in its
 * correlation store, so a replica restarted on its own disk says which partitions its store has
 * followed. Members are ordered by instance (then memberId, which kafkajs makes anew at every
 * start), so slot ids and ties stay put across restarts. Partition targets are as above; then each
 * member keeps what it owned up to its target — first the partitions no other member holds warm —
 * then a partition left over goes to a member below target that holds it warm, and only the rest
 * is interleaved as before. So a rebalance moves only what must move, and a replica that comes
 * back after a restart gets its own partitions back from those that covered for it. Without
 * these fields (a version before them) the plan is the one above.
 *
 * `planAssignment` is pure and property-tested; the kafkajs glue is thin. Which bind modes a member
 * opens with its slots is the SMPP side's business (smpp/protocol/pool-spec.ts `modesForSlots`): here a slot
 * is only a count, so `kafka/` stays free of `smpp/`.
 */
import { AssignerProtocol, type Consumer, type PartitionAssigner } from 'kafkajs';
// a member that announces no routes (a version before routes) asks for this one
import { DEFAULT_ROUTE } from '../pipeline/route-ids.js';

export const ASSIGNER_NAME = 'SmsBindSlotAssigner';
/** Version of the userData JSON of both subscription and assignment. */
export const ASSIGNER_VERSION = 1;

/** What a member asks of one route. */
export interface RouteSlotRequest {
  /** Binds this replica would like on the route (its sessions total). */
  requestedBinds: number;
  /** The sessions spec in text form, e.g. `trx:4` (informational: no member reads it; seen in describeGroup). */
  sessions: string;
  /** The route's account cap as this replica knows it. */
  cap: number;
}

/** Partitions per topic. */
export type TopicPartitions = Record<string, readonly number[]>;

/** Where a member stands, for a sticky plan: who it is across restarts, what it holds now and what its store followed. */
export interface MemberStanding {
  /** Stable across restarts of the replica (CONNECTOR_INSTANCE_ID). */
  instance?: string;
  /** Its partitions in the generation before this rebalance. */
  owned?: TopicPartitions;
  /** The partitions its correlation store followed last (survives a restart on the same disk). */
  warm?: TopicPartitions;
  /** What it can do that older members cannot (`RECEIPTS_CAP`). */
  caps?: string[];
}

/**
 * The member reads the receipts forwarded to its bulk partitions (CORRELATION_OWNERSHIP=partitioned).
 * Receipts are forwarded only while every member of the group says so: one that would not read
 * them (an older version, or `replicated`) could be given a partition they are sent to.
 */
export const RECEIPTS_CAP = 'receipts';

/** What the leader tells every member besides its partitions and slots. */
export interface GroupTerms {
  /** Every member reads forwarded receipts: a replica may forward those it does not own. */
  forwardReceipts: boolean;
}

/** What a member tells the leader (subscription userData): its first route's request at the top, every route's in `routes`, and its standing. */
export interface BindSlotRequest extends RouteSlotRequest, MemberStanding {
  routes?: Record<string, RouteSlotRequest>;
}

export interface PlanMember extends MemberStanding {
  memberId: string;
  /** Per route: binds wanted, and the cap (`Infinity` when unknown: unreadable metadata does not lower a cap). */
  routes: Record<string, { requestedBinds: number; cap: number }>;
}

export interface MemberPlan {
  partitions: Record<string, number[]>;
  /** Slot ids per route. */
  routeSlots: Record<string, number[]>;
}

/** A non-negative integer, or 0 for anything else (NaN, negative, non-number). */
function wholeOrZero(value: number): number {
  if (value === Number.POSITIVE_INFINITY) return value;
  return Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

/** Slot counts per member (same order as `members`): water-filling, ties to earlier members. */
function slotCounts(requested: number[], cap: number): number[] {
  const given = requested.map(() => 0);
  let remaining = cap;
  let progress = true;
  while (remaining > 0 && progress) {
    progress = false;
    for (let i = 0; i < requested.length && remaining > 0; i += 1) {
      if ((given[i] as number) < (requested[i] as number)) {
        given[i] = (given[i] as number) + 1;
        remaining -= 1;
        progress = true;
      }
    }
  }
  return given;
}

/**
 * Partition counts proportional to slot weight by largest remainder (ties to the earlier member), so
 * every member is within one partition of its exact share.
 */
function setTargets(active: { weight: number; target: number }[], total: number): void {
  const weightSum = active.reduce((sum, a) => sum + a.weight, 0);
  const remainders = active.map((a, i) => {
    a.target = Math.floor((total * a.weight) / weightSum);
    return { i, rest: (total * a.weight) % weightSum };
  });
  let left = total - active.reduce((sum, a) => sum + a.target, 0);
  remainders.sort((x, y) => y.rest - x.rest || x.i - y.i);
  for (const { i } of remainders) {
    if (left === 0) break;
    (active[i] as { target: number }).target += 1;
    left -= 1;
  }
}

/** Slot counts per route for these members (in their order): water-filling under the route's cap. */
function countsPerRoute(members: readonly PlanMember[], routes: readonly string[], caps: Record<string, number>): Record<string, number[]> {
  const counts: Record<string, number[]> = {};
  for (const route of routes) {
    const capAll = caps[route] as number;
    const requested = members.map((m) => wholeOrZero(m.routes[route]?.requestedBinds ?? 0));
    // Σ requested is finite, so an unknown (infinite) cap still hands out finitely many slots.
    counts[route] = slotCounts(
      requested,
      Math.min(
        capAll,
        requested.reduce((a, b) => a + b, 0),
      ),
    );
  }
  return counts;
}

/**
 * The routes the group serves, and the members that announce exactly those: the set most members
 * announce (ties: the larger set — a rolling update adding a route — then the first by name). In a
 * rolling update that changes the routes file, the old and new replicas announce different sets;
 * holding partitions needs a session on every route a member may route to, so only members of one
 * set can hold them. Taking the union instead would leave no holder at all when neither set
 * contains the other (a route renamed), and nothing would be consumed until the update ended.
 */
function agreedRoutes(members: readonly PlanMember[]): { routes: string[]; agreeing: PlanMember[] } {
  const bySet = new Map<string, { routes: string[]; agreeing: PlanMember[] }>();
  for (const member of members) {
    const key = routeSetOf(member);
    const group = bySet.get(key) ?? { routes: Object.keys(member.routes).sort(), agreeing: [] };
    group.agreeing.push(member);
    bySet.set(key, group);
  }
  const ranked = [...bySet.entries()].sort(
    ([ka, a], [kb, b]) => b.agreeing.length - a.agreeing.length || b.routes.length - a.routes.length || (ka < kb ? -1 : ka > kb ? 1 : 0),
  );
  return ranked[0]![1];
}

/** A member's routes as one comparable text: the names, sorted. */
function routeSetOf(member: PlanMember): string {
  return Object.keys(member.routes).sort().join(',');
}

/**
 * The leader's plan. Deterministic: the result depends only on the set of members (their order in
 * the input does not matter) and on the partitions.
 */
export function planAssignment(members: readonly PlanMember[], partitionsByTopic: Readonly<Record<string, readonly number[]>>): Record<string, MemberPlan> {
  const sorted = [...members].sort(byInstanceThenId);
  const plan: Record<string, MemberPlan> = {};
  if (sorted.length === 0) return plan;

  const { routes, agreeing } = agreedRoutes(sorted);
  // Members that may hold slots; one that misses a route on a pass gives up all its slots and the
  // routes are handed out again among the rest (at most one pass per member).
  // Every member's cap counts, a standby's too: a replica with a stale larger cap cannot raise it.
  const caps = Object.fromEntries(routes.map((r) => [r, Math.min(...sorted.map((m) => wholeOrZero(m.routes[r]?.cap ?? Number.POSITIVE_INFINITY)))]));
  let holders = agreeing;
  let counts = countsPerRoute(holders, routes, caps);
  for (;;) {
    const everywhere = holders.filter((_, i) => routes.every((r) => (counts[r]![i] as number) > 0));
    if (everywhere.length === holders.length) break;
    holders = everywhere;
    counts = countsPerRoute(holders, routes, caps);
  }
  for (const member of sorted) plan[member.memberId] = { partitions: {}, routeSlots: Object.fromEntries(routes.map((r) => [r, []])) };
  for (const route of routes) {
    let nextSlot = 0;
    holders.forEach((member, i) => {
      const n = counts[route]![i] as number;
      plan[member.memberId]!.routeSlots[route] = Array.from({ length: n }, (_, k) => nextSlot + k);
      nextSlot += n;
    });
  }

  const active = holders
    .map((m, i) => ({ member: m, id: m.memberId, weight: routes.reduce((sum, r) => sum + (counts[r]![i] as number), 0), taken: 0, target: 0 }))
    .filter((a) => a.weight > 0);
  if (active.length === 0) return plan;

  const topics = Object.keys(partitionsByTopic).sort();
  const sortedPartitions = topics.map((topic) => ({ topic, partitions: [...new Set(partitionsByTopic[topic] ?? [])].sort((a, b) => a - b) }));
  const total = sortedPartitions.reduce((sum, t) => sum + t.partitions.length, 0);
  setTargets(active, total);

  const given = new Set<string>();
  const give = (a: (typeof active)[number], topic: string, partition: number) => {
    given.add(slotKey(topic, partition));
    a.taken += 1;
    ((plan[a.id] as MemberPlan).partitions[topic] ??= []).push(partition);
  };
  // Sticky: what each member owned, up to its target (those no other member holds warm first),
  // then what a member below target holds warm.
  const exists = new Set(sortedPartitions.flatMap(({ topic, partitions }) => partitions.map((p) => slotKey(topic, p))));
  const warmAt = countWarm(sorted);
  for (const a of active) {
    const owned = listed(a.member.owned, exists);
    const ownWarm = new Set(listed(a.member.warm, exists));
    const contested = (k: string) => (warmAt.get(k) ?? 0) - (ownWarm.has(k) ? 1 : 0) > 0;
    for (const k of [...owned.filter((k) => !contested(k)), ...owned.filter(contested)]) {
      if (a.taken >= a.target) break;
      if (!given.has(k)) give(a, ...fromSlotKey(k));
    }
  }
  for (const a of active) {
    for (const k of listed(a.member.warm, exists)) {
      if (a.taken >= a.target) break;
      if (!given.has(k)) give(a, ...fromSlotKey(k));
    }
  }

  // Interleave: each partition goes to the member with the lowest (taken+1)/weight that is still
  // below its target, ties to the earlier member. With equal weights this is plain round robin.
  for (const { topic, partitions } of sortedPartitions) {
    for (const partition of partitions) {
      if (given.has(slotKey(topic, partition))) continue;
      let best: (typeof active)[number] | undefined;
      for (const candidate of active) {
        if (candidate.taken >= candidate.target) continue;
        if (!best || (candidate.taken + 1) * best.weight < (best.taken + 1) * candidate.weight) best = candidate;
      }
      if (!best) throw new Error('planAssignment: partition targets do not add up (bug)');
      give(best, topic, partition);
    }
  }
  for (const p of Object.values(plan)) for (const list of Object.values(p.partitions)) list.sort((x, y) => x - y);
  return plan;
}

/** Instance names more than one member announces. */
export function sharedInstances(members: readonly Pick<PlanMember, 'instance'>[]): string[] {
  const seen = new Set<string>();
  const shared = new Set<string>();
  for (const { instance } of members) {
    if (instance === undefined) continue;
    if (seen.has(instance)) shared.add(instance);
    seen.add(instance);
  }
  return [...shared].sort();
}

/** Members by instance (stable across restarts), then memberId; members without an instance first, by memberId as before. */
function byInstanceThenId(a: PlanMember, b: PlanMember): number {
  const ai = a.instance ?? '';
  const bi = b.instance ?? '';
  if (ai !== bi) return ai < bi ? -1 : 1;
  return a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0;
}

const slotKey = (topic: string, partition: number): string => `${partition}\u0000${topic}`;
function fromSlotKey(key: string): [string, number] {
  const at = key.indexOf('\u0000');
  return [key.slice(at + 1), Number(key.slice(0, at))];
}

/** A member's listed partitions that exist, as keys, in topic then partition order, once each. */
function listed(byTopic: TopicPartitions | undefined, exists: ReadonlySet<string>): string[] {
  if (!byTopic) return [];
  const keys: string[] = [];
  for (const topic of Object.keys(byTopic).sort()) {
    for (const p of [...new Set(byTopic[topic])].sort((x, y) => x - y)) {
      const k = slotKey(topic, p);
      if (exists.has(k)) keys.push(k);
    }
  }
  return keys;
}

/** How many members hold each partition warm. */
function countWarm(members: readonly PlanMember[]): Map<string, number> {
  const at = new Map<string, number>();
  for (const m of members) {
    if (!m.warm) continue;
    for (const [topic, list] of Object.entries(m.warm)) for (const p of new Set(list)) at.set(slotKey(topic, p), (at.get(slotKey(topic, p)) ?? 0) + 1);
  }
  return at;
}

function parseJson(buffer: Buffer | null | undefined): unknown {
  if (!buffer || buffer.length === 0) return undefined;
  try {
    return JSON.parse(buffer.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** One route's request as read; unreadable → asks for nothing and does not lower the cap. */
function routeRequestOf(obj: Partial<RouteSlotRequest> | undefined): { requestedBinds: number; cap: number } {
  return {
    requestedBinds: typeof obj?.requestedBinds === 'number' ? obj.requestedBinds : 0,
    cap: typeof obj?.cap === 'number' ? obj.cap : Number.POSITIVE_INFINITY,
  };
}

/** Reads a member's subscription: its routes' requests (a version before routes: one for DEFAULT_ROUTE) and its standing. */
export function decodeMember(memberMetadata: Buffer): Omit<PlanMember, 'memberId'> {
  let data: unknown;
  try {
    data = parseJson(AssignerProtocol.MemberMetadata.decode(memberMetadata)?.userData);
  } catch {
    data = undefined;
  }
  const obj = (typeof data === 'object' && data !== null ? data : {}) as Partial<BindSlotRequest>;
  const routes =
    typeof obj.routes === 'object' && obj.routes !== null
      ? Object.fromEntries(Object.entries(obj.routes).map(([name, r]) => [name, routeRequestOf(r as Partial<RouteSlotRequest>)]))
      : { [DEFAULT_ROUTE]: routeRequestOf(obj) };
  const member: Omit<PlanMember, 'memberId'> = { routes };
  // Unreadable standing is left out: the member is then placed as by a version before it.
  if (typeof obj.instance === 'string' && obj.instance.length > 0 && obj.instance.length <= MAX_INSTANCE_CHARS) member.instance = obj.instance;
  const owned = topicPartitionsOf(obj.owned);
  if (owned) member.owned = owned;
  const warm = topicPartitionsOf(obj.warm);
  if (warm) member.warm = warm;
  if (Array.isArray(obj.caps)) member.caps = obj.caps.filter((c): c is string => typeof c === 'string');
  return member;
}

const MAX_INSTANCE_CHARS = 253;

/** `{ topic: [partition, …] }` with non-negative integer partitions only; anything else → undefined. */
function topicPartitionsOf(value: unknown): TopicPartitions | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const out: Record<string, number[]> = {};
  for (const [topic, list] of Object.entries(value)) {
    if (Array.isArray(list)) out[topic] = list.filter((p): p is number => Number.isInteger(p) && p >= 0);
  }
  return out;
}

/** Bind slot ids per route from an encoded member assignment; anything unreadable → none (standby is the safe side). */
export function decodeRouteSlots(memberAssignment: Buffer, firstRoute = DEFAULT_ROUTE): Record<string, number[]> {
  let data: unknown;
  try {
    data = parseJson(AssignerProtocol.MemberAssignment.decode(memberAssignment)?.userData);
  } catch {
    return {};
  }
  const obj = (data ?? {}) as { bindSlots?: unknown; routeSlots?: unknown };
  const ids = (slots: unknown): number[] => (Array.isArray(slots) ? slots.filter((s): s is number => Number.isInteger(s) && s >= 0) : []);
  // a leader of a version before routes sends bindSlots only: they are the first route's
  if (typeof obj.routeSlots !== 'object' || obj.routeSlots === null) return { [firstRoute]: ids(obj.bindSlots) };
  return Object.fromEntries(Object.entries(obj.routeSlots).map(([route, slots]) => [route, ids(slots)]));
}

/** The leader's terms for the group; a leader of a version before them sends none: nothing forwarded. */
export function decodeGroupTerms(memberAssignment: Buffer): GroupTerms {
  try {
    const data = parseJson(AssignerProtocol.MemberAssignment.decode(memberAssignment)?.userData) as { forwardReceipts?: unknown } | undefined;
    return { forwardReceipts: data?.forwardReceipts === true };
  } catch {
    return { forwardReceipts: false };
  }
}

/** The first route's slot ids (a single-route connector's bind slots). */
export function decodeBindSlots(memberAssignment: Buffer): number[] {
  return decodeRouteSlots(memberAssignment)[DEFAULT_ROUTE] ?? [];
}

/**
 * The assigner for `consumer({ partitionAssigners: [createBindSlotAssigner(...)] })`; use it alone.
 * A function as `request` is asked again at every join (what the member owns changes).
 */
export function createBindSlotAssigner(request: BindSlotRequest | (() => BindSlotRequest)): PartitionAssigner {
  return ({ cluster, logger }) => ({
    name: ASSIGNER_NAME,
    version: ASSIGNER_VERSION,

    async assign({ members, topics }) {
      const planMembers = members.map(({ memberId, memberMetadata }) => ({ memberId, ...decodeMember(memberMetadata) }));
      const partitionsByTopic: Record<string, number[]> = {};
      for (const topic of topics) {
        partitionsByTopic[topic] = cluster.findTopicPartitionMetadata(topic).map((p) => p.partitionId);
      }
      const plan = planAssignment(planMembers, partitionsByTopic);
      const slotsOf = (p: MemberPlan) => Object.values(p.routeSlots).reduce((sum, s) => sum + s.length, 0);
      const holders = Object.values(plan).filter((p) => slotsOf(p) > 0).length;
      const slotsGiven = Object.values(plan).reduce((sum, p) => sum + slotsOf(p), 0);
      const generationNote = `${holders} of ${members.length} members hold ${slotsGiven} bind slots`;
      const terms: GroupTerms = { forwardReceipts: planMembers.length > 0 && planMembers.every((m) => m.caps?.includes(RECEIPTS_CAP)) };
      const slots = Object.fromEntries(Object.entries(plan).map(([id, p]) => [id, p.routeSlots]));
      const asked = planMembers.some((m) => Object.values(m.routes).some((r) => r.requestedBinds > 0));
      const routeSets = new Set(planMembers.map(routeSetOf));
      // a routes file changed under a rolling update: the replicas of the other set stand by until they agree
      if (routeSets.size > 1)
        logger.warn('Members announce different routes: only those of the most common set hold partitions', { routeSets: [...routeSets] });
      const shared = sharedInstances(planMembers);
      // Placed still, deterministically — but their partitions and slots no longer follow them across restarts.
      if (shared.length > 0)
        logger.warn('Members announce the same instance name: give each replica its own CONNECTOR_INSTANCE_ID (default: the host name)', {
          instances: shared,
        });
      if (holders === 0 && asked) logger.error('No member holds a bind slot on every route: nothing is consumed', { slots });
      else logger.info('Bind slots assigned', { generationNote, slots });
      // Every member gets an entry, standbys too: an empty assignment still carries its (empty) slots.
      return members.map(({ memberId }) => {
        const memberPlan = plan[memberId] ?? { partitions: {}, routeSlots: {} };
        // bindSlots: the first route's, for members of a version before routes
        const bindSlots = memberPlan.routeSlots[DEFAULT_ROUTE] ?? [];
        return {
          memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({
            version: ASSIGNER_VERSION,
            assignment: memberPlan.partitions,
            userData: Buffer.from(JSON.stringify({ bindSlots, routeSlots: memberPlan.routeSlots, generationNote, ...terms })),
          }),
        };
      });
    },

    protocol({ topics }) {
      return {
        name: ASSIGNER_NAME,
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: ASSIGNER_VERSION,
          topics,
          userData: Buffer.from(JSON.stringify(typeof request === 'function' ? request() : request)),
        }),
      };
    },
  });
}

/**
 * This member's bind slots in the current generation.
 *
 * Why describeGroup: kafkajs decodes the SyncGroup answer itself and keeps only the partition map —
 * the assignment's userData (our bind slots) is dropped before any event or callback sees it. The
 * coordinator still holds every member's raw assignment bytes and returns them from DescribeGroups,
 * so we ask it. Call after GROUP_JOIN (which gives the memberId). Throws when the group is not
 * Stable or this member is missing — the assignment may be stale then; retry shortly.
 */
export async function fetchOwnBindSlots(
  consumer: Pick<Consumer, 'describeGroup'>,
  memberId: string,
  firstRoute = DEFAULT_ROUTE,
): Promise<Record<string, number[]>> {
  return (await fetchOwnAssignment(consumer, memberId, firstRoute)).routeSlots;
}

/** This member's bind slots and the group's terms in the current generation (as `fetchOwnBindSlots`). */
export async function fetchOwnAssignment(
  consumer: Pick<Consumer, 'describeGroup'>,
  memberId: string,
  firstRoute = DEFAULT_ROUTE,
): Promise<{ routeSlots: Record<string, number[]>; terms: GroupTerms }> {
  const group = await consumer.describeGroup();
  if (group.state !== 'Stable') throw new Error(`consumer group ${group.groupId} is ${group.state}, bind slots not settled yet`);
  const own = group.members.find((m) => m.memberId === memberId);
  if (!own) throw new Error(`member ${memberId} not found in consumer group ${group.groupId}`);
  return { routeSlots: decodeRouteSlots(own.memberAssignment, firstRoute), terms: decodeGroupTerms(own.memberAssignment) };
}
