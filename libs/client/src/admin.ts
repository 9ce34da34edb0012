/**
 * The Admin client: the active controller's AdminService, found through broker Metadata, plus
 * `listOffsets` through the partition leaders.
 */
import type { ClientOptions } from './config';

/** A topic to create. */
export interface NewTopic {
  name: string;
  /** Partitions (default 1). */
  numPartitions?: number;
  /** Copies of each partition, at most the number of live brokers (default 1). */
  replicationFactor?: number;
  /** Topic config overrides by Kafka name (`retention.ms`, `cleanup.policy`, ...). */
  configs?: Record<string, string>;
}

/** A topic created (or that would be, with validateOnly). */
export interface CreatedTopic {
  name: string;
  numPartitions: number;
  replicationFactor: number;
}

/** One partition's replicas and leadership. */
export interface PartitionInfo {
  partition: number;
  /** Broker id of the leader; -1 when there is none. */
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}

/** A topic and its partitions. */
export interface TopicInfo {
  name: string;
  partitions: PartitionInfo[];
}

/** One topic config and its effective value. */
export interface ConfigEntry {
  name: string;
  value: string;
  /** True when the topic has no override for it. */
  isDefault: boolean;
  documentation: string;
}

/** A topic's configs. */
export interface TopicConfigs {
  topic: string;
  /** Every known config, sorted by name. */
  entries: ConfigEntry[];
}

/** Changes to one topic's config overrides, applied together. */
export interface AlterTopicConfigs {
  topic: string;
  /** Overrides to set, by Kafka name. */
  set?: Record<string, string>;
  /** Overrides to remove (back to the default). */
  delete?: string[];
}

/** A registered broker. */
export interface BrokerInfo {
  id: number;
  host: string;
  port: number;
  /** Empty when none. */
  rack: string;
}

/** The cluster as the active controller sees it. */
export interface ClusterInfo {
  brokers: BrokerInfo[];
  controllerId: number;
  controllerEpoch: bigint;
  /** `host:port` of the active controller's Admin API. */
  controllerAddress: string;
}

/** Which offset `listOffsets` looks for. */
export type OffsetSpec = 'earliest' | 'latest' | 'maxTimestamp' | { timestamp: number };

/** An offset found by `listOffsets`. */
export interface PartitionOffset {
  topic: string;
  partition: number;
  /** The offset; -1n when no record matches the timestamp. */
  offset: bigint;
  /** Timestamp of that record, or -1. */
  timestamp: number;
}

/** Options of {@link Admin}. */
export type AdminOptions = ClientOptions;

/**
 * Manages topics and reads cluster state.
 *
 * Errors: a method on several topics resolves only when every topic succeeded; otherwise it
 * rejects with a `TopicOperationError` whose `errors` maps each failed topic to its
 * `TributaryError` (the others succeeded). Whole-call failures (no controller reachable,
 * ...) reject with a `TributaryError` that says what to do.
 *
 * ```ts
 * const admin = new Admin();
 * await admin.createTopics([{ name: 'orders', numPartitions: 6, replicationFactor: 3 }]);
 * await admin.close();
 * ```
 */
export class Admin {
  /** Creates an admin client; nothing connects until the first call. */
  constructor(options: AdminOptions = {}) {
    void options;
  }

  /** Creates topics (`validateOnly`: checks everything, writes nothing). */
  createTopics(topics: readonly NewTopic[], options: { validateOnly?: boolean } = {}): Promise<CreatedTopic[]> {
    void topics;
    void options;
    return Promise.reject(new Error('Admin.createTopics: not implemented yet'));
  }

  /** Deletes topics and their data. */
  deleteTopics(names: readonly string[]): Promise<void> {
    void names;
    return Promise.reject(new Error('Admin.deleteTopics: not implemented yet'));
  }

  /** Grows topics to `count` partitions in total (never shrinks). */
  createPartitions(topics: ReadonlyArray<{ topic: string; count: number }>, options: { validateOnly?: boolean } = {}): Promise<void> {
    void topics;
    void options;
    return Promise.reject(new Error('Admin.createPartitions: not implemented yet'));
  }

  /** Names of every topic, sorted. */
  listTopics(): Promise<string[]> {
    return Promise.reject(new Error('Admin.listTopics: not implemented yet'));
  }

  /** Describes topics (default: every topic). */
  describeTopics(names?: readonly string[]): Promise<TopicInfo[]> {
    void names;
    return Promise.reject(new Error('Admin.describeTopics: not implemented yet'));
  }

  /** Every config of each topic with its effective value. */
  describeConfigs(topics: readonly string[]): Promise<TopicConfigs[]> {
    void topics;
    return Promise.reject(new Error('Admin.describeConfigs: not implemented yet'));
  }

  /** Sets or removes config overrides, incrementally (Kafka's IncrementalAlterConfigs). */
  alterConfigs(changes: readonly AlterTopicConfigs[], options: { validateOnly?: boolean } = {}): Promise<void> {
    void changes;
    void options;
    return Promise.reject(new Error('Admin.alterConfigs: not implemented yet'));
  }

  /** Registered brokers and the active controller. */
  describeCluster(): Promise<ClusterInfo> {
    return Promise.reject(new Error('Admin.describeCluster: not implemented yet'));
  }

  /**
   * Offsets of a topic's partitions (default: all of them) from their leaders: `'earliest'`
   * (log start), `'latest'` (high watermark: the next offset to be written and visible),
   * `'maxTimestamp'`, or `{ timestamp }` (first offset at or after it; -1n when none).
   */
  listOffsets(topic: string, spec: OffsetSpec, partitions?: readonly number[]): Promise<PartitionOffset[]> {
    void topic;
    void spec;
    void partitions;
    return Promise.reject(new Error('Admin.listOffsets: not implemented yet'));
  }

  /** Closes the connections. Idempotent. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
