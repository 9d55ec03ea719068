/**
 * Typed declaration of the parts of node-smpp 0.5.1 (npm `smpp`) this project uses, and no more:
 * there is no @types package. The library is CommonJS: import it as `import smpp from 'smpp'`
 * (named ESM imports are not reliable because most exports are copied in a loop).
 *
 * Only library.ts and pdu-decode.ts import `smpp`; the session layer and the simulator reach it
 * through library.ts (docs/node-smpp.md). The field-table types below (FieldType … TlvDef) are
 * what pdu-decode.ts reads; the version is pinned exactly in package.json because of them.
 */
declare module 'smpp' {
  import { EventEmitter } from 'node:events';
  import type { Server as NetServer, Socket } from 'node:net';

  namespace smpp {
    /** Field codec of one PDU parameter (body field or TLV). */
    interface FieldType {
      read(buffer: Buffer, offset: number, length?: number): unknown;
      size(value: unknown): number;
    }

    /** A decode/encode filter attached to a field; `this` is the PDU. */
    interface FieldFilter {
      encode: (this: PDU, value: unknown) => unknown;
      decode: (this: PDU, value: unknown, skipUdh?: boolean) => unknown;
    }

    interface ParamDef {
      type: FieldType;
      filter?: FieldFilter;
    }

    interface CommandDef {
      id: number;
      command: string;
      params?: Record<string, ParamDef>;
      tlvMap?: Record<string, string>;
    }

    interface TlvDef {
      id: number;
      tag?: string;
      type: FieldType;
      filter?: FieldFilter;
      multiple?: boolean;
    }

    class PDU {
      constructor(command: string, options?: Record<string, unknown>);
      constructor(buffer: Buffer);
      command: string;
      command_id: number;
      command_length: number;
      command_status: number;
      sequence_number: number;
      /** Decoded body fields and TLVs, keyed by name (unknown TLVs by numeric tag). */
      [field: string]: unknown;
      isResponse(): boolean;
      /** A response PDU with the same sequence number; generic_nack for an unknown command. */
      response(options?: Record<string, unknown>): PDU;
      /** Encodes; THROWS on invalid input (e.g. a numeric destination_addr, short_message > 255). */
      toBuffer(): Buffer;
      static maxLength: number;
      static fromBuffer(buffer: Buffer): PDU | false;
      /** Reads one PDU's body (after its 4 length octets) from the socket; false when not all there yet. */
      static fromStream(stream: { read(size: number): Buffer | null }, commandLength: number): PDU | false;
      /** Reads the 4 command_length octets; false when not there yet; throws to reject a length. */
      static commandLength(stream: { read(size: number): Buffer | null }): number | false;
    }

    interface SessionOptions {
      host?: string;
      port?: number;
      tls?: boolean;
      socket?: Socket;
      /** Any Node net/tls connect option passes through (ca, servername, rejectUnauthorized…). */
      [option: string]: unknown;
    }

    type ResponseCallback = (pdu: PDU) => void;

    class Session extends EventEmitter {
      constructor(options: SessionOptions);
      socket: Socket;
      sequence: number;
      paused: boolean;
      /** Pending response callbacks keyed by sequence number — never cleaned up by the library. */
      _callbacks: Record<number, ResponseCallback | undefined>;
      server?: Server;
      /** Returns false (and calls nothing) when the socket is not writable. */
      send(pdu: PDU, responseCallback?: ResponseCallback, sendCallback?: ResponseCallback): boolean;
      pause(): void;
      resume(): void;
      close(callback?: () => void): void;
      destroy(callback?: () => void): void;
    }

    class Server extends NetServer {
      sessions: Session[];
    }

    interface ServerOptions {
      key?: Buffer | string;
      cert?: Buffer | string;
      [option: string]: unknown;
    }

    function createServer(options: ServerOptions, listener?: (session: Session) => void): Server;
    function connect(options: SessionOptions, listener?: () => void): Session;

    const commands: Record<string, CommandDef>;
    const commandsById: Record<number, CommandDef>;
    const tlvs: Record<string, TlvDef>;
    const tlvsById: Record<number, TlvDef>;
  }

  export = smpp;
}
