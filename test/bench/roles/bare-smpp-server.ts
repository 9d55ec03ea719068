/**
 * Bench role (a): the smallest node-smpp server that answers bind and submit_sm at once —
 * no accounts, no pacing, no receipts, no journal. The SMPP ceiling's far end.
 */
import type { AddressInfo } from 'node:net';
import { smpp, type Pdu } from '../../../src/smpp/session/library.js';
import { serveRole } from '../common.js';

let submits = 0;
let nextId = 1;
const server = smpp.createServer({}, (session) => {
  session.on('error', () => undefined);
  session.on('pdu', (pdu: Pdu) => {
    if (pdu.command === 'submit_sm') {
      submits++;
      session.send(pdu.response({ message_id: `M${nextId++}` }));
    } else if (pdu.command === 'bind_transceiver' || pdu.command === 'enquire_link' || pdu.command === 'unbind') {
      session.send(pdu.response());
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  serveRole({ stats: () => ({ submits }) }, () => new Promise<void>((r) => server.close(() => r())));
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
});
