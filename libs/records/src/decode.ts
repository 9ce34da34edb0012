/**
 * Decoding and validating RecordBatch v2 (layout in batch.ts, records in record.ts):
 *
 *   readBatchHeader  the 61-byte header as an object (no CRC check, no records)
 *   decodeBatch      header + every record as objects (validates everything first)
 *   decodeBatches    every batch of a concatenation (a fetch response, a segment slice)
 *   forEachRecord    the consumer's hot path: one reused RecordView per batch, no per-record
 *                    objects unless the visitor asks for them
 *   validateRecords  the broker's produce path: walks every record of a batch, allocating
 *                    nothing per record, and enforces what a producer must send
 *
 * Validation, in order, and always as CorruptRecordError (reason + position) or
 * UnsupportedCompressionError, never another exception type:
 *   1. validateBatchAt: header bounds, batchLength, magic, CRC32C — so a batch whose CRC fails
 *      is never decompressed nor decoded;
 *   2. int64 header fields used as numbers (baseOffset, timestamps) lie within ±2^53;
 *   3. compressed records are decompressed with a cap (compression.ts, 'bad-compression');
 *   4. recordsCount records must fit (≥ 7 bytes each) before anything is allocated for them;
 *   5. each record's framing (record.ts): every varint and length inside the record, declared
 *      length = bytes used, lengths ≥ -1 (header keys ≥ 0);
 *   6. offset deltas strictly increasing and ≤ lastOffsetDelta (decode), or exactly 0, 1, 2, …
 *      with recordsCount = lastOffsetDelta + 1 (validateRecords, Kafka's LogValidator rule
 *      for what a producer sends);
 *   7. exactly recordsCount records and no byte after the last one.
 *
 * Offsets and timestamps are numbers (see batch.ts: the log keeps offsets below 2^53);
 * producerId is a bigint. Under LogAppendTime every record's timestamp is the batch's
 * maxTimestamp, as Kafka's consumer reports it.
 *
 * Ownership: decoded keys, values and header values are `subarray` views — of the caller's
 * buffer for uncompressed batches (valid while it is; copy them before reusing it), of a
 * freshly decompressed buffer for compressed ones. Nothing here keeps a reference after
 * returning. A RecordView handed to a forEachRecord visitor is only valid during that call.
 */
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  COMPRESSION_MASK,
  CONTROL_MASK,
  CRC_OFFSET,
  CompressionCodec,
  DELETE_HORIZON_MASK,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  MAX_BATCH_SIZE_LIMIT,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORDS_COUNT_OFFSET,
  RECORDS_OFFSET,
  TIMESTAMP_TYPE_MASK,
  TRANSACTIONAL_MASK,
  TimestampType,
  batchSize,
  validateBatchAt,
} from './batch';
import { DEFAULT_MAX_DECOMPRESSED_BYTES, decompressRecords } from './compression';
import { CorruptRecordError } from './errors';
import type { DecodedRecord } from './record';
import { MIN_RECORD_BYTES, RecordView, readRecordFraming } from './record';
import { ByteCursor } from './varint';
import { nativeRecords } from './native';

/** The header of a RecordBatch v2, field by field. */
export interface RecordBatchHeader {
  baseOffset: number;
  /** Total bytes of the batch (batchLength + 12). */
  sizeInBytes: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  compression: CompressionCodec;
  timestampType: TimestampType;
  isTransactional: boolean;
  isControl: boolean;
  /** Attributes bit 6: baseTimestamp is the delete horizon (set by compaction). */
  hasDeleteHorizon: boolean;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordsCount: number;
}

/** A batch with its records decoded. */
export interface DecodedBatch extends RecordBatchHeader {
  records: DecodedRecord[];
}

export interface DecodeOptions {
  /** Largest batch accepted, in bytes (default and ceiling: MAX_BATCH_SIZE_LIMIT). */
  maxBatchBytes?: number;
  /** Cap on the decompressed size of one batch's records (default 64 MiB). */
  maxDecompressedBytes?: number;
}

