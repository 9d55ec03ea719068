/**
 * The running parts of the connector, filled in step by step by start.ts and torn down in reverse by
 * stop.ts; readiness reads whichever parts exist so far.
 */
import type { Admin, Kafka } from 'kafkajs';
import type { BrokerProbe } from '../kafka/broker-probe.js';
import type { GroupTerms } from '../kafka/assigner.js';
import type { CorrelationTail } from '../kafka/correlation-tail.js';
import type { CorrelationShare } from './correlation-share.js';
import type { OutboundConsumer } from '../kafka/outbound-consumer.js';
import type { ReceiptOwner } from '../kafka/receipt-owner.js';
import type { Publisher } from '../kafka/publisher.js';
import type { HttpServerHandle, ReadinessReport } from '../obs/http.js';
import type { Metrics } from '../obs/metrics.js';
import type { OverdueSweeper } from '../pipeline/overdue-sweeper.js';
import type { CorrelationPromoter } from '../pipeline/correlation-promoter.js';
import type { LmdbCorrelationStore } from '../store/lmdb-store.js';
import type { LegacyRequests } from './legacy-requests.js';
import type { RouteParts } from './routes.js';
import type { UrgentLane } from './urgent-lane.js';

export interface Parts {
  metrics: Metrics;
  http: HttpServerHandle;
  kafka: Kafka;
  admin: Admin;
  probe: BrokerProbe;
  publisher: Publisher;
  store: LmdbCorrelationStore;
  tail: CorrelationTail;
  /** Partitioned ownership: the receipts other replicas forward to this one. */
  receiptOwner?: ReceiptOwner;
  /** Partitioned ownership: what this replica holds of the correlation state (null: replicated). */
  share?: Pick<CorrelationShare, 'notReady'> | null;
  /** Per route: its pool, account gate, admission and bind slots (routes.ts). */
  routes: RouteParts[];
  consumer: OutboundConsumer;
  /** The urgent lane's consumer, following the bind slots (TOPIC_OUTBOUND_URGENT set). */
  urgent?: UrgentLane;
  sweeper: OverdueSweeper;
  promoter: CorrelationPromoter;
  /** Partitioned ownership: requests of a version before `m:` entries still waiting, told to the operator. */
  legacy?: LegacyRequests | null;
  /** The leader's terms of each generation, once read (bind-slots.ts): whether receipts may be forwarded. */
  onGroupTerms?: (terms: GroupTerms) => void;
  /** Counts assignments, so only the newest may resize the pool (bind-slots.ts). */
  assignmentGeneration: number;
  stopping: boolean;
}

export function readinessOf(p: Partial<Parts>): ReadinessReport {
  const routes = p.routes ?? [];
  const standby = routes.every((r) => r.bindSlots === 0);
  const checks: Record<string, boolean | string> = {
    kafka: p.probe ? (p.probe.reachable() ? true : 'broker unreachable') : false,
    consumer: p.consumer?.isJoined ?? false,
    producer: p.publisher ? (p.publisher.problem() ?? true) : false,
    // one route that can submit is enough: routing fails over to it (routed-submit.ts)
    smpp: p.routes ? (routes.some(canSubmit) ? true : standby ? 'standby: no bind slots' : 'no bound session') : false,
    account: p.routes ? (routes.some((r) => r.gate.current.open) ? true : `paused: ${routes.map(pausedReason).join('; ')}`) : false,
    store: p.store ? (p.store.problem() ?? true) : false,
    // Partitioned: the correlation partitions of its share read up to date (a gain restores first).
    correlation: correlationState(p.share),
  };
  // With several routes each says how it is (a route down while another carries the traffic).
  if (routes.length > 1) for (const r of routes) checks[`route:${r.name}`] = routeState(r);
  // A hot standby (no slots) is ready: it is healthy and waiting for a rebalance.
  const ready =
    checks.kafka === true &&
    checks.consumer === true &&
    checks.producer === true &&
    checks.store === true &&
    checks.correlation === true &&
    (checks.smpp === true || standby);
  return { ready, checks };
}

function correlationState(share: Parts['share']): boolean | string {
  const restoring = share?.notReady() ?? [];
  return restoring.length === 0 ? true : `restoring correlation partitions ${restoring.join(', ')}`;
}

function canSubmit(r: RouteParts): boolean {
  return r.pool.readyForSubmit() > 0;
}

function pausedReason(r: RouteParts): string {
  const state = r.gate.current;
  return state.open ? 'open' : state.reason;
}

function routeState(r: RouteParts): boolean | string {
  if (!r.gate.current.open) return `paused: ${pausedReason(r)}`;
  if (r.circuit && !r.circuit.allowsTraffic()) return `circuit ${r.circuit.state()}: ${r.circuit.lastFailure}`;
  if (canSubmit(r)) return true;
  return r.bindSlots === 0 ? 'no bind slots here' : 'no bound session';
}
