/**
 * Compression of a RecordBatch's records section (the bytes after `recordsCount`), in the
 * formats Kafka's Java client writes and reads, so batches interoperate with real clients:
 *
 *   1 gzip    RFC 1952 gzip (node:zlib); concatenated members are read as one stream.
 *   2 snappy  written in xerial snappy-java's block framing, as the Java producer does:
 *               magic  82 'S' 'N' 'A' 'P' 'P' 'Y' 00   (8 bytes)
 *               version int32 BE = 1, compatible version int32 BE = 1
 *               then blocks: length int32 BE, one raw snappy block of ≤ 32 KiB input
 *             read both that framing and a bare raw snappy block (what librdkafka and
 *             KafkaJS' snappy codec write); each raw block starts with its uncompressed
 *             length as a varint, which is checked against the budget before inflating.
 *   3 lz4     the LZ4 frame format (magic 04 22 4D 18, FLG, BD, [content size], [dict id], HC,
 *             blocks of `size uint32 LE (high bit = stored uncompressed)`, end mark 0,
 *             [content checksum]); written with independent blocks, which Kafka requires.
 *   4 zstd    Zstandard frames (magic 28 B5 2F FD), read one after another, skippable frames
 *             ignored.
 *
 * Decompression is bounded: every codec refuses to return more than `maxOutputBytes`
 * (default 64 MiB) and reports a CorruptRecordError 'bad-compression' instead, deciding
 * before inflating wherever the format allows: gzip through zlib's maxOutputLength (zlib
 * stops at the cap), snappy from the uncompressed lengths each block declares, lz4 and zstd by
 * first walking the frame's block headers, whose sizes bound what each block may produce
 * (lz4: the frame's block maximum, ≤ 4 MiB; zstd: 128 KiB or the window). So a
 * decompression bomb is refused from its headers, and the most ever allocated is the cap
 * plus one block.
 *
 * snappy, lz4 and zstd come from native packages with prebuilt binaries (`snappy`,
 * `lz4-napi`, `@toondepauw/node-zstd`), loaded on first use; a codec whose package cannot be
 * loaded, or a codec id outside 0..4, is an UnsupportedCompressionError
 * (UNSUPPORTED_COMPRESSION_TYPE), never a crash at import time. `registerCompressionCodec`
 * replaces or removes a codec (tests use it to simulate a missing binary).
 *
 * Concurrency and ownership: all functions are synchronous and keep no reference to their
 * input; the returned Buffer is new and owned by the caller. The codec registry is process-wide.
 * Buffers from the native codecs live outside the V8 heap and are freed by finalizers that
 * run when the event loop turns: a long synchronous loop of (de)compressions holds on to all
 * of them until it yields (the benchmark yields every ~20 ms for that reason).
 */
import { gunzipSync, gzipSync, constants as zlibConstants } from 'node:zlib';
import type * as SnappyModule from 'snappy';
import type * as Lz4Module from 'lz4-napi';
import type * as ZstdModule from '@toondepauw/node-zstd';
import { CompressionCodec } from './batch';
import { CorruptRecordError, UnsupportedCompressionError } from './errors';

/** Default cap on the decompressed size of one batch's records. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

/** One compression format. Implementations must honour `maxOutputBytes` before allocating. */
export interface CompressionCodecImpl {
  /** Compresses `data` (a whole records section); `level` is codec-specific, optional. */
  compress(data: Buffer, level?: number): Buffer;
  /**
   * Decompresses `data`, producing at most `maxOutputBytes` bytes; throws CorruptRecordError
   * ('bad-compression', reported at `position`) when the data is malformed or too large.
   */
  decompress(data: Buffer, maxOutputBytes: number, position: number): Buffer;
}

function badCompression(codec: string, message: string, position: number, cause?: unknown): CorruptRecordError {
  return new CorruptRecordError('bad-compression', `${codec}: ${message}`, position, cause === undefined ? {} : { cause });
}

