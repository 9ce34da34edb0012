/**
 * Creates `__consumer_offsets` when it does not exist yet (Kafka's auto-creation of the
 * internal topic on first need): offsets.topic.num.partitions partitions, replication factor
 * offsets.topic.replication.factor capped to the live brokers, compacted, min.insync.replicas
 * min(2, rf), segment.bytes offsets.topic.segment.bytes. Several instances may race:
 * TOPIC_ALREADY_EXISTS is fine. Returns the topic's actual partition count.
 */
import type { Admin } from '@tributary/client';
import { CONSUMER_OFFSETS_TOPIC } from '@tributary/groups';
import { ErrorCode, TributaryError } from '@tributary/records';
import type { Logger } from '@tributary/runtime';

export interface OffsetsTopicSettings {
  numPartitions: number;
  replicationFactor: number;
  segmentBytes: number;
}

/** The configs the topic is created with (exported for the spec). */
export function offsetsTopicConfigs(replicationFactor: number, segmentBytes: number): Record<string, string> {
  return {
    'cleanup.policy': 'compact',
    'min.insync.replicas': String(Math.min(2, replicationFactor)),
    'segment.bytes': String(segmentBytes),
  };
}

async function describePartitions(admin: Admin): Promise<number | undefined> {
  const topics = await admin.listTopics();
  if (!topics.includes(CONSUMER_OFFSETS_TOPIC)) return undefined;
  const [info] = await admin.describeTopics([CONSUMER_OFFSETS_TOPIC]);
  return info?.partitions.length;
}

export async function ensureOffsetsTopic(admin: Admin, settings: OffsetsTopicSettings, logger: Logger): Promise<number> {
  const existing = await describePartitions(admin);
  if (existing !== undefined) {
    if (existing !== settings.numPartitions) {
      logger.warn({ existing, configured: settings.numPartitions }, `${CONSUMER_OFFSETS_TOPIC} has another partition count than offsets-topic-num-partitions: using the topic's`);
    }
    return existing;
  }
  const { brokers } = await admin.describeCluster();
  const replicationFactor = Math.max(1, Math.min(settings.replicationFactor, brokers.length));
  try {
    await admin.createTopics([
      { name: CONSUMER_OFFSETS_TOPIC, numPartitions: settings.numPartitions, replicationFactor, configs: offsetsTopicConfigs(replicationFactor, settings.segmentBytes) },
    ]);
    logger.info({ partitions: settings.numPartitions, replicationFactor }, `created ${CONSUMER_OFFSETS_TOPIC}`);
  } catch (e) {
    if (!(e instanceof TributaryError && e.code === ErrorCode.TOPIC_ALREADY_EXISTS)) throw e;
  }
  return (await describePartitions(admin)) ?? settings.numPartitions;
}
