import {
  ATTRIBUTES_OFFSET,
  BATCH_LENGTH_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  CompressionCodec,
  LAST_OFFSET_DELTA_OFFSET,
  RECORDS_COUNT_OFFSET,
  RECORDS_OFFSET,
  TimestampType,
  validateBatchAt,
} from './batch';
import { supportedCompressionCodecs } from './compression';
import { decodeBatch, decodeBatches, forEachRecord, readBatchHeader, validateRecords } from './decode';
import { BatchBuilder, encodeBatch } from './encode';
import type { CorruptionReason } from './errors';
import { CorruptRecordError } from './errors';
import type { RecordInput } from './record';
import { RecordView, readRecordFraming, utf8Length } from './record';
import { Random, fixCrc, randomRecords } from './spec-helpers';
import { ByteCursor, writeVarint } from './varint';

const T0 = 1_700_000_000_000;

function corruption(fn: () => unknown): { reason: CorruptionReason; message: string; position: number } {
  try {
    fn();
  } catch (e) {
    if (e instanceof CorruptRecordError) return { reason: e.reason, message: e.message, position: e.position };
    throw e;
  }
  throw new Error('expected a CorruptRecordError');
}

const hex = (b: Buffer | null) => (b === null ? null : b.toString('hex'));

/** A comparable rendering of a record (hex bytes: jest compares strings much faster than Buffers). */
function plain(r: { key: Buffer | null; value: Buffer | null; headers?: readonly { key: string; value: Buffer | null }[]; timestamp?: number }) {
  return { key: hex(r.key), value: hex(r.value), headers: (r.headers ?? []).map((h) => [h.key, hex(h.value)]), timestamp: r.timestamp };
}

/** Checks decoded records against the inputs (offsets from `baseOffset`). */
function expectRecords(decoded: ReturnType<typeof decodeBatch>, inputs: RecordInput[], baseOffset: number): void {
  expect(decoded.records.map((d) => [d.offset, d.offsetDelta, d.attributes])).toEqual(inputs.map((_, i) => [baseOffset + i, i, 0]));
  expect(decoded.records.map(plain)).toEqual(inputs.map(plain));
}

/** Hand-encoded record bodies, for malformed-record tests. */
function rawRecord(body: number[], declaredLength = body.length): number[] {
  const len = Buffer.alloc(5);
  return [...len.subarray(0, writeVarint(len, 0, declaredLength)), ...body];
}

/** A batch whose records section is `records` (count and lastOffsetDelta as given), CRC fixed. */
function batchOf(records: number[], count: number, lastOffsetDelta = count - 1): Buffer {
  const batch = encodeBatch([], { now: T0 });
  const out = Buffer.concat([batch, Buffer.from(records)]);
  out.writeInt32BE(out.length - 12, BATCH_LENGTH_OFFSET);
  out.writeInt32BE(count, RECORDS_COUNT_OFFSET);
  out.writeInt32BE(lastOffsetDelta, LAST_OFFSET_DELTA_OFFSET);
  out.writeInt32BE(0, BASE_TIMESTAMP_OFFSET);
  out.writeInt32BE(0, BASE_TIMESTAMP_OFFSET + 4);
  fixCrc(out);
  return out;
}

// attributes 0, timestampDelta 0, offsetDelta d, key null, value 'v', no headers
const okRecord = (delta: number) => rawRecord([0, 0, delta * 2, 1, 2, 0x76, 0]);