function tooLarge(codec: string, bytes: number, max: number, position: number): CorruptRecordError {
  return badCompression(codec, `records decompress to more than ${max} bytes (at least ${bytes})`, position);
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---------------------------------------------------------------------------------------
// gzip

const gzipCodec: CompressionCodecImpl = {
  compress(data, level) {
    return gzipSync(data, { level: level ?? zlibConstants.Z_DEFAULT_COMPRESSION });
  },
  decompress(data, maxOutputBytes, position) {
    try {
      return gunzipSync(data, { maxOutputLength: Math.max(1, maxOutputBytes) });
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw tooLarge('gzip', maxOutputBytes + 1, maxOutputBytes, position);
      }
      throw badCompression('gzip', describe(e), position, e);
    }
  },
};

// ---------------------------------------------------------------------------------------
// snappy (xerial framing)

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;
/** snappy-java's default block size, used by Kafka's Java producer. */
const XERIAL_BLOCK_BYTES = 32 * 1024;

function isXerialHeaderAt(data: Buffer, pos: number): boolean {
  if (data.length - pos < XERIAL_HEADER_BYTES) return false;
  for (let i = 0; i < XERIAL_MAGIC.length; i++) if (data[pos + i] !== XERIAL_MAGIC[i]) return false;
  return true;
}

/** The uncompressed length a raw snappy block declares (its leading uint32 varint). */
function snappyDeclaredLength(block: Buffer, position: number): number {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= block.length) throw badCompression('snappy', 'block ends inside its length preamble', position);
    const b = block[i]!;
    if (i === 4 && b > 0x0f) throw badCompression('snappy', 'block length preamble is longer than 32 bits', position);
    value += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) return value;
  }
  throw badCompression('snappy', 'block length preamble is longer than 32 bits', position);
}

function makeSnappyCodec(snappy: typeof SnappyModule): CompressionCodecImpl {
  const inflate = (block: Buffer, position: number): Buffer => {
    try {
      return snappy.uncompressSync(block, { asBuffer: true }) as Buffer;
    } catch (e) {
      throw badCompression('snappy', describe(e), position, e);
    }
  };
  return {
    compress(data) {
      const blocks: Buffer[] = [];
      let total = XERIAL_HEADER_BYTES;
      for (let start = 0; start < data.length; start += XERIAL_BLOCK_BYTES) {
        const block = snappy.compressSync(data.subarray(start, Math.min(data.length, start + XERIAL_BLOCK_BYTES)));
        blocks.push(block);
        total += 4 + block.length;
      }
      const out = Buffer.allocUnsafe(total);
      XERIAL_MAGIC.copy(out, 0);
      out.writeInt32BE(1, 8); // version
      out.writeInt32BE(1, 12); // compatible version
      let pos = XERIAL_HEADER_BYTES;
      for (const block of blocks) {
        out.writeInt32BE(block.length, pos);
        block.copy(out, pos + 4);
        pos += 4 + block.length;
      }
      return out;
    },
    decompress(data, maxOutputBytes, position) {
      if (!isXerialHeaderAt(data, 0)) {
        const declared = snappyDeclaredLength(data, position);
        if (declared > maxOutputBytes) throw tooLarge('snappy', declared, maxOutputBytes, position);
        return inflate(data, position);
      }
      const parts: Buffer[] = [];
      let total = 0;
      let pos = XERIAL_HEADER_BYTES;
      while (pos < data.length) {
        // snappy-java reads concatenated streams, each with its own header.
        if (isXerialHeaderAt(data, pos)) {
          pos += XERIAL_HEADER_BYTES;
          continue;
        }
        if (data.length - pos < 4) throw badCompression('snappy', 'xerial block length is truncated', position);
        const blockBytes = data.readInt32BE(pos);
        pos += 4;
        if (blockBytes <= 0 || blockBytes > data.length - pos) {
          throw badCompression('snappy', `xerial block of ${blockBytes} bytes does not fit in ${data.length - pos}`, position);
        }
        const block = data.subarray(pos, pos + blockBytes);
        pos += blockBytes;
        const declared = snappyDeclaredLength(block, position);
        if (total + declared > maxOutputBytes) throw tooLarge('snappy', total + declared, maxOutputBytes, position);
        const part = inflate(block, position);
        parts.push(part);
        total += part.length;
      }
      return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
    },
  };
}

