/**
 * Local real-services stack for development and tests: a single-node Apache Kafka broker (KRaft)
 * and an Apicurio Registry (Confluent-compatible API), both plain JVM processes from Maven Central
 * jars. No Docker. Development tooling only: never part of dist/ or the image.
 *
 * Command line: `npm run stack -- up|down|status|fetch|… [--dir D]` (src/cli.ts, `stack` subcommand).
 * This module is the API the command, the demo and the tests share.
 *
 * Layout:
 *   <repo>/.local/dist/            jars fetched once by `mvn -f tools/dev-stack/pom.xml` (shared by all stacks)
 *   <dir>/ (default <repo>/.local/stack)
 *     stack.json                   ports + cluster id (kept, so a restart reuses the same ports)
 *     kafka.pid, registry.pid      present while a service is meant to run
 *     kafka.log, registry.log      process output
 *     kafka/server.properties, kafka/log4j2.properties, kafka/data/
 *     registry/db.mv.db            Apicurio's file-backed H2 database (schemas survive restarts)
 *
 * See tools/dev-stack/README.md for versions, timings and quirks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureArtifacts } from './fetch.js';
import { newClusterId, startKafkaProcess, type KafkaSasl, type KafkaSettings } from './kafka.js';
import { DEFAULT_STACK_DIR } from './paths.js';
import { freePorts, isOurProcess, isRunning, portFree, readPid, stopProcess, withLock, type Role, type Say } from './process.js';
import { registryUrl, startRegistryProcess, type RegistrySettings } from './registry.js';

export { APICURIO_VERSION, KAFKA_VERSION, artifactsPresent, ensureArtifacts } from './fetch.js';
export { newClusterId, type KafkaSasl } from './kafka.js';
export { DEFAULT_STACK_DIR, DIST_DIR, REPO_ROOT } from './paths.js';
export { freePorts, isOurProcess } from './process.js';

export interface StackOptions {
  /** state + data dir, default <repo>/.local/stack */
  dir?: string;
  kafkaPort?: number;
  controllerPort?: number;
  registryPort?: number;
  /** Apicurio's Quarkus management port (health/metrics); picked automatically when absent */
  registryManagementPort?: number;
  /** print progress to stdout (the command's default true, the library's default false) */
  verbose?: boolean;
}

export interface StackInfo {
  /** '127.0.0.1:PORT' */
  kafkaBrokers: string;
  /** Confluent-compatible base: http://127.0.0.1:PORT/apis/ccompat/v7 */
  registryUrl: string;
  kafkaPid: number;
  registryPid: number;
  dir: string;
  /** Set when the broker wants SASL (saslKafkaUp): the credentials a test's own clients use. */
  kafkaSasl?: { mechanism: 'plain'; username: string; password: string };
}

export type ServiceState = 'up' | 'down' | 'crashed';

type Ports = Omit<KafkaSettings, 'clusterId'> & RegistrySettings;
/** What stack.json keeps between runs. */
export type StackState = Ports & { clusterId: string };

const DEFAULT_PORTS: Ports = { kafkaPort: 9092, controllerPort: 9093, registryPort: 8081, registryManagementPort: 9001 };
const PORT_KEYS = ['kafkaPort', 'controllerPort', 'registryPort', 'registryManagementPort'] as const;

export function resolveDir(opts?: StackOptions): string {
  return path.resolve(opts?.dir ?? DEFAULT_STACK_DIR);
}

function sayFor(opts?: StackOptions): Say {
  return opts?.verbose ? (msg) => process.stdout.write(`[stack] ${msg}\n`) : () => undefined;
}

export function readState(dir: string): StackState | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'stack.json'), 'utf8')) as StackState;
  } catch {
    return undefined;
  }
}

function writeState(dir: string, st: StackState): void {
  fs.writeFileSync(path.join(dir, 'stack.json'), JSON.stringify(st, null, 2) + '\n');
}

