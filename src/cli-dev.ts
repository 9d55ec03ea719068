/**
 * Development commands of the CLI: `stack` (the local Kafka + registry) and `demo` (the whole
 * product on one machine). They are listed in `--help` everywhere, but their code is development
 * tooling — tools/dev-stack/ and src/demo/ — which the production build leaves out (tsconfig.build.json)
 * and the image does not carry. So it is loaded by a specifier tsc does not follow, and where it is
 * absent (dist/, the image) the command says to run it from a clone.
 *
 * The types below are the contract between this file and the modules it loads; those modules declare
 * their entry functions with these types, so `npm run typecheck` catches a drift.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';

export const STACK_ACTIONS = ['up', 'down', 'status', 'fetch', 'start-kafka', 'stop-kafka', 'start-registry', 'stop-registry'] as const;
export type StackAction = (typeof STACK_ACTIONS)[number];

export interface StackFlags {
  dir?: string;
  kafkaPort?: number;
  controllerPort?: number;
  registryPort?: number;
  registryManagementPort?: number;
  json: boolean;
  quiet: boolean;
  /** Handed to the stack module as its variables (`handOverStackVariables`), not read from here. */
  dist?: string;
  kafkaTimeoutMs?: number;
  registryTimeoutMs?: number;
}

/** How long `up` / `start-*` wait for a service to answer, unless KSC_STACK_*_TIMEOUT_MS says otherwise (tools/dev-stack/ reads it). */
export const STACK_START_TIMEOUT_MS = 180_000;

/** tools/dev-stack/command.ts: runs one stack action; resolves to the exit code. */
export type RunStackCommand = (action: StackAction, flags: StackFlags) => Promise<number>;

export interface DemoFlags {
  count: number;
  /** Requests per second from the load generator; 0 = as fast as Kafka takes them (a burst). */
  rate: number;
  timeoutS: number;
  keepTopics: boolean;
  seed: number;
  /** The routes scenario: two SMSCs, failover on credit exhaustion and back, an urgent burst behind a bulk backlog. */
  routes: boolean;
  stackDir?: string;
  dist?: string;
  kafkaTimeoutMs?: number;
  registryTimeoutMs?: number;
}

/** src/demo/run-demo.ts: runs the demo; resolves to the exit code (0 ok, 1 failed, 130 interrupted). */
export type RunDemo = (flags: DemoFlags) => Promise<number>;

/** Relative to this file, in the source tree and (absent) in dist/src/. */
const STACK_MODULE = '../tools/dev-stack/command.js';
const DEMO_MODULE = './demo/run-demo.js';

async function loadDevModule<T>(specifier: string, command: string): Promise<T> {
  try {
    // A variable, not a literal: tsc must not pull development tooling into the production build.
    return (await import(specifier)) as T;
  } catch (err) {
    const missing =
      (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' &&
      String((err as Error).message).includes(specifier.replace(/^\.+\//, '').replace(/\.js$/, ''));
    if (!missing) throw err;
    throw new Error(`\`${command}\` is a development command and is not part of this build: run it from a clone of the repository (npm run ${command})`, {
      cause: err,
    });
  }
}

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 65_535) throw new InvalidArgumentError('a port number (1–65535) is needed');
  return n;
}

function atLeast(min: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min) throw new InvalidArgumentError(`a whole number ≥ ${min} is needed`);
    return Number(value);
  };
}

/**
 * The stack module reads its variables when it loads (tools/dev-stack/paths.ts, kafka.ts, registry.ts),
 * and `stack` and `demo` load it only in their action: a flag given on the command line is handed over
 * as its variable before that, so a flag wins over the variable and the variable over the default.
 */
const STACK_VARIABLES = {
  dist: 'KSC_STACK_DIST',
  kafkaTimeoutMs: 'KSC_STACK_KAFKA_TIMEOUT_MS',
  registryTimeoutMs: 'KSC_STACK_REGISTRY_TIMEOUT_MS',
} as const;

