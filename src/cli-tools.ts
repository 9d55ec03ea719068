/**
 * Operator tools on the connector's topics: `produce`, `tail`, `redrive`.
 *
 * They read only the Kafka, registry and topic variables (`loadClientConfig`), never the SMPP ones,
 * so they run from any shell that can reach Kafka. The work is in `src/tools/*`; this file maps
 * flags to options. The brokers, the registry URL and the topics also have a flag, which wins over
 * its variable; `--help` shows each with its variable and config.ts's default.
 */
import { randomBytes } from 'node:crypto';
import { Command, InvalidArgumentError, Option } from 'commander';
import { variableLines } from './cli-help.js';
import { ConfigError, clientConfigVariables, loadClientConfig, type ClientConfig } from './config.js';
import { SMS_ENCODINGS, type SmsEncoding } from './contracts.js';
import { POISON_CODES } from './kafka/errors.js';
import { maskNumbersIn } from './obs/mask.js';
import { printable } from './obs/printable.js';
import type { PoisonKind } from './tools/produce.js';
import { InputError, requestsFromFile, requestsFromFlags, type RequestDefaults } from './tools/request-input.js';

/** Every line the tools print: no escape sequence or control character from the data reaches the terminal. */
const print = (line: string): void => {
  process.stdout.write(`${printable(line)}\n`);
};

/** The flags that stand for a client variable: the flag's value (else the variable's, else its default) is what the config reads. */
const FLAG_VARIABLES = {
  brokers: 'KAFKA_BROKERS',
  registryUrl: 'SCHEMA_REGISTRY_URL',
  outboundTopic: 'TOPIC_OUTBOUND',
  deliveryTopic: 'TOPIC_DELIVERY',
  dlqTopic: 'TOPIC_DLQ',
} as const;
type EnvFlags = Partial<Record<keyof typeof FLAG_VARIABLES, string>>;

function variableDefault(name: string): string {
  const declared = clientConfigVariables().find((v) => v.name === name)?.default;
  if (declared === undefined) throw new Error(`config.ts declares no default for ${name}`);
  return declared;
}

/** An option backed by a client variable; commander resolves flag > variable > default, the schema then checks it. */
function envOption(flag: keyof typeof FLAG_VARIABLES, flags: string, description: string): Option {
  const variable = FLAG_VARIABLES[flag];
  return new Option(flags, description).env(variable).default(variableDefault(variable));
}

/** Not used by tail or redrive, which check no request. */
const isRequestCheck = (name: string): boolean => name === 'SMS_MAX_SEGMENTS' || name.startsWith('REQUEST_MAX_');

/** The client variables without a flag (TLS, SASL, registry auth, the request bounds), listed after the options. */
function otherVariablesHelp(checksRequests: boolean): string {
  const flagged = new Set<string>(Object.values(FLAG_VARIABLES));
  const others = clientConfigVariables().filter((v) => !flagged.has(v.name) && !v.name.startsWith('TOPIC_') && (checksRequests || !isRequestCheck(v.name)));
  return `\nAlso from the environment (README "Configuration"):\n${variableLines(others)}`;
}

/** The options every tool shares: brokers, registry and its topics, each backed by its variable; the other variables after the help. */
function withClientOptions(command: Command, topics: Option[], checksRequests: boolean): Command {
  command
    .addOption(envOption('brokers', '--brokers <host:port,...>', 'Kafka bootstrap servers'))
    .addOption(envOption('registryUrl', '--registry-url <url>', 'schema registry base URL (Apicurio: .../apis/ccompat/v7)'));
  for (const topic of topics) command.addOption(topic);
  return command.addHelpText('after', () => otherVariablesHelp(checksRequests));
}

function clientConfig(flags: EnvFlags): Readonly<ClientConfig> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [flag, variable] of Object.entries(FLAG_VARIABLES)) {
    const value = flags[flag as keyof EnvFlags];
    if (value !== undefined) env[variable] = value;
  }
  try {
    return loadClientConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

function positiveInt(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`${name} must be a whole number ≥ 1`);
    return Number(value);
  };
}

function metaPair(value: string, previous: Record<string, string>): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq < 1) throw new InvalidArgumentError('--meta takes key=value');
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

/** A default request id base: readable, sortable, unique enough for test traffic. */
function defaultIdBase(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return `cli-${stamp}-${randomBytes(3).toString('hex')}`;
}

interface ProduceFlags extends EnvFlags {
  to?: string;
  from: string;
  text?: string;
  count: number;
  key?: string;
  id?: string;
  encoding: SmsEncoding;
  report: boolean;
  validForMs?: number;
  meta: Record<string, string>;
  file?: string;
  showNumbers: boolean;
  validate: boolean;
  poison?: PoisonKind;
}

// Kept here, not imported from tools/produce.ts, so that `--help` does not load kafkajs.
const POISON_KIND_NAMES: readonly PoisonKind[] = ['bad-magic', 'unknown-schema', 'truncated', 'null-value'];

