/**
 * `produce`: sends test requests to the outbound topic with the client's `SmsProducer` (the
 * registry's wire format, the connector's own schema, acks=all, each request checked with the
 * connector's rules first) and reports each id.
 */
import { SmsProducer } from '../client/producer.js';
import { RequestRejectedError } from '../client/request.js';
import type { ClientConfig } from '../config.js';
import { maskMsisdn } from '../obs/mask.js';
import { printableLines } from '../obs/printable.js';
import { toolLogger } from './clients.js';
import type { KeyedRequest } from './request-input.js';

export interface SentRequest {
  id: string;
  key: string;
  to: string;
}

export interface ProduceOptions {
  showNumbers: boolean;
  /** Default true: refuse the whole input when the connector would reject a request of it. */
  validate?: boolean;
}

/** Thrown when requests of the input would be rejected; each was printed, nothing was sent. */
export class RejectedInputError extends Error {
  constructor(count: number) {
    super(`${count} request(s) would be rejected by the connector (listed above); nothing was sent`);
    this.name = 'RejectedInputError';
  }
}

export async function produceRequests(
  config: Readonly<ClientConfig>,
  requests: readonly KeyedRequest[],
  opts: ProduceOptions,
  printRaw: (line: string) => void,
): Promise<SentRequest[]> {
  const print = printableLines(printRaw);
  const show = (n: string) => (opts.showNumbers ? n : maskMsisdn(n));
  const producer = await SmsProducer.connect(config, { logger: toolLogger(), ...(config.requestChecks ?? {}) });
  let sent;
  try {
    sent = await producer.sendMany(requests, { validate: opts.validate ?? true });
  } catch (err) {
    if (!(err instanceof RequestRejectedError)) throw err;
    // Reasons never repeat a phone number (sms/address.ts); the id is the producer's own.
    for (const r of err.rejections) print(`rejected ${r.id}  ${r.status}/${r.category}  ${r.description}`);
    throw new RejectedInputError(err.rejections.length);
  } finally {
    await producer.close();
  }
  for (const { key, value } of sent) {
    print(`sent ${value.id}  key=${show(key)}  to=${show(value.to)}  from=${show(value.from)}  ${[...value.text].length} chars`);
  }
  print(`${sent.length} request(s) sent to ${config.topics.outbound}`);
  return sent.map(({ key, value }) => ({ id: value.id, key, to: value.to }));
}

/**
 * Records the connector must send to the DLQ (to try the DLQ alert, `redrive` and dashboards on a
 * test stack): each kind → the bytes, built from a valid request so only the named defect is wrong.
 */
export const POISON_KINDS = {
  'bad-magic': (valid: Buffer): Buffer | null => Buffer.concat([Buffer.from([1]), valid.subarray(1)]),
  'unknown-schema': (valid: Buffer): Buffer | null => Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0xff, 0x0f]), valid.subarray(5)]),
  truncated: (valid: Buffer): Buffer | null => valid.subarray(0, 8),
  'null-value': (): Buffer | null => null,
} as const;
export type PoisonKind = keyof typeof POISON_KINDS;

export async function producePoison(
  config: Readonly<ClientConfig>,
  kind: PoisonKind,
  template: KeyedRequest,
  count: number,
  printRaw: (line: string) => void,
): Promise<void> {
  const print = printableLines(printRaw);
  const producer = await SmsProducer.connect(config, { logger: toolLogger() });
  try {
    const value = POISON_KINDS[kind](producer.encode(template.value));
    const key = `poison-${kind}`;
    await producer.sendEncoded(Array.from({ length: count }, () => ({ key, value })));
  } finally {
    await producer.close();
  }
  print(`${count} ${kind} record(s) sent to ${config.topics.outbound} (key poison-${kind}); the connector sends them to the DLQ`);
}