// ---------------------------------------------------------------------------------------
// lz4 (frame format)

const LZ4_MAGIC = 0x184d2204;
const LZ4_BLOCK_MAX_BYTES = [0, 0, 0, 0, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];

/** Walks one LZ4 frame's headers; returns an upper bound of its decompressed size. */
function lz4FrameBound(data: Buffer, maxOutputBytes: number, position: number): number {
  const fail = (message: string) => badCompression('lz4', message, position);
  if (data.length < 7) throw fail('frame is shorter than its header');
  if (data.readUInt32LE(0) !== LZ4_MAGIC) throw fail('not an LZ4 frame (bad magic)');
  const flg = data[4]!;
  const bd = data[5]!;
  if (flg >> 6 !== 1) throw fail(`frame version ${flg >> 6} is not 1`);
  if ((flg & 0x02) !== 0 || (bd & 0x8f) !== 0) throw fail('reserved frame descriptor bits are set');
  const blockMax = LZ4_BLOCK_MAX_BYTES[(bd >> 4) & 7] ?? 0;
  if (blockMax === 0) throw fail(`block maximum size code ${(bd >> 4) & 7} is invalid`);
  const blockChecksum = (flg & 0x10) !== 0;
  const contentSize = (flg & 0x08) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;
  const dictId = (flg & 0x01) !== 0;
  let pos = 6 + (contentSize ? 8 : 0) + (dictId ? 4 : 0) + 1;
  if (pos > data.length) throw fail('frame header is truncated');
  if (contentSize) {
    const declared = data.readUInt32LE(10) * 0x1_0000_0000 + data.readUInt32LE(6);
    if (declared > maxOutputBytes) throw tooLarge('lz4', declared, maxOutputBytes, position);
  }
  let bound = 0;
  for (;;) {
    if (data.length - pos < 4) throw fail('frame ends before its end mark');
    const word = data.readUInt32LE(pos);
    pos += 4;
    if (word === 0) break;
    const size = word & 0x7fff_ffff;
    const stored = word >>> 31 === 1;
    if (size > blockMax) throw fail(`block of ${size} bytes exceeds the frame's block maximum ${blockMax}`);
    bound += stored ? size : blockMax;
    pos += size + (blockChecksum ? 4 : 0);
    if (pos > data.length) throw fail('block runs past the end of the data');
    if (bound > maxOutputBytes + blockMax) throw tooLarge('lz4', bound - blockMax, maxOutputBytes, position);
  }
  pos += contentChecksum ? 4 : 0;
  if (pos !== data.length) throw fail(`${data.length - pos} bytes after the end of the frame`);
  return bound;
}

function makeLz4Codec(lz4: typeof Lz4Module): CompressionCodecImpl {
  return {
    compress(data) {
      return lz4.compressFrameSync(data);
    },
    decompress(data, maxOutputBytes, position) {
      lz4FrameBound(data, maxOutputBytes, position);
      let out: Buffer;
      try {
        out = lz4.decompressFrameSync(data);
      } catch (e) {
        throw badCompression('lz4', describe(e), position, e);
      }
      if (out.length > maxOutputBytes) throw tooLarge('lz4', out.length, maxOutputBytes, position);
      return out;
    },
  };
}

// ---------------------------------------------------------------------------------------
// zstd

const ZSTD_MAGIC = 0xfd2fb528;
const ZSTD_BLOCK_MAX_BYTES = 128 * 1024;
/** Kafka's default compression.zstd.level. */
const ZSTD_DEFAULT_LEVEL = 3;

