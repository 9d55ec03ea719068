/**
 * The routes at run time (issue 21): per route its session pool, account gate and admission, the
 * bind slots the group gave it here, and its health — what routing asks before sending
 * (pipeline/routed-submit.ts). Without ROUTES_FILE there is one route, `default`, and this is the
 * single pool, gate and admission the connector always had.
 */
import { readFileSync } from 'node:fs';
import type { Config, SmppRoute } from '../config.js';
import type { Logger } from '../obs/logger.js';
import type { Metrics } from '../obs/metrics.js';
import { AccountGate } from '../pipeline/account-gate.js';
import { Admission, type Lane } from '../pipeline/admission.js';
import { observedByCircuit, RouteCircuit } from '../pipeline/route-circuit.js';
import { claimProbeOrTrial, wantsProbeOrTrial, type RouteDirectory, type RouteHandle } from '../pipeline/routed-submit.js';
import { SmppPool } from '../smpp/session/pool.js';
import type { StateChange } from '../smpp/session/session.js';
import * as inst from './instrument.js';
import { admissionLimitFrom, poolOptionsFrom, sessionOptionsFrom } from './options.js';
import { poolSubmitPort } from './submit-port.js';

export interface RouteParts {
  readonly name: string;
  readonly config: Readonly<SmppRoute>;
  readonly pool: SmppPool;
  readonly gate: AccountGate;
  /** Opened by a run of SMSC-side failures (route-circuit.ts); null with one route — nowhere to fail over to — or ROUTE_CIRCUIT_FAILURES=0. */
  readonly circuit: RouteCircuit | null;
  /** One per route, shared by both lanes (urgent first: admission.ts). */
  readonly admission: Admission;
  /** Bind slots the group's assigner gave this replica on the route (0: it cannot send there). */
  bindSlots: number;
  /** When this replica last had a session ready on the route, or got slots on it (health). */
  readySince: number;
}

/** Every route's pool (no binds until the assigner gives slots), gate and admission. */
export function buildRoutes(config: Readonly<Config>, logger: Logger): RouteParts[] {
  return config.routes.map((route) => {
    // Read again here (the config only checked it is readable): the sessions need the PEM text.
    const ca = route.tlsCaFile ? readFileSync(route.tlsCaFile) : undefined;
    const routeLogger = config.routes.length > 1 ? logger.child({ route: route.name }) : logger;
    const parts: RouteParts = {
      name: route.name,
      config: route,
      pool: new SmppPool(poolOptionsFrom(config, route, sessionOptionsFrom(route, routeLogger, ca))),
      gate: new AccountGate(config.accountProbeIntervalMs),
      circuit: circuitOf(config, routeLogger),
      admission: new Admission(admissionLimitFrom(route), config.laneBulkMinShare),
      bindSlots: 0,
      readySince: Date.now(),
    };
    // A session leaving `bound` is the moment the route was last ready: health counts the unbound
    // time from there, not from whenever routing last happened to ask (a backup route is asked
    // only once its primary fails).
    parts.pool.on('state', (change: StateChange) => {
      if (change.previous === 'bound') parts.readySince = Date.now();
    });
    parts.gate.onChange((state) => {
      if (state.open) routeLogger.info('account gate open: intake resumed');
      else routeLogger.error({ reason: state.reason }, 'account paused: intake stopped, records kept, probing');
    });
    return parts;
  });
}

/** A route's circuit, logged when it opens and closes (the route's logger names it); none where there is nothing to fail over to. */
function circuitOf(config: Readonly<Config>, routeLogger: Logger): RouteCircuit | null {
  if (config.routes.length < 2 || config.routeCircuitFailures === 0) return null;
  const circuit = new RouteCircuit({ failures: config.routeCircuitFailures, openMs: config.routeCircuitOpenMs, now: Date.now });
  circuit.onChange((change) => {
    const { lastFailure } = change;
    if (!change.open) {
      routeLogger.info({ openForMs: change.openForMs, lastFailure }, 'route circuit closed: a submit accepted, traffic returns');
    } else if (change.trial) {
      routeLogger.warn({ lastFailure }, 'route circuit trial failed: open again');
    } else {
      routeLogger.error({ failures: change.failures, lastFailure }, 'route circuit open: SMSC-side failures in a row, traffic fails over');
    }
  });
  return circuit;
}

/**
 * Can the route take traffic here now: its account is open, its circuit closed, and a session is
 * ready — or was, or the slots came, less than ROUTE_FAILOVER_UNBOUND_MS ago (a reconnect is not a
 * failover). A replica without slots on the route cannot send there at all.
 */
export function routeHealthy(route: RouteParts, unboundMs: number, now: number): boolean {
  if (!route.gate.current.open || route.bindSlots === 0) return false;
  if (route.pool.readyForSubmit() > 0) route.readySince = now;
  else if (now - route.readySince >= unboundMs) return false;
  return route.circuit?.allowsTraffic() ?? true;
}

/** The routes as one lane's processor sees them: each route's port (with its lane's priority), gate and health. */
export function routeDirectory(routes: readonly RouteParts[], lane: Lane, config: Readonly<Config>, metrics: Metrics): RouteDirectory {
  const handles = new Map<string, RouteHandle>(
    routes.map((route) => [
      route.name,
      {
        name: route.name,
        submit: {
          port: poolSubmitPort(route.pool, route.admission, lane),
          gate: route.gate,
          retryMaxAgeMs: config.retryMaxAgeMs,
          now: Date.now,
          observer: route.circuit ? observedByCircuit(inst.submitObserver(metrics, route.name), route.circuit) : inst.submitObserver(metrics, route.name),
        },
        timeFormat: route.config.timeFormat,
        healthy: () => routeHealthy(route, config.routeFailoverUnboundMs, Date.now()),
        // A route without slots here has no session a probe could go on. An urgent request may be
        // the gate's probe — it goes at once and a refusal fails it over at once, and a route only
        // urgent traffic prefers would otherwise never learn its account is back — but never a
        // circuit's trial, which may cost it a response timeout.
        wantsProbe: () => route.bindSlots > 0 && (lane === 'bulk' ? wantsProbeOrTrial(route.gate, route.circuit) : route.gate.wantsProbe()),
        probeChosen: () => claimProbeOrTrial(route.gate, route.circuit),
      },
    ]),
  );
  return {
    knows: (name) => handles.has(name),
    route(name) {
      const handle = handles.get(name);
      // the rules were checked against the routes at start (config.ts): a miss is a bug
      if (!handle) throw new Error(`no route named '${name}'`);
      return handle;
    },
  };
}
