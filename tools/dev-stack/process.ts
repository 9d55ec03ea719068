/**
 * The JVM processes of the development stack: pid and log files, recognising our own processes,
 * starting them detached, waiting until they answer, stopping them, and a lock so that two
 * commands never start the same dir at once. Also the loopback port helpers the stack and tests use.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export type Role = 'kafka' | 'registry';

/** Progress lines for a person at a terminal; a no-op when the caller wants quiet. */
export type Say = (msg: string) => void;

/** SIGTERM first; SIGKILL when the JVM has not exited after this long. */
const STOP_GRACE_MS = 30_000;

export function pidFile(dir: string, role: Role): string {
  return path.join(dir, `${role}.pid`);
}

export function logFile(dir: string, role: Role): string {
  return path.join(dir, `${role}.log`);
}

export function readPid(dir: string, role: Role): number | undefined {
  try {
    const n = Number(fs.readFileSync(pidFile(dir, role), 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The marker every JVM we start carries on its command line (also handy for `pgrep -f`). */
export function marker(dir: string, role: Role): string {
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

export function isRunning(dir: string, role: Role): boolean {
  const pid = readPid(dir, role);
  return pid !== undefined && isOurProcess(pid, dir, role);
}

export function tailOf(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Resolves true if we can bind 127.0.0.1:port right now. */
export function portFree(port: number): Promise<boolean> {
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

export function javaBin(): string {
  const home = process.env['JAVA_HOME'];
  if (home && fs.existsSync(path.join(home, 'bin', 'java'))) return path.join(home, 'bin', 'java');
  return 'java';
}

/** Starts a JVM in its own process group (Ctrl-C in the terminal does not reach it) and records its pid. */
export function spawnDetached(dir: string, role: Role, args: string[]): number {
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

/** Waits until `probe` answers; fails at once (with the log's tail) when the process exits meanwhile. */
export async function waitReady(dir: string, role: Role, pid: number, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
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

/** SIGTERM, SIGKILL after STOP_GRACE_MS; only ever a process we started (pid file + command-line marker). */
export async function stopProcess(dir: string, role: Role, say: Say): Promise<void> {
  const pid = readPid(dir, role);
  if (pid !== undefined && isOurProcess(pid, dir, role)) {
    say(`stopping ${role} (pid ${pid}) ...`);
    const t0 = Date.now();
    signal(pid, 'SIGTERM');
    const deadline = Date.now() + STOP_GRACE_MS;
    while (isOurProcess(pid, dir, role) && Date.now() < deadline) await sleep(100);
    if (isOurProcess(pid, dir, role)) {
      say(`${role} ignored SIGTERM for ${STOP_GRACE_MS / 1000} s; sending SIGKILL`);
      signal(pid, 'SIGKILL');
      const killDeadline = Date.now() + 10_000;
      while (isOurProcess(pid, dir, role) && Date.now() < killDeadline) await sleep(100);
    }
    say(`${role} stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  fs.rmSync(pidFile(dir, role), { force: true });
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    /* already gone */
  }
}

/**
 * Runs `fn` holding a directory lock (mkdir is atomic). A lock whose owner process is gone, or an
 * ownerless one older than 10 s, is stale and taken over.
 */
export async function withLock<T>(lockPath: string, what: string, fn: () => Promise<T>, timeoutMs = 600_000): Promise<T> {
  fs.mkdirSync(path.dirname(lockPath), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.mkdirSync(lockPath);
      fs.writeFileSync(path.join(lockPath, 'owner'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (!lockHeld(lockPath)) {
        fs.rmSync(lockPath, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${lockPath} (${what})`, { cause: e });
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockPath, { recursive: true, force: true });
  }
}

function lockHeld(lockPath: string): boolean {
  let owner = NaN;
  try {
    owner = Number(fs.readFileSync(path.join(lockPath, 'owner'), 'utf8'));
  } catch {
    /* being written or removed */
  }
  if (Number.isInteger(owner) && owner > 0) {
    try {
      process.kill(owner, 0);
      return true;
    } catch {
      return false;
    }
  }
  // no owner file yet: a young lock, give it a moment
  try {
    return Date.now() - fs.statSync(lockPath).mtimeMs < 10_000;
  } catch {
    return false;
  }
}
