/**
 * Security posture of the configuration: weakened settings are named at start, CA and client
 * certificate files are read at start (a bad path stops the process naming the variable),
 * credentials never hide in URLs or go silently unused, and SMPP 3.4's credential lengths hold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadClientConfig, loadConfig, redactedConfig, securityWarnings } from '../../src/config.js';
import { sslOption } from '../../src/kafka/client.js';
import { registryAgent } from '../../src/kafka/registry-tls.js';

const required = { SMPP_SYSTEM_ID: 'acme', SMPP_PASSWORD: 's3cret' };
const dir = mkdtempSync(join(tmpdir(), 'cfg-posture-'));
const pem = (name: string, kind: string) => {
  const file = join(dir, name);
  writeFileSync(file, `-----BEGIN ${kind}-----\nTUlJQg==${name}\n-----END ${kind}-----\n`);
  return file;
};
const CA = pem('ca.pem', 'CERTIFICATE');
const CERT = pem('client.pem', 'CERTIFICATE');
const KEY = pem('client.key', 'PRIVATE KEY');
const NOT_PEM = join(dir, 'not.pem');
writeFileSync(NOT_PEM, 'hello');

function configError(env: Record<string, string>, loader: (e: Record<string, string>) => unknown = loadConfig): ConfigError {
  try {
    loader({ ...required, ...env });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.ok(!err.message.includes('\n'), 'one line');
    assert.match(err.message, new RegExp(`^${err.variable}: `), 'the line starts with the variable');
    return err;
  }
  return assert.fail(`expected a ConfigError for ${JSON.stringify(env)}`);
}

test('the defaults weaken nothing: no warning', () => {
  assert.deepEqual(securityWarnings(loadConfig(required)), []);
});

test('each weakened setting gives exactly one warning line naming it', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ SMPP_TLS: 'false' }, /^SMPP_TLS=false: .*clear text/],
    [{ SMPP_TLS_REJECT_UNAUTHORIZED: 'false' }, /^SMPP_TLS_REJECT_UNAUTHORIZED=false: .*not verified/],
    [
      { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'Kpw9' },
      /^KAFKA_SASL_MECHANISM=plain with KAFKA_SSL=false: the SASL password/,
    ],
    [
      { KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'Kpw9' },
      /^KAFKA_SASL_MECHANISM=scram-sha-512 with KAFKA_SSL=false: every record/,
    ],
    [{ SCHEMA_REGISTRY_USERNAME: 'r', SCHEMA_REGISTRY_PASSWORD: 'Rpw9' }, /^SCHEMA_REGISTRY_USERNAME with an http:\/\/ SCHEMA_REGISTRY_URL/],
  ];
  for (const [env, line] of cases) {
    const warnings = securityWarnings(loadConfig({ ...required, ...env }));
    assert.equal(warnings.length, 1, JSON.stringify(env));
    assert.match(warnings[0]!, line);
    assert.ok(!warnings[0]!.includes('\n'));
    assert.ok(!/s3cret|Kpw9|Rpw9/.test(warnings[0]!), 'no secret in the warning');
  }
});

test('the same settings over TLS do not warn', () => {
  const c = loadConfig({
    ...required,
    KAFKA_SSL: 'true',
    KAFKA_SASL_MECHANISM: 'plain',
    KAFKA_SASL_USERNAME: 'u',
    KAFKA_SASL_PASSWORD: 'p',
    SCHEMA_REGISTRY_URL: 'https://registry:8081',
    SCHEMA_REGISTRY_USERNAME: 'r',
    SCHEMA_REGISTRY_PASSWORD: 'rp',
  });
  assert.deepEqual(securityWarnings(c), []);
});

test('CA, certificate and key files are read at start and reach the Kafka and registry clients', () => {
  const c = loadConfig({
    ...required,
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA_FILE: CA,
    KAFKA_SSL_CERT_FILE: CERT,
    KAFKA_SSL_KEY_FILE: KEY,
    SCHEMA_REGISTRY_URL: 'https://registry:8081',
    SCHEMA_REGISTRY_CA_FILE: CA,
  });
  assert.match(c.kafka.pem.ca!, /ca\.pem/);
  assert.match(c.kafka.pem.cert!, /client\.pem/);
  assert.match(c.kafka.pem.key!, /PRIVATE KEY/);
  assert.deepEqual(c.registry.pem, { ca: c.kafka.pem.ca, cert: null, key: null });
  const ssl = sslOption(c.kafka) as { ca: string; cert: string; key: string };
  assert.equal(ssl.ca, c.kafka.pem.ca);
  assert.equal(ssl.key, c.kafka.pem.key);
  assert.equal(sslOption({ ...c.kafka, pem: { ca: null, cert: null, key: null } }), true, "no files: Node's public CAs");
  assert.ok(registryAgent(c.registry.url, c.registry.pem), 'an agent with the CA for the registry');
  assert.equal(registryAgent('http://r:8081', c.registry.pem), undefined);
  // the client tools read the same files
  const tools = loadClientConfig({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: CA });
  assert.equal(tools.kafka.pem.ca, c.kafka.pem.ca);
  // the start-up log line names which files are set, never their contents
  const logged = JSON.stringify(redactedConfig(c));
  assert.ok(!logged.includes('PRIVATE KEY') && !logged.includes('BEGIN'), logged);
  assert.ok(logged.includes('"pem":["ca","cert","key"]'), logged);
});

test('a missing, unreadable or non-PEM file stops start-up naming its variable', () => {
  const tls = { KAFKA_SSL: 'true', SCHEMA_REGISTRY_URL: 'https://r:8081', SMPP_TLS: 'true' };
  for (const variable of ['KAFKA_SSL_CA_FILE', 'SCHEMA_REGISTRY_CA_FILE', 'SMPP_TLS_CA_FILE']) {
    const missing = configError({ ...tls, [variable]: '/nonexistent/ca.pem' });
    assert.equal(missing.variable, variable);
    assert.match(missing.message, /cannot read \/nonexistent\/ca\.pem \(ENOENT\)/);
    const notPem = configError({ ...tls, [variable]: NOT_PEM });
    assert.equal(notPem.variable, variable);
    assert.match(notPem.message, /not a PEM file/);
  }
  const cert = configError({ ...tls, SCHEMA_REGISTRY_CERT_FILE: '/nonexistent/c.pem', SCHEMA_REGISTRY_KEY_FILE: KEY });
  assert.equal(cert.variable, 'SCHEMA_REGISTRY_CERT_FILE');
  assert.equal(configError({ ...tls, KAFKA_SSL_CA_FILE: '/nope' }, loadClientConfig).variable, 'KAFKA_SSL_CA_FILE', 'the tools too');
});

test('a certificate without its key (or the reverse), or TLS files for a plaintext connection, are config errors', () => {
  assert.equal(configError({ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: CERT }).variable, 'KAFKA_SSL_KEY_FILE');
  assert.equal(configError({ SCHEMA_REGISTRY_URL: 'https://r', SCHEMA_REGISTRY_KEY_FILE: KEY }).variable, 'SCHEMA_REGISTRY_CERT_FILE');
  assert.match(configError({ KAFKA_SSL_CA_FILE: CA }).message, /^KAFKA_SSL_CA_FILE: needs KAFKA_SSL=true/);
  assert.match(configError({ SCHEMA_REGISTRY_CA_FILE: CA }).message, /^SCHEMA_REGISTRY_CA_FILE: needs an https:\/\/ SCHEMA_REGISTRY_URL/);
  assert.match(configError({ SMPP_TLS: 'false', SMPP_TLS_CA_FILE: CA }).message, /^SMPP_TLS_CA_FILE: needs SMPP_TLS=true/);
});

test('a registry URL with credentials in it is refused, pointing to the variables, and never printed', () => {
  for (const url of ['https://alice:Secr3tPw@registry:8081', 'http://alice@registry:8081/apis/ccompat/v7', 'ftp://alice:Secr3tPw@x']) {
    for (const loader of [loadConfig, loadClientConfig]) {
      const err = configError({ SCHEMA_REGISTRY_URL: url }, loader);
      assert.equal(err.variable, 'SCHEMA_REGISTRY_URL');
      assert.match(err.message, /SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD/);
      assert.ok(!err.message.includes('Secr3tPw') && !err.message.includes('alice'), err.message);
    }
  }
  // an @ in the path is not a credential
  assert.equal(loadConfig({ ...required, SCHEMA_REGISTRY_URL: 'http://registry:8081/a@b' }).registry.url, 'http://registry:8081/a@b');
});

test('a password without its username (or SASL credentials without a mechanism) is a config error', () => {
  for (const loader of [loadConfig, loadClientConfig]) {
    assert.equal(configError({ SCHEMA_REGISTRY_PASSWORD: 'rp' }, loader).variable, 'SCHEMA_REGISTRY_USERNAME');
    assert.equal(configError({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD: 'p' }, loader).variable, 'KAFKA_SASL_USERNAME');
    assert.equal(configError({ KAFKA_SASL_PASSWORD: 'p' }, loader).variable, 'KAFKA_SASL_USERNAME');
    assert.equal(configError({ KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }, loader).variable, 'KAFKA_SASL_MECHANISM');
  }
  const pwFile = join(dir, 'regpw');
  writeFileSync(pwFile, 'rp\n');
  assert.equal(configError({ SCHEMA_REGISTRY_PASSWORD_FILE: pwFile }).variable, 'SCHEMA_REGISTRY_USERNAME', 'from a file too');
});

test('SMPP_SYSTEM_ID over 15 or SMPP_PASSWORD over 8 characters stop start-up naming the SMPP 3.4 limit, unless allowed', () => {
  assert.ok(loadConfig({ SMPP_SYSTEM_ID: 'a'.repeat(15), SMPP_PASSWORD: 'b'.repeat(8) }), 'the limits themselves are fine');
  const id = configError({ SMPP_SYSTEM_ID: 'a'.repeat(16) });
  assert.equal(id.variable, 'SMPP_SYSTEM_ID');
  assert.match(id.message, /is 16 characters but SMPP 3\.4 allows at most 15 .*0x02.*SMPP_ALLOW_LONG_CREDENTIALS=true/);
  const pw = configError({ SMPP_PASSWORD: 'LongPassw0rd!' });
  assert.equal(pw.variable, 'SMPP_PASSWORD');
  assert.match(pw.message, /is 13 characters but SMPP 3\.4 allows at most 8/);
  assert.ok(!pw.message.includes('LongPassw0rd!'), 'the password is not echoed');
  const allowed = loadConfig({ SMPP_SYSTEM_ID: 'a'.repeat(20), SMPP_PASSWORD: 'LongPassw0rd!', SMPP_ALLOW_LONG_CREDENTIALS: 'true' });
  assert.equal(allowed.smpp.password, 'LongPassw0rd!');
});
