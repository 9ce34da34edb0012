/**
 * Which partition of `__consumer_offsets` holds a group: Kafka's
 * `Utils.abs(groupId.hashCode) % groupMetadataTopicPartitionCount`, so a group lands on the
 * same partition number as in Kafka. Java's String.hashCode runs over UTF-16 code units,
 * which is what `charCodeAt` gives, with 32-bit wrap-around; Kafka's Utils.abs maps
 * Integer.MIN_VALUE to 0 (Math.abs would leave it negative).
 */

/** Java's `String.hashCode()`: s[0]*31^(n-1) + ... + s[n-1], as a signed 32-bit int. */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** Kafka's `Utils.abs`: the absolute value, with Integer.MIN_VALUE mapped to 0. */
export function kafkaAbs(n: number): number {
  return n === -0x80000000 ? 0 : Math.abs(n);
}

/** The `__consumer_offsets` partition of `groupId` (default partition count: 50, offsets.topic.num.partitions). */
export function partitionFor(groupId: string, partitionCount: number): number {
  if (!Number.isInteger(partitionCount) || partitionCount <= 0) {
    throw new RangeError(`the partition count of __consumer_offsets must be a positive integer, got ${partitionCount}`);
  }
  return kafkaAbs(javaStringHashCode(groupId)) % partitionCount;
}

/** Kafka's default offsets.topic.num.partitions. */
export const DEFAULT_OFFSETS_TOPIC_PARTITIONS = 50;
