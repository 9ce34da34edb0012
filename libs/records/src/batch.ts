/**
 * Kafka RecordBatch v2 (magic 2): the header layout, in-place header rewrites, and
 * validation of whole batches without decoding their records.
 *
 * Byte layout (big-endian), positions relative to the batch start:
 *
 *   0  baseOffset            int64   first offset of the batch (set by the leader)
 *   8  batchLength           int32   bytes that follow this field (batch size - 12)
 *  12  partitionLeaderEpoch  int32   epoch of the leader that appended it (set by the leader)
 *  16  magic                 int8    2
 *  17  crc                   uint32  CRC32C of bytes 21 .. end (attributes to last record)
 *  21  attributes            int16   bits 0-2 compression (0 none, 1 gzip, 2 snappy, 3 lz4,
 *                                    4 zstd), bit 3 timestamp type (1 = LogAppendTime),
 *                                    bit 4 transactional, bit 5 control, bit 6 delete horizon
 *  23  lastOffsetDelta       int32   offset of the last record minus baseOffset
 *  27  baseTimestamp         int64   ms; first record's timestamp (or delete horizon)
 *  35  maxTimestamp          int64   ms; largest record timestamp (or append time)
 *  43  producerId            int64   -1 when not idempotent
 *  51  producerEpoch         int16
 *  53  baseSequence          int32   -1 when not idempotent
 *  57  recordsCount          int32
 *  61  records               recordsCount varint-framed records (possibly compressed)
 *
 * Because the CRC starts at `attributes`, a broker may rewrite baseOffset and
 * partitionLeaderEpoch in place without recomputing it — which is how the log assigns
 * offsets without re-encoding anything.
 *
 * Offsets here are plain numbers: the log guarantees they stay below 2^53 (see libs/log).
 * Nothing in this file allocates per batch; functions take (buffer, position) and read in
 * place. Callers own the buffers; nothing keeps a reference.
 */
import { crc32c } from './crc32c';
import { CorruptRecordError } from './errors';

export const MAGIC_V2 = 2;

export const BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORDS_COUNT_OFFSET = 57;
/** Size of the batch header; records start here. */
export const RECORDS_OFFSET = 61;
/** baseOffset + batchLength: the bytes not counted by batchLength. */
export const LOG_OVERHEAD = 12;
/** Smallest legal batchLength (a header with no records). */
export const MIN_BATCH_LENGTH = RECORDS_OFFSET - LOG_OVERHEAD;
/** Hard ceiling on one batch, whatever the configuration (Kafka's int32 framing allows 2 GiB). */
export const MAX_BATCH_SIZE_LIMIT = 1024 * 1024 * 1024;

export const COMPRESSION_MASK = 0x07;
export const TIMESTAMP_TYPE_MASK = 0x08;
export const TRANSACTIONAL_MASK = 0x10;
export const CONTROL_MASK = 0x20;
export const DELETE_HORIZON_MASK = 0x40;

export enum CompressionCodec {
  None = 0,
  Gzip = 1,
  Snappy = 2,
  Lz4 = 3,
  Zstd = 4,
}

export enum TimestampType {
  CreateTime = 0,
  LogAppendTime = 1,
}

const TWO_32 = 0x1_0000_0000;

/** Reads an int64 in [-2^53, 2^53] as a number (no bigint allocation). */
export function readSafeInt64(buf: Buffer, pos: number): number {
  const hi = buf.readInt32BE(pos);
  const lo = buf.readUInt32BE(pos + 4);
  return hi * TWO_32 + lo;
}

/** Writes an integer in [-2^53, 2^53] as int64 (two's complement for negatives). */
export function writeSafeInt64(buf: Buffer, value: number, pos: number): void {
  const hi = Math.floor(value / TWO_32);
  const lo = value - hi * TWO_32;
  buf.writeInt32BE(hi, pos);
  buf.writeUInt32BE(lo, pos + 4);
}

export function batchBaseOffset(buf: Buffer, pos = 0): number {
  return readSafeInt64(buf, pos + BASE_OFFSET_OFFSET);
}
/** Total bytes of the batch starting at pos (header fields included). */
export function batchSize(buf: Buffer, pos = 0): number {
  return LOG_OVERHEAD + buf.readInt32BE(pos + BATCH_LENGTH_OFFSET);
}
export function batchPartitionLeaderEpoch(buf: Buffer, pos = 0): number {
  return buf.readInt32BE(pos + PARTITION_LEADER_EPOCH_OFFSET);
}
export function batchAttributes(buf: Buffer, pos = 0): number {
  return buf.readInt16BE(pos + ATTRIBUTES_OFFSET);
}
export function batchCompression(buf: Buffer, pos = 0): CompressionCodec {
  return (buf.readInt16BE(pos + ATTRIBUTES_OFFSET) & COMPRESSION_MASK) as CompressionCodec;
}
export function batchLastOffsetDelta(buf: Buffer, pos = 0): number {
  return buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
}
/** Offset of the last record: baseOffset + lastOffsetDelta. */
export function batchLastOffset(buf: Buffer, pos = 0): number {
  return batchBaseOffset(buf, pos) + batchLastOffsetDelta(buf, pos);
}
export function batchBaseTimestamp(buf: Buffer, pos = 0): number {
  return readSafeInt64(buf, pos + BASE_TIMESTAMP_OFFSET);
}
export function batchMaxTimestamp(buf: Buffer, pos = 0): number {
  return readSafeInt64(buf, pos + MAX_TIMESTAMP_OFFSET);
}
export function batchProducerId(buf: Buffer, pos = 0): bigint {
  return buf.readBigInt64BE(pos + PRODUCER_ID_OFFSET);
}
export function batchProducerEpoch(buf: Buffer, pos = 0): number {
  return buf.readInt16BE(pos + PRODUCER_EPOCH_OFFSET);
}
export function batchBaseSequence(buf: Buffer, pos = 0): number {
  return buf.readInt32BE(pos + BASE_SEQUENCE_OFFSET);
}
export function batchRecordsCount(buf: Buffer, pos = 0): number {
  return buf.readInt32BE(pos + RECORDS_COUNT_OFFSET);
}
export function batchIsControl(buf: Buffer, pos = 0): boolean {
  return (batchAttributes(buf, pos) & CONTROL_MASK) !== 0;
}

