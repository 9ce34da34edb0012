import { compressSync as lz4BlockCompress, compressFrameSync } from 'lz4-napi';
import { compressSync as snappyRawCompress, uncompressSync as snappyRawUncompress } from 'snappy';
import { gzipSync } from 'node:zlib';
import { ATTRIBUTES_OFFSET, CompressionCodec, RECORDS_OFFSET } from './batch';
import {
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  compressRecords,
  decompressRecords,
  isCompressionSupported,
  registerCompressionCodec,
  supportedCompressionCodecs,
} from './compression';
import { decodeBatch, validateRecords } from './decode';
import { encodeBatch } from './encode';
import { CorruptRecordError, ErrorCode, UnsupportedCompressionError } from './errors';
import { Random, fixCrc, randomRecords } from './spec-helpers';

const CODECS = [CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4, CompressionCodec.Zstd];

function compressible(bytes: number, seed = 1): Buffer {
  const r = new Random(seed);
  const words = ['alpha', 'beta', 'gamma', 'delta', '{"id":', '"user":', '"ts":', ',', ' '];
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    const w = r.pick(words) + String(r.int(100));
    parts.push(w);
    n += w.length;
  }
  return Buffer.from(parts.join('').slice(0, bytes));
}

function corruptReason(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof CorruptRecordError) return e.reason;
    throw e;
  }
  throw new Error('expected a CorruptRecordError');
}

/** xxHash32, to build LZ4 frame headers by hand (the header checksum is xxh32 >> 8 & 0xff). */
function xxh32(buf: Buffer, seed = 0): number {
  const P1 = 2654435761;
  const P2 = 2246822519;
  const P3 = 3266489917;
  const P4 = 668265263;
  const P5 = 374761393;
  const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0;
  const round = (acc: number, input: number) => Math.imul(rotl((acc + Math.imul(input, P2)) >>> 0, 13), P1) >>> 0;
  let i = 0;
  let h: number;
  if (buf.length >= 16) {
    let v1 = (seed + P1 + P2) >>> 0;
    let v2 = (seed + P2) >>> 0;
    let v3 = seed >>> 0;
    let v4 = (seed - P1) >>> 0;
    for (; i <= buf.length - 16; i += 16) {
      v1 = round(v1, buf.readUInt32LE(i));
      v2 = round(v2, buf.readUInt32LE(i + 4));
      v3 = round(v3, buf.readUInt32LE(i + 8));
      v4 = round(v4, buf.readUInt32LE(i + 12));
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) >>> 0;
  } else {
    h = (seed + P5) >>> 0;
  }
  h = (h + buf.length) >>> 0;
  for (; i <= buf.length - 4; i += 4) h = Math.imul(rotl((h + Math.imul(buf.readUInt32LE(i), P3)) >>> 0, 17), P4) >>> 0;
  for (; i < buf.length; i++) h = Math.imul(rotl((h + Math.imul(buf[i]!, P5)) >>> 0, 11), P1) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, P2) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, P3) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** An LZ4 frame as Kafka's Java KafkaLZ4BlockOutputStream writes it: 64 KiB independent blocks, no checksums. */
function kafkaStyleLz4Frame(data: Buffer, options: { storedLastBlock?: boolean; contentSize?: boolean } = {}): Buffer {
  const flg = 0x40 | 0x20 | (options.contentSize ? 0x08 : 0); // version 01, independent blocks
  const descriptor = [flg, 0x40]; // BD: 64 KiB blocks
  if (options.contentSize) {
    const size = Buffer.alloc(8);
    size.writeUInt32LE(data.length, 0);
    descriptor.push(...size);
  }
  const parts: Buffer[] = [Buffer.from([0x04, 0x22, 0x4d, 0x18, ...descriptor, (xxh32(Buffer.from(descriptor)) >>> 8) & 0xff])];
  for (let start = 0; start < data.length; start += 65536) {
    const chunk = data.subarray(start, Math.min(data.length, start + 65536));
    const last = start + 65536 >= data.length;
    const size = Buffer.alloc(4);
    if (last && options.storedLastBlock) {
      size.writeUInt32LE((chunk.length | 0x8000_0000) >>> 0, 0);
      parts.push(size, chunk);
    } else {
      const block = lz4BlockCompress(chunk).subarray(4); // strip lz4-napi's size prefix
      size.writeUInt32LE(block.length, 0);
      parts.push(size, block);
    }
  }
  parts.push(Buffer.alloc(4)); // end mark
  return Buffer.concat(parts);
}

