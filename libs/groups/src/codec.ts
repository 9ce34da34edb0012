/**
 * The primitive types of Kafka's non-flexible message versions, as the ConsumerProtocol and
 * `__consumer_offsets` records use them (https://kafka.apache.org/protocol#protocol_types):
 *
 *   int16 / int32 / int64   big-endian, two's complement
 *   string                  int16 byte length N, then N bytes of UTF-8; nullable: N = -1 for null
 *   bytes                   int32 byte length N, then N bytes; nullable: N = -1 for null
 *   [T]                     int32 element count N, then N elements (N = -1 is null: refused)
 *
 * `ByteReader` reads from a Buffer with a bound check before every field, so truncated or
 * malformed input throws a `GroupCodecError` naming the field and offset instead of reading
 * past the end or allocating from a bogus length. Byte fields are returned as views
 * (`subarray`) of the input, not copies. `ByteWriter` writes into one Buffer allocated at the
 * exact size (callers add up the `*Size` helpers first), so encoding allocates once.
 * Both are single-use and synchronous.
 */
import { ErrorCode, TributaryError } from '@tributary/records';

/** Bytes that do not decode as the Kafka format they claim to be. */
export class GroupCodecError extends TributaryError {
  constructor(code: ErrorCode, message: string) {
    super(code, message, { retriable: false });
    this.name = 'GroupCodecError';
  }
}

/** Largest string the int16 length prefix can carry (Kafka's Short.MAX_VALUE). */
export const MAX_STRING_BYTES = 0x7fff;

export class ByteReader {
  private pos = 0;

  /**
   * @param buf the bytes to read
   * @param what what they are, for error messages (e.g. "ConsumerProtocolSubscription")
   * @param code the error code malformed input is reported with
   */
  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
    private readonly code: ErrorCode,
  ) {}

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  fail(message: string): never {
    throw new GroupCodecError(this.code, `malformed ${this.what}: ${message} (at byte ${this.pos} of ${this.buf.length})`);
  }

  private need(n: number, field: string): void {
    if (this.buf.length - this.pos < n) this.fail(`${field} needs ${n} bytes, ${this.buf.length - this.pos} left`);
  }

  int16(field: string): number {
    this.need(2, field);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(field: string): number {
    this.need(4, field);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  int64(field: string): bigint {
    this.need(8, field);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /** An int64 that holds milliseconds (a timestamp): returned as a number. */
  int64Ms(field: string): number {
    return Number(this.int64(field));
  }

  nullableString(field: string): string | null {
    const len = this.int16(`${field} length`);
    if (len === -1) return null;
    if (len < 0) this.fail(`${field} has negative length ${len}`);
    this.need(len, field);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  string(field: string): string {
    const s = this.nullableString(field);
    if (s === null) this.fail(`${field} is null but the format does not allow it`);
    return s;
  }

  nullableBytes(field: string): Buffer | null {
    const len = this.int32(`${field} length`);
    if (len === -1) return null;
    if (len < 0) this.fail(`${field} has negative length ${len}`);
    this.need(len, field);
    const b = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }

  bytes(field: string): Buffer {
    const b = this.nullableBytes(field);
    if (b === null) this.fail(`${field} is null but the format does not allow it`);
    return b;
  }

  /**
   * An array's element count, checked against the bytes left (each element takes at least
   * `minElementBytes`), so a corrupt count cannot make the caller loop or allocate for long.
   * None of these formats has a nullable array: a null one (-1) is malformed, as in Kafka.
   */
  arrayLength(field: string, minElementBytes: number): number {
    const n = this.int32(`${field} count`);
    if (n === -1) this.fail(`${field} is null but the format does not allow it`);
    if (n < 0) this.fail(`${field} has negative count ${n}`);
    if (n * minElementBytes > this.remaining) this.fail(`${field} count ${n} does not fit in the ${this.remaining} bytes left`);
    return n;
  }

  int32Array(field: string): number[] {
    const n = this.arrayLength(field, 4);
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = this.int32(field);
    return out;
  }
}

/** Encoded size of a (nullable) string. */
export function stringSize(s: string | null): number {
  return 2 + (s === null ? 0 : Buffer.byteLength(s, 'utf8'));
}

/** Encoded size of (nullable) bytes. */
export function bytesSize(b: Uint8Array | null): number {
  return 4 + (b === null ? 0 : b.length);
}

export class ByteWriter {
  readonly buf: Buffer;
  private pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  int16(v: number): this {
    this.pos = this.buf.writeInt16BE(v, this.pos);
    return this;
  }

  int32(v: number): this {
    this.pos = this.buf.writeInt32BE(v, this.pos);
    return this;
  }

  int64(v: bigint | number): this {
    this.pos = this.buf.writeBigInt64BE(typeof v === 'bigint' ? v : BigInt(v), this.pos);
    return this;
  }

  /** A nullable string; `field` names it if it is too long for the int16 length. */
  string(s: string | null, field: string): this {
    if (s === null) return this.int16(-1);
    const len = Buffer.byteLength(s, 'utf8');
    if (len > MAX_STRING_BYTES) {
      throw new GroupCodecError(ErrorCode.INVALID_REQUEST, `${field} is ${len} bytes of UTF-8; the format allows at most ${MAX_STRING_BYTES}`);
    }
    this.int16(len);
    this.pos += this.buf.write(s, this.pos, len, 'utf8');
    return this;
  }

  bytes(b: Uint8Array | null): this {
    if (b === null) return this.int32(-1);
    this.int32(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** The encoded bytes; checks that the precomputed size was exact. */
  finish(): Buffer {
    if (this.pos !== this.buf.length) throw new Error(`encoder size mismatch: wrote ${this.pos} of ${this.buf.length} bytes (a bug)`);
    return this.buf;
  }
}
