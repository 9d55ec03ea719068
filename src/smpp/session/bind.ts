/**
 * Bind PDU and the classification of bind refusals.
 *
 * node-smpp defaults interface_version to 0x50 (SMPP 5.0, defect 13); the provider speaks 3.4,
 * so every field is explicit here, following the provider's login table (system_type and
 * address_range empty, TON 1, NPI 1).
 */
import { smpp, type Pdu } from './library.js';
import { BIND_FIELD_LIMITS } from '../protocol/pdu-encode.js';
import { submitStatus } from '../protocol/status.js';
import type { BindMode } from '../protocol/types.js';

const BIND_COMMAND: Record<BindMode, string> = {
  tx: 'bind_transmitter',
  rx: 'bind_receiver',
  trx: 'bind_transceiver',
};

export function buildBindPdu(mode: BindMode, systemId: string, password: string, sequenceNumber: number): Pdu {
  return new smpp.PDU(BIND_COMMAND[mode], {
    sequence_number: sequenceNumber,
    system_id: systemId,
    password,
    system_type: '',
    interface_version: 0x34,
    addr_ton: 1,
    addr_npi: 1,
    address_range: '',
  });
}

/** True when `pdu` is the positive response to a bind of `mode`. */
export function isBindOk(mode: BindMode, pdu: Pdu): boolean {
  return pdu.command === `${BIND_COMMAND[mode]}_resp` && pdu.command_status === 0;
}

/**
 * What a refused bind usually means, by command_status — for the log line and lastError(), in
 * the provider's words where its table has the status (0x0E, 0x08, 0x15), SMPP 3.4's otherwise.
 * 0x02 is the one that puzzles: a 3.4 SMSC reading a system_id or password longer than its
 * field finds the PDU's length inconsistent with its fields.
 */
const BIND_REFUSALS: Readonly<Record<number, string>> = {
  0x02: `ESME_RINVCMDLEN, command length invalid: usually a bind field over its SMPP 3.4 limit — system_id at most ${BIND_FIELD_LIMITS.system_id} characters, password at most ${BIND_FIELD_LIMITS.password}; some SMSCs also answer it for wrong credentials`,
  0x05: "ESME_RALYBND, already bound: the account's bind limit is used up — lower the session count or ask the provider",
  0x08: 'ESME_RSYSERR, system error at the SMSC: it retries after a few seconds',
  0x0d: 'ESME_RBINDFAIL, bind failed: usually a wrong system id or password, or a source IP the account is not bound to',
  0x0e: 'ESME_RINVPASWD, invalid credentials: check the system id and password',
  0x0f: 'ESME_RINVSYSID, invalid system id: check the system id',
  0x15: 'invalid system_type: the provider wants it empty (it is sent empty)',
  0x53: 'ESME_RINVSYSTYP, invalid system_type: the provider wants it empty (it is sent empty)',
};

/**
 * One line on a refused bind: the status, what it usually means, and — when a credential is
 * over its SMPP 3.4 field limit — which one and by how much (lengths only, never the values).
 */
export function bindRefusalText(status: number, systemId: string, password: string): string {
  const meaning = BIND_REFUSALS[status] ?? "see the provider's status table";
  const over: string[] = [];
  const systemIdLength = Buffer.byteLength(systemId, 'latin1');
  const passwordLength = Buffer.byteLength(password, 'latin1');
  if (systemIdLength > BIND_FIELD_LIMITS.system_id) over.push(`system_id is ${systemIdLength} characters (SMPP 3.4 allows ${BIND_FIELD_LIMITS.system_id})`);
  if (passwordLength > BIND_FIELD_LIMITS.password) over.push(`password is ${passwordLength} characters (SMPP 3.4 allows ${BIND_FIELD_LIMITS.password})`);
  return `SMPP bind refused ${hex(status)}: ${meaning}${over.length > 0 ? `; here ${over.join(', ')}` : ''}`;
}

/**
 * Bind refusals that a reconnect cannot fix quickly: credentials (0x0D bind failed, 0x0E invalid
 * password, 0x0F invalid system_id — the provider's table mislabels 13 as 0x0E, see docs/design.md §11),
 * 0x02 (a malformed bind: over-long credentials, see BIND_REFUSALS) and 0x05 (already bound: the
 * account's bind limit is used up). They get the long backoff and the `not-ready` state, never
 * a tight reconnect loop.
 */
export function bindRefusalKind(status: number): 'credentials' | 'bind-limit' | 'other' {
  if (status === 0x02 || status === 0x0d || status === 0x0e || status === 0x0f) return 'credentials';
  if (status === 0x05) return 'bind-limit';
  return 'other';
}

/**
 * The least wait before binding again after an `other` refusal: the status table's own delay (0x08
 * "try again after a few seconds" → 3 s, 0x14 queue full → 5 s); the reconnect backoff may wait longer.
 */
export function bindRetryFloorMs(status: number): number {
  return status === 0 ? 0 : (submitStatus(status).retryDelayMs ?? 0);
}

export function hex(status: number): string {
  return `0x${status.toString(16).toUpperCase().padStart(2, '0')}`;
}

/** Submit-capable modes. */
export function canSubmit(mode: BindMode): boolean {
  return mode === 'tx' || mode === 'trx';
}

/** Receipt-capable modes. */
export function canReceive(mode: BindMode): boolean {
  return mode === 'rx' || mode === 'trx';
}
