/**
 * Cross-checks against an independent implementation: KafkaJS 2.2.4's RecordBatch v2 encoder
 * and decoder (node_modules/kafkajs/src/protocol/recordBatch). Uncompressed batches must be
 * byte-for-byte identical for the same inputs; each side decodes what the other encodes,
 * uncompressed and compressed (gzip natively; snappy, lz4 and zstd through KafkaJS codecs
 * registered here the way kafkajs-snappy, kafkajs-lz4 and @kafkajs/zstd plug in).
 *
 * KafkaJS limits what can be compared: it always writes CreateTime and never the control
 * bit, cannot encode null header values, and keeps headers in an object (so keys must be
 * distinct and not numeric).
 */
/* eslint-disable @typescript-eslint/no-require-imports -- KafkaJS internals are CommonJS without types */
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import { compressSync as snappyCompress, uncompressSync as snappyUncompress } from 'snappy';
import { Decoder as ZstdDecoder, Encoder as ZstdEncoder } from '@toondepauw/node-zstd';
import { CompressionCodec } from './batch';
import { decodeBatch, validateRecords } from './decode';
import type { EncodeBatchOptions } from './encode';
import { encodeBatch } from './encode';
import type { RecordHeader, RecordInput } from './record';
import { Random, randomRecords } from './spec-helpers';

interface KafkaLong {
  toString(): string;
}
interface KjsBatchArgs {
  compression?: number;
  firstOffset: KafkaLong;
  firstTimestamp: number;
  maxTimestamp: number;
  partitionLeaderEpoch: number;
  lastOffsetDelta: number;
  transactional: boolean;
  producerId: KafkaLong;
  producerEpoch: number;
  firstSequence: number;
  records: unknown[];
}
interface KjsRecord {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
}
interface KjsBatch {
  firstOffset: string;
  firstTimestamp: string;
  maxTimestamp: string;
  partitionLeaderEpoch: number;
  inTransaction: boolean;
  lastOffsetDelta: number;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  records: KjsRecord[];
}
interface KjsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

const Long = require('kafkajs/src/utils/long') as { fromNumber(n: number): KafkaLong; fromString(s: string): KafkaLong };
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch(args: KjsBatchArgs): Promise<{ buffer: Buffer }> };
const KjsRecordEncoder = require('kafkajs/src/protocol/recordBatch/record/v0') as (args: {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | Buffer[]>;
}) => unknown;
const KjsDecoder = require('kafkajs/src/protocol/decoder') as new (buf: Buffer) => unknown;
const decodeKjsBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (decoder: unknown) => Promise<KjsBatch>;
const { Codecs } = require('kafkajs/src/protocol/message/compression') as { Codecs: Record<number, () => KjsCodec> };

/** snappy as kafkajs-snappy does it: raw snappy out, xerial or raw in. */
const kjsSnappy: KjsCodec = {
  compress: async (encoder) => snappyCompress(encoder.buffer),
  decompress: async (buffer) => {
    const magic = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
    if (!buffer.subarray(0, 8).equals(magic)) return snappyUncompress(buffer) as Buffer;
    const parts: Buffer[] = [];
    for (let pos = 16; pos + 4 <= buffer.length; ) {
      const size = buffer.readUInt32BE(pos);
      parts.push(snappyUncompress(buffer.subarray(pos + 4, pos + 4 + size)) as Buffer);
      pos += 4 + size;
    }
    return Buffer.concat(parts);
  },
};
const kjsLz4: KjsCodec = {
  compress: async (encoder) => compressFrameSync(encoder.buffer),
  decompress: async (buffer) => decompressFrameSync(buffer),
};
const kjsZstd: KjsCodec = {
  compress: async (encoder) => new ZstdEncoder(3).encodeSync(encoder.buffer),
  decompress: async (buffer) => new ZstdDecoder().decodeSync(buffer),
};

beforeAll(() => {
  Codecs[CompressionCodec.Snappy] = () => kjsSnappy;
  Codecs[CompressionCodec.Lz4] = () => kjsLz4;
  Codecs[CompressionCodec.Zstd] = () => kjsZstd;
});

function headersObject(headers: readonly RecordHeader[] | undefined): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const h of headers ?? []) out[h.key] = h.value!;
  return out;
}

interface Case {
  records: RecordInput[];
  options: EncodeBatchOptions & { baseOffset: number; partitionLeaderEpoch: number; producerId: bigint; producerEpoch: number; baseSequence: number };
}

function randomCase(r: Random): Case {
  const records = randomRecords(r, r.chance(0.05) ? 0 : r.range(1, 40), { distinctHeaderKeys: true, maxValueBytes: r.chance(0.1) ? 20000 : 300 });
  return {
    records,
    options: {
      baseOffset: r.int(2 ** 45),
      partitionLeaderEpoch: r.range(-1, 2 ** 31 - 1),
      producerId: r.chance(0.5) ? -1n : BigInt(r.int(2 ** 50)),
      producerEpoch: r.range(-1, 32767),
      baseSequence: r.range(-1, 2 ** 31 - 1),
      isTransactional: r.chance(0.3),
    },
  };
}