/** What validateRecords learnt while walking a batch. */
export interface RecordsSummary {
  recordsCount: number;
  /** Largest record timestamp (baseTimestamp + timestampDelta), -1 if none. */
  maxTimestamp: number;
  /** offsetDelta of the first record carrying maxTimestamp. */
  offsetDeltaOfMaxTimestamp: number;
  /** Records with a null key (a compacted topic refuses them). */
  nullKeyCount: number;
  /** Bytes of the records section once decompressed. */
  uncompressedBytes: number;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Reads an int64 that must lie within [-2^53, 2^53), as a number; CorruptRecordError otherwise. */
function readCheckedInt64(buf: Buffer, at: number, what: string, batchPos: number): number {
  const hi = buf.readInt32BE(at);
  if (hi >= 0x20_0000 || hi < -0x20_0000) {
    throw new CorruptRecordError('bad-records', `${what} does not fit in ±2^53`, batchPos);
  }
  return hi * 0x1_0000_0000 + buf.readUInt32BE(at + 4);
}

/**
 * The header of the batch at `pos`. Checks only that the 61 header bytes are present and that
 * the int64 fields read as numbers are within ±2^53; the CRC and the records are NOT checked
 * (use validateBatchAt / decodeBatch for that).
 */
export function readBatchHeader(buf: Buffer, pos = 0): RecordBatchHeader {
  if (pos < 0 || buf.length - pos < RECORDS_OFFSET) {
    throw new CorruptRecordError('truncated', `record batch header needs ${RECORDS_OFFSET} bytes, only ${buf.length - pos} remain`, pos);
  }
  const attributes = buf.readInt16BE(pos + ATTRIBUTES_OFFSET);
  return {
    baseOffset: readCheckedInt64(buf, pos + BASE_OFFSET_OFFSET, 'baseOffset', pos),
    sizeInBytes: batchSize(buf, pos),
    partitionLeaderEpoch: buf.readInt32BE(pos + PARTITION_LEADER_EPOCH_OFFSET),
    magic: buf.readInt8(pos + MAGIC_OFFSET),
    crc: buf.readUInt32BE(pos + CRC_OFFSET),
    attributes,
    compression: (attributes & COMPRESSION_MASK) as CompressionCodec,
    timestampType: (attributes & TIMESTAMP_TYPE_MASK) !== 0 ? TimestampType.LogAppendTime : TimestampType.CreateTime,
    isTransactional: (attributes & TRANSACTIONAL_MASK) !== 0,
    isControl: (attributes & CONTROL_MASK) !== 0,
    hasDeleteHorizon: (attributes & DELETE_HORIZON_MASK) !== 0,
    lastOffsetDelta: buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET),
    baseTimestamp: readCheckedInt64(buf, pos + BASE_TIMESTAMP_OFFSET, 'baseTimestamp', pos),
    maxTimestamp: readCheckedInt64(buf, pos + MAX_TIMESTAMP_OFFSET, 'maxTimestamp', pos),
    producerId: buf.readBigInt64BE(pos + PRODUCER_ID_OFFSET),
    producerEpoch: buf.readInt16BE(pos + PRODUCER_EPOCH_OFFSET),
    baseSequence: buf.readInt32BE(pos + BASE_SEQUENCE_OFFSET),
    recordsCount: buf.readInt32BE(pos + RECORDS_COUNT_OFFSET),
  };
}

/**
 * Positions `c` over the records of the (header-validated) batch at `pos` of `size` bytes,
 * decompressing them if needed, and checks that `count` records can fit.
 */
function openRecords(c: ByteCursor, buf: Buffer, pos: number, size: number, count: number, options: DecodeOptions | undefined): void {
  const codec = buf.readInt16BE(pos + ATTRIBUTES_OFFSET) & COMPRESSION_MASK;
  if (codec === CompressionCodec.None) {
    c.reset(buf, pos + RECORDS_OFFSET, pos + size);
  } else {
    const records = decompressRecords(
      codec,
      buf.subarray(pos + RECORDS_OFFSET, pos + size),
      options?.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES,
      pos,
    );
    c.reset(records, 0, records.length, pos);
  }
  if (count > (c.end - c.pos) / MIN_RECORD_BYTES) {
    throw c.corrupt(`recordsCount ${count} cannot fit in ${c.end - c.pos} bytes of records`, pos);
  }
}

function checkRecordsEnd(c: ByteCursor, count: number): void {
  if (c.pos !== c.end) throw c.corrupt(`${c.end - c.pos} bytes follow the last of recordsCount ${count} records`);
}

