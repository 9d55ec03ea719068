/**
 * Bench role (c): the naive loop — kafkajs + confluent-schema-registry + node-smpp wired the
 * simplest way, with none of the connector's guarantees: kafkajs auto-commit, no per-key order,
 * no correlation index, no pacing, no retries, deliver_sm answered before its event is written.
 * It keeps only what any working loop needs to be fast: eachBatch with a window per bind and one
 * produce call per batch (receipts are flushed every 5 ms).
 *
 * env: BROKERS, REGISTRY_URL, TOPIC_OUTBOUND, TOPIC_DELIVERY, GROUP, SMPP_PORT, SESSIONS, WINDOW.
 * Requests: stats → { submitted, submitEvents, receiptEvents, receipts }.
 */
import { readFileSync } from 'node:fs';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { smpp, type LibrarySession, type Pdu } from '../../../src/smpp/session/library.js';
import { kafkaClient, serveRole } from '../common.js';

const env = process.env as Record<string, string>;
const registry = new SchemaRegistry({ host: env['REGISTRY_URL']! });
const deliverySchema = readFileSync(new URL('../../../schemas/sms-delivery.avsc', import.meta.url), 'utf8');
const counters = { submitted: 0, submitEvents: 0, receipts: 0, receiptEvents: 0 };

interface Bind {
  session: LibrarySession;
  inFlight: number;
  waiters: Array<() => void>;
}

function bind(port: number): Promise<Bind> {
  return new Promise((resolve, reject) => {
    const session = smpp.connect({ host: '127.0.0.1', port }, () => {
      session.send(new smpp.PDU('bind_transceiver', { system_id: 'test', password: 'secret' }), (resp) =>
        resp.command_status === 0 ? resolve({ session, inFlight: 0, waiters: [] }) : reject(new Error(`bind ${resp.command_status}`)),
      );
    });
    session.on('error', reject);
  });
}

const event = (id: string, status: string, source: string, messageId: string | null, from: string, to: string, metadata: Record<string, string>) => ({
  eventId: `${id}:${status}:${messageId}`,
  id,
  source,
  status,
  segment: 1,
  segments: 1,
  messageId,
  errorCode: null,
  errorCodeRaw: null,
  errorCategory: null,
  errorDescription: null,
  retryable: false,
  attempts: 1,
  from,
  to,
  submittedAt: Date.now(),
  doneAt: null,
  eventAt: Date.now(),
  metadata,
});

try {
  const { id: deliveryId } = await registry.register({ type: SchemaType.AVRO, schema: deliverySchema }, { subject: `${env['TOPIC_DELIVERY']}-value` });
  const kafka = kafkaClient({ kafkaBrokers: env['BROKERS']!, registryUrl: env['REGISTRY_URL']! }, 'naive');
  const producer = kafka.producer();
  await producer.connect();
  const binds = await Promise.all(Array.from({ length: Number(env['SESSIONS'] ?? 4) }, () => bind(Number(env['SMPP_PORT']))));
  const window = Number(env['WINDOW'] ?? 10);
  let rr = 0;

  // Receipts: answer at once, write the event later (no guarantee), flushed every 5 ms.
  let receiptBuffer: Array<{ key: string; value: Buffer }> = [];
  setInterval(() => {
    if (receiptBuffer.length === 0) return;
    const messages = receiptBuffer;
    receiptBuffer = [];
    void producer.send({ topic: env['TOPIC_DELIVERY']!, messages }).then(() => (counters.receiptEvents += messages.length));
  }, 5).unref();
  for (const b of binds) {
    b.session.on('pdu', (pdu: Pdu) => {
      if (pdu.command !== 'deliver_sm') return;
      b.session.send(pdu.response());
      counters.receipts++;
      const text = Buffer.isBuffer(pdu['short_message']) ? pdu['short_message'].toString('latin1') : '';
      const messageId = /id:(\S+)/.exec(text)?.[1] ?? '';
      const status = /stat:DELIVRD/.test(text) ? 'DELIVERED' : 'UNDELIVERED';
      void registry
        .encode(deliveryId, event(`unknown:${messageId}`, status, 'RECEIPT', messageId, String(pdu['destination_addr']), String(pdu['source_addr']), {}))
        .then((value) => receiptBuffer.push({ key: messageId, value }));
    });
  }

  const submit = async (req: Record<string, unknown>): Promise<string | null> => {
    const b = binds[rr++ % binds.length]!;
    while (b.inFlight >= window) await new Promise<void>((r) => b.waiters.push(r));
    b.inFlight++;
    return new Promise((resolve) => {
      b.session.send(
        new smpp.PDU('submit_sm', {
          source_addr_ton: 5,
          source_addr: String(req['from']),
          dest_addr_ton: 1,
          dest_addr_npi: 1,
          destination_addr: String(req['to']).replace(/^\+/, ''),
          registered_delivery: req['requestDeliveryReport'] ? 1 : 0,
          data_coding: 0,
          short_message: Buffer.from(String(req['text'])),
        }),
        (resp) => {
          b.inFlight--;
          b.waiters.shift()?.();
          counters.submitted++;
          resolve(resp.command_status === 0 ? String(resp['message_id']) : null);
        },
      );
    });
  };

  const consumer = kafka.consumer({ groupId: env['GROUP']! });
  await consumer.connect();
  await consumer.subscribe({ topic: env['TOPIC_OUTBOUND']!, fromBeginning: true });
  await consumer.run({
    partitionsConsumedConcurrently: 12,
    eachBatch: async ({ batch }) => {
      const messages = await Promise.all(
        batch.messages.map(async (m) => {
          const req = (await registry.decode(m.value!)) as Record<string, unknown>;
          const messageId = await submit(req);
          const id = String(req['id']);
          const e = event(
            id,
            messageId ? 'SUBMITTED' : 'REJECTED',
            'SUBMIT',
            messageId,
            String(req['from']),
            String(req['to']),
            req['metadata'] as Record<string, string>,
          );
          return { key: id, value: await registry.encode(deliveryId, e) };
        }),
      );
      await producer.send({ topic: env['TOPIC_DELIVERY']!, messages });
      counters.submitEvents += messages.length;
    },
  });
  serveRole({ stats: () => ({ ...counters }) }, async () => {
    await consumer.disconnect();
    for (const b of binds) b.session.destroy();
    await producer.disconnect();
  });
  process.send?.({ type: 'ready' });
} catch (err) {
  process.send?.({ type: 'failed', error: (err as Error).message });
  process.exit(1);
}
