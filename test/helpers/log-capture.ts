/** A pino logger whose warn (and worse) lines a test reads back, parsed. */
import pino from 'pino';

export interface LogLine {
  msg: string;
  [field: string]: unknown;
}

export function capturingLogger(): { logger: pino.Logger; lines: () => LogLine[]; warnings: () => string[] } {
  const raw: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void raw.push(line) });
  const lines = (): LogLine[] => raw.map((l) => JSON.parse(l) as LogLine);
  return { logger, lines, warnings: () => lines().map((l) => l.msg) };
}
