/**
 * Every subcommand's `--help` shows each option's environment variable and default, and `run --help`
 * lists every variable of config.ts with its declared default — never a value from the environment.
 * A flag wins over its variable, the variable over the default.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configVariables } from '../../src/config.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real program; whitespace is collapsed so commander's wrapping at 80 columns does not matter. */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', ...args],
      { cwd: REPO_ROOT, env: { ...process.env, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout: stdout.replace(/\s+/g, ' '), stderr: stderr.replace(/\s+/g, ' ') });
      },
    );
  });
}

/** One representative option per subcommand: the help must show its variable and its default. */
const OPTION_HELP: ReadonlyArray<readonly [command: string, shown: string]> = [
  ['produce', '--brokers <host:port,...> Kafka bootstrap servers (default: "127.0.0.1:9092", env: KAFKA_BROKERS)'],
  ['produce', '(default: "sms.outbound", env: TOPIC_OUTBOUND)'],
  ['tail', '(default: "http://127.0.0.1:8081", env: SCHEMA_REGISTRY_URL)'],
  ['tail', '(default: "sms.delivery", env: TOPIC_DELIVERY)'],
  ['redrive', '(default: "sms.outbound.dlq", env: TOPIC_DLQ)'],
  ['simulator', '(default: 2775, env: SIM_PLAIN_PORT)'],
  ['stack', '(default: 180000, env: KSC_STACK_KAFKA_TIMEOUT_MS)'],
  ['stack', '(default: .local/dist in the repository, env: KSC_STACK_DIST)'],
  ['demo', '(default: 180000, env: KSC_STACK_REGISTRY_TIMEOUT_MS)'],
];

test('each subcommand shows a variable-backed option with env: and its default', async () => {
  const commands = [...new Set(OPTION_HELP.map(([command]) => command))];
  const helps = new Map(await Promise.all(commands.map(async (command) => [command, await cli([command, '--help'])] as const)));
  for (const [command, shown] of OPTION_HELP) {
    const help = helps.get(command)!;
    assert.equal(help.code, 0, `${command} --help exits 0`);
    assert.ok(help.stdout.includes(shown), `${command} --help shows ${shown}\n${help.stdout}`);
  }
  // The variables without a flag are listed from config.ts, not by hand.
  assert.ok(helps.get('produce')!.stdout.includes('SMS_MAX_SEGMENTS default: 10'));
  assert.ok(!helps.get('tail')!.stdout.includes('SMS_MAX_SEGMENTS'), 'tail checks no request');
  assert.ok(helps.get('tail')!.stdout.includes('SCHEMA_REGISTRY_TIMEOUT_MS default: 5000'));
  assert.ok(helps.get('demo')!.stdout.includes('--routes the routes scenario instead'), 'demo --help names the routes scenario');
});

test('run --help lists every variable of config.ts with its default, and no value of the environment', async () => {
  const secret = 'pw-from-the-environment-7731';
  const help = await cli(['run', '--help'], { SMPP_PASSWORD: secret, KAFKA_BROKERS: 'elsewhere.example:9999' });
  assert.equal(help.code, 0);
  assert.ok(help.stdout.includes('SMPP_RATE_MARGIN default: 0.02'), help.stdout);
  assert.ok(help.stdout.includes('KAFKA_BROKERS default: 127.0.0.1:9092'), help.stdout);
  assert.ok(help.stdout.includes('SMPP_SYSTEM_ID (required)'), help.stdout);
  assert.ok(help.stdout.includes('KAFKA_SASL_MECHANISM (not set)'), help.stdout);
  assert.ok(help.stdout.includes('SMPP_PASSWORD_FILE'), help.stdout);
  assert.ok(!help.stdout.includes(secret) && !help.stdout.includes('elsewhere.example'), 'only declared defaults are printed');
  for (const { name } of configVariables()) assert.match(help.stdout, new RegExp(` ${name} (default: |\\(required\\)|\\(not set\\))`), name);
});

test('a tool takes the flag over its variable, and the variable over the default', async () => {
  const env = { KAFKA_BROKERS: 'from-the-variable' };
  const fromVariable = await cli(['tail', '--max-events', '1'], env);
  assert.equal(fromVariable.code, 2);
  assert.match(fromVariable.stderr, /KAFKA_BROKERS: .*got "from-the-variable"/);
  const fromFlag = await cli(['tail', '--max-events', '1', '--brokers', 'from-the-flag'], env);
  assert.equal(fromFlag.code, 2);
  assert.match(fromFlag.stderr, /KAFKA_BROKERS: .*got "from-the-flag"/);
});