/** Reads the next record of a batch into `v` and checks its offsetDelta (decode rules). */
function nextRecord(c: ByteCursor, v: RecordView, i: number, count: number, previousDelta: number, h: BatchNumbers): void {
  if (c.pos >= c.end) throw c.corrupt(`recordsCount is ${count} but only ${i} records are present`);
  readRecordFraming(c, v);
  const delta = v.offsetDelta;
  if (delta <= previousDelta || delta > h.lastOffsetDelta) {
    throw c.corrupt(`record ${i} has offsetDelta ${delta} (previous ${previousDelta}, lastOffsetDelta ${h.lastOffsetDelta})`, v.recordStart);
  }
  v.offset = h.baseOffset + delta;
  if (h.logAppendTime) {
    v.timestamp = h.maxTimestamp;
  } else {
    const ts = h.baseTimestamp + v.timestampDelta;
    if (ts > MAX_SAFE || ts < -MAX_SAFE) throw c.corrupt(`record ${i} timestamp does not fit in ±2^53`, v.recordStart);
    v.timestamp = ts;
  }
}

/** The header numbers the record walk needs. */
interface BatchNumbers {
  baseOffset: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  logAppendTime: boolean;
}

function batchNumbers(h: RecordBatchHeader, pos: number): BatchNumbers {
  if (h.baseOffset + h.lastOffsetDelta > MAX_SAFE) {
    throw new CorruptRecordError('bad-records', `last offset ${h.baseOffset}+${h.lastOffsetDelta} does not fit in 2^53`, pos);
  }
  return {
    baseOffset: h.baseOffset,
    lastOffsetDelta: h.lastOffsetDelta,
    baseTimestamp: h.baseTimestamp,
    maxTimestamp: h.maxTimestamp,
    logAppendTime: h.timestampType === TimestampType.LogAppendTime,
  };
}

/**
 * Decodes the batch at `pos`: every header field and every record, after validating the
 * whole batch (see the file comment). Keys, values and header values are views (no copy).
 */
export function decodeBatch(buf: Buffer, pos = 0, options?: DecodeOptions): DecodedBatch {
  const size = validateBatchAt(buf, pos, options?.maxBatchBytes ?? MAX_BATCH_SIZE_LIMIT);
  const header = readBatchHeader(buf, pos);
  const numbers = batchNumbers(header, pos);
  const count = header.recordsCount;
  const c = new ByteCursor(buf);
  openRecords(c, buf, pos, size, count, options);
  const v = new RecordView();
  v.buffer = c.buf;
  const records = new Array<DecodedRecord>(count);
  let previous = -1;
  for (let i = 0; i < count; i++) {
    nextRecord(c, v, i, count, previous, numbers);
    previous = v.offsetDelta;
    records[i] = v.toRecord();
  }
  checkRecordsEnd(c, count);
  return { ...header, records };
}

/**
 * Decodes every batch of a concatenation starting at `start` (a fetch response, a slice of
 * a segment). Any invalid or incomplete batch is a CorruptRecordError.
 */
export function decodeBatches(buf: Buffer, start = 0, options?: DecodeOptions): DecodedBatch[] {
  const out: DecodedBatch[] = [];
  let pos = start;
  while (pos < buf.length) {
    const batch = decodeBatch(buf, pos, options);
    out.push(batch);
    pos += batch.sizeInBytes;
  }
  return out;
}

/**
 * Calls `visit` for each record of the batch at `pos`, with ONE RecordView reused for every
 * record (valid only during the call; `key()`, `value()`, `headers()` and `toRecord()` give
 * views that outlive it). Returns the batch header. The header and CRC are validated before
 * any record is visited; a record found malformed part-way throws after the records before it
 * were visited. Returning `false` from `visit` stops the walk early.
 */
export function forEachRecord(
  buf: Buffer,
  pos: number,
  visit: (record: RecordView) => void | boolean,
  options?: DecodeOptions,
): RecordBatchHeader {
  const size = validateBatchAt(buf, pos, options?.maxBatchBytes ?? MAX_BATCH_SIZE_LIMIT);
  const header = readBatchHeader(buf, pos);
  const numbers = batchNumbers(header, pos);
  const count = header.recordsCount;
  const c = new ByteCursor(buf);
  openRecords(c, buf, pos, size, count, options);
  const v = new RecordView();
  v.buffer = c.buf;
  let previous = -1;
  for (let i = 0; i < count; i++) {
    nextRecord(c, v, i, count, previous, numbers);
    previous = v.offsetDelta;
    if (visit(v) === false) return header;
  }
  checkRecordsEnd(c, count);
  return header;
}

