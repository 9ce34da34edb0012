/**
 * Kafka's zig-zag varints: the variable-length integers of RecordBatch v2 records (Kafka's
 * `ByteUtils.writeVarint` / `writeVarlong`, the same encoding as protobuf's sint32/sint64).
 *
 * Byte layout: a signed value v is first zig-zag mapped to an unsigned one,
 * `(v << 1) ^ (v >> 63)` (0 → 0, -1 → 1, 1 → 2, -2 → 3, ...), so small magnitudes of either
 * sign stay short; the unsigned value is then written 7 bits at a time, least significant
 * group first, with the high bit of each byte set when more bytes follow:
 *
 *   varint  (int32): 1..5 bytes; the 5th byte may only carry the top 4 bits (≤ 0x0f)
 *   varlong (int64): 1..10 bytes
 *
 * Numbers, not bigints: a varint always fits a JS number exactly; a varlong is read and written
 * as a number when it lies within ±2^53 (the range where numbers are exact integers), which
 * covers every timestamp delta a real client produces; a longer value is rejected as corrupt
 * on read (CorruptRecordError 'bad-records') and refused on write (RangeError). Non-canonical
 * encodings that Kafka's Java reader accepts (redundant continuation bytes ending in 0) are
 * accepted up to the maximum length.
 *
 * Reading goes through `ByteCursor`, a position over `buf[pos, end)` that never reads at or past
 * `end`, whatever `buf.length` is: a varint running past the end is corrupt, never a silent
 * `undefined` read or a RangeError. Writers take `(buf, pos, value)` and return the position
 * after the bytes written; they trust the caller to have sized `buf` (see `sizeOfVarint`).
 *
 * Concurrency and ownership: no state is shared between calls; a cursor belongs to one walk of
 * one buffer and keeps a reference to it only while the caller keeps the cursor.
 */
import { CorruptRecordError } from './errors';

/** Longest int32 varint. */
export const MAX_VARINT_BYTES = 5;
/** Longest int64 varlong. */
export const MAX_VARLONG_BYTES = 10;

const TWO_7 = 0x80;
const TWO_14 = 0x4000;
const TWO_21 = 0x20_0000;
const TWO_28 = 0x1000_0000;
const TWO_35 = 2 ** 35;
const TWO_42 = 2 ** 42;
const TWO_49 = 2 ** 49;
const TWO_53 = 2 ** 53;
const TWO_56 = 2 ** 56;

/** Zig-zag maps an int32 to the uint32 that is written. */
export function zigZagEncode32(value: number): number {
  return ((value << 1) ^ (value >> 31)) >>> 0;
}

/** Inverse of `zigZagEncode32`. */
export function zigZagDecode32(raw: number): number {
  return (raw >>> 1) ^ -(raw & 1);
}

/** Bytes an unsigned varint of `u` (0 ≤ u < 2^32) takes. */
export function sizeOfUnsignedVarint(u: number): number {
  return u < TWO_7 ? 1 : u < TWO_14 ? 2 : u < TWO_21 ? 3 : u < TWO_28 ? 4 : 5;
}

/** Bytes the zig-zag varint of the int32 `value` takes. */
export function sizeOfVarint(value: number): number {
  return sizeOfUnsignedVarint(((value << 1) ^ (value >> 31)) >>> 0);
}

/**
 * Bytes the zig-zag varlong of `value` takes; `value` must be an integer within ±2^53
 * (RangeError otherwise).
 */
export function sizeOfVarlong(value: number): number {
  if ((value | 0) === value) return sizeOfVarint(value);
  checkVarlongValue(value);
  // |value| ≥ 2^31 here, so the zig-zag value is at least 2^32 and at most 2^54.
  const z = value >= 0 ? value * 2 : -value * 2 - 1;
  return z < TWO_35 ? 5 : z < TWO_42 ? 6 : z < TWO_49 ? 7 : z < TWO_56 ? 8 : 9;
}

function checkVarlongValue(value: number): void {
  if (!Number.isInteger(value) || value > TWO_53 || value < -TWO_53) {
    throw new RangeError(`varlong value ${value} is not an integer within ±2^53`);
  }
}

/**
 * Writes the zig-zag varint of the int32 `value` at `pos`; returns the position after it.
 * `value` is taken modulo 2^32 like Java's int: callers pass int32 values.
 */
export function writeVarint(buf: Uint8Array, pos: number, value: number): number {
  let u = (value << 1) ^ (value >> 31);
  while ((u & ~0x7f) !== 0) {
    buf[pos++] = (u & 0x7f) | 0x80;
    u >>>= 7;
  }
  buf[pos++] = u;
  return pos;
}

/** Writes the unsigned varint of `u` (0 ≤ u < 2^32) at `pos`; returns the position after it. */
export function writeUnsignedVarint(buf: Uint8Array, pos: number, u: number): number {
  while (u >= TWO_7) {
    buf[pos++] = (u & 0x7f) | 0x80;
    u >>>= 7;
  }
  buf[pos++] = u;
  return pos;
}

/**
 * Writes the zig-zag varlong of `value` (an integer within ±2^53, RangeError otherwise) at
 * `pos`; returns the position after it.
 */
