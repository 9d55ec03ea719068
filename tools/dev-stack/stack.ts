/**
 * Local real-services stack: a single-node Apache Kafka broker (KRaft) and an Apicurio Registry
 * (Confluent-compatible API), both plain JVM processes from Maven Central jars. No Docker.
 *
 * Importable module and CLI:
 *   npm run stack -- up|down|status|fetch|start-kafka|stop-kafka|start-registry|stop-registry
 *                    [--dir D] [--kafka-port N] [--controller-port N] [--registry-port N] [--json]
 *
 * Layout:
 *   <repo>/.local/dist/            jars fetched once by `mvn -f deploy/local/pom.xml` (shared by all stacks)
 *   <dir>/ (default <repo>/.local/stack)
 *     stack.json                   ports + cluster id (kept, so a restart reuses the same ports)
 *     kafka.pid, registry.pid      present while a service is meant to run
 *     kafka.log, registry.log      process output
 *     kafka/server.properties, kafka/log4j2.properties, kafka/data/
 *     registry/db.mv.db            Apicurio's file-backed H2 database (schemas survive restarts)
 *
 * See deploy/local/README.md for versions, timings and quirks.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;

export interface StackOptions {
  /** state + data dir, default <repo>/.local/stack */
  dir?: string;
  kafkaPort?: number;
  controllerPort?: number;
  registryPort?: number;
  /** Apicurio's Quarkus management port (health/metrics); picked automatically when absent */
  registryManagementPort?: number;
  /** print progress to stdout (CLI default true, library default false) */
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
}

export type ServiceState = 'up' | 'down' | 'crashed';

export const KAFKA_VERSION = '4.1.1';
export const APICURIO_VERSION = '3.0.9';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The repo root: the nearest folder above this file holding deploy/local/pom.xml (works from dist/ too). */
function findRepoRoot(start: string): string {
  for (let d = start; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'deploy', 'local', 'pom.xml')) && fs.existsSync(path.join(d, 'package.json'))) return d;
    if (path.dirname(d) === d) return path.resolve(HERE, '..', '..');
  }
}
export const REPO_ROOT = findRepoRoot(HERE);
export const DEFAULT_STACK_DIR = path.join(REPO_ROOT, '.local', 'stack');
/** Where Maven lays out the jars; override with KSC_STACK_DIST. */
export const DIST_DIR = process.env['KSC_STACK_DIST'] ?? path.join(REPO_ROOT, '.local', 'dist');
const POM = path.join(REPO_ROOT, 'deploy', 'local', 'pom.xml');

const DEFAULT_PORTS = { kafkaPort: 9092, controllerPort: 9093, registryPort: 8081, registryManagementPort: 9001 };
const KAFKA_START_TIMEOUT_MS = Number(process.env['KSC_STACK_KAFKA_TIMEOUT_MS'] ?? 180_000);
const REGISTRY_START_TIMEOUT_MS = Number(process.env['KSC_STACK_REGISTRY_TIMEOUT_MS'] ?? 180_000);
const STOP_GRACE_MS = 30_000;

interface Ports {
  kafkaPort: number;
  controllerPort: number;
  registryPort: number;
  registryManagementPort: number;
}
interface StackState extends Ports {
  clusterId: string;
}

type Role = 'kafka' | 'registry';

// ---------------------------------------------------------------- small helpers

function resolveDir(opts?: StackOptions): string {
  return path.resolve(opts?.dir ?? DEFAULT_STACK_DIR);
}

function say(opts: StackOptions | undefined, msg: string): void {
  if (opts?.verbose) process.stdout.write(`[stack] ${msg}\n`);
}

function pidFile(dir: string, role: Role): string {
  return path.join(dir, `${role}.pid`);
}
function logFile(dir: string, role: Role): string {
  return path.join(dir, `${role}.log`);
}

function readPid(dir: string, role: Role): number | undefined {
  try {
    const n = Number(fs.readFileSync(pidFile(dir, role), 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function readState(dir: string): StackState | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'stack.json'), 'utf8')) as StackState;
  } catch {
    return undefined;
  }
}

