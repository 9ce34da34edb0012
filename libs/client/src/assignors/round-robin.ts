/**
 * Kafka's `RoundRobinAssignor` (name 'roundrobin'): every partition of every subscribed topic,
 * sorted by topic then partition, is dealt in turn to the members in member order
 * ({@link compareMembers}), skipping members not subscribed to the partition's topic. With
 * identical subscriptions, partition counts differ by at most one; with different
 * subscriptions it can be unbalanced (Kafka's documented limit). Eager only.
 */
import { emptyAssignment, existingTopics, sortedMembers, validateInput } from './common';
import type { GroupAssignment, MemberSubscription, PartitionAssignor, PartitionsPerTopic } from './types';

export class RoundRobinAssignor implements PartitionAssignor {
  readonly name = 'roundrobin';
  readonly supportedProtocols = ['EAGER'] as const;

  assign(partitionsPerTopic: PartitionsPerTopic, members: readonly MemberSubscription[]): GroupAssignment {
    validateInput(partitionsPerTopic, members);
    const result = emptyAssignment(members);
    const ring = sortedMembers(members);
    const topics = existingTopics(partitionsPerTopic, members.flatMap((m) => m.topics));
    const subscribed = new Map(ring.map((m) => [m.memberId, new Set(m.topics)] as const));
    let next = 0;
    for (const topic of topics) {
      const partitions = partitionsPerTopic.get(topic) ?? 0;
      for (let partition = 0; partition < partitions; partition++) {
        // Some member subscribes to `topic` (it is in `topics`), so this loop ends.
        while (!(subscribed.get(ring[next % ring.length]?.memberId ?? '')?.has(topic) ?? false)) next++;
        const member = ring[next % ring.length];
        next++;
        if (member !== undefined) result.get(member.memberId)?.push({ topic, partition });
      }
    }
    return result;
  }
}