/** Walks zstd frames' headers; returns an upper bound of the decompressed size. */
function zstdBound(data: Buffer, maxOutputBytes: number, position: number): number {
  const fail = (message: string) => badCompression('zstd', message, position);
  let pos = 0;
  let bound = 0;
  let frames = 0;
  while (pos < data.length) {
    if (data.length - pos < 8) throw fail('frame is shorter than its header');
    const magic = data.readUInt32LE(pos);
    if ((magic & 0xfffffff0) >>> 0 === 0x184d2a50) {
      pos += 8 + data.readUInt32LE(pos + 4); // skippable frame
      if (pos > data.length) throw fail('skippable frame runs past the end of the data');
      continue;
    }
    if (magic !== ZSTD_MAGIC) throw fail('not a zstd frame (bad magic)');
    frames++;
    const fhd = data[pos + 4]!;
    let p = pos + 5;
    const fcsFlag = fhd >> 6;
    const singleSegment = (fhd & 0x20) !== 0;
    if ((fhd & 0x08) !== 0) throw fail('reserved frame header bit is set');
    const contentChecksum = (fhd & 0x04) !== 0;
    let windowBytes = Infinity;
    if (!singleSegment) {
      const wd = data[p++]!;
      const base = 2 ** (10 + (wd >> 3));
      windowBytes = base + (base / 8) * (wd & 7);
    }
    p += [0, 1, 2, 4][fhd & 3]!;
    const fcsBytes = fcsFlag === 0 ? (singleSegment ? 1 : 0) : [0, 2, 4, 8][fcsFlag]!;
    if (p + fcsBytes > data.length) throw fail('frame header is truncated');
    if (fcsBytes > 0) {
      let declared: number;
      if (fcsBytes === 1) declared = data[p]!;
      else if (fcsBytes === 2) declared = data.readUInt16LE(p) + 256;
      else if (fcsBytes === 4) declared = data.readUInt32LE(p);
      else declared = data.readUInt32LE(p + 4) * 0x1_0000_0000 + data.readUInt32LE(p);
      if (bound + declared > maxOutputBytes) throw tooLarge('zstd', bound + declared, maxOutputBytes, position);
      if (singleSegment) windowBytes = declared;
    }
    p += fcsBytes;
    const blockMax = Math.min(ZSTD_BLOCK_MAX_BYTES, windowBytes);
    for (;;) {
      if (data.length - p < 3) throw fail('block header is truncated');
      const header = data[p]! | (data[p + 1]! << 8) | (data[p + 2]! << 16);
      p += 3;
      const type = (header >> 1) & 3;
      const size = header >>> 3;
      if (type === 0) {
        bound += size; // raw
        p += size;
      } else if (type === 1) {
        bound += size; // RLE: one byte repeated `size` times
        p += 1;
      } else if (type === 2) {
        if (size > blockMax) throw fail(`compressed block of ${size} bytes exceeds the block maximum ${blockMax}`);
        bound += blockMax;
        p += size;
      } else {
        throw fail('reserved block type');
      }
      if (p > data.length) throw fail('block runs past the end of the data');
      if (bound > maxOutputBytes + blockMax) throw tooLarge('zstd', bound - blockMax, maxOutputBytes, position);
      if ((header & 1) === 1) break;
    }
    p += contentChecksum ? 4 : 0;
    if (p > data.length) throw fail('content checksum is truncated');
    pos = p;
  }
  if (frames === 0) throw fail('no zstd frame');
  return bound;
}

