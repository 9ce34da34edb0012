/**
 * The Consumer's options (Kafka's consumer configs, camel-cased, with Kafka's defaults) and
 * the shapes of what it returns.
 */
import type { RecordHeader, RecordView } from '@tributary/records';
import type { PartitionAssignor } from './assignors/types';
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

  // ---- consumer groups (used only with groupId) -----------------------------------------
  /**
   * group.id: the consumer group this consumer joins on `subscribe()`; the group's members
   * share the subscribed topics' partitions, and positions are committed to the group.
   * Without it the consumer reads every partition of what it subscribes to, alone.
   */
  groupId?: string;
  /**
   * group.instance.id: makes this a static member (KIP-345): restarting with the same id
   * within sessionTimeoutMs gets the same partitions back without a rebalance, and close()
   * does not leave the group. Unique per consumer of the group.
   */
  groupInstanceId?: string;
  /**
   * session.timeout.ms (default 45000): the coordinator removes a member it did not hear a
   * heartbeat from for this long. Within the coordinator's group.min/max.session.timeout.ms.
   */
  sessionTimeoutMs?: number;
  /**
   * heartbeat.interval.ms (default 3000): heartbeats are sent this often, on a timer of their
   * own (whether the application polls or not, KIP-62); below sessionTimeoutMs.
   */
  heartbeatIntervalMs?: number;
  /**
   * max.poll.interval.ms (default 300000): a member that does not call poll() for this long
   * leaves the group (its partitions go to the others) and rejoins at its next poll. Also the
   * rebalance timeout: how long the coordinator waits for members to rejoin.
   */
  maxPollIntervalMs?: number;
  /**
   * partition.assignment.strategy (default `[new RangeAssignor(), new CooperativeStickyAssignor()]`
   * as Kafka 3.x): the assignors this member supports, preferred first. The group uses the
   * most preferred one every member supports. Rebalances are COOPERATIVE (KIP-429) only when
   * every listed assignor supports it, else EAGER — as Kafka.
   */
  partitionAssignors?: PartitionAssignor[];
  /** enable.auto.commit (default true with a groupId): commit consumed positions every autoCommitIntervalMs, before a revocation and at close. */
  enableAutoCommit?: boolean;
  /** auto.commit.interval.ms (default 5000). */
  autoCommitIntervalMs?: number;
}

/**
 * Kafka's `ConsumerRebalanceListener`: told which partitions this member gets and loses.
 * Called from the consumer's background group loop, which awaits what they return (commit or
 * flush there). EAGER: every partition is revoked before each rebalance, then the new set is
 * assigned. COOPERATIVE: only partitions that move are revoked (after the rebalance), and
 * `onPartitionsAssigned` gets only the added ones. `onPartitionsLost`: the partitions were
 * already given to others (this member was removed: session expiry, poll interval exceeded,
 * fenced generation) — do not commit for them.
 */
export interface RebalanceListener {
  onPartitionsAssigned?(partitions: TopicPartition[]): void | Promise<void>;
  onPartitionsRevoked?(partitions: TopicPartition[]): void | Promise<void>;
  onPartitionsLost?(partitions: TopicPartition[]): void | Promise<void>;
}

/** An offset to commit: the next record the group will read of the partition. */
export interface CommitOffset {
  topic: string;
  partition: number;
  offset: bigint;
  /** Free-form, kept with the offset (at most 4096 bytes). */
  metadata?: string;
  /** Leader epoch of the last consumed record (KIP-320), when known. */
  leaderEpoch?: number;
}

/** A committed offset as the group has it. */
export interface CommittedOffset {
  topic: string;
  partition: number;
  offset: bigint;
  metadata: string;
  /** -1 when unknown. */
  leaderEpoch: number;
}

/** Kafka's `ConsumerGroupMetadata`: who this member is in its group now. */
export interface GroupMetadata {
  groupId: string;
  /** -1 while not a member of a generation. */
  generationId: number;
  /** '' before the first join. */
  memberId: string;
  /** undefined for a dynamic member. */
  groupInstanceId: string | undefined;
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
  sessionTimeoutMs: 45_000,
  heartbeatIntervalMs: 3_000,
  maxPollIntervalMs: 300_000,
  autoCommitIntervalMs: 5_000,
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