describe('encodeBatch / decodeBatch', () => {
  it('round-trips every header field', () => {
    const records: RecordInput[] = [
      { key: Buffer.from('a'), value: Buffer.from('1'), timestamp: T0 + 5 },
      { key: Buffer.from('b'), value: Buffer.from('2'), timestamp: T0 },
      { key: Buffer.from('c'), value: Buffer.from('3'), timestamp: T0 + 9 },
    ];
    const batch = encodeBatch(records, {
      baseOffset: 1234567890123,
      partitionLeaderEpoch: 7,
      timestampType: TimestampType.CreateTime,
      producerId: 2n ** 40n + 3n,
      producerEpoch: 12,
      baseSequence: 345,
      isTransactional: true,
    });
    const d = decodeBatch(batch);
    expect(d).toMatchObject({
      baseOffset: 1234567890123,
      sizeInBytes: batch.length,
      partitionLeaderEpoch: 7,
      magic: 2,
      crc: batch.readUInt32BE(17),
      attributes: 0x10,
      compression: CompressionCodec.None,
      timestampType: TimestampType.CreateTime,
      isTransactional: true,
      isControl: false,
      hasDeleteHorizon: false,
      lastOffsetDelta: 2,
      baseTimestamp: T0 + 5,
      maxTimestamp: T0 + 9,
      producerId: 2n ** 40n + 3n,
      producerEpoch: 12,
      baseSequence: 345,
      recordsCount: 3,
    });
    expect(d.records.map((r) => r.timestampDelta)).toEqual([0, -5, 4]);
    expectRecords(d, records, 1234567890123);
    const { records: _records, ...header } = d;
    expect(readBatchHeader(batch)).toEqual(header);
  });

  it('uses the documented defaults', () => {
    const batch = encodeBatch([{ key: null, value: null }], { now: T0 });
    expect(readBatchHeader(batch)).toMatchObject({
      baseOffset: 0,
      partitionLeaderEpoch: -1,
      attributes: 0,
      lastOffsetDelta: 0,
      baseTimestamp: T0,
      maxTimestamp: T0,
      producerId: -1n,
      producerEpoch: -1,
      baseSequence: -1,
      recordsCount: 1,
    });
  });

  it('encodes the attribute bits: compression, timestamp type, transactional, control', () => {
    const batch = encodeBatch([{ key: null, value: Buffer.from('x') }], {
      compression: CompressionCodec.Gzip,
      timestampType: TimestampType.LogAppendTime,
      isTransactional: true,
      isControl: true,
      maxTimestamp: T0 + 1000,
      now: T0,
    });
    expect(batch.readInt16BE(ATTRIBUTES_OFFSET)).toBe(0x01 | 0x08 | 0x10 | 0x20);
    const d = decodeBatch(batch);
    expect(d).toMatchObject({ timestampType: TimestampType.LogAppendTime, isTransactional: true, isControl: true, maxTimestamp: T0 + 1000 });
    // Under LogAppendTime every record reports the batch's maxTimestamp, as Kafka does.
    expect(d.records[0]!.timestamp).toBe(T0 + 1000);
    expect(d.records[0]!.timestampDelta).toBe(0);
  });

  it('writes every record field byte for byte', () => {
    const batch = encodeBatch(
      [{ key: Buffer.from('k'), value: Buffer.from('vv'), headers: [{ key: 'h', value: null }, { key: 'é', value: Buffer.alloc(0) }], timestamp: T0 }],
      { now: T0 },
    );
    // length, attributes, tsDelta, offsetDelta, keyLen, key, valueLen, value, headerCount,
    // [keyLen 'h' valueLen -1] [keyLen 'é' (2 bytes) valueLen 0]
    const body = [0, 0, 0, 2, 0x6b, 4, 0x76, 0x76, 4, 2, 0x68, 1, 4, 0xc3, 0xa9, 0];
    expect([...batch.subarray(RECORDS_OFFSET)]).toEqual([body.length * 2, ...body]);
  });

  it('distinguishes null from empty keys, values and header values', () => {
    const records: RecordInput[] = [
      { key: null, value: null, timestamp: T0 },
      { key: Buffer.alloc(0), value: Buffer.alloc(0), timestamp: T0 },
      { key: Buffer.alloc(0), value: null, headers: [{ key: '', value: null }, { key: 'e', value: Buffer.alloc(0) }], timestamp: T0 },
    ];
    const d = decodeBatch(encodeBatch(records));
    expectRecords(d, records, 0);
    expect(d.records[0]!.key).toBeNull();
    expect(d.records[1]!.key).toEqual(Buffer.alloc(0));
    expect(d.records[2]!.headers[0]!.value).toBeNull();
    expect(d.records[2]!.headers[1]!.value).toEqual(Buffer.alloc(0));
  });

  it('round-trips random records: headers, unicode keys, large values, negative and 64-bit deltas', () => {
    const r = new Random(3);
    for (let i = 0; i < 200; i++) {
      const records = randomRecords(r, r.range(1, 30), { nullHeaderValues: true, maxValueBytes: r.chance(0.1) ? 20000 : 300 });
      const baseOffset = r.int(2 ** 48);
      const batch = encodeBatch(records, { baseOffset });
      expect(validateBatchAt(batch, 0)).toBe(batch.length);
      expectRecords(decodeBatch(batch), records, baseOffset);
      expect(validateRecords(batch).recordsCount).toBe(records.length);
    }
  });

  it('gives records without a timestamp the batch time', () => {
    const d = decodeBatch(encodeBatch([{ key: null, value: null }, { key: null, value: null, timestamp: T0 - 10 }], { now: T0 }));
    expect(d.records.map((x) => x.timestamp)).toEqual([T0, T0 - 10]);
    expect(d.maxTimestamp).toBe(T0);
  });

  it('decodes keys and values as views of the input buffer', () => {
    const batch = encodeBatch([{ key: Buffer.from('key'), value: Buffer.from('value') }]);
    const d = decodeBatch(batch);
    expect(d.records[0]!.value!.buffer).toBe(batch.buffer);
    batch[batch.length - 2] = 0x45; // the last byte of the value
    expect(d.records[0]!.value!.toString()).toBe('valuE');
  });

  it('encodes an empty batch, which decodes but fails validateRecords', () => {
    const batch = encodeBatch([], { now: T0 });
    expect(batch.length).toBe(RECORDS_OFFSET);
    expect(decodeBatch(batch)).toMatchObject({ recordsCount: 0, records: [], baseTimestamp: -1, maxTimestamp: -1, lastOffsetDelta: 0 });
    expect(corruption(() => validateRecords(batch)).reason).toBe('bad-records');
  });

  it('refuses values that do not fit their fields', () => {
    expect(() => encodeBatch([], { baseOffset: 2 ** 60 })).toThrow(RangeError);
    expect(() => encodeBatch([], { producerEpoch: 40000 })).toThrow(RangeError);
    expect(() => encodeBatch([], { partitionLeaderEpoch: 2 ** 31 })).toThrow(RangeError);
    expect(() => encodeBatch([], { baseSequence: -(2 ** 31) - 1 })).toThrow(RangeError);
    expect(() => encodeBatch([], { producerId: 2n ** 63n })).toThrow(RangeError);
    expect(() => encodeBatch([], { compression: 9 as CompressionCodec })).toThrow(RangeError);
    expect(() => encodeBatch([{ key: null, value: null, timestamp: 1.5 }])).toThrow(RangeError);
  });

  it('decodes every batch of a concatenation', () => {
    const a = encodeBatch([{ key: null, value: Buffer.from('a') }], { baseOffset: 0 });
    const b = encodeBatch([{ key: null, value: Buffer.from('b') }, { key: null, value: Buffer.from('c') }], { baseOffset: 1 });
    const all = decodeBatches(Buffer.concat([a, b]));
    expect(all.flatMap((x) => x.records.map((y) => [y.offset, y.value!.toString()]))).toEqual([
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
    ]);
    expect(corruption(() => decodeBatches(Buffer.concat([a, b.subarray(0, 70)]))).reason).toBe('truncated');
  });
});

