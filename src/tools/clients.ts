/**
 * What the operator tools open: the client's connection (`client/connection.ts`, so Kafka and the
 * registry are reached exactly as a service using the client reaches them) with a logger for a
 * terminal.
 */
import { openConnection, type Connection } from '../client/connection.js';
import type { ClientConfig } from '../config.js';
import { createLogger, type Logger } from '../obs/logger.js';

export { requireTopic } from '../client/connection.js';

export interface ToolClients extends Connection {
  logger: Logger;
}

/**
 * Tools print their own lines on stdout; only kafkajs' errors reach stderr, as JSON (its warnings
 * are noise here, e.g. the idempotent producer's note on bounded retries).
 */
export function toolLogger(): Logger {
  return createLogger('error', process.stderr);
}

/** `register` registers our schemas under the topics' subjects (needed to encode; idempotent). */
export async function openClients(config: Readonly<ClientConfig>, opts: { register: boolean; logger?: Logger }): Promise<ToolClients> {
  const logger = opts.logger ?? toolLogger();
  return { ...(await openConnection(config, { register: opts.register, logger })), logger };
}
