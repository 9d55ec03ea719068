/**
 * `--help` text for configuration that has no flag: one line per variable with its default, built
 * from config.ts's declarations (`configVariables`, `clientConfigVariables`) so that what the help
 * says cannot drift from what the parser does. Only declared defaults are printed, never a value
 * from the environment (a password must not reach a terminal because someone asked for help).
 */
import type { ConfigVariable } from './config.js';

function defaultOf(variable: ConfigVariable): string {
  if (variable.required) return '(required)';
  return variable.default === undefined ? '(not set)' : `default: ${variable.default}`;
}

/** The variables as an aligned list, two spaces in, one per line. */
export function variableLines(variables: readonly ConfigVariable[]): string {
  const width = Math.max(0, ...variables.map((v) => v.name.length));
  return variables.map((v) => `  ${v.name.padEnd(width)}  ${defaultOf(v)}`).join('\n');
}