function withStackVariables(command: Command): Command {
  return command
    .addOption(
      new Option('--dist <dir>', 'folder of the downloaded jars, shared by every stack dir')
        .env(STACK_VARIABLES.dist)
        .default('.local/dist', '.local/dist in the repository'),
    )
    .addOption(
      new Option('--kafka-timeout-ms <ms>', 'how long a start waits for the broker to answer')
        .env(STACK_VARIABLES.kafkaTimeoutMs)
        .argParser(atLeast(1))
        .default(STACK_START_TIMEOUT_MS),
    )
    .addOption(
      new Option('--registry-timeout-ms <ms>', 'how long a start waits for the registry to answer')
        .env(STACK_VARIABLES.registryTimeoutMs)
        .argParser(atLeast(1))
        .default(STACK_START_TIMEOUT_MS),
    );
}

function handOverStackVariables(command: Command, flags: Pick<StackFlags, keyof typeof STACK_VARIABLES>): void {
  for (const [flag, variable] of Object.entries(STACK_VARIABLES) as [keyof typeof STACK_VARIABLES, string][]) {
    if (command.getOptionValueSource(flag) === 'cli') process.env[variable] = String(flags[flag]);
  }
}

function registerStack(program: Command): void {
  const command = program
    .command('stack')
    .description('local Kafka (KRaft) + Apicurio Registry from Maven Central jars, for development and tests (tools/dev-stack/README.md)')
    .addArgument(program.createArgument('<action>', 'what to do').choices(STACK_ACTIONS))
    // No commander defaults: an absent port means "the dir's saved one, else the well-known one, else a free one".
    .option('--dir <dir>', 'state and data folder (default: .local/stack in the repository)')
    .option('--kafka-port <port>', 'broker port (default: 9092 in the default dir, else a free port, kept in DIR/stack.json)', port)
    .option('--controller-port <port>', 'KRaft controller port (default: 9093 / a free port)', port)
    .option('--registry-port <port>', 'registry port (default: 8081 / a free port)', port)
    .option('--registry-management-port <port>', 'registry health/metrics port (default: 9001 / a free port)', port)
    .option('--json', 'print the stack (up, start-*) or its status as one JSON line', false)
    .option('-q, --quiet', 'no progress lines', false)
    .addHelpText(
      'after',
      '\nActions: up (fetch the jars the first time, start both, wait until they answer), down (data kept), status\n' +
        '(exit 0 only when both are up), fetch (download only), start-kafka | stop-kafka | start-registry | stop-registry.',
    );
  withStackVariables(command).action(async (action: StackAction, flags: StackFlags) => {
    handOverStackVariables(command, flags);
    const { runStackCommand } = await loadDevModule<{ runStackCommand: RunStackCommand }>(STACK_MODULE, 'stack');
    process.exitCode = await runStackCommand(action, flags);
  });
}

function registerDemo(program: Command): void {
  const command = program
    .command('demo')
    .description('the whole product on one machine: local stack, TLS simulator, the connector, a mixed load, a summary')
    .option('--count <n>', 'requests to send', atLeast(10), 2000)
    .option('--rate <n>', 'requests per second; 0 sends them as one burst (latency then includes the queue)', atLeast(0), 0)
    .option('--timeout-s <s>', 'give up waiting for the outcomes after this', atLeast(10), 180)
    .option('--keep-topics', "leave this run's topics and subjects for `tail`", false)
    .option('--seed <n>', 'seed of the generated load', atLeast(0), 20250601)
    .option(
      '--routes',
      'the routes scenario instead: a routes file with two SMSCs, the primary runs out of credit mid-run and gets it back, an urgent burst behind the bulk backlog; the summary shows what each route sent, the failover and failback moments and the urgent latency',
      false,
    )
    .option('--stack-dir <dir>', 'another local stack, started on free ports if not running (default: .local/stack, reused when running)')
    .addHelpText(
      'after',
      '\nExit 0 when every request ended as its kind allows and every poison record reached the DLQ (with --routes: both routes carried\n' +
        'traffic, and the failover and the failback happened); 1 otherwise; 130 on Ctrl-C.',
    );
  withStackVariables(command).action(async (flags: DemoFlags) => {
    handOverStackVariables(command, flags);
    const { runDemo } = await loadDevModule<{ runDemo: RunDemo }>(DEMO_MODULE, 'demo');
    // Exit at once: a reader or timer of the demo's Kafka clients must not keep the process alive.
    process.exit(await runDemo(flags));
  });
}

export function registerDevCommands(program: Command): void {
  registerStack(program);
  registerDemo(program);
}
