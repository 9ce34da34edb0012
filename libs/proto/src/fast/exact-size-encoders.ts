/**
 * Exact-size protobuf encoders for the two messages that carry record batches in bulk:
 * `ProduceRequest` (producer → broker) and `FetchResponse` (broker → consumer or follower).
 * The generated encoders (ts-proto over @bufbuild/protobuf's BinaryWriter) grow their buffer by
 * doubling (copying what is written so far each time), move each nested message's payload
 * again at `join()` whenever its length prefix needs more than the one byte `fork()` reserved
 * (records sit inside a forked partition inside a forked topic: two more moves), and
 * `finish()` plus the service serializer's `Buffer.from` copy the result twice more: about
 * 6 MiB allocated and 6 passes over the payload per 1 MiB request, against 1 MiB and 1 here.
 *
 * These take two passes instead. The first computes the encoded size of every nested message,
 * bottom-up, and keeps those sizes and the UTF-8 length of each name in one array in the order
 * the second pass reads them; the second allocates ONE Buffer of exactly the total
 * (`Buffer.allocUnsafe`, every byte is then written) and writes each field once, copying each
 * records payload once.
 *
 * Byte layout: proto3, fields in field-number order, a field equal to its default (0, 0n, '',
 * empty bytes) omitted, exactly as the generated encoders write them:
 *
 *   ProduceRequest         = [08 acks] [10 timeout_ms] (1A len ProduceTopicData)*
 *   ProduceTopicData       = [0A len name] (12 len ProducePartitionData)*
 *   ProducePartitionData   = [08 index] [12 len records]
 *   FetchResponse          = (0A len FetchTopicResponse)* [10 throttle_time_ms]
 *   FetchTopicResponse     = [0A len name] (12 len FetchPartitionResponse)*
 *   FetchPartitionResponse = [08 index] [10 error_code] [1A len error_message]
 *                            [20 high_watermark] [28 log_start_offset] [32 len records]
 *
 * `len` is an unsigned varint; int32 and enum values are varints, negative ones sign-extended
 * to 10 bytes; int64 values are 64-bit two's-complement varints (-1n takes 10 bytes).
 *
 * Contract: the output is byte-identical to `X.encode(m).finish()` for every valid message
 * (property-tested in exact-size-encoders.spec.ts), so either side of a call may use the
 * generated code. Invalid values throw as the generated encoder does: an int32 that is not an
 * integer in [-2^31, 2^31), an int64 that is not a bigint in [-2^63, 2^63). Strings are
 * encoded as UTF-8 with lone surrogates replaced by U+FFFD, as TextEncoder does.
 *
 * Concurrency and ownership: synchronous, no shared state, so re-entrant. The caller keeps
 * its records Buffers (they are copied, never kept). The returned Buffer belongs to the
 * caller; below 4 KiB it is a slice of Node's shared allocation pool, like any small
 * `Buffer.allocUnsafe`.
 */
import type { FetchResponse, ProduceRequest, ProduceStreamRequest } from '../gen/tributary/v1/broker';

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const TWO_POW_32 = 0x1_0000_0000;
/** Strings up to this many UTF-16 units are measured and written in JS when ASCII. */
const SHORT_STRING = 64;

// Field tags: (field number << 3) | wire type (0 varint, 2 length-delimited).
const TAG_PRODUCE_ACKS = 0x08;
const TAG_PRODUCE_TIMEOUT_MS = 0x10;
const TAG_PRODUCE_TOPICS = 0x1a;
// ProduceStreamRequest: correlation_id = 1 (varint), request = 2 (length-delimited).
const TAG_STREAM_CORRELATION_ID = 0x08;
const TAG_STREAM_REQUEST = 0x12;
const TAG_FETCH_TOPICS = 0x0a;
const TAG_FETCH_THROTTLE_TIME_MS = 0x10;
const TAG_TOPIC_NAME = 0x0a;
const TAG_TOPIC_PARTITIONS = 0x12;
const TAG_PARTITION_INDEX = 0x08;
const TAG_PRODUCE_PARTITION_RECORDS = 0x12;
const TAG_FETCH_PARTITION_ERROR_CODE = 0x10;
const TAG_FETCH_PARTITION_ERROR_MESSAGE = 0x1a;
const TAG_FETCH_PARTITION_HIGH_WATERMARK = 0x20;
const TAG_FETCH_PARTITION_LOG_START_OFFSET = 0x28;
const TAG_FETCH_PARTITION_RECORDS = 0x32;

