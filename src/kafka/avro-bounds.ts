/**
 * Bounded Avro decoding. avsc trusts the counts in the bytes: an array or map block says how many
 * items follow and avsc loops that many times, reading past the end of the buffer without noticing
 * (it checks the end only once, after the whole value). A 5-byte body under
 * `{"type":"array","items":"null"}` decodes into 8 million elements; a 10-byte count under any
 * array or map (our own `metadata` included) loops for hours.
 *
 * The bound, and why it holds:
 * 1. `unboundedArrays` refuses, once per writer schema, any array whose item type encodes in zero
 *    bytes (null, fixed of size 0, a record of such fields). Every other item — and every map
 *    entry, which starts with its key's length — takes at least one byte.
 * 2. `bodyCheck` walks the body along the writer schema before avsc does, and refuses a block count
 *    larger than the bytes left (each item needs ≥ 1 of them), a length or a fixed past the end,
 *    a union or enum index out of range, a negative block whose items do not fill exactly its
 *    declared size (avsc *skips* such blocks by that size, so the two walks must agree), and bytes
 *    left over at the end.
 * So the walk does at most one item per byte of the body, and avsc, following the same grammar on
 * bytes the walk accepted, does the same items. The work per record is linear in its size (itself
 * capped by OUTBOUND_MAX_RECORD_BYTES). A type that recurses into itself without a union in between
 * has no finite encoding: its walk overflows the stack at once (a RangeError, reported as poison).
 */
import type { Type } from 'avsc';

/** The fields of avsc's concrete type classes that the walk reads (not in avsc's `Type` typings). */
interface AvscType {
  typeName: string;
  name?: string;
  size?: number;
  symbols?: string[];
  itemsType?: AvscType;
  valuesType?: AvscType;
  types?: AvscType[];
  fields?: Array<{ name: string; type: AvscType }>;
}

const node = (type: Type): AvscType => type;

/** A body the walk refused; the codec turns it into AVRO_DECODE poison. */
export class AvroBoundsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AvroBoundsError';
  }
}

/** Every type reachable from `root`, each once (named types may recur). */
function reachable(root: AvscType): AvscType[] {
  const seen = new Set<AvscType>();
  const stack = [root];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    if (t.itemsType) stack.push(t.itemsType);
    if (t.valuesType) stack.push(t.valuesType);
    for (const u of t.types ?? []) stack.push(u);
    for (const f of t.fields ?? []) stack.push(f.type);
  }
  return [...seen];
}

/**
 * True when every value of `type` encodes in zero bytes. A record being walked counts as not
 * zero-byte: a record containing itself has no finite encoding, so it is never zero-byte.
 */
function zeroByte(type: AvscType, memo: Map<AvscType, boolean>): boolean {
  const known = memo.get(type);
  if (known !== undefined) return known;
  memo.set(type, false);
  let zero = false;
  if (type.typeName === 'null') zero = true;
  else if (type.typeName === 'fixed') zero = type.size === 0;
  else if (type.typeName === 'record' || type.typeName === 'error') zero = (type.fields ?? []).every((f) => zeroByte(f.type, memo));
  memo.set(type, zero);
  return zero;
}

/** Describes each array of `writer` whose items encode in zero bytes (empty when there is none). */
export function unboundedArrays(writer: Type): string[] {
  const memo = new Map<AvscType, boolean>();
  return reachable(node(writer))
    .filter((t) => t.typeName === 'array' && zeroByte(t.itemsType!, memo))
    .map((t) => `array of ${t.itemsType!.name ?? t.itemsType!.typeName}`);
}

/** A position in the body; every read checks the end first. */
class Cursor {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    readonly end: number,
  ) {}

  left(): number {
    return this.end - this.pos;
  }

  advance(n: number, what: string): void {
    if (n > this.left()) throw new AvroBoundsError(`${what} of ${n} bytes at offset ${this.pos} runs past the end (${this.left()} left)`);
    this.pos += n;
  }

  /** A zig-zag varint (Avro int/long); its magnitude only matters up to the bytes left. */
  long(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new AvroBoundsError('a number runs past the end of the body');
      const b = this.buf[this.pos++]!;
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
      scale *= 128;
    }
    throw new AvroBoundsError('a number longer than 10 bytes');
  }

  length(what: string): void {
    const n = this.long();
    if (n < 0) throw new AvroBoundsError(`negative ${what} length ${n}`);
    this.advance(n, what);
  }
}