export function writeVarlong(buf: Uint8Array, pos: number, value: number): number {
  if ((value | 0) === value) return writeVarint(buf, pos, value);
  checkVarlongValue(value);
  // Zig-zag in two exact halves: z = 2|v| (v ≥ 0) or 2|v| - 1 (v < 0), up to 2^54, which a
  // double cannot always hold exactly, so keep hi·2^32 + lo with both parts exact.
  const magnitude = Math.abs(value);
  let hi = Math.floor(magnitude / 0x1_0000_0000) * 2;
  let lo = (magnitude % 0x1_0000_0000) * 2;
  if (lo >= 0x1_0000_0000) {
    lo -= 0x1_0000_0000;
    hi += 1;
  }
  if (value < 0) {
    if (lo === 0) {
      lo = 0xffff_ffff;
      hi -= 1;
    } else {
      lo -= 1;
    }
  }
  while (hi > 0 || lo >= TWO_7) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo = Math.floor(lo / TWO_7) + (hi & 0x7f) * 0x200_0000; // (hi mod 2^7) · 2^25
    hi = Math.floor(hi / TWO_7);
  }
  buf[pos++] = lo;
  return pos;
}

/**
 * A read position over `buf[pos, end)`. Every read checks `end` and throws CorruptRecordError
 * ('bad-records' unless told otherwise) instead of reading past it. `end` may be narrowed
 * while walking a nested structure (a record inside a batch) and widened back afterwards.
 *
 * Errors report `pos` as the position in `buf` where the bad field starts, unless
 * `reportPosition` is set (≥ 0): then every error reports that fixed position instead (used
 * for decompressed data, whose positions mean nothing in the caller's buffer).
 */
export class ByteCursor {
  buf: Buffer;
  pos: number;
  end: number;
  reportPosition: number;

  constructor(buf: Buffer, pos = 0, end = buf.length, reportPosition = -1) {
    this.buf = buf;
    this.pos = pos;
    this.end = Math.min(end, buf.length);
    this.reportPosition = reportPosition;
  }

  /** Re-targets the cursor (lets one cursor serve many walks without allocating). */
  reset(buf: Buffer, pos: number, end: number, reportPosition = -1): this {
    this.buf = buf;
    this.pos = pos;
    this.end = Math.min(end, buf.length);
    this.reportPosition = reportPosition;
    return this;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** A CorruptRecordError at `at` (or at `reportPosition` when set). */
  corrupt(message: string, at = this.pos): CorruptRecordError {
    return new CorruptRecordError('bad-records', message, this.reportPosition >= 0 ? this.reportPosition : at);
  }

  /** Reads one signed byte. */
  readInt8(): number {
    const p = this.pos;
    if (p >= this.end) throw this.corrupt('int8 runs past the end', p);
    this.pos = p + 1;
    return (this.buf[p]! << 24) >> 24;
  }

  /** Moves past `n` bytes (n ≥ 0), which must all lie before `end`. */
  skip(n: number): void {
    if (n > this.end - this.pos) throw this.corrupt(`${n} bytes run past the end (${this.end - this.pos} remain)`);
    this.pos += n;
  }

  /** Reads a zig-zag varint (int32). */
  readVarint(): number {
    const p = this.pos;
    if (p >= this.end) throw this.corrupt('varint runs past the end', p);
    const buf = this.buf;
    const b = buf[p]!;
    if (b < 0x80) {
      this.pos = p + 1;
      return (b >>> 1) ^ -(b & 1);
    }
    if (p + 1 < this.end) {
      const b1 = buf[p + 1]!;
      if (b1 < 0x80) {
        // Two bytes: the common case for record and value lengths.
        this.pos = p + 2;
        const raw = (b & 0x7f) | (b1 << 7);
        return (raw >>> 1) ^ -(raw & 1);
      }
    }
    return this.readVarintSlow(p);
  }

  private readVarintSlow(start: number): number {
    const buf = this.buf;
    const end = this.end;
    let p = start;
    let raw = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (p >= end) throw this.corrupt('varint runs past the end', start);
      const b = buf[p++]!;
      if (shift === 28 && b > 0x0f) throw this.corrupt('varint is longer than 32 bits', start);
      raw |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = p;
        return (raw >>> 1) ^ -(raw & 1);
      }
    }
    throw this.corrupt('varint is longer than 32 bits', start);
  }

  /** Reads a zig-zag varlong (int64) that must lie within ±2^53. */
  readVarlong(): number {
    const p = this.pos;
    if (p >= this.end) throw this.corrupt('varlong runs past the end', p);
    const buf = this.buf;
    const b = buf[p]!;
    if (b < 0x80) {
      this.pos = p + 1;
      return (b >>> 1) ^ -(b & 1);
    }
    if (p + 1 < this.end) {
      const b1 = buf[p + 1]!;
      if (b1 < 0x80) {
        // Two bytes: the common case for record and value lengths.
        this.pos = p + 2;
        const raw = (b & 0x7f) | (b1 << 7);
        return (raw >>> 1) ^ -(raw & 1);
      }
    }
    return this.readVarlongSlow(p);
  }

  private readVarlongSlow(start: number): number {
    const buf = this.buf;
    const end = this.end;
    let p = start;
    // raw = low + high · 2^49, with low < 2^49 from the first 7 groups (exact as a double)
    // and high from the 8th to 10th.
    let low = 0;
    let high = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARLONG_BYTES; i++) {
      if (p >= end) throw this.corrupt('varlong runs past the end', start);
      const b = buf[p++]!;
      const group = b & 0x7f;
      if (i < 7) {
        low += group * scale;
        scale *= 128;
      } else {
        if (i === 7) scale = 1;
        high += group * scale;
        scale *= 128;
      }
      if (b < 0x80) {
        // |value| ≤ 2^53 ⇔ raw ≤ 2^54 = 32 · 2^49.
        if (high > 32 || (high === 32 && low > 0)) throw this.corrupt('varlong is outside ±2^53', start);
        this.pos = p;
        if (low % 2 === 0) return low / 2 + high * TWO_49 / 2;
        return -((low + 1) / 2 + high * TWO_49 / 2);
      }
    }
    throw this.corrupt('varlong is longer than 64 bits', start);
  }
}
