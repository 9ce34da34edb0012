/**
 * The Producer's options (Kafka's producer configs, camel-cased, with Kafka 3's defaults)
 * and the shapes of what it sends and answers.
 */
import type { RecordHeader } from '@tributary/records';
import { CompressionCodec } from '@tributary/records';
import type { ClientOptions } from './config';

/**
 * acks: how many replicas must have a batch before it is acknowledged.
 * `0`: none (the request is not waited for beyond being sent; offsets resolve as -1);
 * `1`: the leader's log; `-1` / `'all'`: every in-sync replica (the high watermark passed it).
 */
export type Acks = 0 | 1 | -1 | 'all';

/** compression.type. Whether a codec is available depends on the build (`supportedCompressionCodecs`). */
export type CompressionType = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

/** A record value or key: bytes, or a string sent as UTF-8. */
export type Bytes = Buffer | string;

/** A record header value: bytes, a UTF-8 string, or null. */
export type HeaderValue = Buffer | string | null;

/** One record to send. */
export interface ProducerRecord {
  topic: string;
  /** Key (murmur2 of its bytes picks the partition, as Kafka's default partitioner); null/absent: none. */
  key?: Bytes | null;
  /** Value; null is a tombstone on compacted topics. */
  value: Bytes | null;
  /** Headers, as an object (one header per key) or a list (repeated keys allowed, order kept). */
  headers?: Record<string, HeaderValue> | ReadonlyArray<{ key: string; value: HeaderValue }>;
  /** CreateTime in epoch ms (default: now). */
  timestamp?: number;
  /** Explicit partition: skips the partitioner. */
  partition?: number;
}

/** Where a record landed. */
export interface RecordMetadata {
  topic: string;
  partition: number;
  /** Its offset; -1n with acks=0 (the broker does not answer). */
  offset: bigint;
  /** Its CreateTime, or the broker's LogAppendTime when the topic uses it. */
  timestamp: number;
}

/** What a {@link Partitioner} is asked. */
export interface PartitionerArgs {
  topic: string;
  /** The key as bytes, or null. */
  key: Buffer | null;
  value: Buffer | null;
  /** Current partition count of the topic (from metadata). */
  partitionCount: number;
  /** Partitions that currently have a leader. */
  availablePartitions: readonly number[];
}

/**
 * partitioner.class: picks a record's partition. Return `undefined` to let the default
 * partitioner decide (murmur2 of the key; sticky for keyless records).
 */
export type Partitioner = (args: PartitionerArgs) => number | undefined;

/** Options of {@link Producer}. */
export interface ProducerOptions extends ClientOptions {
  /** acks (default -1 = 'all', as Kafka 3). */
  acks?: Acks;
  /**
   * enable.idempotence (default: on, as Kafka 3): batches carry a producer id (from
   * InitProducerId, before the first record) and per-partition sequence numbers, so a retried
   * batch is written once and a gap is refused. Needs acks 'all', maxInFlightRequestsPerConnection
   * <= 5 and retries > 0: when those are set otherwise and this is left unset, idempotence is
   * off (at-least-once); `true` together with them is a configuration error (RangeError).
   */
  idempotent?: boolean;
  /** batch.size (default 16384): bytes of one partition's batch. */
  batchSize?: number;
  /** linger.ms (default 5): how long a non-full batch waits for more records. */
  lingerMs?: number;
  /** buffer.memory (default 32 MiB): bytes of records accepted and not yet acknowledged; send() waits beyond. */
  bufferMemory?: number;
  /** max.block.ms (default 60000): how long send() waits for buffer memory or metadata before failing. */
  maxBlockMs?: number;
  /** compression.type (default 'none'). */
  compression?: CompressionType;
  /** compression.level (codec's default if absent). */
  compressionLevel?: number;
  /** retries (default MAX_SAFE_INTEGER: bounded by deliveryTimeoutMs instead). */
  retries?: number;
  /**
   * delivery.timeout.ms (default 120000): upper bound from send() until the record is
   * acknowledged or failed, retries included. Must be ≥ lingerMs + requestTimeoutMs.
   */
  deliveryTimeoutMs?: number;
  /**
   * max.in.flight.requests.per.connection (default 5): Produce requests awaiting an answer
   * per broker. Per-partition order is kept whatever the value: a partition has at most one
   * request in flight ("guaranteed ordering" is the SDK's, not a consequence of idempotence).
   */
  maxInFlightRequestsPerConnection?: number;
  /** max.request.size (default 1 MiB): bytes of one Produce request (and largest record). */
  maxRequestSize?: number;
  /** partitioner.class: custom partitioner (default: Kafka's, with KIP-480 sticky partitions for keyless records). */
  partitioner?: Partitioner;
  /** partitioner.ignore.keys (default false): keyed records are spread like keyless ones. */
  partitionerIgnoreKeys?: boolean;
}

/** Defaults of {@link ProducerOptions} (beyond the shared ones). */
export const PRODUCER_DEFAULTS = {
  acks: -1 as Acks,
  batchSize: 16_384,
  lingerMs: 5,
  bufferMemory: 32 * 1024 * 1024,
  maxBlockMs: 60_000,
  compression: 'none' as CompressionType,
  retries: Number.MAX_SAFE_INTEGER,
  deliveryTimeoutMs: 120_000,
  maxInFlightRequestsPerConnection: 5,
  maxRequestSize: 1024 * 1024,
} as const;

/** compression.type name → codec. */
export const COMPRESSION_CODECS: Readonly<Record<CompressionType, CompressionCodec>> = {
  none: CompressionCodec.None,
  gzip: CompressionCodec.Gzip,
  snappy: CompressionCodec.Snappy,
  lz4: CompressionCodec.Lz4,
  zstd: CompressionCodec.Zstd,
};

/** The wire value of acks. */
export function acksValue(acks: Acks): 0 | 1 | -1 {
  if (acks === 'all' || acks === -1) return -1;
  if (acks === 0 || acks === 1) return acks;
  throw new RangeError(`acks must be 0, 1, -1 or 'all', got ${String(acks)}`);
}

/** Converts the user's headers into record headers. */
export function toRecordHeaders(headers: ProducerRecord['headers']): RecordHeader[] | undefined {
  if (headers === undefined) return undefined;
  const out: RecordHeader[] = [];
  if (Array.isArray(headers)) {
    for (const h of headers as ReadonlyArray<{ key: string; value: HeaderValue }>) out.push({ key: h.key, value: toBuffer(h.value) });
  } else {
    for (const key of Object.keys(headers)) out.push({ key, value: toBuffer((headers as Record<string, HeaderValue>)[key] ?? null) });
  }
  return out;
}

/** Bytes of a key, value or header value. */
export function toBuffer(value: Bytes | null | undefined): Buffer | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}
