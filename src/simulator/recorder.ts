/**
 * PDU journal of the simulator: one JSON line per PDU in and out. It is the SMSC-side oracle of
 * the fault suite (docs/reliability.md §8: the SMSC side records every accepted submit_sm), so it
 * records what happened on the wire, not what the client believes.
 */
import { createWriteStream, type WriteStream } from 'node:fs';

export interface PduRecord {
  ts: number;
  conn: number;
  dir: 'in' | 'out';
  command: string;
  status: number;
  seq: number;
  systemId?: string;
  messageId?: string;
  destination?: string;
  source?: string;
  note?: string;
}

export class PduRecorder {
  private readonly stream: WriteStream | undefined;

  constructor(path: string | undefined) {
    this.stream = path ? createWriteStream(path, { flags: 'a' }) : undefined;
    // A journal write error must not crash the simulator; it is reported once.
    this.stream?.once('error', (error) => process.emitWarning(`simulator PDU journal: ${error.message}`));
  }

  record(entry: PduRecord): void {
    if (!this.stream || this.stream.destroyed) return;
    this.stream.write(`${JSON.stringify(entry)}\n`);
  }

  close(): Promise<void> {
    const stream = this.stream;
    if (!stream || stream.destroyed) return Promise.resolve();
    return new Promise((resolve) => stream.end(resolve));
  }
}
