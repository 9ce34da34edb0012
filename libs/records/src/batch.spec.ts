import {
  BATCH_LENGTH_OFFSET,
  CRC_OFFSET,
  CompressionCodec,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  MIN_BATCH_LENGTH,
  RECORDS_COUNT_OFFSET,
  RECORDS_OFFSET,
  batchAttributes,
  batchBaseOffset,
  batchBaseSequence,
  batchBaseTimestamp,
  batchCompression,
  batchIsControl,
  batchLastOffset,
  batchLastOffsetDelta,
  batchMaxTimestamp,
  batchPartitionLeaderEpoch,
  batchProducerEpoch,
  batchProducerId,
  batchRecordsCount,
  batchSize,
  computeBatchCrc,
  readSafeInt64,
  scanValidBatches,
  setBatchBaseOffset,
  setBatchPartitionLeaderEpoch,
  validateBatchAt,
  writeSafeInt64,
} from './batch';
import { crc32c } from './crc32c';
import { encodeBatch } from './encode';
import type { CorruptionReason } from './errors';
import { CorruptRecordError } from './errors';
import { fixCrc } from './spec-helpers';

function sampleBatch(count = 3, baseOffset = 0): Buffer {
  const records = Array.from({ length: count }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.alloc(20, i), timestamp: 1_700_000_000_000 + i }));
  return encodeBatch(records, { baseOffset, partitionLeaderEpoch: 5, producerId: 9n, producerEpoch: 1, baseSequence: 0 });
}

function reasonOf(fn: () => unknown): CorruptionReason {
  try {
    fn();
  } catch (e) {
    if (e instanceof CorruptRecordError) return e.reason;
    throw e;
  }
  throw new Error('expected a CorruptRecordError');
}

describe('readSafeInt64 / writeSafeInt64', () => {
  const values = [0, 1, -1, 255, -256, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 32 - 1, 2 ** 32, -(2 ** 32), -(2 ** 32) - 1, 2 ** 52 + 3, 2 ** 53, -(2 ** 53), Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER];

  it('agree with int64 two’s complement for positives and negatives', () => {
    const buf = Buffer.alloc(12);
    for (const v of values) {
      writeSafeInt64(buf, v, 2);
      expect(buf.readBigInt64BE(2)).toBe(BigInt(v));
      expect(readSafeInt64(buf, 2)).toBe(v);
      buf.writeBigInt64BE(BigInt(v), 4);
      expect(readSafeInt64(buf, 4)).toBe(v);
    }
  });
});

describe('crc32c', () => {
  it('computes CRC32C (Castagnoli) and chains over pieces', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283); // the standard check value
    const a = Buffer.from('hello, ');
    const b = Buffer.from('world');
    expect(crc32c(b, crc32c(a))).toBe(crc32c(Buffer.concat([a, b])));
  });
});

describe('header accessors and in-place rewrites', () => {
  it('read every header field', () => {
    const batch = encodeBatch([{ key: null, value: Buffer.from('v'), timestamp: 1000 }, { key: null, value: null, timestamp: 3000 }], {
      baseOffset: 2 ** 40,
      partitionLeaderEpoch: 17,
      producerId: 123456789n,
      producerEpoch: 4,
      baseSequence: 99,
      compression: CompressionCodec.Gzip,
      isControl: true,
    });
    expect(batchBaseOffset(batch)).toBe(2 ** 40);
    expect(batchSize(batch)).toBe(batch.length);
    expect(batchPartitionLeaderEpoch(batch)).toBe(17);
    expect(batchCompression(batch)).toBe(CompressionCodec.Gzip);
    expect(batchAttributes(batch)).toBe(0x21);
    expect(batchIsControl(batch)).toBe(true);
    expect(batchLastOffsetDelta(batch)).toBe(1);
    expect(batchLastOffset(batch)).toBe(2 ** 40 + 1);
    expect(batchBaseTimestamp(batch)).toBe(1000);
    expect(batchMaxTimestamp(batch)).toBe(3000);
    expect(batchProducerId(batch)).toBe(123456789n);
    expect(batchProducerEpoch(batch)).toBe(4);
    expect(batchBaseSequence(batch)).toBe(99);
    expect(batchRecordsCount(batch)).toBe(2);
  });

  it('rewrite baseOffset and partitionLeaderEpoch without invalidating the CRC', () => {
    const batch = sampleBatch();
    const crc = batch.readUInt32BE(CRC_OFFSET);
    setBatchBaseOffset(batch, 0, 2 ** 50 + 7);
    setBatchPartitionLeaderEpoch(batch, 0, 42);
    expect(batchBaseOffset(batch)).toBe(2 ** 50 + 7);
    expect(batchPartitionLeaderEpoch(batch)).toBe(42);
    expect(batch.readUInt32BE(CRC_OFFSET)).toBe(crc);
    expect(computeBatchCrc(batch, 0, batch.length)).toBe(crc);
    expect(validateBatchAt(batch, 0)).toBe(batch.length);
  });
});