const EMPTY = Buffer.alloc(0);
const validateCursor = new ByteCursor(EMPTY);
const validateView = new RecordView();

/**
 * Walks every record of the batch at `pos`, whose header and CRC were already validated
 * (validateBatchAt), decompressing it first if compressed, and enforces the framing rules of
 * decodeBatch plus what a producer must send (Kafka's LogValidator): offset deltas exactly
 * 0, 1, 2, … and recordsCount = lastOffsetDelta + 1. Allocates nothing per record.
 * Returns what it learnt (max timestamp, null keys, uncompressed size).
 */
export function validateRecords(buf: Buffer, pos = 0, options?: DecodeOptions): RecordsSummary {
  if (pos < 0 || buf.length - pos < RECORDS_OFFSET) {
    throw new CorruptRecordError('truncated', `record batch header needs ${RECORDS_OFFSET} bytes, only ${buf.length - pos} remain`, pos);
  }
  const size = batchSize(buf, pos);
  if (size < RECORDS_OFFSET || size > buf.length - pos) {
    throw new CorruptRecordError('bad-batch-length', `record batch of ${size} bytes does not fit in ${buf.length - pos}`, pos);
  }
  const count = buf.readInt32BE(pos + RECORDS_COUNT_OFFSET);
  const lastOffsetDelta = buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
  if (count <= 0 || count !== lastOffsetDelta + 1) {
    throw new CorruptRecordError('bad-records', `recordsCount ${count} must be lastOffsetDelta ${lastOffsetDelta} + 1 and positive`, pos);
  }
  const attributes = buf.readInt16BE(pos + ATTRIBUTES_OFFSET);
  const logAppendTime = (attributes & TIMESTAMP_TYPE_MASK) !== 0;
  const baseTimestamp = readCheckedInt64(buf, pos + BASE_TIMESTAMP_OFFSET, 'baseTimestamp', pos);
  readCheckedInt64(buf, pos + MAX_TIMESTAMP_OFFSET, 'maxTimestamp', pos); // what consumers will read
  if ((attributes & COMPRESSION_MASK) === 0) {
    const fast = nativeValidate
      ? validateUncompressedNative(buf, pos + RECORDS_OFFSET, pos + size, count, baseTimestamp)
      : validateUncompressedFast(buf, pos + RECORDS_OFFSET, pos + size, count, baseTimestamp);
    if (fast !== undefined) {
      if (logAppendTime) fast.offsetDeltaOfMaxTimestamp = 0;
      return fast;
    }
    // Something is off: the careful walk below finds it and says exactly what.
  }
  const c = validateCursor;
  const v = validateView;
  try {
    openRecords(c, buf, pos, size, count, options);
    v.buffer = c.buf;
    const uncompressedBytes = c.end - c.pos;
    let maxTimestamp = -Infinity;
    let deltaOfMax = 0;
    let nullKeys = 0;
    for (let i = 0; i < count; i++) {
      if (c.pos >= c.end) throw c.corrupt(`recordsCount is ${count} but only ${i} records are present`);
      readRecordFraming(c, v);
      if (v.offsetDelta !== i) throw c.corrupt(`record ${i} has offsetDelta ${v.offsetDelta}, expected ${i}`, v.recordStart);
      const ts = baseTimestamp + v.timestampDelta;
      if (ts > maxTimestamp) {
        if (ts > MAX_SAFE) throw c.corrupt(`record ${i} timestamp does not fit in ±2^53`, v.recordStart);
        maxTimestamp = ts;
        deltaOfMax = i;
      } else if (ts < -MAX_SAFE) {
        throw c.corrupt(`record ${i} timestamp does not fit in ±2^53`, v.recordStart);
      }
      if (v.keyLength < 0) nullKeys++;
    }
    checkRecordsEnd(c, count);
    if (logAppendTime) deltaOfMax = 0;
    return { recordsCount: count, maxTimestamp, offsetDeltaOfMaxTimestamp: deltaOfMax, nullKeyCount: nullKeys, uncompressedBytes };
  } finally {
    // Drop references to the caller's (or a decompressed) buffer.
    c.reset(EMPTY, 0, 0);
    v.buffer = EMPTY;
  }
}