/** A xerial snappy stream built by hand, with blocks of `blockBytes` input. */
function xerial(data: Buffer, blockBytes: number): Buffer {
  const parts: Buffer[] = [Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1])];
  for (let start = 0; start < data.length; start += blockBytes) {
    const block = snappyRawCompress(data.subarray(start, start + blockBytes));
    const len = Buffer.alloc(4);
    len.writeInt32BE(block.length, 0);
    parts.push(len, block);
  }
  return Buffer.concat(parts);
}

/** A zstd frame of raw blocks, with a 1-byte content size (single segment). */
function zstdRawFrame(data: Buffer): Buffer {
  if (data.length > 255) throw new Error('test helper: ≤ 255 bytes');
  const header = (data.length << 3) | 1; // last block, raw
  return Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x20, data.length, header & 0xff, (header >> 8) & 0xff, header >> 16]), data]);
}

/** A tiny zstd frame of `blocks` RLE blocks of 128 KiB each: a decompression bomb. */
function zstdRleBomb(blocks: number): Buffer {
  const parts: number[] = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58]; // no content size, 2 MiB window
  for (let i = 0; i < blocks; i++) {
    const header = ((128 * 1024) << 3) | (1 << 1) | (i === blocks - 1 ? 1 : 0);
    parts.push(header & 0xff, (header >> 8) & 0xff, header >> 16, 0x41);
  }
  return Buffer.from(parts);
}

describe('compression codecs', () => {
  it('are all available in this build', () => {
    expect(supportedCompressionCodecs()).toEqual([0, 1, 2, 3, 4]);
    expect(isCompressionSupported(CompressionCodec.None)).toBe(true);
    for (const codec of [5, 6, 7, 8, -1]) expect(isCompressionSupported(codec)).toBe(false);
  });

  it.each(CODECS)('codec %i round-trips empty, tiny, random and compressible data', (codec) => {
    const r = new Random(codec);
    for (const data of [Buffer.alloc(0), Buffer.from('x'), r.bytes(1000), r.bytes(100_000), compressible(300_000), Buffer.alloc(200_000, 7)]) {
      const packed = compressRecords(codec, data);
      expect(decompressRecords(codec, packed).equals(data)).toBe(true);
    }
    expect(compressRecords(codec, compressible(100_000)).length).toBeLessThan(50_000);
  });

  it('gzip honours the level and reads concatenated members', () => {
    const data = compressible(50_000);
    expect(compressRecords(CompressionCodec.Gzip, data, 1).length).toBeGreaterThan(compressRecords(CompressionCodec.Gzip, data, 9).length);
    const two = Buffer.concat([gzipSync(data.subarray(0, 100)), gzipSync(data.subarray(100))]);
    expect(decompressRecords(CompressionCodec.Gzip, two).equals(data)).toBe(true);
  });
});

describe('snappy framing', () => {
  const data = compressible(100_000, 4);

  it('writes xerial framing (magic, version 1, compatible 1) with 32 KiB blocks', () => {
    const packed = compressRecords(CompressionCodec.Snappy, data);
    expect(packed.subarray(0, 16).toString('hex')).toBe('82534e415050590000000001' + '00000001');
    const pieces: Buffer[] = [];
    for (let pos = 16; pos < packed.length; ) {
      const len = packed.readInt32BE(pos);
      pieces.push(snappyRawUncompress(packed.subarray(pos + 4, pos + 4 + len)) as Buffer);
      pos += 4 + len;
    }
    expect(pieces.map((p) => p.length)).toEqual([32768, 32768, 32768, 100_000 - 3 * 32768]);
    expect(Buffer.concat(pieces).equals(data)).toBe(true);
    expect(compressRecords(CompressionCodec.Snappy, Buffer.alloc(0))).toHaveLength(16);
  });

  it('reads raw snappy (librdkafka, KafkaJS), any xerial block size, and concatenated streams', () => {
    expect(decompressRecords(CompressionCodec.Snappy, snappyRawCompress(data)).equals(data)).toBe(true);
    expect(decompressRecords(CompressionCodec.Snappy, xerial(data, 10_000)).equals(data)).toBe(true);
    const twice = Buffer.concat([xerial(data.subarray(0, 5000), 4096), xerial(data.subarray(5000), 65536)]);
    expect(decompressRecords(CompressionCodec.Snappy, twice).equals(data)).toBe(true);
  });

  it('rejects malformed framing', () => {
    const good = xerial(data, 10_000);
    expect(corruptReason(() => decompressRecords(CompressionCodec.Snappy, good.subarray(0, good.length - 1)))).toBe('bad-compression');
    expect(corruptReason(() => decompressRecords(CompressionCodec.Snappy, good.subarray(0, 18)))).toBe('bad-compression');
    const negative = Buffer.from(good);
    negative.writeInt32BE(-5, 16);
    expect(corruptReason(() => decompressRecords(CompressionCodec.Snappy, negative))).toBe('bad-compression');
    expect(corruptReason(() => decompressRecords(CompressionCodec.Snappy, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])))).toBe('bad-compression');
    expect(corruptReason(() => decompressRecords(CompressionCodec.Snappy, Buffer.alloc(0)))).toBe('bad-compression');
  });
});

