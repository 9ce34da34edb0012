/**
 * One record inside a RecordBatch v2: its types, its size, writing it, and reading its framing
 * with full bounds checks. Batches (header, compression, offsets) are in encode.ts/decode.ts.
 *
 * Byte layout (Kafka's DefaultRecord), varints are zig-zag (varint.ts):
 *
 *   length          varint   bytes that follow, attributes .. last header (≥ 6)
 *   attributes      int8     unused, 0
 *   timestampDelta  varlong  timestamp - batch baseTimestamp (may be negative)
 *   offsetDelta     varint   offset - batch baseOffset
 *   keyLength       varint   -1 = null key
 *   key             bytes
 *   valueLength     varint   -1 = null value
 *   value           bytes
 *   headerCount     varint   ≥ 0
 *   headers         headerCount × [keyLength varint ≥ 0, key UTF-8,
 *                                  valueLength varint (-1 = null), value bytes]
 *
 * Reading (`readRecordFraming`) fills a caller-supplied `RecordView` with the POSITIONS of
 * the fields instead of allocating per record: the hot paths (validateRecords on the broker,
 * forEachRecord in the consumer) then touch only numbers. A view is reused from record to
 * record; what it returns from `key()`, `value()` and `headers()` are `subarray` views of the
 * buffer being walked (no copy), valid as long as that buffer is, and sharing its memory: a
 * caller that keeps them while the buffer is reused must copy them.
 *
 * Every length is checked against the end of the record, and the record's declared length
 * must equal the bytes its fields take: a malformed record is a CorruptRecordError
 * 'bad-records', never an out-of-bounds read.
 */