/**
 * The broker's hot path: validateRecords for an uncompressed batch as one tight loop over
 * `buf[start, end)`, varints decoded inline (up to 4 bytes, 28 bits). It accepts only what
 * the careful walk accepts, and gives up (returns undefined) at the first surprise — a
 * longer varint, headers, a bound, a mismatch — letting the careful walk
 * (readRecordFraming) decide and explain. Reads past `end` only yield `undefined` (typed
 * array semantics) and are caught by the bound checks. Allocates only the summary.
 */
export function validateUncompressedFast(buf: Buffer, start: number, end: number, count: number, baseTimestamp: number): RecordsSummary | undefined {
  let p = start;
  let maxTimestamp = -Infinity;
  let deltaOfMax = 0;
  let nullKeys = 0;
  let raw = 0;
  for (let i = 0; i < count; i++) {
    // length
    raw = readRawVarint28(buf, p);
    p = varintEnd;
    if (raw < 0 || p > end) return undefined;
    const length = (raw >>> 1) ^ -(raw & 1);
    if (length < MIN_RECORD_BYTES - 1 || length > end - p) return undefined;
    const recordEnd = p + length;
    // attributes (1 byte), timestampDelta
    raw = readRawVarint28(buf, p + 1);
    p = varintEnd;
    if (raw < 0) return undefined;
    const ts = baseTimestamp + ((raw >>> 1) ^ -(raw & 1));
    // offsetDelta must be i
    raw = readRawVarint28(buf, p);
    p = varintEnd;
    if (raw < 0 || p >= recordEnd || ((raw >>> 1) ^ -(raw & 1)) !== i) return undefined;
    // keyLength and the key
    raw = readRawVarint28(buf, p);
    p = varintEnd;
    if (raw < 0 || p >= recordEnd) return undefined;
    if (raw & 1) {
      if (raw !== 1) return undefined; // only -1 (null) may be negative
      nullKeys++;
    } else {
      p += raw >>> 1;
    }
    // valueLength and the value
    raw = readRawVarint28(buf, p);
    p = varintEnd;
    if (raw < 0 || p >= recordEnd) return undefined;
    if (raw & 1) {
      if (raw !== 1) return undefined;
    } else {
      p += raw >>> 1;
    }
    // headerCount: only 0 is inlined, and the record must end right after it
    if (p + 1 !== recordEnd || buf[p] !== 0) return undefined;
    p = recordEnd;
    if (ts > maxTimestamp) {
      if (ts > MAX_SAFE) return undefined;
      maxTimestamp = ts;
      deltaOfMax = i;
    } else if (ts < -MAX_SAFE) {
      return undefined;
    }
  }
  if (p !== end) return undefined;
  return { recordsCount: count, maxTimestamp, offsetDeltaOfMaxTimestamp: deltaOfMax, nullKeyCount: nullKeys, uncompressedBytes: end - start };
}

/** Where the last readRawVarint28 stopped (module state, so the hot loop allocates nothing). */
let varintEnd = 0;

/**
 * The raw (still zig-zag encoded) varint of at most 4 bytes (28 bits) at `p`, or -1 when it
 * is longer; sets `varintEnd`. Past the end of `buf` bytes read as 0, which ends the varint:
 * the callers' bound checks then reject the record.
 */
function readRawVarint28(buf: Buffer, p: number): number {
  let b = buf[p++]!;
  if (!(b & 0x80)) {
    varintEnd = p;
    return b;
  }
  let raw = b & 0x7f;
  for (let shift = 7; shift < 28; shift += 7) {
    b = buf[p++]!;
    raw |= (b & 0x7f) << shift;
    if (!(b & 0x80)) {
      varintEnd = p;
      return raw;
    }
  }
  varintEnd = p;
  return -1;
}

const nativeValidate = nativeRecords?.validateRecords;
const nativeOut = new Float64Array(3);

/** validateUncompressedFast in C (native/records.c): same contract, same answers. */
export function validateUncompressedNative(buf: Buffer, start: number, end: number, count: number, baseTimestamp: number): RecordsSummary | undefined {
  if (!nativeValidate || !nativeValidate(buf, start, end, count, baseTimestamp, nativeOut)) return undefined;
  return {
    recordsCount: count,
    maxTimestamp: nativeOut[0]!,
    offsetDeltaOfMaxTimestamp: nativeOut[1]!,
    nullKeyCount: nativeOut[2]!,
    uncompressedBytes: end - start,
  };
}

/** Whether the leader's record walk runs natively in this process. */
export const validateRecordsImplementation: string = nativeValidate ? 'native' : 'javascript';