/** The default dir goes back to the well-known ports; other dirs keep the ports they had; a taken port is replaced. */
async function choosePorts(dir: string, opts: StackOptions | undefined, saved: StackState | undefined): Promise<Ports> {
  const isDefaultDir = dir === path.resolve(DEFAULT_STACK_DIR);
  const chosen: Partial<Ports> = {};
  const taken = new Set<number>();
  for (const k of PORT_KEYS) {
    const explicit = opts?.[k];
    if (explicit !== undefined) {
      if (!(await portFree(explicit))) throw new Error(`${k} ${explicit} is already in use by another process`);
      chosen[k] = explicit;
      taken.add(explicit);
      continue;
    }
    const preferred = isDefaultDir ? DEFAULT_PORTS[k] : saved?.[k];
    if (preferred !== undefined && !taken.has(preferred) && (await portFree(preferred))) {
      chosen[k] = preferred;
      taken.add(preferred);
      continue;
    }
    let p: number;
    do {
      [p] = (await freePorts(1)) as [number];
    } while (taken.has(p));
    if (preferred !== undefined) process.stdout.write(`[stack] port ${preferred} (${k}) is taken by another process; using ${p} instead\n`);
    chosen[k] = p;
    taken.add(p);
  }
  return chosen as Ports;
}

async function loadOrCreateState(dir: string, opts?: StackOptions): Promise<StackState> {
  fs.mkdirSync(dir, { recursive: true });
  const saved = readState(dir);
  if (saved && (isRunning(dir, 'kafka') || isRunning(dir, 'registry'))) {
    // keep the ports of whatever is already running
    const differ = (['kafkaPort', 'controllerPort', 'registryPort'] as const).filter((k) => opts?.[k] !== undefined && opts[k] !== saved[k]);
    if (differ.length > 0)
      process.stdout.write(`[stack] note: a stack already runs in ${dir}; keeping its ports (${differ.join(', ')} differ from the request)\n`);
    return saved;
  }
  const st: StackState = { ...(await choosePorts(dir, opts, saved)), clusterId: saved?.clusterId ?? newClusterId() };
  writeState(dir, st);
  return st;
}

function infoOf(dir: string, st: StackState): StackInfo {
  return {
    kafkaBrokers: `127.0.0.1:${st.kafkaPort}`,
    registryUrl: registryUrl(st.registryPort),
    kafkaPid: readPid(dir, 'kafka') ?? 0,
    registryPid: readPid(dir, 'registry') ?? 0,
    dir,
  };
}

/** One command at a time per dir. */
function lockPath(dir: string): string {
  return `${dir}.lock`;
}

/**
 * Starts Kafka and the registry (downloading and formatting first when needed) and waits until both
 * answer. Idempotent: services already running in `dir` are reused, not started twice.
 */
