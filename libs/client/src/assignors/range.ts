/**
 * Kafka's `RangeAssignor` (name 'range'): topic by topic, the topic's subscribers in member
 * order ({@link compareMembers}) each get a contiguous range of its partitions; with N
 * partitions and C subscribers the first N mod C members get ⌈N/C⌉, the rest ⌊N/C⌋. As the
 * same members come first for every topic, co-partitioned topics land together (partition i
 * of every topic on the same member) — and the first members carry the extra partitions of
 * every topic. Eager only: its result does not consider what members own.
 */
import { compareMembers, emptyAssignment, existingTopics, validateInput } from './common';
import type { GroupAssignment, MemberSubscription, PartitionAssignor, PartitionsPerTopic } from './types';

export class RangeAssignor implements PartitionAssignor {
  readonly name = 'range';
  readonly supportedProtocols = ['EAGER'] as const;

  assign(partitionsPerTopic: PartitionsPerTopic, members: readonly MemberSubscription[]): GroupAssignment {
    validateInput(partitionsPerTopic, members);
    const result = emptyAssignment(members);
    const subscribers = new Map<string, MemberSubscription[]>();
    for (const m of members) {
      for (const t of existingTopics(partitionsPerTopic, m.topics)) {
        let list = subscribers.get(t);
        if (list === undefined) subscribers.set(t, (list = []));
        list.push(m);
      }
    }
    for (const topic of [...subscribers.keys()].sort()) {
      const consumers = (subscribers.get(topic) ?? []).sort(compareMembers);
      const partitions = partitionsPerTopic.get(topic) ?? 0;
      const perConsumer = Math.floor(partitions / consumers.length);
      const withExtra = partitions % consumers.length;
      consumers.forEach((m, i) => {
        const start = perConsumer * i + Math.min(i, withExtra);
        const length = perConsumer + (i < withExtra ? 1 : 0);
        const owned = result.get(m.memberId) ?? [];
        for (let p = start; p < start + length; p++) owned.push({ topic, partition: p });
      });
    }
    return result;
  }
}
