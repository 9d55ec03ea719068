/**
 * Bind PDU and the classification of bind refusals.
 *
 * node-smpp defaults interface_version to 0x50 (SMPP 5.0, defect 13); the provider speaks 3.4,
 * so every field is explicit here, following the provider's login table (system_type and
 * address_range empty, TON 1, NPI 1).
 */
import { smpp, type Pdu } from './library.js';
import { submitStatus } from './status.js';
import type { BindMode } from './types.js';

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
 * Bind refusals that a reconnect cannot fix quickly: credentials (0x0D bind failed, 0x0E invalid
 * password, 0x0F invalid system_id — the provider's table mislabels 13 as 0x0E, see DESIGN.md)
 * and 0x05 (already bound: the account's bind limit is used up). They get the long backoff and
 * the `not-ready` state, never a tight reconnect loop.
 */
export function bindRefusalKind(status: number): 'credentials' | 'bind-limit' | 'other' {
  if (status === 0x0d || status === 0x0e || status === 0x0f) return 'credentials';
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