function writeState(dir: string, st: StackState): void {
  fs.writeFileSync(path.join(dir, 'stack.json'), JSON.stringify(st, null, 2) + '\n');
}

/** The marker every JVM we start carries on its command line (also handy for `pgrep -f`). */
function marker(dir: string, role: Role): string {
  return `-Dksc.stack=${role}@${dir}`;
}

/** True when `pid` is a live (not zombie) process started by this module for `role` in `dir`. */
export function isOurProcess(pid: number, dir: string, role: Role): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (process.platform !== 'linux') return true;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.includes(marker(dir, role));
  } catch {
    return false;
  }
}

function tailOf(file: string, lines = 30): string {
  try {
    const all = fs.readFileSync(file, 'utf8').split('\n');
    return all.slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Resolves true if something accepts TCP connections on 127.0.0.1:port. */
function tcpAnswers(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Resolves true if we can bind 127.0.0.1:port right now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** `n` distinct free ports (all held open together while choosing, so they differ). */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const srv = net.createServer();
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve());
      });
      servers.push(srv);
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

function javaBin(): string {
  const home = process.env['JAVA_HOME'];
  if (home && fs.existsSync(path.join(home, 'bin', 'java'))) return path.join(home, 'bin', 'java');
  return 'java';
}

/**
 * A Kafka cluster id: base64url (no padding) of 16 random bytes, as `kafka-storage random-uuid`
 * prints it. One in 64 starts with '-', which the storage tool's parser reads as a flag (a CI run
 * failed on one); Kafka's own Uuid.randomUuid draws again in that case, and so do we.
 */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

// ---------------------------------------------------------------- locking (one `up` per dir)

