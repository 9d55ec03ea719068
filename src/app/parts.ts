/**
 * The running parts of the connector, filled in step by step by start.ts and torn down in reverse by
 * stop.ts; readiness reads whichever parts exist so far.
 */
import type { Admin, Kafka } from 'kafkajs';
import type { BrokerProbe } from '../kafka/broker-probe.js';
import type { CorrelationTail } from '../kafka/correlation-tail.js';
import type { OutboundConsumer } from '../kafka/outbound-consumer.js';
import type { Publisher } from '../kafka/publisher.js';
import type { HttpServerHandle, ReadinessReport } from '../obs/http.js';
import type { Metrics } from '../obs/metrics.js';
import type { AccountGate } from '../pipeline/account-gate.js';
import type { OverdueSweeper } from '../pipeline/overdue-sweeper.js';
import type { SmppPool } from '../smpp/session/pool.js';
import type { CorrelationPromoter } from '../pipeline/correlation-promoter.js';
import type { LmdbCorrelationStore } from '../store/lmdb-store.js';
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
  pool: SmppPool;
  gate: AccountGate;
  consumer: OutboundConsumer;
  /** The urgent lane's consumer, following the bind slots (TOPIC_OUTBOUND_URGENT set). */
  urgent?: UrgentLane;
  sweeper: OverdueSweeper;
  promoter: CorrelationPromoter;
  /** Bind slots the group's assigner gave this replica (0 = hot standby). */
  bindSlots: number;
  /** Counts assignments, so only the newest may resize the pool (bind-slots.ts). */
  assignmentGeneration: number;
  stopping: boolean;
}

export function readinessOf(p: Partial<Parts>): ReadinessReport {
  const checks: Record<string, boolean | string> = {
    kafka: p.probe ? (p.probe.reachable() ? true : 'broker unreachable') : false,
    consumer: p.consumer?.isJoined ?? false,
    producer: p.publisher ? (p.publisher.problem() ?? true) : false,
    smpp: p.pool ? (p.pool.readyForSubmit() > 0 ? true : p.bindSlots === 0 ? 'standby: no bind slots' : 'no bound session') : false,
    account: p.gate ? (p.gate.current.open ? true : `paused: ${p.gate.current.reason}`) : false,
    store: p.store ? (p.store.problem() ?? true) : false,
  };
  // A hot standby (no slots) is ready: it is healthy and waiting for a rebalance.
  const ready =
    checks.kafka === true && checks.consumer === true && checks.producer === true && checks.store === true && (checks.smpp === true || p.bindSlots === 0);
  return { ready, checks };
}
