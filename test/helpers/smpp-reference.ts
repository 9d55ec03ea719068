/**
 * node-smpp's own encoding of a submit_sm, the reference our hand-written bytes are held to
 * (unit property tests, `npm run bench:codec`), and one typical submit.
 */
import { smpp } from '../../src/smpp/session/library.js';
import type { SubmitParams } from '../../src/smpp/protocol/types.js';

export function librarySubmitSm(p: SubmitParams, sequence: number): Buffer {
  return new smpp.PDU('submit_sm', {
    sequence_number: sequence,
    service_type: p.serviceType ?? '',
    source_addr_ton: p.sourceAddrTon,
    source_addr_npi: p.sourceAddrNpi,
    source_addr: p.sourceAddr,
    dest_addr_ton: p.destAddrTon,
    dest_addr_npi: p.destAddrNpi,
    destination_addr: p.destinationAddr,
    esm_class: p.esmClass,
    protocol_id: p.protocolId ?? 0,
    priority_flag: p.priorityFlag ?? 0,
    schedule_delivery_time: p.scheduleDeliveryTime ?? '',
    validity_period: p.validityPeriod ?? '',
    registered_delivery: p.registeredDelivery,
    replace_if_present_flag: 0,
    data_coding: p.dataCoding,
    sm_default_msg_id: 0,
    short_message: p.shortMessage,
  }).toBuffer();
}

/** A one-part GSM submit with a receipt requested, as the planner makes them. */
export function sampleSubmit(text = 'hello'): SubmitParams {
  return {
    sourceAddr: 'ACME',
    sourceAddrTon: 5,
    sourceAddrNpi: 0,
    destinationAddr: '393471234567',
    destAddrTon: 1,
    destAddrNpi: 1,
    dataCoding: 0,
    esmClass: 0,
    registeredDelivery: 1,
    shortMessage: Buffer.from(text),
  };
}