describe('lz4 framing', () => {
  const data = compressible(200_000, 5);

  it('writes LZ4 frames with independent blocks (Kafka requires them)', () => {
    const packed = compressRecords(CompressionCodec.Lz4, data);
    expect(packed.readUInt32LE(0)).toBe(0x184d2204);
    expect(packed[4]! & 0xc0).toBe(0x40); // version 01
    expect(packed[4]! & 0x20).toBe(0x20); // block independence
  });

  it('reads frames as Kafka’s Java client writes them (64 KiB blocks), stored blocks and content sizes', () => {
    expect(xxh32(Buffer.alloc(0))).toBe(0x02cc5d05);
    expect(decompressRecords(CompressionCodec.Lz4, kafkaStyleLz4Frame(data)).equals(data)).toBe(true);
    expect(decompressRecords(CompressionCodec.Lz4, kafkaStyleLz4Frame(data, { storedLastBlock: true })).equals(data)).toBe(true);
    expect(decompressRecords(CompressionCodec.Lz4, kafkaStyleLz4Frame(data, { contentSize: true })).equals(data)).toBe(true);
  });

  it('reads frames with block and content checksums', () => {
    const packed = compressFrameSync(data, { blockChecksums: true, contentChecksum: true });
    expect(decompressRecords(CompressionCodec.Lz4, packed).equals(data)).toBe(true);
    const broken = Buffer.from(packed);
    broken[broken.length - 1] = broken[broken.length - 1]! ^ 1; // the content checksum
    expect(corruptReason(() => decompressRecords(CompressionCodec.Lz4, broken))).toBe('bad-compression');
  });

  it('rejects malformed frames', () => {
    const good = kafkaStyleLz4Frame(data);
    const cases = [good.subarray(0, good.length - 2), Buffer.concat([good, Buffer.from([1])]), good.subarray(0, 6), Buffer.from('not lz4 at all')];
    const badVersion = Buffer.from(good);
    badVersion[4] = 0x80 | 0x20;
    const badBlockSize = Buffer.from(good);
    badBlockSize[5] = 0x30;
    const oversizedBlock = Buffer.from(good);
    oversizedBlock.writeUInt32LE(70_000, 7);
    for (const bad of [...cases, badVersion, badBlockSize, oversizedBlock]) {
      expect(corruptReason(() => decompressRecords(CompressionCodec.Lz4, bad))).toBe('bad-compression');
    }
  });
});

describe('zstd framing', () => {
  it('reads hand-made frames, concatenated frames and skippable frames', () => {
    const a = Buffer.from('hello, ');
    const b = compressible(70_000, 6);
    const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9]);
    const both = Buffer.concat([zstdRawFrame(a), skippable, compressRecords(CompressionCodec.Zstd, b)]);
    expect(decompressRecords(CompressionCodec.Zstd, both).equals(Buffer.concat([a, b]))).toBe(true);
    expect(decompressRecords(CompressionCodec.Zstd, zstdRleBomb(3)).equals(Buffer.alloc(3 * 128 * 1024, 0x41))).toBe(true);
  });

  it('honours the level', () => {
    const data = compressible(100_000, 7);
    expect(compressRecords(CompressionCodec.Zstd, data, 1).length).toBeGreaterThan(compressRecords(CompressionCodec.Zstd, data, 19).length);
  });

  it('rejects malformed frames', () => {
    const good = compressRecords(CompressionCodec.Zstd, compressible(10_000, 8));
    const reserved = Buffer.from(good);
    reserved[4] = reserved[4]! | 0x08;
    for (const bad of [good.subarray(0, good.length - 1), good.subarray(0, 7), Buffer.from('not zstd, no'), Buffer.alloc(0), reserved, Buffer.concat([good, Buffer.from([1, 2])])]) {
      expect(corruptReason(() => decompressRecords(CompressionCodec.Zstd, bad))).toBe('bad-compression');
    }
  });
});

