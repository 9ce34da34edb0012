/**
 * Encoding RecordBatch v2: `encodeBatch` (a whole array of records at once) and `BatchBuilder`
 * (records appended one by one against a size limit, as a producer accumulates them). Both
 * write every header field (layout in batch.ts) and every record field (layout in record.ts)
 * and finish with the CRC32C over attributes..end.
 *
 * This is the client's hot path, so: sizes are computed first and the output is allocated
 * once, varints are written straight into it, and keys/values are copied once with no
 * intermediate Buffer per record. Compressed batches encode their records into a reusable
 * module-level scratch buffer, compress that, and allocate the final batch once.
 *
 * Conventions (Kafka's MemoryRecordsBuilder): baseTimestamp is the first record's timestamp
 * and deltas may be negative; maxTimestamp is the largest record timestamp; records without a
 * timestamp get "now"; record attributes are 0; lastOffsetDelta = count - 1. An empty batch
 * has baseTimestamp = maxTimestamp = -1 and lastOffsetDelta 0 (validateRecords rejects it, as
 * Kafka rejects empty produced batches).
 *
 * Concurrency and ownership: synchronous; the returned Buffer is new and owned by the caller
 * (BatchBuilder.build returns a view of the builder's own buffer, which the builder gives up).
 * The scratch buffers are module-level and only used within one synchronous call, so
 * encoding is safe in any interleaving of async code; each worker thread has its own module.
 */
import {
  ATTRIBUTES_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_LENGTH_OFFSET,
  COMPRESSION_MASK,
  CONTROL_MASK,
  CRC_OFFSET,
  CompressionCodec,
  DELETE_HORIZON_MASK,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAGIC_V2,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORDS_COUNT_OFFSET,
  RECORDS_OFFSET,
  TIMESTAMP_TYPE_MASK,
  TRANSACTIONAL_MASK,
  TimestampType,
  computeBatchCrc,
  readSafeInt64,
  writeSafeInt64,
} from './batch';
import { compressRecords } from './compression';
import type { RecordInput } from './record';
import { recordBodySize, writeRecord } from './record';
import { sizeOfVarint } from './varint';

/** Batch-level fields of an encoded batch. Defaults are those of a non-idempotent producer. */
export interface EncodeBatchOptions {
  /** Offset of the first record (default 0; the leader rewrites it on append). */
  baseOffset?: number;
  /** Default -1 (the leader rewrites it on append). */
  partitionLeaderEpoch?: number;
  /** Default None. */
  compression?: CompressionCodec;
  /** Codec-specific level (gzip 1..9, zstd 1..22); the codec's default if absent. */
  compressionLevel?: number;
  /** Default CreateTime. */
  timestampType?: TimestampType;
  /** Default -1n (not idempotent). */
  producerId?: bigint;
  /** Default -1. */
  producerEpoch?: number;
  /** Sequence number of the first record; default -1. */
  baseSequence?: number;
  isTransactional?: boolean;
  isControl?: boolean;
  /** Timestamp given to records without one (default Date.now() at the call). */
  now?: number;
  /** Overrides the computed maxTimestamp (a broker stamping LogAppendTime sets it). */
  maxTimestamp?: number;
}

/** Batch-level fields after defaults. */
interface HeaderFields {
  baseOffset: number;
  partitionLeaderEpoch: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordsCount: number;
}

function attributesOf(options: EncodeBatchOptions): number {
  const compression = options.compression ?? CompressionCodec.None;
  if ((compression & COMPRESSION_MASK) !== compression) throw new RangeError(`compression codec ${compression} is out of range`);
  return (
    compression |
    ((options.timestampType ?? TimestampType.CreateTime) === TimestampType.LogAppendTime ? TIMESTAMP_TYPE_MASK : 0) |
    (options.isTransactional ? TRANSACTIONAL_MASK : 0) |
    (options.isControl ? CONTROL_MASK : 0)
  );
}

function checkSafeInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${name} ${value} is not a safe integer`);
}

function checkInt(name: string, value: number, bits: 16 | 32): void {
  const limit = bits === 16 ? 0x8000 : 0x8000_0000;
  if (!Number.isInteger(value) || value < -limit || value >= limit) throw new RangeError(`${name} ${value} is not an int${bits}`);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Writes the 61-byte header of a batch of `size` bytes at `buf[0..]`, then its CRC. */
function finishBatch(buf: Buffer, size: number, f: HeaderFields): void {
  checkSafeInteger('baseTimestamp', f.baseTimestamp);
  checkSafeInteger('maxTimestamp', f.maxTimestamp);
  writeSafeInt64(buf, f.baseOffset, 0);
  buf.writeInt32BE(size - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  buf.writeInt32BE(f.partitionLeaderEpoch, PARTITION_LEADER_EPOCH_OFFSET);
  buf[MAGIC_OFFSET] = MAGIC_V2;
  buf.writeInt16BE(f.attributes, ATTRIBUTES_OFFSET);
  buf.writeInt32BE(f.lastOffsetDelta, LAST_OFFSET_DELTA_OFFSET);
  writeSafeInt64(buf, f.baseTimestamp, BASE_TIMESTAMP_OFFSET);
  writeSafeInt64(buf, f.maxTimestamp, MAX_TIMESTAMP_OFFSET);
  buf.writeBigInt64BE(f.producerId, PRODUCER_ID_OFFSET);
  buf.writeInt16BE(f.producerEpoch, PRODUCER_EPOCH_OFFSET);
  buf.writeInt32BE(f.baseSequence, BASE_SEQUENCE_OFFSET);
  buf.writeInt32BE(f.recordsCount, RECORDS_COUNT_OFFSET);
  buf.writeUInt32BE(computeBatchCrc(buf, 0, size), CRC_OFFSET);
}

/** Throws RangeError for a batch option that does not fit its field. */
function checkOptions(options: EncodeBatchOptions): void {
  attributesOf(options);
  checkSafeInteger('baseOffset', options.baseOffset ?? 0);
  checkInt('partitionLeaderEpoch', options.partitionLeaderEpoch ?? -1, 32);
  checkInt('producerEpoch', options.producerEpoch ?? -1, 16);
  checkInt('baseSequence', options.baseSequence ?? -1, 32);
  const producerId = options.producerId ?? -1n;
  if (typeof producerId !== 'bigint' || producerId < INT64_MIN || producerId > INT64_MAX) {
    throw new RangeError(`producerId ${String(producerId)} is not an int64 bigint`);
  }
  if (options.maxTimestamp !== undefined) checkSafeInteger('maxTimestamp', options.maxTimestamp);
}

function headerFields(options: EncodeBatchOptions, count: number, baseTimestamp: number, maxTimestamp: number): HeaderFields {
  return {
    baseOffset: options.baseOffset ?? 0,
    partitionLeaderEpoch: options.partitionLeaderEpoch ?? -1,
    attributes: attributesOf(options),
    lastOffsetDelta: count > 0 ? count - 1 : 0,
    baseTimestamp,
    maxTimestamp: options.maxTimestamp ?? maxTimestamp,
    producerId: options.producerId ?? -1n,
    producerEpoch: options.producerEpoch ?? -1,
    baseSequence: options.baseSequence ?? -1,
    recordsCount: count,
  };
}

/** Compresses the records in `records[0, length)` and wraps them in a batch. */
function compressedBatch(records: Buffer, length: number, options: EncodeBatchOptions, fields: HeaderFields): Buffer {
  const compressed = compressRecords(options.compression ?? CompressionCodec.None, records.subarray(0, length), options.compressionLevel);
  const out = Buffer.allocUnsafe(RECORDS_OFFSET + compressed.length);
  compressed.copy(out, RECORDS_OFFSET);
  finishBatch(out, out.length, fields);
  return out;
}

// Reusable per-call scratch: body sizes of the records, and the uncompressed records of a
// batch to be compressed.
let bodySizes = new Int32Array(1024);
let scratch = Buffer.allocUnsafe(64 * 1024);

function scratchOf(bytes: number): Buffer {
  if (scratch.length < bytes) scratch = Buffer.allocUnsafe(Math.max(bytes, scratch.length * 2));
  return scratch;
}

/**
 * Encodes `records` as one complete RecordBatch v2 with its CRC. Offsets are
 * baseOffset + index; see the file comment for timestamps. Throws RangeError for values
 * that do not fit their fields, UnsupportedCompressionError for an unavailable codec.
 */
export function encodeBatch(records: readonly RecordInput[], options: EncodeBatchOptions = {}): Buffer {
  const count = records.length;
  if (count > 0x7fff_ffff) throw new RangeError(`${count} records do not fit one batch`);
  checkOptions(options);
  const now = options.now ?? Date.now();
  const first = records[0];
  const baseTimestamp = first === undefined ? -1 : (first.timestamp ?? now);
  let maxTimestamp = baseTimestamp;
  if (bodySizes.length < count) bodySizes = new Int32Array(Math.max(count, bodySizes.length * 2));
  const sizes = bodySizes;
  let recordsBytes = 0;
  for (let i = 0; i < count; i++) {
    const r = records[i]!;
    const ts = r.timestamp ?? now;
    if (ts > maxTimestamp) maxTimestamp = ts;
    const body = recordBodySize(r, ts - baseTimestamp, i);
    sizes[i] = body;
    recordsBytes += sizeOfVarint(body) + body;
  }
  const fields = headerFields(options, count, baseTimestamp, maxTimestamp);
  const compressed = (fields.attributes & COMPRESSION_MASK) !== CompressionCodec.None;
  const out = compressed ? scratchOf(recordsBytes) : Buffer.allocUnsafe(RECORDS_OFFSET + recordsBytes);
  let pos = compressed ? 0 : RECORDS_OFFSET;
  for (let i = 0; i < count; i++) {
    const r = records[i]!;
    pos = writeRecord(out, pos, r, sizes[i]!, (r.timestamp ?? now) - baseTimestamp, i);
  }
  if (compressed) return compressedBatch(out, pos, options, fields);
  finishBatch(out, out.length, fields);
  return out;
}

/** Options of a BatchBuilder: the batch fields, and the size limit. */
export interface BatchBuilderOptions extends EncodeBatchOptions {
  /**
   * Limit on the batch's uncompressed size in bytes (Kafka's batch.size). The first record is
   * always accepted, even when larger, so that any record can be sent alone.
   */
  maxBatchBytes: number;
  /**
   * Where to write the batch (default: a buffer of the builder's own, up to 16 KiB, grown as
   * needed). The builder writes from its first byte and `build()` returns a view of it while
   * the batch fits; a batch that outgrows it moves to a new buffer of the builder's own. The
   * caller lends it until the built batch is no longer needed: a producer passes regions of
   * pooled memory (see libs/client's accumulator), so batches cost no allocation.
   */
  buffer?: Buffer;
}

/**
 * Builds one batch incrementally: `tryAppend` writes each record straight into the builder's
 * buffer, or says no when it would take the batch over `maxBatchBytes`; `build` writes the
 * header and CRC (compressing first if asked) and returns the batch. For a producer that
 * accumulates records per partition. One builder builds one batch.
 */
export class BatchBuilder {
  private readonly options: BatchBuilderOptions;
  private readonly maxBatchBytes: number;
  private buf: Buffer;
  private pos = RECORDS_OFFSET;
  private count = 0;
  private baseTimestamp = -1;
  private maxTimestamp = -1;
  private built = false;

  constructor(options: BatchBuilderOptions) {
    if (!(options.maxBatchBytes > RECORDS_OFFSET)) throw new RangeError(`maxBatchBytes ${options.maxBatchBytes} is too small`);
    checkOptions(options);
    this.options = options;
    this.maxBatchBytes = options.maxBatchBytes;
    const lent = options.buffer;
    this.buf = lent !== undefined && lent.length > RECORDS_OFFSET ? lent : Buffer.allocUnsafe(Math.min(this.maxBatchBytes, 16 * 1024));
  }

  /** Records appended so far. */
  get recordsCount(): number {
    return this.count;
  }

  /** Bytes of the batch so far, uncompressed. */
  get sizeInBytes(): number {
    return this.pos;
  }

  /** Whether the batch has no records. */
  get isEmpty(): boolean {
    return this.count === 0;
  }

  /**
   * Appends `record` if it fits (or is the first); returns false, appending nothing, if it
   * would take the batch over `maxBatchBytes`.
   */
  tryAppend(record: RecordInput): boolean {
    if (this.built) throw new Error('BatchBuilder.tryAppend after build()');
    const ts = record.timestamp ?? this.options.now ?? Date.now();
    if (this.count === 0) {
      this.baseTimestamp = ts;
      this.maxTimestamp = ts;
    }
    const delta = ts - this.baseTimestamp;
    const body = recordBodySize(record, delta, this.count);
    const bytes = sizeOfVarint(body) + body;
    const end = this.pos + bytes;
    if (this.count > 0 && end > this.maxBatchBytes) return false;
    if (this.count === 0x7fff_ffff) return false;
    if (end > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(end, Math.min(this.buf.length * 2, this.maxBatchBytes)));
      this.buf.copy(grown, 0, 0, this.pos);
      this.buf = grown;
    }
    this.pos = writeRecord(this.buf, this.pos, record, body, delta, this.count);
    if (ts > this.maxTimestamp) this.maxTimestamp = ts;
    this.count++;
    return true;
  }

  /**
   * The finished batch. Uncompressed, it is a view of the builder's buffer, which the builder
   * no longer touches; compressed, a new Buffer. The builder accepts no more records.
   */
  build(): Buffer {
    if (this.built) throw new Error('BatchBuilder.build() called twice');
    this.built = true;
    const fields = headerFields(this.options, this.count, this.count === 0 ? -1 : this.baseTimestamp, this.maxTimestamp);
    if ((fields.attributes & COMPRESSION_MASK) !== CompressionCodec.None) {
      return compressedBatch(this.buf.subarray(RECORDS_OFFSET), this.pos - RECORDS_OFFSET, this.options, fields);
    }
    const out = this.buf.subarray(0, this.pos);
    finishBatch(out, this.pos, fields);
    return out;
  }
}

/** A record kept by log compaction: its original offset delta and timestamp are preserved. */
export interface RetainedRecordInput extends RecordInput {
  offsetDelta: number;
  timestamp: number;
}

/**
 * Log compaction's re-encoding (Kafka's MemoryRecords.filterTo / buildRetainedRecordsInto):
 * a new batch holding `records` — a subset, in order, of the records of the batch at
 * `original[pos]` — that keeps the original's baseOffset and lastOffsetDelta (so offsets and
 * the producer's last sequence survive; offset deltas may now have gaps), partitionLeaderEpoch,
 * attributes (codec, timestamp type, transactional, control), producer id, epoch and
 * baseSequence, and each record's timestamp. The records are compressed again with the
 * original codec. With `deleteHorizonMs` (KIP-534), the delete-horizon attribute is set and
 * baseTimestamp holds the horizon (timestamp deltas are taken from it). An empty `records`
 * gives an empty batch (recordsCount 0), which Kafka keeps for an idempotent producer's last
 * batch. maxTimestamp is the retained records' largest (LogAppendTime batches keep theirs).
 */
export function encodeRetainedBatch(original: Buffer, pos: number, records: readonly RetainedRecordInput[], deleteHorizonMs?: number): Buffer {
  let attributes = original.readInt16BE(pos + ATTRIBUTES_OFFSET) & ~DELETE_HORIZON_MASK;
  if (deleteHorizonMs !== undefined) {
    checkSafeInteger('deleteHorizonMs', deleteHorizonMs);
    attributes |= DELETE_HORIZON_MASK;
  }
  const logAppendTime = (attributes & TIMESTAMP_TYPE_MASK) !== 0;
  const originalMax = readSafeInt64(original, pos + MAX_TIMESTAMP_OFFSET);
  const count = records.length;
  const baseTimestamp = deleteHorizonMs ?? (count > 0 ? records[0]!.timestamp : readSafeInt64(original, pos + BASE_TIMESTAMP_OFFSET));
  let maxTimestamp = -1;
  if (bodySizes.length < count) bodySizes = new Int32Array(Math.max(count, bodySizes.length * 2));
  const sizes = bodySizes;
  let recordsBytes = 0;
  let previousDelta = -1;
  for (let i = 0; i < count; i++) {
    const r = records[i]!;
    if (r.offsetDelta <= previousDelta) throw new RangeError(`record ${i} has offsetDelta ${r.offsetDelta}, not after ${previousDelta}`);
    previousDelta = r.offsetDelta;
    if (r.timestamp > maxTimestamp) maxTimestamp = r.timestamp;
    const body = recordBodySize(r, r.timestamp - baseTimestamp, r.offsetDelta);
    sizes[i] = body;
    recordsBytes += sizeOfVarint(body) + body;
  }
  const lastOffsetDelta = original.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
  if (previousDelta > lastOffsetDelta) throw new RangeError(`offsetDelta ${previousDelta} is past the batch's lastOffsetDelta ${lastOffsetDelta}`);
  const fields: HeaderFields = {
    baseOffset: readSafeInt64(original, pos),
    partitionLeaderEpoch: original.readInt32BE(pos + PARTITION_LEADER_EPOCH_OFFSET),
    attributes,
    lastOffsetDelta,
    baseTimestamp,
    maxTimestamp: logAppendTime || count === 0 ? originalMax : maxTimestamp,
    producerId: original.readBigInt64BE(pos + PRODUCER_ID_OFFSET),
    producerEpoch: original.readInt16BE(pos + PRODUCER_EPOCH_OFFSET),
    baseSequence: original.readInt32BE(pos + BASE_SEQUENCE_OFFSET),
    recordsCount: count,
  };
  const compressed = (attributes & COMPRESSION_MASK) !== CompressionCodec.None;
  const out = compressed ? scratchOf(recordsBytes) : Buffer.allocUnsafe(RECORDS_OFFSET + recordsBytes);
  let at = compressed ? 0 : RECORDS_OFFSET;
  for (let i = 0; i < count; i++) {
    const r = records[i]!;
    at = writeRecord(out, at, r, sizes[i]!, r.timestamp - baseTimestamp, r.offsetDelta);
  }
  if (compressed && count > 0) return compressedBatch(out, at, { compression: (attributes & COMPRESSION_MASK) as CompressionCodec }, fields);
  const result = compressed ? Buffer.allocUnsafe(RECORDS_OFFSET) : out;
  if (count === 0) fields.attributes &= ~COMPRESSION_MASK; // nothing to decompress
  finishBatch(result, result.length, fields);
  return result;
}