describe('validateBatchAt', () => {
  it('returns the size of a valid batch, at any position', () => {
    const batch = sampleBatch();
    const padded = Buffer.concat([Buffer.alloc(7, 0xee), batch, Buffer.alloc(5)]);
    expect(validateBatchAt(batch, 0)).toBe(batch.length);
    expect(validateBatchAt(padded, 7)).toBe(batch.length);
  });

  it('truncated: fewer bytes than a header, or than batchLength announces', () => {
    const batch = sampleBatch();
    expect(reasonOf(() => validateBatchAt(batch.subarray(0, RECORDS_OFFSET - 1), 0))).toBe('truncated');
    expect(reasonOf(() => validateBatchAt(Buffer.alloc(0), 0))).toBe('truncated');
    expect(reasonOf(() => validateBatchAt(batch.subarray(0, batch.length - 1), 0))).toBe('truncated');
    expect(reasonOf(() => validateBatchAt(batch, batch.length))).toBe('truncated');
  });

  it('bad-batch-length: below the header size, negative, or above the limit', () => {
    for (const length of [MIN_BATCH_LENGTH - 1, 0, -1, -(2 ** 31)]) {
      const batch = sampleBatch();
      batch.writeInt32BE(length, BATCH_LENGTH_OFFSET);
      expect(reasonOf(() => validateBatchAt(batch, 0))).toBe('bad-batch-length');
    }
    const batch = sampleBatch();
    expect(reasonOf(() => validateBatchAt(batch, 0, batch.length - 1))).toBe('bad-batch-length');
    expect(validateBatchAt(batch, 0, batch.length)).toBe(batch.length);
  });

  it('bad-magic: magic other than 2', () => {
    for (const magic of [0, 1, 3, 0xff]) {
      const batch = sampleBatch();
      batch[MAGIC_OFFSET] = magic;
      expect(reasonOf(() => validateBatchAt(batch, 0))).toBe('bad-magic');
    }
  });

  it('crc-mismatch: any flipped bit from attributes to the end', () => {
    const batch = sampleBatch();
    for (let pos = 21; pos < batch.length; pos += 3) {
      const copy = Buffer.from(batch);
      copy[pos] = copy[pos]! ^ (1 << (pos % 8));
      expect(reasonOf(() => validateBatchAt(copy, 0))).toBe('crc-mismatch');
    }
    const copy = Buffer.from(batch);
    copy[CRC_OFFSET] = copy[CRC_OFFSET]! ^ 0x80;
    expect(reasonOf(() => validateBatchAt(copy, 0))).toBe('crc-mismatch');
  });

  it('bad-records: negative counts, or more records than the bytes can hold', () => {
    const cases: Array<[number, number]> = [
      [RECORDS_COUNT_OFFSET, -1],
      [LAST_OFFSET_DELTA_OFFSET, -1],
      [RECORDS_COUNT_OFFSET, 1000],
    ];
    for (const [field, value] of cases) {
      const batch = sampleBatch();
      batch.writeInt32BE(value, field);
      fixCrc(batch);
      expect(reasonOf(() => validateBatchAt(batch, 0))).toBe('bad-records');
    }
  });
});

describe('scanValidBatches', () => {
  const a = sampleBatch(2, 0);
  const b = sampleBatch(5, 2);
  const c = sampleBatch(1, 7);
  const valid = Buffer.concat([a, b, c]);

  it('accepts a concatenation of valid batches', () => {
    expect(scanValidBatches(valid)).toEqual({ validBytes: valid.length, batches: 3 });
    expect(scanValidBatches(Buffer.alloc(0))).toEqual({ validBytes: 0, batches: 0 });
    expect(scanValidBatches(valid, a.length)).toEqual({ validBytes: b.length + c.length, batches: 2 });
  });

  it('stops at a torn tail (a partial batch)', () => {
    const torn = Buffer.concat([valid, sampleBatch(3, 8).subarray(0, 40)]);
    const result = scanValidBatches(torn);
    expect(result.validBytes).toBe(valid.length);
    expect(result.batches).toBe(3);
    expect(result.error?.reason).toBe('truncated');
    expect(result.error?.position).toBe(valid.length);
  });

  it('stops at a corrupt batch and ignores what follows it', () => {
    const bad = Buffer.from(b);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
    const result = scanValidBatches(Buffer.concat([a, bad, c]));
    expect(result).toMatchObject({ validBytes: a.length, batches: 1 });
    expect(result.error?.reason).toBe('crc-mismatch');
  });

  it('stops at zero padding (a preallocated segment tail)', () => {
    const result = scanValidBatches(Buffer.concat([valid, Buffer.alloc(100)]));
    expect(result).toMatchObject({ validBytes: valid.length, batches: 3 });
    expect(result.error?.reason).toBe('bad-batch-length');
  });

  it('honours the batch size limit', () => {
    const result = scanValidBatches(valid, 0, Math.max(a.length, c.length));
    expect(result).toMatchObject({ validBytes: a.length, batches: 1 });
    expect(result.error?.reason).toBe('bad-batch-length');
  });
});