import type { ByteCursor } from './varint';
import { sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint';

/** A record header: a UTF-8 key and a nullable value. */
export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/** A record to encode. A missing timestamp means "now" at encoding time. */
export interface RecordInput {
  key: Buffer | null;
  value: Buffer | null;
  headers?: readonly RecordHeader[];
  /** Milliseconds since the epoch (CreateTime). */
  timestamp?: number;
}

/** A decoded record; key, value and header values are views of the batch's buffer. */
export interface DecodedRecord {
  /** baseOffset + offsetDelta. */
  offset: number;
  offsetDelta: number;
  /** baseTimestamp + timestampDelta, or the batch's maxTimestamp under LogAppendTime. */
  timestamp: number;
  timestampDelta: number;
  /** Record attributes byte (unused by Kafka, 0). */
  attributes: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

/** Smallest record body: attributes, timestampDelta, offsetDelta, keyLength, valueLength, headerCount. */
export const MIN_RECORD_BODY_BYTES = 6;
/** Smallest record including its length varint. */
export const MIN_RECORD_BYTES = MIN_RECORD_BODY_BYTES + 1;

/**
 * Where the fields of one record lie in `buffer` (a batch, or its decompressed records).
 * Filled by `readRecordFraming`; reused from record to record by the walkers.
 */
export class RecordView {
  buffer: Buffer = Buffer.alloc(0);
  /** Absolute offset and timestamp (set by the batch walker). */
  offset = 0;
  timestamp = 0;
  offsetDelta = 0;
  timestampDelta = 0;
  attributes = 0;
  /** Position of the record's length varint, and of the byte after the record. */
  recordStart = 0;
  recordEnd = 0;
  keyStart = 0;
  /** -1 for a null key. */
  keyLength = -1;
  valueStart = 0;
  /** -1 for a null value. */
  valueLength = -1;
  headersStart = 0;
  headerCount = 0;

  /** The key as a view of `buffer` (no copy), or null. */
  key(): Buffer | null {
    return this.keyLength < 0 ? null : this.buffer.subarray(this.keyStart, this.keyStart + this.keyLength);
  }

  /** The value as a view of `buffer` (no copy), or null. */
  value(): Buffer | null {
    return this.valueLength < 0 ? null : this.buffer.subarray(this.valueStart, this.valueStart + this.valueLength);
  }

  /** The headers, decoded now (values are views of `buffer`). */
  headers(): RecordHeader[] {
    const count = this.headerCount;
    if (count === 0) return [];
    const buf = this.buffer;
    const out = new Array<RecordHeader>(count);
    let p = this.headersStart;
    // Already validated by readRecordFraming: plain reads.
    for (let i = 0; i < count; i++) {
      let raw = readUnsignedVarintUnchecked(buf, p);
      p = scanEnd;
      const keyLength = (raw >>> 1) ^ -(raw & 1);
      const key = buf.toString('utf8', p, p + keyLength);
      p += keyLength;
      raw = readUnsignedVarintUnchecked(buf, p);
      p = scanEnd;
      const valueLength = (raw >>> 1) ^ -(raw & 1);
      let value: Buffer | null = null;
      if (valueLength >= 0) {
        value = buf.subarray(p, p + valueLength);
        p += valueLength;
      }
      out[i] = { key, value };
    }
    return out;
  }

  /** A standalone record object (key, value and headers still view `buffer`). */
  toRecord(): DecodedRecord {
    return {
      offset: this.offset,
      offsetDelta: this.offsetDelta,
      timestamp: this.timestamp,
      timestampDelta: this.timestampDelta,
      attributes: this.attributes,
      key: this.key(),
      value: this.value(),
      headers: this.headers(),
    };
  }
}

let scanEnd = 0;
/** Reads an unsigned varint already known to be well-formed; leaves the end in `scanEnd`. */
function readUnsignedVarintUnchecked(buf: Buffer, p: number): number {
  let raw = 0;
  for (let shift = 0; ; shift += 7) {
    const b = buf[p++]!;
    raw |= (b & 0x7f) << shift;
    if (b < 0x80) break;
  }
  scanEnd = p;
  return raw >>> 0;
}

/**
 * Reads the framing of the record at `c.pos` into `v` (positions, deltas, attributes; not the
 * absolute offset and timestamp, which the batch walker sets) and moves `c` past it.
 * Throws CorruptRecordError 'bad-records' when any length or varint runs past the record or
 * the cursor's end, a length is negative other than -1, or the declared length differs from
 * the bytes the fields take. `c.buf` must be `v.buffer`.
 */
export function readRecordFraming(c: ByteCursor, v: RecordView): void {
  const start = c.pos;
  const length = c.readVarint();
  const bodyStart = c.pos;
  const outerEnd = c.end;
  if (length < MIN_RECORD_BODY_BYTES || length > outerEnd - bodyStart) {
    throw c.corrupt(`record length ${length} does not fit: ${outerEnd - bodyStart} bytes remain, minimum ${MIN_RECORD_BODY_BYTES}`, start);
  }
  const bodyEnd = bodyStart + length;
  c.end = bodyEnd; // no field may run past the record's own length
  v.recordStart = start;
  v.recordEnd = bodyEnd;
  v.attributes = c.readInt8();
  v.timestampDelta = c.readVarlong();
  v.offsetDelta = c.readVarint();
  const keyLength = c.readVarint();
  if (keyLength < -1) throw c.corrupt(`key length ${keyLength} is negative`, start);
  v.keyStart = c.pos;
  v.keyLength = keyLength;
  if (keyLength > 0) c.skip(keyLength);
  const valueLength = c.readVarint();
  if (valueLength < -1) throw c.corrupt(`value length ${valueLength} is negative`, start);
  v.valueStart = c.pos;
  v.valueLength = valueLength;
  if (valueLength > 0) c.skip(valueLength);
  const headerCount = c.readVarint();
  // Each header takes at least 2 bytes (two one-byte lengths).
  if (headerCount < 0 || headerCount * 2 > bodyEnd - c.pos) {
    throw c.corrupt(`header count ${headerCount} does not fit in ${bodyEnd - c.pos} bytes`, start);
  }
  v.headersStart = c.pos;
  v.headerCount = headerCount;
  for (let i = 0; i < headerCount; i++) {
    const headerKeyLength = c.readVarint();
    if (headerKeyLength < 0) throw c.corrupt(`header key length ${headerKeyLength} is negative`, start);
    c.skip(headerKeyLength);
    const headerValueLength = c.readVarint();
    if (headerValueLength < -1) throw c.corrupt(`header value length ${headerValueLength} is negative`, start);
    if (headerValueLength > 0) c.skip(headerValueLength);
  }
  if (c.pos !== bodyEnd) {
    throw c.corrupt(`record declares ${length} bytes but its fields take ${c.pos - bodyStart}`, start);
  }
  c.end = outerEnd;
}

// ---------------------------------------------------------------------------------------
// encoding

/** UTF-8 byte length of `s` (what Buffer.byteLength gives, lone surrogates as 3 bytes). */
export function utf8Length(s: string): number {
  const n = s.length;
  if (n > 64) return Buffer.byteLength(s, 'utf8');
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a surrogate pair: 2 UTF-16 units, 4 bytes
      i++;
    } else bytes += 2;
  }
  return bytes;
}

