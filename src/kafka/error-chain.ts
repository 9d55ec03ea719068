/**
 * The errors kafkajs throws, as the closed lists read them (publish-errors.ts, access-errors.ts):
 * by broker error code name (`type`) or error class (`name`), never by message text.
 */

/** The fields of a kafkajs error the lists read. */
export interface KafkaJsLike {
  name?: unknown;
  type?: unknown;
  retriable?: unknown;
  message?: unknown;
  cause?: unknown;
}

/**
 * An error and its causes, outermost first, at most 8 deep: kafkajs wraps the broker's answer
 * (retries exceeded, a non-retriable wrapper), and the reason is the cause, not the wrapper.
 */
export function* causeChain(err: unknown): Generator<KafkaJsLike> {
  for (let e = err as KafkaJsLike | undefined, depth = 0; e && typeof e === 'object' && depth < 8; e = e.cause as KafkaJsLike | undefined, depth++) yield e;
}
