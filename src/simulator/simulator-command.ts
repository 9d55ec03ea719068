/**
 * CLI entry of the SMSC simulator: `tsx src/simulator/main.ts [--flag value …]`, or through the
 * connector's `simulator` command (the lead wires `runSimulatorCli`). Flags win over environment
 * variables; both are parsed once here and nowhere else.
 *
 * The flags and their variables are in FLAG_TABLE below (`--help` prints it).
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Behaviour } from './behaviour.js';
import { startSimulator, type Simulator, type SimulatorOptions } from './simulator.js';

/** flag → [environment variable, what it sets (default)]: the parser and `--help` both read this. */
const FLAG_TABLE: Record<string, [variable: string, help: string]> = {
  host: ['SIM_HOST', 'listen address (127.0.0.1)'],
  'plain-port': ['SIM_PLAIN_PORT', 'plain TCP port, "off" to disable (2775)'],
  'tls-port': ['SIM_TLS_PORT', 'TLS port, needs cert and key (off)'],
  'tls-cert-file': ['SIM_TLS_CERT_FILE', 'PEM certificate'],
  'tls-key-file': ['SIM_TLS_KEY_FILE', 'PEM private key'],
  'system-id': ['SIM_SYSTEM_ID', 'account system_id (test)'],
  password: ['SIM_PASSWORD', 'account password (secret)'],
  'max-binds': ['SIM_MAX_BINDS', 'binds per system_id (4)'],
  rate: ['SIM_RATE', 'accepted submit_sm per second per connection; more → 0x58 (100)'],
  'idle-timeout-ms': ['SIM_IDLE_TIMEOUT_MS', 'close silent connections after (300000)'],
  'receipt-delay-ms': ['SIM_RECEIPT_DELAY_MS', 'receipt delay (20)'],
  'latency-ms': ['SIM_LATENCY_MS', 'submit_sm_resp latency (0)'],
  journal: ['SIM_JOURNAL', 'JSONL file of every PDU (off)'],
  'behaviour-json': ['SIM_BEHAVIOUR_JSON', 'any other behaviour fields as JSON (src/simulator/README.md)'],
};
const FLAGS: Record<string, string> = Object.fromEntries(Object.entries(FLAG_TABLE).map(([flag, [variable]]) => [flag, variable]));

export function simulatorUsage(): string {
  const rows = Object.entries(FLAG_TABLE).map(([flag, [variable, help]]) => `  --${flag} <value>`.padEnd(30) + `${variable.padEnd(22)}${help}`);
  return ['usage: sms-connector simulator [--flag value …]   (flags win over the SIM_* variables)', ...rows].join('\n');
}

/** Merges flags over environment variables; throws naming the flag/variable on a bad value. */
export function simulatorOptionsFrom(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): SimulatorOptions {
  const values = new Map<string, string>();
  for (const [flag, variable] of Object.entries(FLAGS)) {
    const value = env[variable];
    if (value !== undefined && value !== '') values.set(flag, value);
  }
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    const [name, inline] = arg.replace(/^--/, '').split('=', 2) as [string, string | undefined];
    if (!arg.startsWith('--') || !(name in FLAGS)) throw new Error(`simulator: unknown option ${arg} (known: ${Object.keys(FLAGS).map((f) => `--${f}`).join(', ')})`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`simulator: --${name} needs a value`);
    values.set(name, value);
  }
  const int = (flag: string, fallback: number): number => {
    const raw = values.get(flag);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`simulator: --${flag} / ${FLAGS[flag]} must be a non-negative integer, got "${raw}"`);
    return n;
  };
  const port = (flag: string, fallback: number | null): number | null => (values.get(flag) === 'off' ? null : values.has(flag) ? int(flag, 0) : fallback);
  // Explicit flags win over --behaviour-json; unset ones leave the JSON or the Agile defaults.
  const behaviour: Partial<Behaviour> = values.has('behaviour-json') ? (parseJson(values.get('behaviour-json') as string) as Partial<Behaviour>) : {};
  const numeric: Array<[string, keyof Behaviour]> = [
    ['max-binds', 'maxBindsPerSystemId'],
    ['rate', 'throughputPerSecond'],
    ['idle-timeout-ms', 'idleTimeoutMs'],
    ['receipt-delay-ms', 'receiptDelayMs'],
    ['latency-ms', 'responseLatencyMs'],
  ];
  for (const [flag, field] of numeric) if (values.has(flag)) Object.assign(behaviour, { [field]: int(flag, 0) });
  const certFile = values.get('tls-cert-file');
  const keyFile = values.get('tls-key-file');
  const tlsPort = port('tls-port', null);
  if (tlsPort !== null && (!certFile || !keyFile)) throw new Error('simulator: --tls-port needs --tls-cert-file and --tls-key-file');
  const journal = values.get('journal');
  return {
    host: values.get('host') ?? '127.0.0.1',
    plainPort: port('plain-port', 2775),
    tlsPort,
    ...(certFile && keyFile ? { tlsCert: readFileSync(certFile), tlsKey: readFileSync(keyFile) } : {}),
    accounts: { [values.get('system-id') ?? 'test']: values.get('password') ?? 'secret' },
    ...(journal ? { journalPath: journal } : {}),
    behaviour,
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error('simulator: --behaviour-json / SIM_BEHAVIOUR_JSON is not valid JSON');
  }
}

/** Starts the simulator from argv/env, logs one line, stops on SIGINT/SIGTERM. */
export async function runSimulatorCli(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<Simulator | undefined> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${simulatorUsage()}\n`);
    return undefined;
  }
  const simulator = await startSimulator(simulatorOptionsFrom(argv, env));
  process.stdout.write(`${JSON.stringify({ msg: 'SMSC simulator listening', plainPort: simulator.plainPort ?? null, tlsPort: simulator.tlsPort ?? null })}\n`);
  const stop = (): void => {
    void simulator.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return simulator;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runSimulatorCli(process.argv.slice(2), process.env).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