describe('forEachRecord', () => {
  it('visits every record with one reused view', () => {
    const records = randomRecords(new Random(5), 50, { nullHeaderValues: true });
    const batch = encodeBatch(records, { baseOffset: 100, compression: CompressionCodec.Gzip });
    const seen: RecordView[] = [];
    const header = forEachRecord(batch, 0, (v) => {
      const i = seen.length;
      seen.push(v);
      expect(v.offset).toBe(100 + i);
      expect(v.timestamp).toBe(records[i]!.timestamp);
      expect(v.key()).toEqual(records[i]!.key);
      expect(v.value()).toEqual(records[i]!.value);
      expect(v.headers()).toEqual(records[i]!.headers ?? []);
      expect(v.keyLength).toBe(records[i]!.key?.length ?? -1);
      expect(v.toRecord().offset).toBe(100 + i);
    });
    expect(header.recordsCount).toBe(50);
    expect(seen).toHaveLength(50);
    expect(new Set(seen).size).toBe(1);
  });

  it('stops when the visitor returns false', () => {
    const batch = encodeBatch(randomRecords(new Random(6), 10));
    let n = 0;
    forEachRecord(batch, 0, () => ++n < 4);
    expect(n).toBe(4);
  });

  it('validates the CRC before visiting anything', () => {
    const batch = encodeBatch(randomRecords(new Random(6), 10));
    batch[batch.length - 1] = batch[batch.length - 1]! ^ 1;
    const visit = jest.fn();
    expect(corruption(() => forEachRecord(batch, 0, visit)).reason).toBe('crc-mismatch');
    expect(visit).not.toHaveBeenCalled();
  });
});

