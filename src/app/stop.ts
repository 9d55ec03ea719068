/**
 * Stop, in reverse of start: the receipt owner (its progress written for the next owner) → the consumers of both lanes (intake off, in-flight records drained, offsets committed)
 * → the sessions (unbind) → the sweeper, the promoter and the correlation tail → the producer (what is queued is
 * published) → the correlation store → the admin client → the HTTP server. Each step runs even when an earlier one failed
 * (logged), and only for the parts that were started.
 */
import type { Config } from '../config.js';
import type { Logger } from '../obs/logger.js';
import type { Parts } from './parts.js';

export async function stopParts(p: Partial<Parts>, logger: Logger, config: Readonly<Config>): Promise<void> {
  if (p.stopping) return;
  p.stopping = true;
  logger.info({ drainMs: config.shutdownDrainMs }, 'stopping: intake off, draining');
  const step = async (name: string, fn: (() => Promise<unknown>) | undefined) => {
    if (!fn) return;
    try {
      await fn();
    } catch (err) {
      logger.warn({ err, step: name }, 'shutdown step failed');
    }
  };
  // First: its last progress must be written before the bulk consumer leaves the group and another
  // replica takes its partitions (and reads that progress to resume them).
  await step('receipt owner', p.receiptOwner && (() => p.receiptOwner!.stop(Math.min(config.shutdownDrainMs, 2000))));
  // both lanes drain at once: each holds its own partitions' in-flight records
  await step('consumers', p.consumer && (() => Promise.all([p.consumer!.stop(), p.urgent?.stop()])));
  await step('sessions', p.routes && (() => Promise.all(p.routes!.map((r) => r.pool.close()))));
  await step('overdue sweeper', p.sweeper && (() => p.sweeper!.stop()));
  await step('live-state promoter', p.promoter && (() => p.promoter!.stop()));
  p.legacy?.stop();
  await step('correlation tail', p.tail && (() => p.tail!.stop()));
  await step('producer', p.publisher && (() => p.publisher!.close()));
  // After the producer: the last local writes (submits, finals) were made before their publish.
  await step('correlation store', p.store && (() => p.store!.close()));
  p.probe?.stop();
  await step('admin', p.admin && (() => p.admin!.disconnect()));
  for (const r of p.routes ?? []) r.gate.close();
  await step('http', p.http && (() => p.http!.close()));
  logger.info('stopped');
}