function makeZstdCodec(zstd: typeof ZstdModule): CompressionCodecImpl {
  const encoders = new Map<number, ZstdModule.Encoder>();
  const decoder = new zstd.Decoder();
  return {
    compress(data, level) {
      const l = level ?? ZSTD_DEFAULT_LEVEL;
      let encoder = encoders.get(l);
      if (encoder === undefined) {
        encoder = new zstd.Encoder(l);
        encoders.set(l, encoder);
      }
      return encoder.encodeSync(data);
    },
    decompress(data, maxOutputBytes, position) {
      zstdBound(data, maxOutputBytes, position);
      let out: Buffer;
      try {
        out = decoder.decodeSync(data);
      } catch (e) {
        throw badCompression('zstd', describe(e), position, e);
      }
      if (out.length > maxOutputBytes) throw tooLarge('zstd', out.length, maxOutputBytes, position);
      return out;
    },
  };
}

// ---------------------------------------------------------------------------------------
// registry

/** Loads an optional native package; null when it (or its binary) is missing. */
function loadOptional<T>(name: string): T | null {
  try {
    // A plain require, inside try, so that a missing prebuilt binary disables one codec
    // instead of failing the import of this library.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name) as T;
  } catch {
    return null;
  }
}

type Slot = { impl: CompressionCodecImpl | null; load: (() => CompressionCodecImpl | null) | null };

function lazy<M>(name: string, make: (module: M) => CompressionCodecImpl): Slot {
  return {
    impl: null,
    load: () => {
      const module = loadOptional<M>(name);
      return module === null ? null : make(module);
    },
  };
}

const slots: Slot[] = [
  { impl: null, load: null }, // None is not a codec: callers handle it
  { impl: gzipCodec, load: null },
  lazy<typeof SnappyModule>('snappy', makeSnappyCodec),
  lazy<typeof Lz4Module>('lz4-napi', makeLz4Codec),
  lazy<typeof ZstdModule>('@toondepauw/node-zstd', makeZstdCodec),
];

function codecImpl(codec: number): CompressionCodecImpl | null {
  const slot = slots[codec];
  if (slot === undefined) return null;
  if (slot.impl === null && slot.load !== null) {
    slot.impl = slot.load();
    slot.load = null;
  }
  return slot.impl;
}

/** Whether this build can compress and decompress `codec` (None counts as supported). */
export function isCompressionSupported(codec: number): boolean {
  return codec === CompressionCodec.None || codecImpl(codec) !== null;
}

/** The codecs this build supports, None included. */
export function supportedCompressionCodecs(): CompressionCodec[] {
  return [CompressionCodec.None, CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4, CompressionCodec.Zstd].filter(
    (c) => isCompressionSupported(c),
  );
}

/**
 * Replaces the implementation of `codec` (1..4); `null` removes it, so that it reports
 * UnsupportedCompressionError as a build without its package would. Returns the previous one.
 */
export function registerCompressionCodec(codec: CompressionCodec, impl: CompressionCodecImpl | null): CompressionCodecImpl | null {
  if (codec === CompressionCodec.None || slots[codec] === undefined) throw new RangeError(`cannot register compression codec ${codec}`);
  const previous = codecImpl(codec);
  slots[codec] = { impl, load: null };
  return previous;
}

/** Compresses a records section with `codec` (not None); UnsupportedCompressionError if unavailable. */
export function compressRecords(codec: CompressionCodec, data: Buffer, level?: number): Buffer {
  const impl = codec === CompressionCodec.None ? null : codecImpl(codec);
  if (impl === null) throw new UnsupportedCompressionError(codec);
  return impl.compress(data, level);
}

/**
 * Decompresses a records section compressed with `codec` (not None), producing at most
 * `maxOutputBytes`. UnsupportedCompressionError if the codec is unavailable;
 * CorruptRecordError 'bad-compression' (at `position`) if the data is malformed or too large.
 */
export function decompressRecords(
  codec: CompressionCodec,
  data: Buffer,
  maxOutputBytes = DEFAULT_MAX_DECOMPRESSED_BYTES,
  position = 0,
): Buffer {
  const impl = codec === CompressionCodec.None ? null : codecImpl(codec);
  if (impl === null) throw new UnsupportedCompressionError(codec);
  return impl.decompress(data, maxOutputBytes, position);
}
