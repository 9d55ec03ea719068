/**
 * The urgent lane's consumer (TOPIC_OUTBOUND_URGENT, docs/design.md §5.6), running only while this
 * replica holds bind slots. Why it follows the slots: its group (`<KAFKA_GROUP_ID>.urgent`) shares
 * partitions among whoever joined, and a hot standby that held urgent partitions would have no
 * session to send them on — its urgent records would wait for a rebalance of the other group. So a
 * replica joins the urgent group when it gets slots and leaves it (draining, committing) when it
 * loses them.
 *
 * Changes are applied one after another, each to the newest wish: slots can come and go faster
 * than a consumer joins or drains.
 */
import type { Logger } from '../obs/logger.js';

/** What the lane needs of a consumer: OutboundConsumer, built anew for every join (a stopped one stays stopped). */
export interface LaneConsumer {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly isJoined: boolean;
}

/** A failed join (Kafka unreachable at that moment) is tried again after this long. */
const RETRY_START_MS = 5000;

export class UrgentLane {
  private consumer: LaneConsumer | null = null;
  private wanted = false;
  private closed = false;
  private applying: Promise<void> = Promise.resolve();

  constructor(
    private readonly create: () => LaneConsumer,
    private readonly logger: Logger,
    /** Called once it left the group: it has no urgent partitions any more (partitioned ownership lets their homes go). */
    private readonly onLeft?: () => void,
  ) {}

  /** Join (true) or leave (false) the urgent group; resolves once this and every earlier change is applied. */
  follow(hasSlots: boolean): Promise<void> {
    this.wanted = hasSlots;
    // a failed change is logged by apply and must not stop the ones after it
    this.applying = this.applying.catch(() => undefined).then(() => this.apply());
    return this.applying;
  }

  /** Leaves the group for good (shutdown). */
  stop(): Promise<void> {
    this.closed = true;
    return this.follow(false);
  }

  /** True while this replica reads the urgent topic (or has no reason to). */
  get isJoined(): boolean {
    return this.consumer?.isJoined ?? false;
  }

  private async apply(): Promise<void> {
    const join = this.wanted && !this.closed;
    if (join && this.consumer === null) {
      const consumer = this.create();
      this.consumer = consumer;
      try {
        await consumer.start();
        this.logger.info('urgent lane: reading its topic');
      } catch (err) {
        this.consumer = null;
        this.logger.error({ err, retryInMs: RETRY_START_MS }, 'urgent lane: consumer failed to start; retrying');
        await consumer.stop().catch(() => undefined);
        setTimeout(() => void this.follow(this.wanted), RETRY_START_MS).unref();
      }
    } else if (!join && this.consumer !== null) {
      const consumer = this.consumer;
      this.consumer = null;
      try {
        await consumer.stop();
        this.logger.info('urgent lane: left its group (no bind slots, or stopping)');
      } catch (err) {
        this.logger.warn({ err }, 'urgent lane: leaving its group failed; its partitions go to others at the session timeout');
      }
      this.onLeft?.();
    }
  }
}
