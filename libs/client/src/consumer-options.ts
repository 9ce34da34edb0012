/**
 * The Consumer's options (Kafka's consumer configs, camel-cased, with Kafka's defaults) and
 * the shapes of what it returns.
 */
import type { RecordHeader, RecordView } from '@tributary/records';
import type { ClientOptions } from './config';

/** A partition of a topic. */
export interface TopicPartition {
  topic: string;
  partition: number;
}

/**
 * auto.offset.reset: where to start when a partition has no position, or its position is out
 * of range (deleted by retention, or past the end): `'earliest'` the log start, `'latest'`
 * the end (only new records), `'none'` throw `OffsetOutOfRangeError`.
 */
export type AutoOffsetReset = 'earliest' | 'latest' | 'none';

/** Options of {@link Consumer}. */
export interface ConsumerOptions extends ClientOptions {
  /** auto.offset.reset (default 'latest', as Kafka). */
  autoOffsetReset?: AutoOffsetReset;
  /** fetch.min.bytes (default 1): a fetch waits until this many bytes are available... */
  fetchMinBytes?: number;
  /** fetch.max.wait.ms (default 500): ...or this long. */
  fetchMaxWaitMs?: number;
  /** fetch.max.bytes (default 50 MiB): bytes of one fetch answer (at least one batch is always returned). */
  fetchMaxBytes?: number;
  /** max.partition.fetch.bytes (default 1 MiB): bytes per partition in one fetch answer. */
  maxPartitionFetchBytes?: number;
  /** max.poll.records (default 500): records one `poll()` returns at most. */
  maxPollRecords?: number;
  /**
   * Bound of prefetched bytes (fetched, not yet polled) over all partitions (default 64 MiB).
   * No new fetch starts while it is reached; at most one fetch is in flight per broker.
   */
  maxBufferedBytes?: number;
  /** check.crcs (default true): verify each batch's CRC32C before handing it out. */
  checkCrcs?: boolean;
}

/** Defaults of {@link ConsumerOptions} (beyond the shared ones). */
export const CONSUMER_DEFAULTS = {
  autoOffsetReset: 'latest' as AutoOffsetReset,
  fetchMinBytes: 1,
  fetchMaxWaitMs: 500,
  fetchMaxBytes: 50 * 1024 * 1024,
  maxPartitionFetchBytes: 1024 * 1024,
  maxPollRecords: 500,
  maxBufferedBytes: 64 * 1024 * 1024,
  checkCrcs: true,
} as const;

/** A record read from a topic. Key, value and header values are views of the fetched bytes. */
export interface ConsumerRecord {
  topic: string;
  partition: number;
  offset: bigint;
  /** CreateTime, or LogAppendTime when the topic uses it (epoch ms). */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

/**
 * The records of one partition from one fetch, still encoded (one or more RecordBatch v2):
 * the cheap path for tools that count or scan records. `records` may start before
 * `fetchOffset` (a batch is never split); `forEach` skips those records.
 */
export interface FetchedBatch {
  topic: string;
  partition: number;
  /** Whole RecordBatch v2 bytes as the broker returned them. Valid until the caller drops it. */
  records: Buffer;
  /** The position this fetch started at: records below it are skipped by `forEach`. */
  fetchOffset: bigint;
  /** The position after these records (next fetch offset). */
  nextOffset: bigint;
  /** Records at or after fetchOffset (from batch headers; control records included). */
  recordCount: number;
  /** The partition's high watermark when fetched. */
  highWatermark: bigint;
  /**
   * Visits each record at or after fetchOffset with ONE reused RecordView (valid during the
   * call only; `view.key()`/`value()` return views of `records`). Offsets in the view are
   * numbers (below 2^53). Control records are skipped. Decompresses as needed.
   */
  forEach(visit: (record: RecordView) => void): void;
}
