#!/usr/bin/env node
/**
 * The `sms-connector` command line: `run`, `simulator`, `stack`, `produce`, `tail`, `redrive`.
 * Each subcommand is a thin entry into its module; options are parsed by commander.
 */
import { Command } from 'commander';
import { register } from './cli-tools.js';
import { maskNumbersIn } from './obs/mask.js';
import { printable } from './obs/printable.js';

const program = new Command()
  .name('sms-connector')
  .description('Kafka-native SMPP connector: sms.outbound → SMSC → sms.delivery')
  .showHelpAfterError();

program
  .command('run')
  .description('run the connector (configuration from environment variables; see README)')
  .action(async () => {
    const { runConnector } = await import('./main.js');
    await runConnector();
  });

program
  .command('simulator')
  .description('run the Agile-profile SMSC simulator (flags or SIM_* variables; see src/simulator/README.md)')
  .allowUnknownOption()
  .helpOption(false)
  .argument('[options...]')
  .action(async (options: string[]) => {
    const { runSimulatorCli } = await import('./simulator/main.js');
    await runSimulatorCli(options, process.env);
  });

program
  .command('stack')
  .description('local Kafka + Schema Registry from Maven Central jars: up | down | status | fetch')
  .allowUnknownOption()
  .helpOption(false)
  .argument('[args...]')
  .action(async (args: string[]) => {
    const { cli } = await import('../deploy/local/stack.js');
    process.exitCode = await cli(args);
  });

register(program);

// `tail | head` closes our stdout early: that is the reader being done, not an error to print.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

program.parseAsync(process.argv).catch((err: unknown) => {
  // The message can carry data (a topic name, a value from a file): shown safe for a terminal, numbers masked.
  process.stderr.write(`${printable(maskNumbersIn(err instanceof Error ? err.message : String(err)))}\n`);
  process.exit(1);
});