describe('decompression bombs', () => {
  const MiB = 1024 * 1024;
  const zeros = Buffer.alloc(16 * MiB);

  it.each([
    ['gzip', CompressionCodec.Gzip, () => gzipSync(zeros)],
    ['snappy (raw)', CompressionCodec.Snappy, () => snappyRawCompress(zeros)],
    ['snappy (xerial)', CompressionCodec.Snappy, () => compressRecords(CompressionCodec.Snappy, zeros)],
    ['lz4', CompressionCodec.Lz4, () => compressFrameSync(zeros)],
    ['lz4 (64 KiB blocks)', CompressionCodec.Lz4, () => kafkaStyleLz4Frame(zeros)],
    ['zstd', CompressionCodec.Zstd, () => compressRecords(CompressionCodec.Zstd, zeros)],
    ['zstd (RLE blocks)', CompressionCodec.Zstd, () => zstdRleBomb(128)],
  ] as const)('%s: refused above the cap', (_name, codec, make) => {
    const bomb = make();
    expect(bomb.length).toBeLessThan(MiB);
    expect(decompressRecords(codec, bomb, 16 * MiB)).toHaveLength(16 * MiB);
    try {
      decompressRecords(codec, bomb, MiB, 4242);
      throw new Error('expected a throw');
    } catch (e) {
      expect(e).toBeInstanceOf(CorruptRecordError);
      expect((e as CorruptRecordError).reason).toBe('bad-compression');
      expect((e as CorruptRecordError).position).toBe(4242);
      expect((e as Error).message).toMatch(/more than 1048576 bytes/);
    }
  });

  it('applies the 64 MiB default inside decodeBatch and validateRecords', () => {
    expect(DEFAULT_MAX_DECOMPRESSED_BYTES).toBe(64 * MiB);
    const payload = zstdRleBomb(8 * 65); // 65 MiB of 'A' in 2 KiB
    const batch = encodeBatch([{ key: null, value: null }], { compression: CompressionCodec.Zstd });
    const bomb = Buffer.concat([batch.subarray(0, RECORDS_OFFSET), payload]);
    bomb.writeInt32BE(bomb.length - 12, 8);
    fixCrc(bomb);
    expect(corruptReason(() => decodeBatch(bomb))).toBe('bad-compression');
    expect(corruptReason(() => validateRecords(bomb))).toBe('bad-compression');
    expect(corruptReason(() => decodeBatch(bomb, 0, { maxDecompressedBytes: 70 * MiB }))).toBe('bad-records');
  });
});

describe('unsupported codecs', () => {
  it('a codec id above 4 is UNSUPPORTED_COMPRESSION_TYPE', () => {
    const batch = encodeBatch([{ key: null, value: Buffer.from('x') }], { compression: CompressionCodec.Gzip });
    batch.writeInt16BE(5, ATTRIBUTES_OFFSET);
    fixCrc(batch);
    for (const fn of [() => decodeBatch(batch), () => validateRecords(batch)]) {
      expect(fn).toThrow(UnsupportedCompressionError);
      try {
        fn();
      } catch (e) {
        expect((e as UnsupportedCompressionError).code).toBe(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
      }
    }
    expect(() => compressRecords(7 as CompressionCodec, Buffer.alloc(1))).toThrow(UnsupportedCompressionError);
    expect(() => decompressRecords(CompressionCodec.None, Buffer.alloc(1))).toThrow(UnsupportedCompressionError);
  });

  it('a codec whose package is missing is UNSUPPORTED_COMPRESSION_TYPE, and can be put back', () => {
    const records = randomRecords(new Random(12), 5);
    const batch = encodeBatch(records, { compression: CompressionCodec.Snappy });
    const previous = registerCompressionCodec(CompressionCodec.Snappy, null);
    try {
      expect(isCompressionSupported(CompressionCodec.Snappy)).toBe(false);
      expect(supportedCompressionCodecs()).toEqual([0, 1, 3, 4]);
      expect(() => encodeBatch(records, { compression: CompressionCodec.Snappy })).toThrow(UnsupportedCompressionError);
      expect(() => decodeBatch(batch)).toThrow(UnsupportedCompressionError);
    } finally {
      registerCompressionCodec(CompressionCodec.Snappy, previous);
    }
    expect(decodeBatch(batch).records).toHaveLength(5);
    expect(() => registerCompressionCodec(CompressionCodec.None, null)).toThrow(RangeError);
  });
});