// ---------------------------------------------------------------------------------------------
// Sizes (the first pass). Each also validates its value, so the second pass cannot fail.

/** Bytes of an unsigned varint of `value` (0 ≤ value ≤ 2^53). */
function uvarintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x20_0000) return 3;
  if (value < 0x1000_0000) return 4;
  if (value < 2 ** 35) return 5;
  if (value < 2 ** 42) return 6;
  if (value < 2 ** 49) return 7;
  return 8;
}

/** Bytes of an int32 varint; throws as the generated encoder does for a non-int32. */
function int32Size(value: number): number {
  if (typeof value !== 'number') throw new Error(`invalid int32: ${typeof value}`);
  if (!Number.isInteger(value) || value > INT32_MAX || value < INT32_MIN) throw new Error(`invalid int32: ${value}`);
  return value < 0 ? 10 : uvarintSize(value);
}

/** Bytes of an int64 varint; throws as the generated encoder does outside the int64 range. */
function int64Size(value: bigint, field: string): number {
  if (typeof value !== 'bigint' || value < INT64_MIN || value > INT64_MAX) {
    throw new Error(`value provided for field message.${field} of type int64 too large`);
  }
  if (value < 0n) return 10;
  if (value <= MAX_SAFE) return uvarintSize(Number(value));
  return value < 2n ** 56n ? 8 : 9;
}

/** UTF-8 length of `s`, lone surrogates counted as U+FFFD (3 bytes), as TextEncoder writes them. */
function utf8Length(s: string): number {
  const n = s.length;
  if (n <= SHORT_STRING) {
    let i = 0;
    while (i < n && s.charCodeAt(i) < 0x80) i++;
    if (i === n) return n;
  }
  return Buffer.byteLength(s, 'utf8');
}

/** Bytes of a length-delimited field (tag, length, payload) whose payload is `length` bytes. */
function delimitedSize(length: number): number {
  return 1 + uvarintSize(length) + length;
}

// ---------------------------------------------------------------------------------------------
// Writes (the second pass). Each returns the position after what it wrote.

