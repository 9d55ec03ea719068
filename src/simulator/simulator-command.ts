/**
 * The `simulator` subcommand: the Agile-profile SMSC simulator from flags or SIM_* variables
 * (a flag wins over its variable, a variable over the default; `sms-connector simulator --help`
 * lists them). Options are parsed here and nowhere else.
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFAULT_BEHAVIOUR, type Behaviour } from './behaviour.js';
import type { SimulatorOptions } from './simulator.js';

/** The parsed flags, as commander hands them over. */
export interface SimulatorFlags {
  host: string;
  plainPort: number | null;
  tlsPort: number | null;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  systemId: string;
  password: string;
  maxBinds: number;
  rate: number;
  idleTimeoutMs: number;
  receiptDelayMs: number;
  latencyMs: number;
  journal?: string;
  behaviourJson?: Partial<Behaviour>;
}

/** Flags that set one behaviour field each; they win over the same field in --behaviour-json. */
const BEHAVIOUR_FLAGS = [
  ['maxBinds', 'maxBindsPerSystemId'],
  ['rate', 'throughputPerSecond'],
  ['idleTimeoutMs', 'idleTimeoutMs'],
  ['receiptDelayMs', 'receiptDelayMs'],
  ['latencyMs', 'responseLatencyMs'],
] as const satisfies ReadonlyArray<readonly [keyof SimulatorFlags, keyof Behaviour]>;

function wholeNumber(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('a whole number ≥ 0 is needed');
  return Number(value);
}

function portOrOff(value: string): number | null {
  if (value === 'off') return null;
  const port = wholeNumber(value);
  if (port > 65_535) throw new InvalidArgumentError('a port (0 = any free one) or "off" is needed');
  return port;
}

function behaviourJson(value: string): Partial<Behaviour> {
  try {
    return JSON.parse(value) as Partial<Behaviour>;
  } catch {
    throw new InvalidArgumentError('not valid JSON');
  }
}

/**
 * Maps the flags to the simulator's options. `isExplicit` says whether a flag came from the command
 * line or its variable (not from its default): only those override --behaviour-json.
 */
export function simulatorOptionsFrom(flags: SimulatorFlags, isExplicit: (flag: keyof SimulatorFlags) => boolean): SimulatorOptions {
  const behaviour: Partial<Behaviour> = { ...flags.behaviourJson };
  for (const [flag, field] of BEHAVIOUR_FLAGS) if (isExplicit(flag)) Object.assign(behaviour, { [field]: flags[flag] });
  if (flags.tlsPort !== null && (!flags.tlsCertFile || !flags.tlsKeyFile)) {
    throw new Error('simulator: --tls-port needs --tls-cert-file and --tls-key-file');
  }
  return {
    host: flags.host,
    plainPort: flags.plainPort,
    tlsPort: flags.tlsPort,
    ...(flags.tlsCertFile && flags.tlsKeyFile ? { tlsCert: readFileSync(flags.tlsCertFile), tlsKey: readFileSync(flags.tlsKeyFile) } : {}),
    accounts: { [flags.systemId]: flags.password },
    ...(flags.journal ? { journalPath: flags.journal } : {}),
    behaviour,
  };
}

export function registerSimulatorCommand(program: Command): void {
  const command = program
    .command('simulator')
    .description('run the Agile-profile SMSC simulator (see src/simulator/README.md)')
    .addOption(new Option('--host <address>', 'listen address').env('SIM_HOST').default('127.0.0.1'))
    .addOption(new Option('--plain-port <port>', 'plain TCP port, "off" for none').env('SIM_PLAIN_PORT').argParser(portOrOff).default(2775))
    .addOption(new Option('--tls-port <port>', 'TLS port (needs cert and key), "off" for none').env('SIM_TLS_PORT').argParser(portOrOff).default(null, 'off'))
    .addOption(new Option('--tls-cert-file <path>', 'PEM certificate').env('SIM_TLS_CERT_FILE'))
    .addOption(new Option('--tls-key-file <path>', 'PEM private key').env('SIM_TLS_KEY_FILE'))
    .addOption(new Option('--system-id <id>', "the account's system_id").env('SIM_SYSTEM_ID').default('test'))
    .addOption(new Option('--password <password>', "the account's password").env('SIM_PASSWORD').default('secret'))
    .addOption(new Option('--max-binds <n>', 'binds per system_id').env('SIM_MAX_BINDS').argParser(wholeNumber).default(DEFAULT_BEHAVIOUR.maxBindsPerSystemId))
    .addOption(
      new Option('--rate <n>', 'accepted submit_sm per second per connection; more are answered 0x58')
        .env('SIM_RATE')
        .argParser(wholeNumber)
        .default(DEFAULT_BEHAVIOUR.throughputPerSecond),
    )
    .addOption(
      new Option('--idle-timeout-ms <ms>', 'close silent connections after')
        .env('SIM_IDLE_TIMEOUT_MS')
        .argParser(wholeNumber)
        .default(DEFAULT_BEHAVIOUR.idleTimeoutMs),
    )
    .addOption(
      new Option('--receipt-delay-ms <ms>', 'delay before a receipt')
        .env('SIM_RECEIPT_DELAY_MS')
        .argParser(wholeNumber)
        .default(DEFAULT_BEHAVIOUR.receiptDelayMs),
    )
    .addOption(
      new Option('--latency-ms <ms>', 'delay before a submit_sm_resp')
        .env('SIM_LATENCY_MS')
        .argParser(wholeNumber)
        .default(DEFAULT_BEHAVIOUR.responseLatencyMs),
    )
    .addOption(new Option('--journal <file>', 'append every PDU as a JSON line to this file').env('SIM_JOURNAL'))
    .addOption(
      new Option('--behaviour-json <json>', 'any other behaviour fields (src/simulator/README.md); the flags above win')
        .env('SIM_BEHAVIOUR_JSON')
        .argParser(behaviourJson),
    )
    .action(async (flags: SimulatorFlags) => {
      const isExplicit = (flag: keyof SimulatorFlags) => command.getOptionValueSource(flag) !== 'default';
      const options = simulatorOptionsFrom(flags, isExplicit);
      const { startSimulator } = await import('./simulator.js');
      const simulator = await startSimulator(options);
      process.stdout.write(
        `${JSON.stringify({ msg: 'SMSC simulator listening', plainPort: simulator.plainPort ?? null, tlsPort: simulator.tlsPort ?? null })}\n`,
      );
      const stop = (): void => {
        void simulator.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