type Walk = (c: Cursor) => void;

/** Walks blocks of `item` (array items or map entries, each ≥ 1 byte); see rule 2 above. */
function blocks(item: Walk): Walk {
  return (c) => {
    for (;;) {
      let n = c.long();
      if (n === 0) return;
      let size = -1;
      if (n < 0) {
        n = -n;
        size = c.long();
        if (size < 0 || size > c.left()) throw new AvroBoundsError(`block size ${size} with ${c.left()} bytes left`);
      }
      if (n > c.left()) throw new AvroBoundsError(`block count ${n} with ${c.left()} bytes left`);
      const start = c.pos;
      for (let i = 0; i < n; i++) item(c);
      if (size >= 0 && c.pos - start !== size) throw new AvroBoundsError(`block of ${c.pos - start} bytes declared as ${size}`);
    }
  };
}

const FIXED_WIDTH: Record<string, number> = { boolean: 1, float: 4, double: 8 };

function compile(type: AvscType, memo: Map<AvscType, Walk>): Walk {
  const known = memo.get(type);
  if (known) return known;
  if (type.typeName !== 'record' && type.typeName !== 'error') return compileBody(type, memo);
  // Only records may recur: register an indirection first, fill it in once compiled.
  let body: Walk = () => undefined;
  const walk: Walk = (c) => body(c);
  memo.set(type, walk);
  body = compileBody(type, memo);
  return walk;
}

function compileBody(type: AvscType, memo: Map<AvscType, Walk>): Walk {
  const name = type.typeName;
  const width = FIXED_WIDTH[name];
  if (width !== undefined) return (c) => c.advance(width, name);
  switch (name) {
    case 'null':
      return () => undefined;
    case 'int':
    case 'long':
      return (c) => void c.long();
    case 'string':
    case 'bytes':
      return (c) => c.length(name);
    case 'fixed': {
      const size = type.size ?? 0;
      return (c) => c.advance(size, 'fixed');
    }
    case 'enum': {
      const count = type.symbols?.length ?? 0;
      return (c) => index(c, count, 'enum');
    }
    case 'array':
      return blocks(compile(type.itemsType!, memo));
    case 'map': {
      const value = compile(type.valuesType!, memo);
      return blocks((c) => {
        c.length('map key');
        value(c);
      });
    }
    case 'union:unwrapped':
    case 'union:wrapped': {
      const branches = type.types!.map((t) => compile(t, memo));
      return (c) => branches[index(c, branches.length, 'union')]!(c);
    }
    case 'record':
    case 'error': {
      const fields = type.fields!.map((f) => compile(f.type, memo));
      return (c) => {
        for (const f of fields) f(c);
      };
    }
    default:
      throw new AvroBoundsError(`no bounded walk for Avro type ${name}`);
  }
}

function index(c: Cursor, count: number, what: string): number {
  const i = c.long();
  if (i < 0 || i >= count) throw new AvroBoundsError(`${what} index ${i} out of range (${count})`);
  return i;
}

/** Checks an Avro body in `buf` from `start` to the end against `writer`; throws AvroBoundsError. */
export type BodyCheck = (buf: Buffer, start: number) => void;

/** Compiles the bounded walk of `writer` once (call `unboundedArrays` first: see rule 1). */
export function bodyCheck(writer: Type): BodyCheck {
  const walk = compile(node(writer), new Map());
  return (buf, start) => {
    const c = new Cursor(buf, buf.length);
    c.pos = start;
    walk(c);
    if (c.pos !== c.end) throw new AvroBoundsError(`${c.end - c.pos} bytes left over after the value`);
  };
}
