// Invariant: a failed registry call is sorted into the closed list by the error's class and HTTP
// status, never its message — waiting it out (retriable) only when waiting can help — and the errors
// a decoder throws are the pipeline's own port classes, whose `retriable` flag is all it reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import {
  ConfluentSchemaRegistryArgumentError,
  ConfluentSchemaRegistryCompatibilityError,
  ConfluentSchemaRegistryInvalidSchemaError,
} from '@kafkajs/confluent-schema-registry/dist/errors.js';
import { PoisonRecordError, RegistryRefusedError, RegistryUnavailableError } from '../../src/kafka/errors.js';
import { classifyRegistryError, failureOfStatus, registryError } from '../../src/kafka/registry-errors.js';
import { DecoderUnavailableError, UndecodableRecordError } from '../../src/pipeline/decode-errors.js';

test('an HTTP status maps to one code; only 401/403/404/409/422 are refusals', () => {
  const table: [number, string][] = [
    [400, 'REGISTRY_UNAVAILABLE'],
    [401, 'REGISTRY_UNAUTHORIZED'],
    [403, 'REGISTRY_UNAUTHORIZED'],
    [404, 'REGISTRY_NOT_FOUND'],
    [408, 'REGISTRY_UNAVAILABLE'],
    [409, 'SCHEMA_INCOMPATIBLE'],
    [422, 'SCHEMA_INVALID'],
    [429, 'REGISTRY_UNAVAILABLE'],
    [500, 'REGISTRY_UNAVAILABLE'],
    [503, 'REGISTRY_UNAVAILABLE'],
  ];
  for (const [status, code] of table) assert.equal(failureOfStatus(status), code, `HTTP ${status}`);
});

test('errors are classified by class: the message is never read', () => {
  const misleading = 'HTTP 404 not found; unauthorized; incompatible';
  assert.equal(classifyRegistryError(new ConfluentSchemaRegistryCompatibilityError(misleading)), 'COMPATIBILITY_LEVEL');
  assert.equal(classifyRegistryError(new ConfluentSchemaRegistryInvalidSchemaError(misleading)), 'SCHEMA_INVALID');
  assert.equal(classifyRegistryError(new ConfluentSchemaRegistryArgumentError(misleading)), 'SCHEMA_INVALID');
  assert.equal(classifyRegistryError(new RegistryUnavailableError(misleading)), 'REGISTRY_UNAVAILABLE');
  assert.equal(classifyRegistryError(new RegistryRefusedError('SCHEMA_INCOMPATIBLE', 'timed out')), 'SCHEMA_INCOMPATIBLE');
  assert.equal(classifyRegistryError(new Error(misleading)), 'REGISTRY_UNAVAILABLE');
  assert.equal(classifyRegistryError(undefined), 'REGISTRY_UNAVAILABLE');
  assert.equal(classifyRegistryError({ status: 409 }), 'SCHEMA_INCOMPATIBLE');
});

test('registryError: retriable only for REGISTRY_UNAVAILABLE, cause kept, a caller-specific message per code', () => {
  const down = registryError(new Error('socket hang up'), 'registering s');
  assert.ok(down instanceof RegistryUnavailableError);
  assert.equal(down.retriable, true);
  assert.ok(down.cause instanceof Error);
  const own = new RegistryUnavailableError('no answer');
  assert.equal(registryError(own, 'x'), own, 'our own unavailable error passes through');
  const refused = registryError({ status: 404 }, 'registering s', { REGISTRY_NOT_FOUND: 'wrong URL' });
  assert.ok(refused instanceof RegistryRefusedError);
  assert.equal(refused.retriable, false);
  assert.equal(refused.code, 'REGISTRY_NOT_FOUND');
  assert.equal(refused.message, 'wrong URL');
  const conflict = registryError({ status: 409 }, 'registering s');
  assert.equal(conflict.code, 'SCHEMA_INCOMPATIBLE');
  assert.match(conflict.message, /HTTP 409/);
});

test('the decoder errors extend the pipeline port classes, with their flags', () => {
  const poison = new PoisonRecordError('BAD_MAGIC_BYTE', 'magic byte 1');
  assert.ok(poison instanceof UndecodableRecordError);
  assert.equal(poison.retriable, false);
  assert.equal(poison.code, 'BAD_MAGIC_BYTE');
  const down = new RegistryUnavailableError('no answer');
  assert.ok(down instanceof DecoderUnavailableError);
  assert.equal(down.retriable, true);
  assert.equal(down.code, 'REGISTRY_UNAVAILABLE');
});

/** A registry that answers every request with `status` (and `body`), on a random port. */
async function fakeRegistry(status: number, body: unknown): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const SCHEMA = { type: SchemaType.AVRO as const, schema: JSON.stringify({ type: 'record', name: 'T', fields: [{ name: 'a', type: 'string' }] }) };

async function registerFailure(url: string): Promise<unknown> {
  const registry = new SchemaRegistry({ host: url, retry: { retries: 0 } });
  try {
    await registry.register(SCHEMA, { subject: 't-value', compatibility: COMPATIBILITY.BACKWARD });
  } catch (err) {
    return err;
  }
  return assert.fail('registration was expected to fail');
}

test('what the real registry library throws is classified: statuses, a level mismatch, a refused connection', async () => {
  const cases: [number, unknown, string][] = [
    [404, { error_code: 40401, message: 'not found' }, 'REGISTRY_NOT_FOUND'],
    [401, { error_code: 401, message: 'unauthorized' }, 'REGISTRY_UNAUTHORIZED'],
    [409, { error_code: 409, message: 'incompatible' }, 'SCHEMA_INCOMPATIBLE'],
    [500, { error_code: 50001, message: 'store error' }, 'REGISTRY_UNAVAILABLE'],
    [200, { compatibilityLevel: 'NONE' }, 'COMPATIBILITY_LEVEL'],
  ];
  for (const [status, body, code] of cases) {
    const { url, server } = await fakeRegistry(status, body);
    try {
      assert.equal(classifyRegistryError(await registerFailure(url)), code, `registry answering HTTP ${status}`);
    } finally {
      server.close();
    }
  }
  // A port nobody listens on: the library's HTTP layer reports it as status 400, which is an outage.
  const { url, server } = await fakeRegistry(200, {});
  await new Promise((resolve) => server.close(resolve));
  assert.equal(classifyRegistryError(await registerFailure(url)), 'REGISTRY_UNAVAILABLE');
});
