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
import type { RouteDirectory, RouteHandle } from '../pipeline/routed-submit.js';
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

/**
 * Can the route take traffic here now: its account is open, and a session is ready — or was, or
 * the slots came, less than ROUTE_FAILOVER_UNBOUND_MS ago (a reconnect is not a failover). A
 * replica without slots on the route cannot send there at all.
 */
export function routeHealthy(route: RouteParts, unboundMs: number, now: number): boolean {
  if (!route.gate.current.open || route.bindSlots === 0) return false;
  if (route.pool.readyForSubmit() > 0) {
    route.readySince = now;
    return true;
  }
  return now - route.readySince < unboundMs;
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
          observer: inst.submitObserver(metrics),
        },
        timeFormat: route.config.timeFormat,
        healthy: () => routeHealthy(route, config.routeFailoverUnboundMs, Date.now()),
        // a route without slots here has no session a probe could go on; and an urgent request is
        // never made to wait at a paused gate for its probe turn: bulk ones probe
        wantsProbe: () => lane === 'bulk' && route.bindSlots > 0 && route.gate.wantsProbe(),
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