async function withLock<T>(lockPath: string, what: string, fn: () => Promise<T>, timeoutMs = 600_000): Promise<T> {
  fs.mkdirSync(path.dirname(lockPath), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.mkdirSync(lockPath);
      fs.writeFileSync(path.join(lockPath, 'owner'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let owner = NaN;
      try {
        owner = Number(fs.readFileSync(path.join(lockPath, 'owner'), 'utf8'));
      } catch {
        /* being written or removed */
      }
      let ownerAlive = false;
      if (Number.isInteger(owner) && owner > 0) {
        try {
          process.kill(owner, 0);
          ownerAlive = true;
        } catch {
          ownerAlive = false;
        }
      } else {
        // no owner file yet: young lock, give it a moment; an ownerless lock older than 10 s is stale
        try {
          ownerAlive = Date.now() - fs.statSync(lockPath).mtimeMs < 10_000;
        } catch {
          ownerAlive = false;
        }
      }
      if (!ownerAlive) {
        fs.rmSync(lockPath, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${lockPath} (${what})`);
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockPath, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- artifacts

function kafkaLibs(): string {
  return path.join(DIST_DIR, 'kafka', 'libs');
}
function registryHome(): string {
  return path.join(DIST_DIR, 'apicurio');
}
/** 3.0.x ships Quarkus' legacy-jar layout: <name>-runner.jar + lib/ (3.3.x is fast-jar but needs Java 21). */
function registryJar(): string {
  return path.join(registryHome(), `apicurio-registry-app-${APICURIO_VERSION}-runner.jar`);
}

export function artifactsPresent(): boolean {
  return (
    fs.existsSync(path.join(kafkaLibs(), `kafka_2.13-${KAFKA_VERSION}.jar`)) &&
    fs.existsSync(registryJar())
  );
}

/** Downloads Kafka and Apicurio from Maven Central into DIST_DIR unless already there. */
export async function ensureArtifacts(opts?: StackOptions): Promise<void> {
  if (artifactsPresent()) return;
  await withLock(path.join(path.dirname(DIST_DIR), '.dist.lock'), 'download', async () => {
    if (artifactsPresent()) return;
    say({ verbose: true }, `fetching Kafka ${KAFKA_VERSION} + Apicurio ${APICURIO_VERSION} with Maven into ${DIST_DIR} ...`);
    const t0 = Date.now();
    // a half-unpacked tree would confuse the unpack markers: start clean
    fs.rmSync(DIST_DIR, { recursive: true, force: true });
    const res = spawnSync('mvn', ['-q', '-B', '-Dstyle.color=never', '-f', POM, `-Dstack.home=${DIST_DIR}`, 'process-resources'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    if (res.error) throw new Error(`could not run mvn (is Maven installed?): ${res.error.message}`);
    if (res.status !== 0) {
      throw new Error(`mvn exited with ${res.status} while fetching the stack artifacts:\n${res.stdout}\n${res.stderr}`);
    }
    if (!artifactsPresent()) throw new Error(`mvn finished but the artifacts are not in ${DIST_DIR}`);
    say(opts ?? { verbose: true }, `artifacts ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });
}

// ---------------------------------------------------------------- ports

async function choosePorts(dir: string, opts: StackOptions | undefined, saved: StackState | undefined): Promise<Ports> {
  const isDefaultDir = dir === path.resolve(DEFAULT_STACK_DIR);
  const keys = ['kafkaPort', 'controllerPort', 'registryPort', 'registryManagementPort'] as const;
  const chosen: Partial<Ports> = {};
  const taken = new Set<number>();
  for (const k of keys) {
    const explicit = opts?.[k];
    if (explicit !== undefined) {
      if (!(await portFree(explicit))) throw new Error(`${k} ${explicit} is already in use by another process`);
      chosen[k] = explicit;
      taken.add(explicit);
      continue;
    }
    // the default dir goes back to the well-known ports; other dirs keep the ports they had
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
    if (preferred !== undefined) {
      process.stdout.write(`[stack] port ${preferred} (${k}) is taken by another process; using ${p} instead\n`);
    }
    chosen[k] = p;
    taken.add(p);
  }
  return chosen as Ports;
}

// ---------------------------------------------------------------- kafka

function writeKafkaConfig(dir: string, st: StackState): string {
  const kdir = path.join(dir, 'kafka');
  fs.mkdirSync(path.join(kdir, 'data'), { recursive: true });
  const props = `# generated by deploy/local/stack.ts — single node, KRaft, loopback only
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${st.controllerPort}
listeners=PLAINTEXT://127.0.0.1:${st.kafkaPort},CONTROLLER://127.0.0.1:${st.controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${st.kafkaPort}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${path.join(kdir, 'data')}
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.cleaner.dedupe.buffer.size=16777216
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.segment.bytes=67108864
log.retention.hours=24
auto.create.topics.enable=true
delete.topic.enable=true
`;
  const propsPath = path.join(kdir, 'server.properties');
  fs.writeFileSync(propsPath, props);
  const log4j = `# generated by deploy/local/stack.ts
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
`;
  fs.writeFileSync(path.join(kdir, 'log4j2.properties'), log4j);
  return propsPath;
}

function formatKafkaStorage(dir: string, st: StackState, propsPath: string): void {
  if (fs.existsSync(path.join(dir, 'kafka', 'data', 'meta.properties'))) return;
  const res = spawnSync(
    javaBin(),
    [
      '-Xmx256m',
      `-Dlog4j2.configurationFile=${path.join(dir, 'kafka', 'log4j2.properties')}`,
      '-cp',
      path.join(kafkaLibs(), '*'),
      'kafka.tools.StorageTool',
      'format',
      // `=` keeps an id saved by an older version (which may start with '-') an argument, not a flag
      `--cluster-id=${st.clusterId}`,
      '-c',
      propsPath,
    ],
    { encoding: 'utf8' },
  );
  if (res.status !== 0) {
    throw new Error(`kafka storage format failed (exit ${res.status}):\n${res.stdout}\n${res.stderr}`);
  }
}

function spawnDetached(dir: string, role: Role, args: string[]): number {
  const out = fs.openSync(logFile(dir, role), 'a');
  fs.writeSync(out, `\n===== ${new Date().toISOString()} starting ${role}: ${javaBin()} ${args.join(' ')}\n`);
  const child = spawn(javaBin(), args, { detached: true, stdio: ['ignore', out, out], cwd: dir });
  fs.closeSync(out);
  if (child.pid === undefined) throw new Error(`could not start ${role} (java not found?)`);
  // keep no handle: the JVM outlives this process; an exit is noticed through the pid file
  child.on('error', () => undefined);
  child.unref();
  fs.writeFileSync(pidFile(dir, role), `${child.pid}\n`);
  return child.pid;
}

/** A kafkajs metadata round trip: the broker really serves requests. */
async function kafkaAnswers(port: number): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'ksc-stack-probe',
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.listTopics();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null && cluster.controller !== undefined;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function registryAnswers(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/apis/ccompat/v7/subjects`, { signal: AbortSignal.timeout(3000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

async function waitReady(
  dir: string,
  role: Role,
  pid: number,
  probe: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (!isOurProcess(pid, dir, role)) {
      throw new Error(`${role} (pid ${pid}) exited during startup; last lines of ${logFile(dir, role)}:\n${tailOf(logFile(dir, role))}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`${role} (pid ${pid}) did not answer within ${timeoutMs / 1000} s; see ${logFile(dir, role)}:\n${tailOf(logFile(dir, role))}`);
    }
    await sleep(role === 'kafka' ? 300 : 500);
  }
}

