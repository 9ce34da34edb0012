import { CompressionCodec, TimestampType, validateBatchAt } from './batch';
import { supportedCompressionCodecs } from './compression';
import { decodeBatch } from './decode';
import { encodeBatch, encodeRetainedBatch } from './encode';

describe('encodeRetainedBatch (log compaction re-encoding)', () => {
  const records = Array.from({ length: 6 }, (_, i) => ({
    key: Buffer.from(`k${i % 3}`),
    value: i === 4 ? null : Buffer.from(`v${i}`),
    headers: [{ key: 'h', value: Buffer.from(`x${i}`) }],
    timestamp: 1_000 + i * 10,
  }));

  it.each(supportedCompressionCodecs())('keeps offsets, timestamps, headers and producer fields (codec %s)', (codec: CompressionCodec) => {
    const original = encodeBatch(records, { baseOffset: 100, partitionLeaderEpoch: 7, compression: codec, producerId: 42n, producerEpoch: 3, baseSequence: 10 });
    const decoded = decodeBatch(original);
    const kept = [decoded.records[1]!, decoded.records[4]!].map((r) => ({ ...r }));
    const out = encodeRetainedBatch(original, 0, kept);
    validateBatchAt(out, 0);
    const again = decodeBatch(out);
    expect(again).toMatchObject({
      baseOffset: 100,
      lastOffsetDelta: 5,
      recordsCount: 2,
      partitionLeaderEpoch: 7,
      compression: codec,
      producerId: 42n,
      producerEpoch: 3,
      baseSequence: 10,
      maxTimestamp: 1_040,
      hasDeleteHorizon: false,
    });
    expect(again.records.map((r) => [r.offset, r.timestamp, r.key?.toString(), r.value?.toString() ?? null, r.headers[0]!.value?.toString()])).toEqual([
      [101, 1_010, 'k1', 'v1', 'x1'],
      [104, 1_040, 'k1', null, 'x4'],
    ]);
  });

  it('stores a delete horizon in baseTimestamp without changing record timestamps', () => {
    const original = encodeBatch(records, { baseOffset: 5 });
    const kept = decodeBatch(original).records.slice(3).map((r) => ({ ...r }));
    const out = encodeRetainedBatch(original, 0, kept, 999_999);
    const again = decodeBatch(out);
    expect(again.hasDeleteHorizon).toBe(true);
    expect(again.baseTimestamp).toBe(999_999);
    expect(again.records.map((r) => [r.offset, r.timestamp])).toEqual([
      [8, 1_030],
      [9, 1_040],
      [10, 1_050],
    ]);
  });

  it('builds an empty batch that keeps the last offset (an idempotent producer\'s last batch)', () => {
    const original = encodeBatch(records, { baseOffset: 20, compression: supportedCompressionCodecs().at(-1)!, timestampType: TimestampType.LogAppendTime, maxTimestamp: 5_000 });
    const out = encodeRetainedBatch(original, 0, []);
    validateBatchAt(out, 0);
    const again = decodeBatch(out);
    expect(again).toMatchObject({ baseOffset: 20, lastOffsetDelta: 5, recordsCount: 0, maxTimestamp: 5_000, records: [] });
  });

  it('refuses records out of order or past the original batch', () => {
    const original = encodeBatch(records, { baseOffset: 0 });
    const [a, b] = decodeBatch(original).records;
    expect(() => encodeRetainedBatch(original, 0, [{ ...b! }, { ...a! }])).toThrow(RangeError);
    expect(() => encodeRetainedBatch(original, 0, [{ ...a!, offsetDelta: 9 }])).toThrow(RangeError);
  });
});
