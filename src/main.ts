/**
 * `run`: the connector process. Reads the environment once, starts the app, and turns SIGTERM /
 * SIGINT into a graceful stop (drain, commit, unbind) with exit code 0. A wrong config value
 * stops the process with one line naming the variable (exit 2).
 */
import { ConfigError, loadConfig } from './config.js';
import { startApp, type RunningApp } from './app/start.js';
import { createLogger } from './obs/logger.js';

export async function runConnector(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  // A bug must not take the process down silently: log it; unhandled rejections are bugs.
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));
  let app: RunningApp | undefined;
  let stopping = false;
  const stop = (reason: string, exitCode: number) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'stopping');
    const hardStop = setTimeout(() => {
      logger.error('graceful stop took too long; exiting');
      process.exit(1);
    }, config.shutdownDrainMs + 30000);
    hardStop.unref();
    (app?.stop() ?? Promise.resolve()).then(
      () => process.exit(exitCode),
      (err: unknown) => {
        logger.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  try {
    // A fatal condition (the correlation store failed a write): a graceful stop, then exit 1 so
    // that the supervisor starts the process again.
    app = await startApp(config, logger, { onFatal: (reason) => stop(reason, 1) });
  } catch (err) {
    // A setting only the services can refute (e.g. SCHEMA_SUBJECT_STRICT against a registry without the endpoint).
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration error: ${err.message}\n`);
      process.exit(2);
    }
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      // The health/metrics port is the first thing bound: a clash is a setting to change, not a crash.
      process.stderr.write(`configuration error: HTTP_PORT: port ${config.httpPort} is already in use by another process\n`);
      process.exit(2);
    }
    logger.fatal({ err }, 'start-up failed');
    process.exit(1);
  }
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('SIGINT', () => stop('SIGINT', 0));
}