/** `produce`: the requests from the flags or the file, checked, then sent (or poison records instead). */
async function produce(flags: ProduceFlags): Promise<void> {
  const idBase = flags.id ?? defaultIdBase();
  const defaults: RequestDefaults = {
    from: flags.from,
    encoding: flags.encoding,
    requestDeliveryReport: flags.report,
    metadata: { source: 'sms-connector-cli', ...flags.meta },
    idBase,
    ...(flags.text !== undefined ? { text: flags.text } : {}),
    ...(flags.validForMs !== undefined ? { validForMs: flags.validForMs } : {}),
    ...(flags.key !== undefined ? { key: flags.key } : {}),
  };
  let requests;
  try {
    if (flags.file) {
      if (flags.to) throw new InputError('--file and --to exclude each other (put the destinations in the file)');
      requests = requestsFromFile(flags.file, defaults);
    } else {
      if (!flags.to) throw new InputError('--to (or --file) is required');
      requests = requestsFromFlags(flags.to, flags.count, defaults);
    }
  } catch (err) {
    if (err instanceof InputError) {
      process.stderr.write(`produce: ${printable(maskNumbersIn(err.message))}\n`);
      process.exit(2);
    }
    throw err;
  }
  const config = clientConfig(flags);
  const { produceRequests, producePoison } = await import('./tools/produce.js');
  if (flags.poison) await producePoison(config, flags.poison, requests[0]!, requests.length, print);
  else await produceRequests(config, requests, { showNumbers: flags.showNumbers, validate: flags.validate }, print);
}

function registerProduce(program: Command): void {
  const command = program
    .command('produce')
    .description('send test requests to the outbound topic through the schema registry (from flags or --file)')
    .option('--to <msisdn>', 'destination (international format)')
    .option('--from <sender>', 'sender: numeric ≤ 16 or alphanumeric ≤ 11', 'ACME')
    .option('--text <text>', 'message text (default: "Test message <id>")')
    .option('--count <n>', 'how many requests (ids <id>-1 … <id>-n)', positiveInt('--count'), 1)
    .option('--key <key>', 'Kafka key for every request (default: the destination, so one number keeps its order)')
    .option('--id <id>', 'request id (base of the ids with --count; default cli-<time>-<random>)')
    .addOption(new Option('--encoding <encoding>', 'SMS encoding').choices(SMS_ENCODINGS).default('AUTO'))
    .option('--no-report', 'do not request a delivery report')
    .option('--valid-for-ms <ms>', 'validUntil = now + this', positiveInt('--valid-for-ms'))
    .option('--meta <key=value>', 'metadata entry (repeatable)', metaPair, {})
    .option('--file <path>', 'requests from a .csv (header row), .json (array) or .jsonl file; flags give the defaults')
    .option('--show-numbers', 'print phone numbers unmasked', false)
    .option('--no-validate', 'send requests the connector will reject (to see REJECTED events); by default they are refused, nothing sent')
    .addOption(new Option('--poison <kind>', 'send records the connector must dead-letter instead (try the DLQ alert and redrive)').choices(POISON_KIND_NAMES))
    .addHelpText(
      'after',
      '\nFile columns/fields: to, text (required unless --text), id, from, key, encoding, requestDeliveryReport,\n' +
        'validForMs, validUntil, scheduleAt (ISO or epoch ms), metadata (JSON object).',
    );
  withClientOptions(command, [envOption('outboundTopic', '--outbound-topic <topic>', 'topic of the requests')], true).action(produce);
}

function registerTail(program: Command): void {
  const command = program
    .command('tail')
    .description('follow the delivery topic decoded: one line per event (Ctrl-C to stop)')
    .option('--from-beginning', 'start at the earliest event instead of now', false)
    .option('--id <requestId>', 'only events of this request')
    .option('--json', 'one JSON object per line instead of text', false)
    .option('--show-numbers', 'print phone numbers unmasked', false)
    .option('--max-events <n>', 'exit after this many events', positiveInt('--max-events'));
  withClientOptions(command, [envOption('deliveryTopic', '--delivery-topic <topic>', 'topic of the events')], false).action(
    async (flags: EnvFlags & { fromBeginning: boolean; id?: string; json: boolean; showNumbers: boolean; maxEvents?: number }) => {
      const config = clientConfig(flags);
      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const { tail } = await import('./tools/tail.js');
      await tail(
        config,
        {
          fromBeginning: flags.fromBeginning,
          json: flags.json,
          showNumbers: flags.showNumbers,
          signal: abort.signal,
          ...(flags.id !== undefined ? { id: flags.id } : {}),
          ...(flags.maxEvents !== undefined ? { maxEvents: flags.maxEvents } : {}),
        },
        print,
      );
    },
  );
}

/** The codes the connector writes into the DLQ's error header: a typo in --filter must not match nothing quietly. */
const DLQ_CODES: readonly string[] = [...POISON_CODES, 'UNPARSEABLE_RECEIPT'];

function dlqCodes(value: string): string[] {
  const codes = value
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  const unknown = codes.filter((c) => !DLQ_CODES.includes(c));
  if (codes.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(`unknown code ${unknown.join(', ') || '(none given)'}; known: ${DLQ_CODES.join(', ')}`);
  }
  return codes;
}

function registerRedrive(program: Command): void {
  const command = program
    .command('redrive')
    .description('send dead-lettered records back to the outbound topic (original key/value, headers + redrive marker), up to the current end')
    .option('--filter <codes>', `only these error codes, comma-separated (${DLQ_CODES.join(', ')})`, dlqCodes)
    .option('--dry-run', 'print what would be sent, send nothing', false);
  const topics = [
    envOption('dlqTopic', '--dlq-topic <topic>', 'the dead-letter topic read'),
    envOption('outboundTopic', '--outbound-topic <topic>', 'the topic the records go back to'),
  ];
  withClientOptions(command, topics, false).action(async (flags: EnvFlags & { filter?: string[]; dryRun: boolean }) => {
    const config = clientConfig(flags);
    const { redrive } = await import('./tools/redrive.js');
    await redrive(config, { dryRun: flags.dryRun, ...(flags.filter ? { codes: flags.filter } : {}) }, print);
  });
}

export function register(program: Command): void {
  registerProduce(program);
  registerTail(program);
  registerRedrive(program);
}
