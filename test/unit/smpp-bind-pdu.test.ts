// The bind as the provider's login table asks for it, and what a refused bind leads to.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bindRefusalKind, bindRetryFloorMs, buildBindPdu } from '../../src/smpp/bind.js';
import { smpp } from '../../src/smpp/library.js';

test('bind PDU: SMPP 3.4, TON 1 / NPI 1, empty system_type and address_range — on the wire, decoded back', () => {
  for (const [mode, command] of [['tx', 'bind_transmitter'], ['rx', 'bind_receiver'], ['trx', 'bind_transceiver']] as const) {
    const bytes = buildBindPdu(mode, 'acme', 's3cret', 7).toBuffer();
    const decoded = smpp.PDU.fromBuffer(bytes) as Record<string, unknown>;
    assert.equal(decoded['command'], command);
    assert.equal(decoded['sequence_number'], 7);
    assert.equal(decoded['system_id'], 'acme');
    assert.equal(decoded['password'], 's3cret');
    assert.equal(decoded['system_type'], '');
    assert.equal(decoded['interface_version'], 0x34, 'node-smpp would send 0x50 (SMPP 5.0) by default');
    assert.equal(decoded['addr_ton'], 1);
    assert.equal(decoded['addr_npi'], 1);
    assert.equal(decoded['address_range'], '');
  }
});

test('bind refusals: credentials and the bind limit get the long backoff; 0x08 and 0x14 wait at least the table delay', () => {
  assert.deepEqual([0x0d, 0x0e, 0x0f].map(bindRefusalKind), ['credentials', 'credentials', 'credentials']);
  assert.equal(bindRefusalKind(0x05), 'bind-limit');
  assert.equal(bindRefusalKind(0x08), 'other');
  assert.equal(bindRetryFloorMs(0x08), 3_000, 'the provider: "try again after a few seconds"');
  assert.equal(bindRetryFloorMs(0x14), 5_000);
  assert.equal(bindRetryFloorMs(0x03), 0, 'a permanent protocol error has no table delay: the backoff alone');
});
