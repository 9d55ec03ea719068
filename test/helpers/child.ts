/**
 * The connector as a REAL child process (`node --import tsx src/cli.ts run`), for crash and
 * graceful-stop tests: SIGKILL is only honest against a separate process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../tools/dev-stack/stack.js';
import { waitUntil } from './pipeline.js';

export interface ConnectorProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves when the process ended: exit code (null when killed by a signal) and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  kill(signal: NodeJS.Signals): void;
}

/** Starts the connector with exactly `env` (plus PATH/HOME); its stdout and stderr go to `logFile`. */
export function startConnectorProcess(env: Record<string, string>, logFile: string): ConnectorProcess {
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'run'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() }));
  });
  void exited.then(() => setTimeout(() => log.end(), 100));
  return {
    child,
    pid: child.pid!,
    exited,
    kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/**
 * Starts connector children one after another (a kill and a restart): each logs to
 * `connector-<n>.log` in `logDir` and is returned once the SMSC counts `sessions` binds of system
 * id `test` — the child is up and its sessions bound. `children` keeps them all for the cleanup.
 */
export function connectorStarter(
  env: Record<string, string>,
  logDir: string,
  sim: { stats(): { bindsBySystemId: Record<string, number> } },
  sessions: number,
): { start(): Promise<ConnectorProcess>; children: ConnectorProcess[] } {
  const children: ConnectorProcess[] = [];
  const start = async (): Promise<ConnectorProcess> => {
    const proc = startConnectorProcess(env, join(logDir, `connector-${children.length + 1}.log`));
    children.push(proc);
    await waitUntil(() => (sim.stats().bindsBySystemId['test'] ?? 0) === sessions, 90000, `connector ${children.length} bound`);
    return proc;
  };
  return { start, children };
}
