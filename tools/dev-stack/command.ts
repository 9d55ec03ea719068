/**
 * The `stack` subcommand's work (its options are declared in src/cli-dev.ts): one action on one
 * stack dir, progress on stdout, the exit code returned.
 */
import type { RunStackCommand, StackAction, StackFlags } from '../../src/cli-dev.js';
import { logFile, tailOf } from './process.js';
import {
  DIST_DIR,
  ensureArtifacts,
  readState,
  resolveDir,
  stackDown,
  stackStatus,
  stackUp,
  startKafka,
  startRegistry,
  stopKafka,
  stopRegistry,
  type StackInfo,
  type StackOptions,
} from './stack.js';

function stackOptions(flags: StackFlags): StackOptions {
  return {
    verbose: !flags.quiet && !flags.json,
    ...(flags.dir !== undefined ? { dir: flags.dir } : {}),
    ...(flags.kafkaPort !== undefined ? { kafkaPort: flags.kafkaPort } : {}),
    ...(flags.controllerPort !== undefined ? { controllerPort: flags.controllerPort } : {}),
    ...(flags.registryPort !== undefined ? { registryPort: flags.registryPort } : {}),
    ...(flags.registryManagementPort !== undefined ? { registryManagementPort: flags.registryManagementPort } : {}),
  };
}

function printInfo(info: StackInfo, json: boolean): void {
  if (json) {
    process.stdout.write(JSON.stringify(info) + '\n');
    return;
  }
  process.stdout.write(
    `KAFKA_BROKERS=${info.kafkaBrokers}\nSCHEMA_REGISTRY_URL=${info.registryUrl}\n` +
      `(kafka pid ${info.kafkaPid}, registry pid ${info.registryPid}, dir ${info.dir})\n`,
  );
}

/** Prints each service's state (and a crashed one's log tail); exit 0 only when both are up. */
async function printStatus(opts: StackOptions, json: boolean): Promise<number> {
  const s = await stackStatus(opts);
  const dir = resolveDir(opts);
  if (json) {
    process.stdout.write(JSON.stringify(s) + '\n');
  } else {
    const st = readState(dir);
    process.stdout.write(
      `kafka:    ${s.kafka}${st ? `  127.0.0.1:${st.kafkaPort}` : ''}${s.info?.kafkaPid ? `  pid ${s.info.kafkaPid}` : ''}\n` +
        `registry: ${s.registry}${st ? `  http://127.0.0.1:${st.registryPort}/apis/ccompat/v7` : ''}${s.info?.registryPid ? `  pid ${s.info.registryPid}` : ''}\n`,
    );
    for (const role of ['kafka', 'registry'] as const) {
      if (s[role] === 'crashed') process.stdout.write(`\n${role} crashed — last lines of ${logFile(dir, role)}:\n${tailOf(logFile(dir, role), 15)}\n`);
    }
  }
  return s.kafka === 'up' && s.registry === 'up' ? 0 : 1;
}

export const runStackCommand: RunStackCommand = async (action: StackAction, flags: StackFlags): Promise<number> => {
  const opts = stackOptions(flags);
  const say = (msg: string): void => {
    if (opts.verbose) process.stdout.write(`[stack] ${msg}\n`);
  };
  switch (action) {
    case 'up':
      printInfo(await stackUp(opts), flags.json);
      return 0;
    case 'down':
      await stackDown(opts);
      say('stack down');
      return 0;
    case 'status':
      return printStatus(opts, flags.json);
    case 'fetch':
      await ensureArtifacts(say);
      say(`artifacts present in ${DIST_DIR}`);
      return 0;
    case 'start-kafka':
      printInfo(await startKafka(opts), flags.json);
      return 0;
    case 'stop-kafka':
      await stopKafka(opts);
      return 0;
    case 'start-registry':
      printInfo(await startRegistry(opts), flags.json);
      return 0;
    case 'stop-registry':
      await stopRegistry(opts);
      return 0;
  }
};
