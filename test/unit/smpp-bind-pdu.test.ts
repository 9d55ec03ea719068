// The bind as the provider's login table asks for it, and what a refused bind leads to.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bindRefusalKind, bindRefusalText, bindRetryFloorMs, buildBindPdu } from '../../src/smpp/session/bind.js';
import { smpp } from '../../src/smpp/session/library.js';

test('bind PDU: SMPP 3.4, TON 1 / NPI 1, empty system_type and address_range — on the wire, decoded back', () => {
  for (const [mode, command] of [
    ['tx', 'bind_transmitter'],
    ['rx', 'bind_receiver'],
    ['trx', 'bind_transceiver'],
  ] as const) {
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
  assert.deepEqual(
    [0x02, 0x0d, 0x0e, 0x0f].map(bindRefusalKind),
    ['credentials', 'credentials', 'credentials', 'credentials'],
    '0x02 to a bind is a malformed bind: a reconnect cannot fix it',
  );
  assert.equal(bindRefusalKind(0x05), 'bind-limit');
  assert.equal(bindRefusalKind(0x08), 'other');
  assert.equal(bindRetryFloorMs(0x08), 3_000, 'the provider: "try again after a few seconds"');
  assert.equal(bindRetryFloorMs(0x14), 5_000);
  assert.equal(bindRetryFloorMs(0x03), 0, 'a permanent protocol error has no table delay: the backoff alone');
});

test('a refused bind says what it usually means: 0x02 names the SMPP 3.4 field limits and which credential is over (lengths, never values)', () => {
  const long = bindRefusalText(0x02, 'a-sixteen-chars!', 'nine-char');
  assert.match(long, /^SMPP bind refused 0x02: ESME_RINVCMDLEN/);
  assert.match(long, /system_id at most 15 characters, password at most 8/);
  assert.match(long, /here system_id is 16 characters \(SMPP 3.4 allows 15\), password is 9 characters \(SMPP 3.4 allows 8\)/);
  assert.ok(!long.includes('a-sixteen-chars!') && !long.includes('nine-char'), 'the values are not echoed');
  const fits = bindRefusalText(0x02, 'fifteen-chars-x', 'eight-ch');
  assert.doesNotMatch(fits, /here/, 'no length remark when both fit');
  assert.match(fits, /wrong credentials/);
  assert.match(bindRefusalText(0x0e, 'acme', 'pw'), /invalid credentials: check the system id and password/);
  assert.match(bindRefusalText(0x0d, 'acme', 'pw'), /bind failed/);
  assert.match(bindRefusalText(0x0f, 'acme', 'pw'), /invalid system id/);
  assert.match(bindRefusalText(0x05, 'acme', 'pw'), /bind limit/);
  assert.match(bindRefusalText(0x77, 'acme', 'pw'), /^SMPP bind refused 0x77: see the provider's status table$/);
});