async function encodeWithKafkaJs(c: Case, compression = 0): Promise<Buffer> {
  const first = c.records[0];
  const base = first?.timestamp ?? -1;
  const max = c.records.reduce((m, x) => Math.max(m, x.timestamp!), base);
  const batch = await RecordBatch({
    compression,
    firstOffset: Long.fromNumber(c.options.baseOffset),
    firstTimestamp: base,
    maxTimestamp: max,
    partitionLeaderEpoch: c.options.partitionLeaderEpoch,
    lastOffsetDelta: Math.max(0, c.records.length - 1),
    transactional: c.options.isTransactional ?? false,
    producerId: Long.fromString(c.options.producerId.toString()),
    producerEpoch: c.options.producerEpoch,
    firstSequence: c.options.baseSequence,
    records: c.records.map((x, i) =>
      KjsRecordEncoder({ offsetDelta: i, timestampDelta: x.timestamp! - base, key: x.key, value: x.value, headers: headersObject(x.headers) }),
    ),
  });
  return batch.buffer;
}

const hex = (b: Buffer | null) => (b === null ? null : b.toString('hex'));

function expectKafkaJsSees(decoded: KjsBatch, c: Case): void {
  expect({
    firstOffset: decoded.firstOffset,
    partitionLeaderEpoch: decoded.partitionLeaderEpoch,
    inTransaction: decoded.inTransaction,
    lastOffsetDelta: decoded.lastOffsetDelta,
    producerId: decoded.producerId,
    producerEpoch: decoded.producerEpoch,
    firstSequence: decoded.firstSequence,
  }).toEqual({
    firstOffset: String(c.options.baseOffset),
    partitionLeaderEpoch: c.options.partitionLeaderEpoch,
    inTransaction: c.options.isTransactional ?? false,
    lastOffsetDelta: Math.max(0, c.records.length - 1),
    producerId: c.options.producerId.toString(),
    producerEpoch: c.options.producerEpoch,
    firstSequence: c.options.baseSequence,
  });
  expect(decoded.records.map((x) => [x.offset, x.timestamp, hex(x.key), hex(x.value), Object.entries(x.headers).map(([k, v]) => [k, hex(v)])])).toEqual(
    c.records.map((x, i) => [
      String(c.options.baseOffset + i),
      String(x.timestamp),
      hex(x.key),
      hex(x.value),
      (x.headers ?? []).map((h) => [h.key, hex(h.value)]),
    ]),
  );
}

function expectWeSee(buf: Buffer, c: Case): void {
  const d = decodeBatch(buf);
  expect(d).toMatchObject({
    baseOffset: c.options.baseOffset,
    partitionLeaderEpoch: c.options.partitionLeaderEpoch,
    isTransactional: c.options.isTransactional ?? false,
    producerId: c.options.producerId,
    producerEpoch: c.options.producerEpoch,
    baseSequence: c.options.baseSequence,
    recordsCount: c.records.length,
  });
  expect(d.records.map((x) => [x.offset, x.timestamp, hex(x.key), hex(x.value), x.headers.map((h) => [h.key, hex(h.value)])])).toEqual(
    c.records.map((x, i) => [c.options.baseOffset + i, x.timestamp, hex(x.key), hex(x.value), (x.headers ?? []).map((h) => [h.key, hex(h.value)])]),
  );
  if (c.records.length > 0) expect(validateRecords(buf).recordsCount).toBe(c.records.length);
}

describe('KafkaJS cross-check', () => {
  it('a hand-picked batch is byte-for-byte identical', async () => {
    const c: Case = {
      records: [
        { key: Buffer.from('key-1'), value: Buffer.from('value-1'), headers: [{ key: 'trace', value: Buffer.from('abc') }], timestamp: 1_700_000_000_000 },
        { key: null, value: Buffer.alloc(300, 1), timestamp: 1_700_000_000_500 },
        { key: Buffer.alloc(0), value: null, timestamp: 1_699_999_999_000 },
      ],
      options: { baseOffset: 42, partitionLeaderEpoch: 3, producerId: 77n, producerEpoch: 2, baseSequence: 10 },
    };
    const ours = encodeBatch(c.records, c.options);
    expect(ours.toString('hex')).toBe((await encodeWithKafkaJs(c)).toString('hex'));
  });

  it('uncompressed: identical bytes, and each decodes the other, over 300 random batches', async () => {
    const r = new Random(2024);
    for (let i = 0; i < 300; i++) {
      const c = randomCase(r);
      const ours = encodeBatch(c.records, c.options);
      const theirs = await encodeWithKafkaJs(c);
      if (!ours.equals(theirs)) expect(ours.toString('hex')).toBe(theirs.toString('hex'));
      expectWeSee(theirs, c);
      expectKafkaJsSees(await decodeKjsBatch(new KjsDecoder(ours)), c);
    }
  });

  it.each([
    ['gzip', CompressionCodec.Gzip],
    ['snappy', CompressionCodec.Snappy],
    ['lz4', CompressionCodec.Lz4],
    ['zstd', CompressionCodec.Zstd],
  ] as const)('%s: each decodes the other', async (_name, compression) => {
    const r = new Random(100 + compression);
    for (let i = 0; i < 40; i++) {
      const c = randomCase(r);
      if (c.records.length === 0) continue;
      const theirs = await encodeWithKafkaJs(c, compression);
      expect(theirs.readInt16BE(21) & 7).toBe(compression);
      expectWeSee(theirs, c);
      const ours = encodeBatch(c.records, { ...c.options, compression });
      expectKafkaJsSees(await decodeKjsBatch(new KjsDecoder(ours)), c);
    }
  });
});
