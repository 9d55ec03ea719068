/**
 * `produce`: sends test requests to the outbound topic through the registry (Confluent wire format,
 * the connector's own schema), acks=all, and reports each id.
 */
import type { ClientConfig } from '../config.js';
import { maskMsisdn } from '../obs/mask.js';
import { printableLines } from '../obs/printable.js';
import { openClients, requireTopic } from './clients.js';
import type { AvroCodec } from '../kafka/codec.js';
import type { KeyedRequest } from './request-input.js';

export interface SentRequest {
  id: string;
  key: string;
  to: string;
}

const BATCH = 500;

export async function produceRequests(
  config: Readonly<ClientConfig>,
  requests: readonly KeyedRequest[],
  opts: { showNumbers: boolean },
  printRaw: (line: string) => void,
): Promise<SentRequest[]> {
  const print = printableLines(printRaw);
  const { kafka, codec } = await openClients(config, { register: true });
  await requireTopic(kafka, config.topics.outbound, 'TOPIC_OUTBOUND');
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  const sent: SentRequest[] = [];
  const show = (n: string) => (opts.showNumbers ? n : maskMsisdn(n));
  try {
    for (let i = 0; i < requests.length; i += BATCH) {
      const chunk = requests.slice(i, i + BATCH);
      const messages = chunk.map((r) => ({ key: r.key, value: codec.encodeOutbound(r.value) }));
      await producer.send({ topic: config.topics.outbound, acks: -1, messages });
      for (const r of chunk) {
        sent.push({ id: r.value.id, key: r.key, to: r.value.to });
        print(`sent ${r.value.id}  key=${show(r.key)}  to=${show(r.value.to)}  from=${show(r.value.from)}  ${[...r.value.text].length} chars`);
      }
    }
  } finally {
    await producer.disconnect();
  }
  print(`${sent.length} request(s) sent to ${config.topics.outbound}`);
  return sent;
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
  const { kafka, codec } = await openClients(config, { register: true });
  await requireTopic(kafka, config.topics.outbound, 'TOPIC_OUTBOUND');
  const value = poisonBytes(codec, kind, template);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const key = `poison-${kind}`;
    await producer.send({ topic: config.topics.outbound, acks: -1, messages: Array.from({ length: count }, () => ({ key, value })) });
  } finally {
    await producer.disconnect();
  }
  print(`${count} ${kind} record(s) sent to ${config.topics.outbound} (key poison-${kind}); the connector sends them to the DLQ`);
}

export function poisonBytes(codec: AvroCodec, kind: PoisonKind, template: KeyedRequest): Buffer | null {
  return POISON_KINDS[kind](codec.encodeOutbound(template.value));
}
