#!/usr/bin/env node
/**
 * The `sms-connector` command line, the one program behind every command of the project:
 *   run                        the connector (configuration from environment variables)
 *   simulator                  the Agile-profile SMSC simulator          (src/simulator/simulator-command.ts)
 *   produce | tail | redrive   operator tools on the connector's topics  (src/cli-tools.ts)
 *   stack | demo               development commands, from a clone only   (src/cli-dev.ts)
 * Each subcommand is a thin entry into its module, which loads its work only when it runs, so that
 * `--help` stays fast and loads no Kafka or SMPP client.
 */
import { Command } from 'commander';
import { registerDevCommands } from './cli-dev.js';
import { variableLines } from './cli-help.js';
import { ConfigError } from './config-error.js';
import { register as registerTools } from './cli-tools.js';
import { SECRET_FILE_VARIABLES, configVariables } from './config.js';
import { maskNumbersIn } from './obs/mask.js';
import { printable } from './obs/printable.js';
import { registerSimulatorCommand } from './simulator/simulator-command.js';

dropKafkajsNegativeTimerWarning();

const program = new Command().name('sms-connector').description('Kafka-native SMPP connector: sms.outbound → SMSC → sms.delivery').showHelpAfterError();

program
  .command('run')
  .description('run the connector')
  .addHelpText('after', runHelp)
  .action(async () => {
    const { runConnector } = await import('./main.js');
    await runConnector();
  });

/** `run` has no flags: its help is the connector's variables with their defaults, from config.ts's schema. */
function runHelp(): string {
  return (
    '\nConfiguration: environment variables only (README "Configuration" says what each does); an empty one counts as unset.\n' +
    `${variableLines(configVariables())}\n` +
    `A secret can come from a file instead: ${SECRET_FILE_VARIABLES.map((name) => `${name}_FILE`).join(', ')} (wins over the variable).`
  );
}

registerSimulatorCommand(program);
registerTools(program);
registerDevCommands(program);

// `tail | head` closes our stdout early: that is the reader being done, not an error to print.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

program.parseAsync(process.argv).catch((err: unknown) => {
  // The message can carry data (a topic name, a value from a file): shown safe for a terminal, numbers masked.
  process.stderr.write(`${printable(maskNumbersIn(err instanceof Error ? err.message : String(err)))}\n`);
  // A setting only the services can refute (a refused Kafka login): the exit code of a configuration error.
  process.exit(err instanceof ConfigError ? 2 : 1);
});

/**
 * kafkajs 2.2.4 arms a timer with a negative delay at every connect (kafkajs#1751); Node 24 warns on stderr
 * each time, which buries real warnings and lands in every command's output. Node runs such a timer after
 * 1 ms, as kafkajs expects, so this one warning says nothing; all others still go to Node's own printer.
 */
function dropKafkajsNegativeTimerWarning(): void {
  const printers = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name === 'TimeoutNegativeWarning') return;
    for (const print of printers) print.call(process, warning);
  });
}
