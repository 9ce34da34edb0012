/**
 * What the proxy knows of the cluster, asked of the active controller through the SDK's Admin
 * and cached: topic partition counts (for produce validation: 40401 / 40402 without waiting
 * for the producer's metadata) and the cluster id (v3 paths).
 *
 * Concurrency: one lookup per topic at a time (concurrent requests share its promise); an
 * entry is trusted for `maxAgeMs`; a missing topic is never cached (it may be created any
 * moment). A produce to a topic deleted since it was cached fails per record in the producer.
 */
import type { Admin } from '@tributary/client';
import { ErrorCode, TopicOperationError, TributaryError } from '@tributary/client';
import { RestError, RestErrorCode } from './errors';

/**
 * A failed topic lookup as the API answers it: a missing topic or a name that cannot be a
 * topic (too long, odd characters, `..`) is "not found" (40401 / 40403), never a 500.
 */
function notFound(topic: string, e: unknown, api: 'v2' | 'v3'): RestError {
  const cause = e instanceof TopicOperationError && e.errors.size === 1 ? e.errors.values().next().value : e;
  const missing =
    (cause instanceof RestError && cause.errorCode === RestErrorCode.TOPIC_NOT_FOUND) ||
    (cause instanceof TributaryError && (cause.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION || cause.code === ErrorCode.INVALID_TOPIC_EXCEPTION));
  if (!missing) return RestError.from(e, api);
  const shown = topic.length > 128 ? `${topic.slice(0, 128)}…` : topic;
  return new RestError(api === 'v2' ? RestErrorCode.TOPIC_NOT_FOUND : RestErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic ${shown} not found.`);
}

interface TopicEntry {
  partitions: number;
  fetchedAtMs: number;
}

const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/** Kafka's topic name rule: 1 to 249 of [a-zA-Z0-9._-], and not '.' or '..'. */
export function isLegalTopicName(name: string): boolean {
  return LEGAL_TOPIC.test(name) && name !== '.' && name !== '..';
}

export class ClusterView {
  private readonly topics = new Map<string, TopicEntry>();
  private readonly lookups = new Map<string, Promise<number>>();
  private clusterIdValue: string | undefined;

  constructor(
    readonly admin: Admin,
    private readonly maxAgeMs: number,
    /** Where the cluster id comes from instead of this admin (the proxy's own view, for a user's). */
    private readonly clusterIdSource?: () => Promise<string>,
  ) {}

  /**
   * The partition count of `topic`, or a RestError: 40401 (v2) / 40403 (v3) when it does not
   * exist, 5000x when the controller cannot be asked.
   */
  partitionCount(topic: string, api: 'v2' | 'v3'): number | Promise<number> {
    const entry = this.topics.get(topic);
    // A name that cannot be a topic is not asked about: it is not found.
    if (entry === undefined && !isLegalTopicName(topic)) return Promise.reject(notFound(topic, new RestError(RestErrorCode.TOPIC_NOT_FOUND, ''), api));
    if (entry !== undefined && Date.now() - entry.fetchedAtMs < this.maxAgeMs) return entry.partitions;
    let lookup = this.lookups.get(topic);
    if (lookup === undefined) {
      lookup = this.lookup(topic).finally(() => this.lookups.delete(topic));
      this.lookups.set(topic, lookup);
    }
    return lookup.catch((e: unknown) => {
      throw notFound(topic, e, api);
    });
  }

  /** Checks that `partition` exists in `topic` (40402 in v2, 40403 in v3, else). */
  async checkPartition(topic: string, partition: number, api: 'v2' | 'v3'): Promise<number> {
    let count = await this.partitionCount(topic, api);
    if (Number.isInteger(partition) && partition >= count) {
      // The cached count may predate CreatePartitions: ask once more before saying no.
      this.forget(topic);
      count = await this.partitionCount(topic, api);
    }
    if (!Number.isInteger(partition) || partition < 0 || partition >= count) {
      throw new RestError(
        api === 'v2' ? RestErrorCode.PARTITION_NOT_FOUND : RestErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        `partition ${partition} of topic '${topic}' not found: it has partitions 0 to ${count - 1}`,
      );
    }
    return count;
  }

  /** Forgets a topic (after deleting or growing it). */
  forget(topic: string): void {
    this.topics.delete(topic);
  }

  /** The cluster id (from DescribeCluster; stable for the cluster's life, so cached). */
  async clusterId(): Promise<string> {
    this.clusterIdValue ??= this.clusterIdSource !== undefined ? await this.clusterIdSource() : (await this.admin.describeCluster()).clusterId;
    return this.clusterIdValue;
  }

  private async lookup(topic: string): Promise<number> {
    const [info] = await this.admin.describeTopics([topic]);
    if (info === undefined || info.partitions.length === 0) {
      throw new RestError(RestErrorCode.TOPIC_NOT_FOUND, `topic '${topic}' not found`);
    }
    this.topics.set(topic, { partitions: info.partitions.length, fetchedAtMs: Date.now() });
    return info.partitions.length;
  }
}