/** Bytes of a record's body (what its length field says) with these deltas. */
export function recordBodySize(record: RecordInput, timestampDelta: number, offsetDelta: number): number {
  const key = record.key;
  const value = record.value;
  let size = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarint(offsetDelta);
  size += key === null ? 1 : sizeOfVarint(key.length) + key.length;
  size += value === null ? 1 : sizeOfVarint(value.length) + value.length;
  const headers = record.headers;
  if (headers === undefined || headers.length === 0) return size + 1;
  size += sizeOfVarint(headers.length);
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!;
    const keyBytes = utf8Length(h.key);
    size += sizeOfVarint(keyBytes) + keyBytes;
    size += h.value === null ? 1 : sizeOfVarint(h.value.length) + h.value.length;
  }
  return size;
}

function writeBytes(buf: Buffer, pos: number, bytes: Uint8Array): number {
  const n = bytes.length;
  if (n < 16) {
    for (let i = 0; i < n; i++) buf[pos + i] = bytes[i]!;
  } else {
    buf.set(bytes, pos);
  }
  return pos + n;
}

function writeString(buf: Buffer, pos: number, s: string, byteLength: number): number {
  if (byteLength === s.length && byteLength < 32) {
    for (let i = 0; i < byteLength; i++) buf[pos + i] = s.charCodeAt(i);
    return pos + byteLength;
  }
  return pos + buf.write(s, pos, byteLength, 'utf8');
}

/**
 * Writes one record (length varint included) at `pos` and returns the position after it.
 * `bodySize` must be `recordBodySize(record, timestampDelta, offsetDelta)` and `buf` must have
 * room for `sizeOfVarint(bodySize) + bodySize` bytes from `pos`.
 */
export function writeRecord(
  buf: Buffer,
  pos: number,
  record: RecordInput,
  bodySize: number,
  timestampDelta: number,
  offsetDelta: number,
): number {
  pos = writeVarint(buf, pos, bodySize);
  buf[pos++] = 0; // attributes
  pos = writeVarlong(buf, pos, timestampDelta);
  pos = writeVarint(buf, pos, offsetDelta);
  const key = record.key;
  if (key === null) {
    buf[pos++] = 1; // zig-zag -1
  } else {
    pos = writeVarint(buf, pos, key.length);
    pos = writeBytes(buf, pos, key);
  }
  const value = record.value;
  if (value === null) {
    buf[pos++] = 1;
  } else {
    pos = writeVarint(buf, pos, value.length);
    pos = writeBytes(buf, pos, value);
  }
  const headers = record.headers;
  if (headers === undefined || headers.length === 0) {
    buf[pos++] = 0;
    return pos;
  }
  pos = writeVarint(buf, pos, headers.length);
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!;
    const keyBytes = utf8Length(h.key);
    pos = writeVarint(buf, pos, keyBytes);
    pos = writeString(buf, pos, h.key, keyBytes);
    if (h.value === null) {
      buf[pos++] = 1;
    } else {
      pos = writeVarint(buf, pos, h.value.length);
      pos = writeBytes(buf, pos, h.value);
    }
  }
  return pos;
}
