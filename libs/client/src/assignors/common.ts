/** Helpers shared by the assignors (not exported from the package). */
import { ErrorCode, TributaryError } from '@tributary/records';
import type { TopicPartition } from '../consumer-options';
import type { GroupAssignment, MemberSubscription, PartitionsPerTopic } from './types';

/**
 * Kafka's `MemberInfo.compareTo`: static members first, ordered by `group.instance.id`, then
 * dynamic members by member id. Static members keep their place across restarts, so a
 * restarted static member gets the same partitions back.
 */
export function compareMembers(a: MemberSubscription, b: MemberSubscription): number {
  if (a.groupInstanceId !== undefined && b.groupInstanceId !== undefined) return compareStrings(a.groupInstanceId, b.groupInstanceId);
  if (a.groupInstanceId !== undefined) return -1;
  if (b.groupInstanceId !== undefined) return 1;
  return compareStrings(a.memberId, b.memberId);
}

/** Code-unit order, as Java's `String.compareTo` (not locale-dependent). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sortedMembers(members: readonly MemberSubscription[]): MemberSubscription[] {
  return [...members].sort(compareMembers);
}

/** An assignment with an empty list for every member. */
export function emptyAssignment(members: readonly MemberSubscription[]): GroupAssignment {
  const result: GroupAssignment = new Map();
  for (const m of members) result.set(m.memberId, []);
  return result;
}

/** Subscribed topics that exist with at least one partition, sorted. */
export function existingTopics(partitionsPerTopic: PartitionsPerTopic, topics: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const t of topics) if ((partitionsPerTopic.get(t) ?? 0) > 0) out.add(t);
  return [...out].sort(compareStrings);
}

/** A map key for a partition; '\0' cannot occur in a topic name. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export function byTopicThenPartition(a: TopicPartition, b: TopicPartition): number {
  return compareStrings(a.topic, b.topic) || a.partition - b.partition;
}

/**
 * Rejects input no coordinator should produce, with a Kafka error code rather than a wrong
 * assignment: a member id given twice (INVALID_REQUEST) or a partition count that is not a
 * non-negative integer (INVALID_PARTITIONS).
 */
export function validateInput(partitionsPerTopic: PartitionsPerTopic, members: readonly MemberSubscription[]): void {
  const ids = new Set<string>();
  for (const m of members) {
    if (ids.has(m.memberId)) throw new TributaryError(ErrorCode.INVALID_REQUEST, `member id '${m.memberId}' appears twice in the group's subscriptions; each member must be listed once`);
    ids.add(m.memberId);
  }
  for (const [topic, count] of partitionsPerTopic) {
    if (!Number.isInteger(count) || count < 0) throw new TributaryError(ErrorCode.INVALID_PARTITIONS, `topic '${topic}' has partition count ${count}; counts must be non-negative integers from the topic metadata`);
  }
}
