/**
 * The broker refusing us at the first contact: the SASL login, or a topic this principal may not
 * DESCRIBE. Read from kafkajs' error class or the broker's error type (walking the `cause` chain),
 * never from the message text.
 *
 *   SASL_AUTHENTICATION_FAILED   the login was refused (kafkajs `KafkaJSSASLAuthenticationError`:
 *                                wrong user or password, or a KAFKA_SASL_MECHANISM the broker does
 *                                not offer). At start-up that is a setting to fix: a ConfigError
 *                                naming KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD (the CLI exits 2).
 *                                Mid-run (a secret rotated under a running replica) the publisher
 *                                pauses and retries instead (publish-errors.ts NOT_AUTHORIZED).
 *   TOPIC_AUTHORIZATION_FAILED   the broker will not say whether the topic exists: no DESCRIBE ACL.
 *                                `listTopics` leaves such a topic out, which read as "missing".
 */
import { ConfigError } from '../config-error.js';
import { printable } from '../obs/printable.js';
import { causeChain, type KafkaJsLike } from './error-chain.js';

export const ACCESS_REFUSAL_CODES = ['SASL_AUTHENTICATION_FAILED', 'TOPIC_AUTHORIZATION_FAILED'] as const;
export type AccessRefusalCode = (typeof ACCESS_REFUSAL_CODES)[number];

/** kafkajs error classes (by `name`) and broker error types that mean "the login was refused". */
const LOGIN_REFUSED_CLASSES: ReadonlySet<string> = new Set(['KafkaJSSASLAuthenticationError']);
const LOGIN_REFUSED_TYPES: ReadonlySet<string> = new Set(['SASL_AUTHENTICATION_FAILED']);

/** The kafkajs error (or one of its causes) that says the broker refused the SASL login; null for anything else. */
function loginRefusal(err: unknown): KafkaJsLike | null {
  for (const e of causeChain(err)) {
    if ((typeof e.name === 'string' && LOGIN_REFUSED_CLASSES.has(e.name)) || (typeof e.type === 'string' && LOGIN_REFUSED_TYPES.has(e.type))) return e;
  }
  return null;
}

export const LOGIN_VARIABLES = 'KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD';

/**
 * The refused login as one configuration line. kafkajs' message (the broker's reason, which tells a
 * wrong password from a mechanism the broker does not offer) is kept, made safe for a terminal; it
 * never holds the password (kafkajs does not put it there, and neither does the broker).
 */
export class KafkaLoginRefusedError extends ConfigError {
  readonly code = 'SASL_AUTHENTICATION_FAILED' satisfies AccessRefusalCode;
  readonly retriable = false;
  constructor(reason: string, options?: { cause?: unknown }) {
    super(
      LOGIN_VARIABLES,
      `${LOGIN_VARIABLES}: the broker refused the login (SASL_AUTHENTICATION_FAILED: ${reason}): check the user and password (and KAFKA_SASL_MECHANISM)`,
    );
    if (options?.cause !== undefined) Object.defineProperty(this, 'cause', { value: options.cause, enumerable: false });
    this.name = 'KafkaLoginRefusedError';
  }
}

/** `err` as a KafkaLoginRefusedError when it is a refused SASL login, else null. */
export function loginRefusedError(err: unknown): KafkaLoginRefusedError | null {
  const refusal = loginRefusal(err);
  if (!refusal) return null;
  const reason = typeof refusal.message === 'string' && refusal.message !== '' ? printable(refusal.message) : 'no reason given';
  return new KafkaLoginRefusedError(reason, { cause: err });
}

/** True for the broker's TOPIC_AUTHORIZATION_FAILED (itself or as a cause). */
export function isTopicAuthorizationFailure(err: unknown): boolean {
  for (const e of causeChain(err)) if (e.type === 'TOPIC_AUTHORIZATION_FAILED') return true;
  return false;
}

/** A topic this principal may not DESCRIBE: the broker does not say whether it exists. */
export class TopicNotAuthorizedError extends Error {
  readonly code = 'TOPIC_AUTHORIZATION_FAILED' satisfies AccessRefusalCode;
  readonly retriable = false;
  constructor(
    readonly topic: string,
    /** The setting that chose the topic, when the caller knows it. */
    readonly variable?: string,
  ) {
    super(
      `topic ${topic}${variable ? ` (${variable})` : ''}: not authorized (TOPIC_AUTHORIZATION_FAILED): ` +
        `this principal has no DESCRIBE ACL on it, so the broker does not even say whether it exists; grant it the ACLs on the topic (README "Security")`,
    );
    this.name = 'TopicNotAuthorizedError';
  }
}