/** Rewrites baseOffset in place (not covered by the CRC). */
export function setBatchBaseOffset(buf: Buffer, pos: number, baseOffset: number): void {
  writeSafeInt64(buf, baseOffset, pos + BASE_OFFSET_OFFSET);
}
/** Rewrites partitionLeaderEpoch in place (not covered by the CRC). */
export function setBatchPartitionLeaderEpoch(buf: Buffer, pos: number, epoch: number): void {
  buf.writeInt32BE(epoch, pos + PARTITION_LEADER_EPOCH_OFFSET);
}

/** Computes the CRC a batch should carry (over attributes..end). */
export function computeBatchCrc(buf: Buffer, pos: number, size: number): number {
  return crc32c(buf.subarray(pos + ATTRIBUTES_OFFSET, pos + size));
}

/**
 * Validates the header and CRC of the batch at `pos` and returns its total size in bytes.
 * Checks, in order: enough bytes for a header, batchLength sane (≥ header, ≤ maxBatchBytes)
 * and fully present, magic 2, CRC32C, recordsCount and lastOffsetDelta non-negative.
 * Never reads outside `buf`; throws CorruptRecordError with the reason and position.
 * Records inside are not walked: see `validateRecords` for that.
 */
export function validateBatchAt(buf: Buffer, pos: number, maxBatchBytes = MAX_BATCH_SIZE_LIMIT): number {
  const available = buf.length - pos;
  if (available < RECORDS_OFFSET) {
    throw new CorruptRecordError(
      'truncated',
      `record batch header needs ${RECORDS_OFFSET} bytes, only ${available} remain`,
      pos,
    );
  }
  const batchLength = buf.readInt32BE(pos + BATCH_LENGTH_OFFSET);
  if (batchLength < MIN_BATCH_LENGTH) {
    throw new CorruptRecordError('bad-batch-length', `batchLength ${batchLength} is below the minimum ${MIN_BATCH_LENGTH}`, pos);
  }
  const size = LOG_OVERHEAD + batchLength;
  if (size > maxBatchBytes) {
    throw new CorruptRecordError('bad-batch-length', `record batch of ${size} bytes exceeds the limit of ${maxBatchBytes} bytes`, pos);
  }
  if (size > available) {
    throw new CorruptRecordError('truncated', `record batch announces ${size} bytes, only ${available} remain`, pos);
  }
  const magic = buf.readInt8(pos + MAGIC_OFFSET);
  if (magic !== MAGIC_V2) {
    throw new CorruptRecordError('bad-magic', `record batch magic is ${magic}, expected ${MAGIC_V2}`, pos);
  }
  const stored = buf.readUInt32BE(pos + CRC_OFFSET);
  const actual = computeBatchCrc(buf, pos, size);
  if (stored !== actual) {
    throw new CorruptRecordError(
      'crc-mismatch',
      `record batch CRC32C is 0x${stored.toString(16)}, computed 0x${actual.toString(16)}`,
      pos,
    );
  }
  const count = buf.readInt32BE(pos + RECORDS_COUNT_OFFSET);
  const lastOffsetDelta = buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
  if (count < 0 || lastOffsetDelta < 0) {
    throw new CorruptRecordError('bad-records', `recordsCount ${count} / lastOffsetDelta ${lastOffsetDelta} is negative`, pos);
  }
  // Each record takes at least 7 bytes (length, attributes, timestampDelta, offsetDelta,
  // keyLength, valueLength, headerCount), before compression at most ~1:1000 for gzip; the
  // strict check happens in validateRecords. Here only catch counts that cannot fit at all
  // for an uncompressed batch.
  if ((batchAttributes(buf, pos) & COMPRESSION_MASK) === 0 && count * 7 > size - RECORDS_OFFSET) {
    throw new CorruptRecordError('bad-records', `recordsCount ${count} cannot fit in ${size - RECORDS_OFFSET} bytes of records`, pos);
  }
  return size;
}

/**
 * Walks a buffer holding zero or more concatenated batches, validating each header and CRC.
 * Returns the number of bytes that form whole valid batches from `start` (stops at the first
 * invalid or incomplete batch) and the error that stopped it, if any. Used by log recovery.
 */
export function scanValidBatches(
  buf: Buffer,
  start = 0,
  maxBatchBytes = MAX_BATCH_SIZE_LIMIT,
): { validBytes: number; batches: number; error?: CorruptRecordError } {
  let pos = start;
  let batches = 0;
  while (pos < buf.length) {
    try {
      pos += validateBatchAt(buf, pos, maxBatchBytes);
      batches++;
    } catch (e) {
      if (e instanceof CorruptRecordError) return { validBytes: pos - start, batches, error: e };
      throw e;
    }
  }
  return { validBytes: pos - start, batches };
}
