/**
 * Small tools of the fault suite: a log-capturing logger, metric scrapes of a running connector,
 * the in-process connector started with a captured log, and memory sampling.
 */
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino, type Logger } from 'pino';
import { startApp, type RunningApp } from '../../src/app/start.js';
import { loadConfig } from '../../src/config.js';
import type { SmsDeliveryEvent } from '../../src/contracts.js';
import { AvroCodec } from '../../src/kafka/codec.js';
import type { Behaviour } from '../../src/simulator/behaviour.js';
import { startSimulator, type SimulatorOptions } from '../../src/simulator/simulator.js';
import { collectDelivery, testEnv, type PipelineFixture, type TopicCollector } from './pipeline.js';
import { testStack, uniqueTopics } from './stack.js';

export interface CapturedLog {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
  count(msg: string | RegExp): number;
}

/** A pino logger at `level` that keeps every line as parsed JSON (tests count log lines). */
export function captureLogger(level = 'info'): CapturedLog {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) {
        if (!l.trim()) continue;
        try {
          lines.push(JSON.parse(l) as Record<string, unknown>);
        } catch {
          /* not JSON */
        }
      }
      cb();
    },
  });
  const logger = pino({ level }, stream);
  return {
    logger,
    lines,
    count: (msg) => lines.filter((l) => (typeof msg === 'string' ? l['msg'] === msg : msg.test(String(l['msg'] ?? '')))).length,
  };
}

/** Starts an in-process connector with `env` and a captured log. */
export async function startCapturedApp(env: Record<string, string>, level = 'info'): Promise<{ app: RunningApp; log: CapturedLog }> {
  const log = captureLogger(level);
  const app = await startApp(loadConfig(env), log.logger);
  return { app, log };
}

/** Sum of a metric's samples (optionally only those whose labels match) from /metrics. */
export async function metricSum(app: RunningApp, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${app.httpPort}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{([^}]*)\})? ([-+0-9.eE]+|NaN)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[3] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[4]);
  }
  return sum;
}

let gcFn: (() => void) | undefined;
/** Full GC (enabling --expose-gc at runtime), then heapUsed in bytes. */
export function heapAfterGc(): number {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
  return process.memoryUsage().heapUsed;
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Reads an env number (volume knobs of the suite), with a default. */
export function envNumber(name: string, fallback: number): number {
  const v = process.env[name];
  return v !== undefined && v !== '' && Number.isFinite(Number(v)) ? Number(v) : fallback;
}

/** Set by test/run.ts for `--faults-ci` (KSC_FAULTS_CI=1): the CI subset runs at its reduced volume. */
export const FAULTS_CI = process.env['KSC_FAULTS_CI'] === '1';

/**
 * A volume knob whose default depends on the run: `ci` under `--faults-ci`, `full` in the whole
 * suite and in a hand run of the file; its variable, when set, wins over both.
 */
export function envVolume(name: string, volume: { ci: number; full: number }): number {
  return envNumber(name, FAULTS_CI ? volume.ci : volume.full);
}

/**
 * Like startPipeline (simulator + in-process connector on the shared stack, own topics and group),
 * with the connector's log captured so tests can count lines (rebalances, restarts, bind errors).
 */
export async function startFaultPipeline(
  name: string,
  opts: {
    behaviour?: Partial<Behaviour>;
    env?: Record<string, string>;
    simulator?: Omit<SimulatorOptions, 'behaviour' | 'plainPort'>;
    smppPort?: (simPort: number) => Promise<number> | number;
    logLevel?: string;
  } = {},
): Promise<FaultFixture> {
  const stack = await testStack();
  const topics = uniqueTopics(name);
  const sim = await startSimulator({ recordAccepted: true, ...opts.simulator, plainPort: 0, behaviour: { receiptDelayMs: 10, ...opts.behaviour } });
  const port = opts.smppPort ? await opts.smppPort(sim.plainPort!) : sim.plainPort!;
  const env = testEnv(stack, topics, port, opts.env);
  const config = loadConfig(env);
  const log = captureLogger(opts.logLevel ?? 'info');
  let app: RunningApp;
  try {
    app = await startApp(config, log.logger);
  } catch (e) {
    await sim.close();
    throw e;
  }
  const codec = new AvroCodec(config.registry, config.topics);
  await codec.registerContracts();
  const delivery = await collectDelivery({ stack, topics, codec });
  return {
    stack,
    topics,
    sim,
    env,
    config,
    app,
    codec,
    log,
    delivery,
    events: () => delivery.records.map((r) => r.value),
    async stop() {
      await delivery.stop().catch(() => undefined);
      await app.stop();
      await sim.close();
    },
  };
}

export interface FaultFixture extends PipelineFixture {
  log: CapturedLog;
  delivery: TopicCollector<SmsDeliveryEvent>;
  events(): SmsDeliveryEvent[];
}