function writeUvarint32(buf: Buffer, pos: number, value: number): number {
  while (value > 0x7f) {
    buf[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buf[pos++] = value;
  return pos;
}

function writeInt32(buf: Buffer, pos: number, value: number): number {
  if (value >= 0) return writeUvarint32(buf, pos, value);
  for (let i = 0; i < 9; i++) {
    buf[pos++] = (value & 0x7f) | 0x80;
    value >>= 7;
  }
  buf[pos++] = 1;
  return pos;
}

/** A 64-bit varint from its low and high 32 bits (unsigned), as @bufbuild/protobuf writes it. */
function writeVarint64(buf: Buffer, pos: number, lo: number, hi: number): number {
  while (hi !== 0 || lo > 0x7f) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  buf[pos++] = lo;
  return pos;
}

function writeInt64(buf: Buffer, pos: number, value: bigint): number {
  if (value >= MIN_SAFE && value <= MAX_SAFE) {
    const n = Number(value);
    return writeVarint64(buf, pos, n >>> 0, Math.floor(n / TWO_POW_32) >>> 0);
  }
  const u = BigInt.asUintN(64, value);
  return writeVarint64(buf, pos, Number(u & 0xffff_ffffn), Number(u >> 32n));
}

/** Writes `s`, whose UTF-8 length `byteLength` the first pass computed. */
function writeString(buf: Buffer, pos: number, s: string, byteLength: number): number {
  if (byteLength === s.length && byteLength <= SHORT_STRING) {
    for (let i = 0; i < byteLength; i++) buf[pos++] = s.charCodeAt(i);
    return pos;
  }
  return pos + buf.write(s, pos, byteLength, 'utf8');
}

function writeBytes(buf: Buffer, pos: number, bytes: Uint8Array): number {
  buf.set(bytes, pos);
  return pos + bytes.length;
}

function checkWritten(message: string, pos: number, total: number): void {
  if (pos !== total) throw new Error(`${message}: wrote ${pos} bytes, computed ${total} (a bug in exact-size-encoders.ts)`);
}

// ---------------------------------------------------------------------------------------------
// ProduceRequest

/**
 * Encodes a ProduceRequest into one Buffer of exactly its encoded size, byte-identical to
 * `ProduceRequest.encode(req).finish()`; each records payload is copied once.
 */
export function encodeProduceRequest(req: ProduceRequest): Buffer {
  const layout = produceRequestLayout(req);
  const buf = Buffer.allocUnsafe(layout.total);
  const pos = writeProduceRequest(buf, 0, req, layout.sizes);
  checkWritten('encodeProduceRequest', pos, layout.total);
  return buf;
}

/**
 * Encodes a ProduceStreamRequest `{ correlation_id, request }` the same way (one Buffer of
 * exactly its size, each records payload copied once), byte-identical to
 * `ProduceStreamRequest.encode(...)`.
 */
export function encodeProduceStreamRequest(message: ProduceStreamRequest): Buffer {
  const layout = message.request === undefined ? { sizes: [], total: 0 } : produceRequestLayout(message.request);
  let total = 0;
  if (message.correlationId !== 0) total += 1 + int32Size(message.correlationId);
  if (message.request !== undefined) total += delimitedSize(layout.total);
  const buf = Buffer.allocUnsafe(total);
  let pos = 0;
  if (message.correlationId !== 0) {
    buf[pos++] = TAG_STREAM_CORRELATION_ID;
    pos = writeInt32(buf, pos, message.correlationId);
  }
  if (message.request !== undefined) {
    buf[pos++] = TAG_STREAM_REQUEST;
    pos = writeUvarint32(buf, pos, layout.total);
    pos = writeProduceRequest(buf, pos, message.request, layout.sizes);
  }
  checkWritten('encodeProduceStreamRequest', pos, total);
  return buf;
}

/** Sizes of a ProduceRequest: pre-order, per topic: [topic payload size, name UTF-8 length, ...partition payload sizes]. */
function produceRequestLayout(req: ProduceRequest): { sizes: number[]; total: number } {
  const sizes: number[] = [];
  let total = 0;
  if (req.acks !== 0) total += 1 + int32Size(req.acks);
  if (req.timeoutMs !== 0) total += 1 + int32Size(req.timeoutMs);
  for (const topic of req.topics) {
    const at = sizes.length;
    sizes.push(0, 0);
    let topicSize = 0;
    if (topic.name !== '') {
      const nameLength = utf8Length(topic.name);
      sizes[at + 1] = nameLength;
      topicSize += delimitedSize(nameLength);
    }
    for (const p of topic.partitions) {
      let partitionSize = 0;
      if (p.index !== 0) partitionSize += 1 + int32Size(p.index);
      if (p.records.length !== 0) partitionSize += delimitedSize(p.records.length);
      sizes.push(partitionSize);
      topicSize += delimitedSize(partitionSize);
    }
    sizes[at] = topicSize;
    total += delimitedSize(topicSize);
  }
  return { sizes, total };
}

/** Writes a ProduceRequest laid out by produceRequestLayout at `pos`; returns the end. */
function writeProduceRequest(buf: Buffer, start: number, req: ProduceRequest, sizes: readonly number[]): number {
  let pos = start;
  let next = 0;
  if (req.acks !== 0) {
    buf[pos++] = TAG_PRODUCE_ACKS;
    pos = writeInt32(buf, pos, req.acks);
  }
  if (req.timeoutMs !== 0) {
    buf[pos++] = TAG_PRODUCE_TIMEOUT_MS;
    pos = writeInt32(buf, pos, req.timeoutMs);
  }
  for (const topic of req.topics) {
    const topicSize = sizes[next++] as number;
    const nameLength = sizes[next++] as number;
    buf[pos++] = TAG_PRODUCE_TOPICS;
    pos = writeUvarint32(buf, pos, topicSize);
    if (topic.name !== '') {
      buf[pos++] = TAG_TOPIC_NAME;
      pos = writeUvarint32(buf, pos, nameLength);
      pos = writeString(buf, pos, topic.name, nameLength);
    }
    for (const p of topic.partitions) {
      buf[pos++] = TAG_TOPIC_PARTITIONS;
      pos = writeUvarint32(buf, pos, sizes[next++] as number);
      if (p.index !== 0) {
        buf[pos++] = TAG_PARTITION_INDEX;
        pos = writeInt32(buf, pos, p.index);
      }
      if (p.records.length !== 0) {
        buf[pos++] = TAG_PRODUCE_PARTITION_RECORDS;
        pos = writeUvarint32(buf, pos, p.records.length);
        pos = writeBytes(buf, pos, p.records);
      }
    }
  }
  return pos;
}

// ---------------------------------------------------------------------------------------------
// FetchResponse

/**
 * Encodes a FetchResponse into one Buffer of exactly its encoded size, byte-identical to
 * `FetchResponse.encode(res).finish()`; each records payload is copied once.
 */
export function encodeFetchResponse(res: FetchResponse): Buffer {
  // Pre-order, per topic: [topic payload size, name UTF-8 length,
  //   ...per partition: partition payload size, error_message UTF-8 length].
  const sizes: number[] = [];
  let total = 0;
  for (const topic of res.topics) {
    const at = sizes.length;
    sizes.push(0, 0);
    let topicSize = 0;
    if (topic.name !== '') {
      const nameLength = utf8Length(topic.name);
      sizes[at + 1] = nameLength;
      topicSize += delimitedSize(nameLength);
    }
    for (const p of topic.partitions) {
      let partitionSize = 0;
      let messageLength = 0;
      if (p.index !== 0) partitionSize += 1 + int32Size(p.index);
      if (p.errorCode !== 0) partitionSize += 1 + int32Size(p.errorCode);
      if (p.errorMessage !== '') {
        messageLength = utf8Length(p.errorMessage);
        partitionSize += delimitedSize(messageLength);
      }
      if (p.highWatermark !== 0n) partitionSize += 1 + int64Size(p.highWatermark, 'highWatermark');
      if (p.logStartOffset !== 0n) partitionSize += 1 + int64Size(p.logStartOffset, 'logStartOffset');
      if (p.records.length !== 0) partitionSize += delimitedSize(p.records.length);
      sizes.push(partitionSize, messageLength);
      topicSize += delimitedSize(partitionSize);
    }
    sizes[at] = topicSize;
    total += delimitedSize(topicSize);
  }
  if (res.throttleTimeMs !== 0) total += 1 + int32Size(res.throttleTimeMs);

  const buf = Buffer.allocUnsafe(total);
  let pos = 0;
  let next = 0;
  for (const topic of res.topics) {
    const topicSize = sizes[next++] as number;
    const nameLength = sizes[next++] as number;
    buf[pos++] = TAG_FETCH_TOPICS;
    pos = writeUvarint32(buf, pos, topicSize);
    if (topic.name !== '') {
      buf[pos++] = TAG_TOPIC_NAME;
      pos = writeUvarint32(buf, pos, nameLength);
      pos = writeString(buf, pos, topic.name, nameLength);
    }
    for (const p of topic.partitions) {
      const partitionSize = sizes[next++] as number;
      const messageLength = sizes[next++] as number;
      buf[pos++] = TAG_TOPIC_PARTITIONS;
      pos = writeUvarint32(buf, pos, partitionSize);
      if (p.index !== 0) {
        buf[pos++] = TAG_PARTITION_INDEX;
        pos = writeInt32(buf, pos, p.index);
      }
      if (p.errorCode !== 0) {
        buf[pos++] = TAG_FETCH_PARTITION_ERROR_CODE;
        pos = writeInt32(buf, pos, p.errorCode);
      }
      if (p.errorMessage !== '') {
        buf[pos++] = TAG_FETCH_PARTITION_ERROR_MESSAGE;
        pos = writeUvarint32(buf, pos, messageLength);
        pos = writeString(buf, pos, p.errorMessage, messageLength);
      }
      if (p.highWatermark !== 0n) {
        buf[pos++] = TAG_FETCH_PARTITION_HIGH_WATERMARK;
        pos = writeInt64(buf, pos, p.highWatermark);
      }
      if (p.logStartOffset !== 0n) {
        buf[pos++] = TAG_FETCH_PARTITION_LOG_START_OFFSET;
        pos = writeInt64(buf, pos, p.logStartOffset);
      }
      if (p.records.length !== 0) {
        buf[pos++] = TAG_FETCH_PARTITION_RECORDS;
        pos = writeUvarint32(buf, pos, p.records.length);
        pos = writeBytes(buf, pos, p.records);
      }
    }
  }
  if (res.throttleTimeMs !== 0) {
    buf[pos++] = TAG_FETCH_THROTTLE_TIME_MS;
    pos = writeInt32(buf, pos, res.throttleTimeMs);
  }
  checkWritten('encodeFetchResponse', pos, total);
  return buf;
}