async function stopProcess(dir: string, role: Role, opts?: StackOptions): Promise<void> {
  const pid = readPid(dir, role);
  if (pid !== undefined && isOurProcess(pid, dir, role)) {
    say(opts, `stopping ${role} (pid ${pid}) ...`);
    const t0 = Date.now();
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    const deadline = Date.now() + STOP_GRACE_MS;
    while (isOurProcess(pid, dir, role) && Date.now() < deadline) await sleep(100);
    if (isOurProcess(pid, dir, role)) {
      say(opts, `${role} ignored SIGTERM for ${STOP_GRACE_MS / 1000} s; sending SIGKILL`);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      const killDeadline = Date.now() + 10_000;
      while (isOurProcess(pid, dir, role) && Date.now() < killDeadline) await sleep(100);
    }
    say(opts, `${role} stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  fs.rmSync(pidFile(dir, role), { force: true });
}

// ---------------------------------------------------------------- state / info

async function loadOrCreateState(dir: string, opts?: StackOptions): Promise<StackState> {
  fs.mkdirSync(dir, { recursive: true });
  const saved = readState(dir);
  const kafkaRunning = saved && isRunning(dir, 'kafka');
  const registryRunning = saved && isRunning(dir, 'registry');
  if (saved && (kafkaRunning || registryRunning)) {
    // keep the ports of whatever is already running; pick the others as usual
    const explicitMismatch = (['kafkaPort', 'controllerPort', 'registryPort'] as const).filter(
      (k) => opts?.[k] !== undefined && opts[k] !== saved[k],
    );
    if (explicitMismatch.length > 0) {
      process.stdout.write(`[stack] note: a stack already runs in ${dir}; keeping its ports (${explicitMismatch.join(', ')} differ from the request)\n`);
    }
    return saved;
  }
  const ports = await choosePorts(dir, opts, saved);
  const st: StackState = { ...ports, clusterId: saved?.clusterId ?? newClusterId() };
  writeState(dir, st);
  return st;
}

function isRunning(dir: string, role: Role): boolean {
  const pid = readPid(dir, role);
  return pid !== undefined && isOurProcess(pid, dir, role);
}

function infoOf(dir: string, st: StackState): StackInfo {
  return {
    kafkaBrokers: `127.0.0.1:${st.kafkaPort}`,
    registryUrl: `http://127.0.0.1:${st.registryPort}/apis/ccompat/v7`,
    kafkaPid: readPid(dir, 'kafka') ?? 0,
    registryPid: readPid(dir, 'registry') ?? 0,
    dir,
  };
}

async function startKafkaLocked(dir: string, st: StackState, opts?: StackOptions): Promise<number> {
  const existing = readPid(dir, 'kafka');
  if (existing !== undefined && isOurProcess(existing, dir, 'kafka')) {
    await waitReady(dir, 'kafka', existing, () => kafkaAnswers(st.kafkaPort), KAFKA_START_TIMEOUT_MS);
    say(opts, `kafka already running (pid ${existing})`);
    return existing;
  }
  for (const p of [st.kafkaPort, st.controllerPort]) {
    if (!(await portFree(p))) throw new Error(`kafka port ${p} is in use by another process; stop it or use another --dir`);
  }
  const propsPath = writeKafkaConfig(dir, st);
  const t0 = Date.now();
  formatKafkaStorage(dir, st, propsPath);
  const pid = spawnDetached(dir, 'kafka', [
    marker(dir, 'kafka'),
    '-Xms512m',
    '-Xmx512m',
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    `-Xlog:gc:file=${path.join(dir, 'kafka-gc.log')}:uptime,time:filecount=2,filesize=10M`,
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${path.join(dir, 'kafka', 'log4j2.properties')}`,
    `-Dkafka.logs.dir=${dir}`,
    '-cp',
    path.join(kafkaLibs(), '*'),
    'kafka.Kafka',
    propsPath,
  ]);
  say(opts, `kafka starting (pid ${pid}) on 127.0.0.1:${st.kafkaPort}, controller ${st.controllerPort} ...`);
  await waitReady(dir, 'kafka', pid, () => kafkaAnswers(st.kafkaPort), KAFKA_START_TIMEOUT_MS);
  say(opts, `kafka up in ${((Date.now() - t0) / 1000).toFixed(1)} s: 127.0.0.1:${st.kafkaPort}`);
  return pid;
}

async function startRegistryLocked(dir: string, st: StackState, opts?: StackOptions): Promise<number> {
  const existing = readPid(dir, 'registry');
  if (existing !== undefined && isOurProcess(existing, dir, 'registry')) {
    await waitReady(dir, 'registry', existing, () => registryAnswers(st.registryPort), REGISTRY_START_TIMEOUT_MS);
    say(opts, `registry already running (pid ${existing})`);
    return existing;
  }
  for (const p of [st.registryPort, st.registryManagementPort]) {
    if (!(await portFree(p))) throw new Error(`registry port ${p} is in use by another process; stop it or use another --dir`);
  }
  const rdir = path.join(dir, 'registry');
  fs.mkdirSync(path.join(rdir, 'tmp'), { recursive: true });
  const t0 = Date.now();
  const pid = spawnDetached(dir, 'registry', [
    marker(dir, 'registry'),
    '-Xms64m',
    '-Xmx384m',
    '-XX:+UseSerialGC',
    '-XX:MaxMetaspaceSize=256m',
    '-Djava.awt.headless=true',
    `-Djava.io.tmpdir=${path.join(rdir, 'tmp')}`,
    '-Dquarkus.http.host=127.0.0.1',
    `-Dquarkus.http.port=${st.registryPort}`,
    '-Dquarkus.management.host=127.0.0.1',
    `-Dquarkus.management.port=${st.registryManagementPort}`,
    // file-backed H2: schemas survive a registry restart (the default is an in-memory H2)
    '-Dapicurio.storage.kind=sql',
    '-Dapicurio.storage.sql.kind=h2',
    `-Dapicurio.datasource.url=jdbc:h2:file:${path.join(rdir, 'db')}`,
    '-Dapicurio.datasource.jdbc.initial-size=2',
    '-Dapicurio.datasource.jdbc.min-size=2',
    '-Dapicurio.datasource.jdbc.max-size=20',
    `-Dapicurio.storage.snapshot.location=${path.join(rdir, 'tmp')}`,
    // let tests clean up subjects (DELETE) as they would on a Confluent registry
    '-Dapicurio.rest.deletion.artifact.enabled=true',
    '-Dapicurio.rest.deletion.artifact-version.enabled=true',
    '-Dapicurio.rest.deletion.group.enabled=true',
    '-Dquarkus.http.access-log.enabled=false',
    '-jar',
    registryJar(),
  ]);
  say(opts, `registry starting (pid ${pid}) on 127.0.0.1:${st.registryPort}, management ${st.registryManagementPort} ...`);
  await waitReady(dir, 'registry', pid, () => registryAnswers(st.registryPort), REGISTRY_START_TIMEOUT_MS);
  say(opts, `registry up in ${((Date.now() - t0) / 1000).toFixed(1)} s: http://127.0.0.1:${st.registryPort}/apis/ccompat/v7`);
  return pid;
}

function lockPath(dir: string): string {
  return `${dir}.lock`;
}

// ---------------------------------------------------------------- public API

/**
 * Starts Kafka and the registry (downloading and formatting first when needed) and waits until both
 * answer. Idempotent: services already running in `dir` are reused, not started twice.
 */
export async function stackUp(opts?: StackOptions): Promise<StackInfo> {
  const dir = resolveDir(opts);
  await ensureArtifacts(opts);
  return withLock(lockPath(dir), 'stack up', async () => {
    const st = await loadOrCreateState(dir, opts);
    const bothRunning = isRunning(dir, 'kafka') && isRunning(dir, 'registry');
    const t0 = Date.now();
    try {
      if (bothRunning) say(opts, `stack already running in ${dir}`);
      await startKafkaLocked(dir, st, opts);
      await startRegistryLocked(dir, st, opts);
    } catch (e) {
      // leave nothing half-started behind by this call
      if (!bothRunning) {
        await stopProcess(dir, 'registry', opts);
        await stopProcess(dir, 'kafka', opts);
      }
      throw e;
    }
    const info = infoOf(dir, st);
    if (!bothRunning) say(opts, `stack up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return info;
  });
}

/** Stops both services (SIGTERM, SIGKILL after 30 s). Data and ports are kept in `dir`. */
export async function stackDown(opts?: StackOptions): Promise<void> {
  const dir = resolveDir(opts);
  if (!fs.existsSync(dir)) return;
  await withLock(lockPath(dir), 'stack down', async () => {
    await stopProcess(dir, 'registry', opts);
    await stopProcess(dir, 'kafka', opts);
  });
}

export async function stackStatus(
  opts?: StackOptions,
): Promise<{ kafka: ServiceState; registry: ServiceState; info?: StackInfo }> {
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

/** Fault tests: stop only the broker (data and ports kept). */
export async function stopKafka(opts?: StackOptions): Promise<void> {
  const dir = resolveDir(opts);
  await withLock(lockPath(dir), 'stop kafka', () => stopProcess(dir, 'kafka', opts));
}

/** Fault tests: (re)start only the broker on its previous ports and data; waits until it answers. */
export async function startKafka(opts?: StackOptions): Promise<StackInfo> {
  const dir = resolveDir(opts);
  await ensureArtifacts(opts);
  return withLock(lockPath(dir), 'start kafka', async () => {
    const st = await loadOrCreateState(dir, opts);
    await startKafkaLocked(dir, st, opts);
    return infoOf(dir, st);
  });
}

/** Fault tests: stop only the registry (its H2 database is kept). */
export async function stopRegistry(opts?: StackOptions): Promise<void> {
  const dir = resolveDir(opts);
  await withLock(lockPath(dir), 'stop registry', () => stopProcess(dir, 'registry', opts));
}

/** Fault tests: (re)start only the registry on its previous ports and data; waits until it answers. */
export async function startRegistry(opts?: StackOptions): Promise<StackInfo> {
  const dir = resolveDir(opts);
  await ensureArtifacts(opts);
  return withLock(lockPath(dir), 'start registry', async () => {
    const st = await loadOrCreateState(dir, opts);
    await startRegistryLocked(dir, st, opts);
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

// ---------------------------------------------------------------- CLI

function parseArgs(argv: string[]): { cmd: string; opts: StackOptions; json: boolean } {
  const opts: StackOptions = { verbose: true };
  let cmd = '';
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v <= 0 || v > 65535) throw new Error(`${a} needs a port number`);
      return v;
    };
    if (a === '--dir') opts.dir = argv[++i];
    else if (a === '--kafka-port') opts.kafkaPort = num();
    else if (a === '--controller-port') opts.controllerPort = num();
    else if (a === '--registry-port') opts.registryPort = num();
    else if (a === '--registry-management-port') opts.registryManagementPort = num();
    else if (a === '--json') json = true;
    else if (a === '-q' || a === '--quiet') opts.verbose = false;
    else if (!a.startsWith('-') && !cmd) cmd = a;
    else throw new Error(`unknown argument ${a}`);
  }
  if (json) opts.verbose = false;
  return { cmd, opts, json };
}

const USAGE = `usage: npm run stack -- <command> [--dir DIR] [--kafka-port N] [--controller-port N] [--registry-port N] [--json]
commands:
  up              fetch (first time), start Kafka + Apicurio, wait until both answer, print URLs
  down            stop both (SIGTERM, SIGKILL after 30 s); data kept in DIR
  status          up / down / crashed for each service (exit 0 when both up, 1 otherwise)
  fetch           only download the jars with Maven (CI prefetch)
  stop-kafka | start-kafka | stop-registry | start-registry
default DIR: ${DEFAULT_STACK_DIR}`;

export async function cli(argv: string[]): Promise<number> {
  const { cmd, opts, json } = parseArgs(argv);
  const printInfo = (info: StackInfo): void => {
    if (json) {
      process.stdout.write(JSON.stringify(info) + '\n');
      return;
    }
    process.stdout.write(
      `KAFKA_BROKERS=${info.kafkaBrokers}\nSCHEMA_REGISTRY_URL=${info.registryUrl}\n` +
        `(kafka pid ${info.kafkaPid}, registry pid ${info.registryPid}, dir ${info.dir})\n`,
    );
  };
  switch (cmd) {
    case 'up':
      printInfo(await stackUp(opts));
      return 0;
    case 'down':
      await stackDown(opts);
      say(opts, 'stack down');
      return 0;
    case 'status': {
      const s = await stackStatus(opts);
      if (json) process.stdout.write(JSON.stringify(s) + '\n');
      else {
        const st = readState(resolveDir(opts));
        process.stdout.write(
          `kafka:    ${s.kafka}${st ? `  127.0.0.1:${st.kafkaPort}` : ''}${s.info?.kafkaPid ? `  pid ${s.info.kafkaPid}` : ''}\n` +
            `registry: ${s.registry}${st ? `  http://127.0.0.1:${st.registryPort}/apis/ccompat/v7` : ''}${s.info?.registryPid ? `  pid ${s.info.registryPid}` : ''}\n`,
        );
        for (const role of ['kafka', 'registry'] as const) {
          if (s[role] === 'crashed') {
            process.stdout.write(`\n${role} crashed — last lines of ${logFile(resolveDir(opts), role)}:\n${tailOf(logFile(resolveDir(opts), role), 15)}\n`);
          }
        }
      }
      return s.kafka === 'up' && s.registry === 'up' ? 0 : 1;
    }
    case 'fetch':
      await ensureArtifacts(opts);
      say(opts, `artifacts present in ${DIST_DIR}`);
      return 0;
    case 'stop-kafka':
      await stopKafka(opts);
      return 0;
    case 'start-kafka':
      printInfo(await startKafka(opts));
      return 0;
    case 'stop-registry':
      await stopRegistry(opts);
      return 0;
    case 'start-registry':
      printInfo(await startRegistry(opts));
      return 0;
    default:
      process.stderr.write(USAGE + '\n');
      return cmd === '' || cmd === 'help' ? 0 : 2;
  }
}

const invokedDirectly = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  cli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`[stack] error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
