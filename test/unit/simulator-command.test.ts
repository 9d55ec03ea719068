/**
 * The simulator's flags map to its options as --help promises: a flag (or its SIM_* variable) wins
 * over the same field in --behaviour-json, a default never does, and TLS without its files is refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simulatorOptionsFrom, type SimulatorFlags } from '../../src/simulator/simulator-command.js';

const DEFAULTS: SimulatorFlags = {
  host: '127.0.0.1',
  plainPort: 2775,
  tlsPort: null,
  systemId: 'test',
  password: 'secret',
  maxBinds: 4,
  rate: 100,
  idleTimeoutMs: 300_000,
  receiptDelayMs: 20,
  latencyMs: 0,
};

test('defaults leave the behaviour to the Agile profile and give one test account on the plain port', () => {
  const options = simulatorOptionsFrom(DEFAULTS, () => false);
  assert.deepEqual(options.behaviour, {});
  assert.equal(options.plainPort, 2775);
  assert.equal(options.tlsPort, null);
  assert.deepEqual(options.accounts, { test: 'secret' });
});

test('an explicit flag wins over --behaviour-json; a defaulted one leaves the JSON as it is', () => {
  const flags: SimulatorFlags = { ...DEFAULTS, rate: 7, receiptDelayMs: 20, behaviourJson: { throughputPerSecond: 3, receiptDelayMs: 5 } };
  const options = simulatorOptionsFrom(flags, (flag) => flag === 'rate');
  assert.equal(options.behaviour?.throughputPerSecond, 7);
  assert.equal(options.behaviour?.receiptDelayMs, 5);
});

test('a TLS port without certificate and key is refused', () => {
  assert.throws(() => simulatorOptionsFrom({ ...DEFAULTS, tlsPort: 0 }, () => true), /--tls-port needs --tls-cert-file and --tls-key-file/);
});