describe('BatchBuilder', () => {
  it('builds the same bytes as encodeBatch', () => {
    const r = new Random(8);
    for (const compression of supportedCompressionCodecs()) {
      const records = randomRecords(r, 40, { nullHeaderValues: true });
      const options = { baseOffset: 77, producerId: 5n, producerEpoch: 2, baseSequence: 10, compression };
      const builder = new BatchBuilder({ ...options, maxBatchBytes: 1 << 20 });
      for (const rec of records) expect(builder.tryAppend(rec)).toBe(true);
      expect(builder.recordsCount).toBe(40);
      const built = builder.build();
      expect(built.equals(encodeBatch(records, options))).toBe(true);
      expectRecords(decodeBatch(built), records, 77);
      expect(() => builder.tryAppend(records[0]!)).toThrow();
    }
  });

  it('refuses a record that would exceed maxBatchBytes, but always takes the first', () => {
    const value = Buffer.alloc(100);
    const builder = new BatchBuilder({ maxBatchBytes: 1000 });
    let accepted = 0;
    while (builder.tryAppend({ key: null, value, timestamp: T0 })) accepted++;
    expect(accepted).toBe(8); // 61 + 8 × 109 = 933; a 9th would make 1042
    const batch = builder.build();
    expect(batch.length).toBeLessThanOrEqual(1000);
    expect(validateRecords(batch).recordsCount).toBe(8);

    const big = new BatchBuilder({ maxBatchBytes: 100 });
    expect(big.tryAppend({ key: null, value: Buffer.alloc(5000), timestamp: T0 })).toBe(true);
    expect(big.tryAppend({ key: null, value: null, timestamp: T0 })).toBe(false);
    expect(decodeBatch(big.build()).records[0]!.value).toHaveLength(5000);
  });

  it('grows its buffer as records arrive', () => {
    const builder = new BatchBuilder({ maxBatchBytes: 4 << 20 });
    const records = randomRecords(new Random(9), 2000);
    for (const rec of records) expect(builder.tryAppend(rec)).toBe(true);
    expectRecords(decodeBatch(builder.build()), records, 0);
  });

  it('writes into a lent buffer, and moves out of it when the batch outgrows it', () => {
    const records = randomRecords(new Random(10), 30);
    const lent = Buffer.alloc(64 * 1024, 0xee);
    const region = lent.subarray(100, 100 + 32 * 1024);
    const builder = new BatchBuilder({ maxBatchBytes: 32 * 1024, buffer: region });
    for (const rec of records) expect(builder.tryAppend(rec)).toBe(true);
    const built = builder.build();
    expect(built.buffer).toBe(lent.buffer);
    expect(built.byteOffset).toBe(region.byteOffset);
    expect(built.equals(encodeBatch(records, { now: T0 }))).toBe(true);
    expect(lent[99]).toBe(0xee); // nothing written before the region
    expect(lent[100 + built.length]).toBe(0xee); // nor after the batch

    const small = Buffer.alloc(200, 0xee);
    const outgrown = new BatchBuilder({ maxBatchBytes: 1 << 20, buffer: small });
    for (const rec of records) expect(outgrown.tryAppend(rec)).toBe(true);
    const moved = outgrown.build();
    expect(moved.buffer).not.toBe(small.buffer);
    expectRecords(decodeBatch(moved), records, 0);
  });
});

