// Invariant (issue 21 §3): `SmsDeliveryEvent` gained `route` as a compatible evolution — the registry's
// compatibility endpoint accepts it over the schema before it (BACKWARD and FORWARD), a consumer still on
// the old schema reads the new events, and a new consumer reads old events with `route` null.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import avro from 'avsc';
import { testStack, uniqueSubject } from '../helpers/stack.js';

interface AvroRecordSchema {
  type: 'record';
  name: string;
  namespace?: string;
  fields: Array<{ name: string }>;
}

const current = JSON.parse(readFileSync(new URL('../../schemas/sms-delivery.avsc', import.meta.url), 'utf8')) as AvroRecordSchema;
/** The schema as it was before routes: the same without its `route` field. */
const before: AvroRecordSchema = { ...current, fields: current.fields.filter((f) => f.name !== 'route') };

async function compatible(registryUrl: string, subject: string, schema: AvroRecordSchema): Promise<boolean> {
  const answer = await fetch(`${registryUrl}/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ schema: JSON.stringify(schema) }),
  });
  const body = await answer.text();
  assert.equal(answer.status, 200, `compatibility check answered HTTP ${answer.status}: ${body}`);
  return (JSON.parse(body) as { is_compatible: boolean }).is_compatible;
}

async function register(registryUrl: string, subject: string, schema: AvroRecordSchema): Promise<void> {
  const answer = await fetch(`${registryUrl}/subjects/${encodeURIComponent(subject)}/versions`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ schema: JSON.stringify(schema) }),
  });
  const body = await answer.text();
  assert.equal(answer.status, 200, `register answered HTTP ${answer.status}: ${body}`);
}

async function setLevel(registryUrl: string, subject: string, level: string): Promise<void> {
  const answer = await fetch(`${registryUrl}/config/${encodeURIComponent(subject)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ compatibility: level }),
  });
  assert.equal(answer.status, 200);
}

test('the route field is a compatible evolution of SmsDeliveryEvent, both ways, and old and new readers read each other', async () => {
  const { registryUrl } = await testStack();
  for (const level of ['BACKWARD', 'FORWARD']) {
    const subject = uniqueSubject(`delivery-evolution-${level.toLowerCase()}`);
    await register(registryUrl, subject, before);
    await setLevel(registryUrl, subject, level);
    assert.equal(await compatible(registryUrl, subject, current), true, `${level}: the registry accepts the schema with route`);
    // the check can fail: a field without a default is refused
    const breaking = { ...current, fields: [...current.fields, { name: 'mandatory', type: 'string' }] };
    if (level === 'BACKWARD') assert.equal(await compatible(registryUrl, subject, breaking), false, 'a field without default is refused');
  }

  const newType = avro.Type.forSchema(current as avro.Schema);
  const oldType = avro.Type.forSchema(before as avro.Schema);
  const event = {
    eventId: 'e1',
    id: 'r1',
    source: 'SUBMIT',
    status: 'SUBMITTED',
    segment: 1,
    segments: 1,
    messageId: 'AGILE-1',
    errorCode: null,
    errorCodeRaw: null,
    errorCategory: null,
    errorDescription: null,
    retryable: false,
    attempts: 1,
    from: 'ACME',
    to: '393471234567',
    submittedAt: null,
    doneAt: null,
    eventAt: null,
    metadata: {},
  };
  const oldReadsNew = oldType.createResolver(newType);
  const readByOld = oldType.fromBuffer(newType.toBuffer({ ...event, route: 'backup' }), oldReadsNew) as Record<string, unknown>;
  assert.equal(readByOld['messageId'], 'AGILE-1');
  assert.equal('route' in readByOld, false, 'an old consumer simply does not see the new field');
  const newReadsOld = newType.createResolver(oldType);
  const readByNew = newType.fromBuffer(oldType.toBuffer(event), newReadsOld) as Record<string, unknown>;
  assert.equal(readByNew['route'], null, 'old events read as route null');
});