export async function stackUp(opts?: StackOptions): Promise<StackInfo> {
  const dir = resolveDir(opts);
  const say = sayFor(opts);
  await ensureArtifacts(say);
  return withLock(lockPath(dir), 'stack up', async () => {
    const st = await loadOrCreateState(dir, opts);
    const bothRunning = isRunning(dir, 'kafka') && isRunning(dir, 'registry');
    const t0 = Date.now();
    try {
      if (bothRunning) say(`stack already running in ${dir}`);
      await startKafkaProcess(dir, st, say);
      await startRegistryProcess(dir, st, say);
    } catch (e) {
      // leave nothing half-started behind by this call
      if (!bothRunning) {
        await stopProcess(dir, 'registry', say);
        await stopProcess(dir, 'kafka', say);
      }
      throw e;
    }
    if (!bothRunning) say(`stack up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return infoOf(dir, st);
  });
}

/** Stops both services (SIGTERM, SIGKILL after 30 s). Data and ports are kept in `dir`. */
export async function stackDown(opts?: StackOptions): Promise<void> {
  const dir = resolveDir(opts);
  if (!fs.existsSync(dir)) return;
  const say = sayFor(opts);
  await withLock(lockPath(dir), 'stack down', async () => {
    await stopProcess(dir, 'registry', say);
    await stopProcess(dir, 'kafka', say);
  });
}

export async function stackStatus(opts?: StackOptions): Promise<{ kafka: ServiceState; registry: ServiceState; info?: StackInfo }> {
  const dir = resolveDir(opts);
  const st = readState(dir);
  const stateOf = (role: Role): ServiceState => {
    const pid = readPid(dir, role);
    if (pid === undefined) return 'down';
    return isOurProcess(pid, dir, role) ? 'up' : 'crashed';
  };
  const kafka = stateOf('kafka');
  const registry = stateOf('registry');
  if (!st || (kafka === 'down' && registry === 'down')) return { kafka, registry };
  return { kafka, registry, info: infoOf(dir, st) };
}

/**
 * A broker alone (no registry) with SASL PLAIN and ACLs on (KafkaSasl), on free ports in `dir` — for
 * tests of what the connector does when the broker refuses it. Its stack.json makes it one more
 * stack to `stackDown({ dir })` and to `sweepStacks`. Resolves once the super user gets metadata.
 */
export async function saslKafkaUp(opts: { dir: string; sasl: KafkaSasl; verbose?: boolean }): Promise<{ kafkaBrokers: string; kafkaPid: number; dir: string }> {
  const dir = resolveDir(opts);
  const say = sayFor(opts);
  await ensureArtifacts(say);
  return withLock(lockPath(dir), 'sasl kafka up', async () => {
    fs.mkdirSync(dir, { recursive: true });
    const [kafkaPort, controllerPort] = (await freePorts(2)) as [number, number];
    const st: KafkaSettings = { kafkaPort, controllerPort, clusterId: newClusterId(), sasl: opts.sasl };
    fs.writeFileSync(path.join(dir, 'stack.json'), JSON.stringify({ kafkaPort, controllerPort, clusterId: st.clusterId }, null, 2) + '\n');
    try {
      const kafkaPid = await startKafkaProcess(dir, st, say);
      return { kafkaBrokers: `127.0.0.1:${kafkaPort}`, kafkaPid, dir };
    } catch (e) {
      await stopProcess(dir, 'kafka', say);
      throw e;
    }
  });
}

/** Fault tests: stop only the broker (data and ports kept). */
export async function stopKafka(opts?: StackOptions): Promise<void> {
  const dir = resolveDir(opts);
  await withLock(lockPath(dir), 'stop kafka', () => stopProcess(dir, 'kafka', sayFor(opts)));
}

/** Fault tests: (re)start only the broker on its previous ports and data; waits until it answers. */
export async function startKafka(opts?: StackOptions): Promise<StackInfo> {
  return startOne(opts, 'kafka');
}

/** Fault tests: stop only the registry (its H2 database is kept). */
export async function stopRegistry(opts?: StackOptions): Promise<void> {
  const dir = resolveDir(opts);
  await withLock(lockPath(dir), 'stop registry', () => stopProcess(dir, 'registry', sayFor(opts)));
}

/** Fault tests: (re)start only the registry on its previous ports and data; waits until it answers. */
export async function startRegistry(opts?: StackOptions): Promise<StackInfo> {
  return startOne(opts, 'registry');
}

async function startOne(opts: StackOptions | undefined, role: Role): Promise<StackInfo> {
  const dir = resolveDir(opts);
  const say = sayFor(opts);
  await ensureArtifacts(say);
  return withLock(lockPath(dir), `start ${role}`, async () => {
    const st = await loadOrCreateState(dir, opts);
    await (role === 'kafka' ? startKafkaProcess(dir, st, say) : startRegistryProcess(dir, st, say));
    return infoOf(dir, st);
  });
}

/**
 * Stops every stack found in the sub-folders of `root` (folders holding a stack.json) and returns
 * their paths. Used to clean up private stacks that tests started under a shared folder.
 */
export async function sweepStacks(root: string, opts?: Omit<StackOptions, 'dir'>): Promise<string[]> {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return [];
  }
  const swept: string[] = [];
  for (const name of names) {
    const dir = path.join(root, name);
    if (!fs.existsSync(path.join(dir, 'stack.json'))) continue;
    if (isRunning(dir, 'kafka') || isRunning(dir, 'registry')) {
      await stackDown({ ...opts, dir });
      swept.push(dir);
    }
  }
  return swept;
}