describe('validateRecords', () => {
  it('summarises a valid batch', () => {
    const batch = encodeBatch([
      { key: null, value: Buffer.from('a'), timestamp: T0 + 3 },
      { key: Buffer.from('k'), value: Buffer.from('b'), timestamp: T0 + 9 },
      { key: null, value: Buffer.from('c'), timestamp: T0 + 9 },
    ]);
    expect(validateRecords(batch)).toEqual({
      recordsCount: 3,
      maxTimestamp: T0 + 9,
      offsetDeltaOfMaxTimestamp: 1,
      nullKeyCount: 2,
      uncompressedBytes: batch.length - RECORDS_OFFSET,
    });
  });

  it('decompresses compressed batches first', () => {
    const records = randomRecords(new Random(10), 30);
    for (const compression of supportedCompressionCodecs()) {
      const batch = encodeBatch(records, { compression });
      expect(validateRecords(batch)).toMatchObject({ recordsCount: 30, uncompressedBytes: encodeBatch(records).length - RECORDS_OFFSET });
    }
  });

  it('requires offset deltas 0, 1, 2, … and recordsCount = lastOffsetDelta + 1', () => {
    expect(validateRecords(batchOf([...okRecord(0), ...okRecord(1)], 2)).recordsCount).toBe(2);
    // A compacted-style gap: decodable, but not what a producer may send.
    const gap = batchOf([...okRecord(0), ...okRecord(2)], 2, 2);
    expect(decodeBatch(gap).records.map((x) => x.offset)).toEqual([0, 2]);
    expect(corruption(() => validateRecords(gap)).message).toMatch(/recordsCount 2 must be lastOffsetDelta 2 \+ 1/);
    const swapped = batchOf([...okRecord(1), ...okRecord(0)], 2);
    expect(corruption(() => validateRecords(swapped)).message).toMatch(/offsetDelta 1, expected 0/);
    expect(corruption(() => decodeBatch(swapped)).message).toMatch(/offsetDelta 0 \(previous 1/);
  });
});

describe('decoding malformed records', () => {
  const cases: Array<[string, number[], number, RegExp]> = [
    ['a record length below the minimum', [...rawRecord([0, 0, 0, 1, 1], 5), 0, 0], 1, /record length 5/],
    ['a record length past the batch', rawRecord([0, 0, 0, 1, 1, 0], 7), 1, /record length 7/],
    ['a negative record length', rawRecord([0, 0, 0, 1, 1, 0], -1), 1, /record length -1/],
    ['a declared length longer than the fields', rawRecord([0, 0, 0, 1, 1, 0, 0], 7), 1, /declares 7 bytes but its fields take 6/],
    ['a key longer than the record', rawRecord([0, 0, 0, 40, 1, 0]), 1, /run past the end/],
    ['a key length below -1', rawRecord([0, 0, 0, 3, 1, 0]), 1, /key length -2/],
    ['a value length below -1', rawRecord([0, 0, 0, 1, 5, 0]), 1, /value length -3/],
    ['a negative header count', rawRecord([0, 0, 0, 1, 1, 1]), 1, /header count -1/],
    ['a header count too large for the bytes', rawRecord([0, 0, 0, 1, 1, 20, 0, 1]), 1, /header count 10/],
    ['a negative header key length', rawRecord([0, 0, 0, 1, 1, 2, 1, 1]), 1, /header key length -1/],
    ['a header value length below -1', rawRecord([0, 0, 0, 1, 1, 2, 0, 3]), 1, /header value length -2/],
    ['an over-long varint', rawRecord([0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0, 1, 1, 0]), 1, /varint is longer than 32 bits/],
    ['a timestampDelta beyond 2^53', rawRecord([0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 1, 1, 0]), 1, /outside ±2\^53/],
    ['fewer records than recordsCount', okRecord(0), 2, /recordsCount 2 cannot fit|only 1 records/],
    ['bytes after the last record', [...okRecord(0), 0, 0, 0, 0, 0, 0, 0, 0], 1, /8 bytes follow the last/],
    ['an offsetDelta above lastOffsetDelta', okRecord(3), 1, /offsetDelta 3/],
    ['a negative offsetDelta', rawRecord([0, 0, 1, 1, 1, 0]), 1, /offsetDelta -1/],
  ];

  it.each(cases)('rejects %s', (_name, records, count, message) => {
    const batch = batchOf(records, count, Math.max(count - 1, 0));
    const decodeError = corruption(() => decodeBatch(batch));
    expect(decodeError.reason).toBe('bad-records');
    expect(decodeError.message).toMatch(message);
    expect(corruption(() => validateRecords(batch)).reason).toBe('bad-records');
    expect(corruption(() => forEachRecord(batch, 0, () => undefined)).reason).toBe('bad-records');
  });

  it('reports positions inside the caller’s buffer', () => {
    const good = encodeBatch([{ key: null, value: Buffer.from('x') }]);
    const bad = batchOf(rawRecord([0, 0, 0, 3, 1, 0]), 1);
    const buf = Buffer.concat([good, bad]);
    expect(corruption(() => decodeBatch(buf, good.length)).position).toBe(good.length + RECORDS_OFFSET);
  });

  it('rejects int64 header fields outside ±2^53', () => {
    const batch = encodeBatch([{ key: null, value: null }]);
    batch.writeBigInt64BE(2n ** 62n, BASE_OFFSET_OFFSET); // not covered by the CRC
    expect(corruption(() => decodeBatch(batch)).message).toMatch(/baseOffset/);
    const ts = encodeBatch([{ key: null, value: null }]);
    ts.writeBigInt64BE(-(2n ** 60n), BASE_TIMESTAMP_OFFSET);
    fixCrc(ts);
    expect(corruption(() => decodeBatch(ts)).message).toMatch(/baseTimestamp/);
  });

  it('rejects a last offset beyond 2^53', () => {
    const batch = encodeBatch([{ key: null, value: null }, { key: null, value: null }, { key: null, value: null }], {
      baseOffset: Number.MAX_SAFE_INTEGER - 1,
    });
    expect(corruption(() => decodeBatch(batch)).message).toMatch(/last offset/);
  });
});

describe('RecordView and utf8Length', () => {
  it('measures UTF-8 like Buffer.byteLength, lone surrogates included', () => {
    for (const s of ['', 'abc', 'é', '€', '🎉', 'a🎉b', '\ud800', '\udc00x', 'x'.repeat(100), 'é'.repeat(40)]) {
      expect(utf8Length(s)).toBe(Buffer.byteLength(s));
    }
  });

  it('reads a record framing at a cursor', () => {
    const batch = encodeBatch([{ key: Buffer.from('kk'), value: null, headers: [{ key: 'a', value: Buffer.from('b') }] }]);
    const v = new RecordView();
    v.buffer = batch;
    const c = new ByteCursor(batch, RECORDS_OFFSET);
    readRecordFraming(c, v);
    expect(c.pos).toBe(batch.length);
    expect(v.key()!.toString()).toBe('kk');
    expect(v.value()).toBeNull();
    expect(v.headers()).toEqual([{ key: 'a', value: Buffer.from('b') }]);
    expect(v.recordEnd).toBe(batch.length);
  });
});
