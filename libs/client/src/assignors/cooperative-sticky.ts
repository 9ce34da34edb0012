/**
 * Kafka's `CooperativeStickyAssignor` (name 'cooperative-sticky'): the sticky assignment of
 * `AbstractStickyAssignor` plus the cooperative rule of KIP-429.
 *
 * 1. Ownership. Each member's `ownedPartitions` count only for partitions that still exist in
 *    a topic it still subscribes to. A partition claimed by several members goes to the claim
 *    with the highest generation; claims tied at the highest generation void each other (the
 *    partition is treated as unowned), as Kafka does.
 * 2. Stickiness. Every member starts from the partitions it owns.
 * 3. Unowned partitions (new topics or partitions, those of members that left, voided claims)
 *    go one by one — those with the fewest possible subscribers first — to the least loaded
 *    subscriber (ties in member order).
 * 4. Balance. While some member A holds a partition whose topic another member B subscribes to
 *    and A has at least two partitions more than B, one such partition moves to the least
 *    loaded such B (partitions A did not own before move first). Each move lowers the sum of
 *    squared counts, so this ends; at the end no member could take a partition from a member
 *    with two or more partitions more — with equal subscriptions, counts differ by at most
 *    one — and, as only surplus partitions move, no more partitions move than balance needs.
 * 5. Cooperative rule. A partition whose owner (step 1) is another member than its new one is
 *    left out of this assignment: its owner revokes it, rejoins, and the follow-up rebalance
 *    gives it to the new member (the two-phase revocation of KIP-429). A partition with tied
 *    claims is withheld the same way unless it stays with one of its claimants.
 */
import type { TopicPartition } from '../consumer-options';
import { byTopicThenPartition, compareStrings, emptyAssignment, existingTopics, partitionKey, sortedMembers, validateInput } from './common';
import { DEFAULT_GENERATION, type GroupAssignment, type MemberSubscription, type PartitionAssignor, type PartitionsPerTopic } from './types';

/** Who owns a partition before the rebalance (step 1). */
type PriorOwnership = { kind: 'owned'; memberId: string } | { kind: 'contested'; claimants: ReadonlySet<string> };

export class CooperativeStickyAssignor implements PartitionAssignor {
  readonly name = 'cooperative-sticky';
  readonly supportedProtocols = ['COOPERATIVE', 'EAGER'] as const;

  assign(partitionsPerTopic: PartitionsPerTopic, members: readonly MemberSubscription[]): GroupAssignment {
    validateInput(partitionsPerTopic, members);
    const ordered = sortedMembers(members);
    const rank = new Map(ordered.map((m, i) => [m.memberId, i] as const));
    const prior = priorOwnership(partitionsPerTopic, ordered);

    // Subscribers of each existing topic, in member order.
    const subscribers = new Map<string, string[]>();
    for (const m of ordered) {
      for (const t of existingTopics(partitionsPerTopic, m.topics)) {
        let list = subscribers.get(t);
        if (list === undefined) subscribers.set(t, (list = []));
        list.push(m.memberId);
      }
    }

    // Step 2: start from what members own.
    const held = new Map<string, Map<string, TopicPartition>>(ordered.map((m) => [m.memberId, new Map()] as const));
    const unowned: TopicPartition[] = [];
    for (const topic of [...subscribers.keys()].sort(compareStrings)) {
      const count = partitionsPerTopic.get(topic) ?? 0;
      for (let partition = 0; partition < count; partition++) {
        const key = partitionKey(topic, partition);
        const owner = prior.get(key);
        if (owner?.kind === 'owned') held.get(owner.memberId)?.set(key, { topic, partition });
        else unowned.push({ topic, partition });
      }
    }

    const leastLoaded = (topic: string, exclude?: string): string | undefined => {
      let best: string | undefined;
      let bestCount = Infinity;
      for (const id of subscribers.get(topic) ?? []) {
        if (id === exclude) continue;
        const n = held.get(id)?.size ?? 0;
        if (n < bestCount) [best, bestCount] = [id, n];
      }
      return best;
    };

    // Step 3: unowned partitions, the most constrained first (a stable sort keeps topic order).
    unowned.sort((a, b) => (subscribers.get(a.topic)?.length ?? 0) - (subscribers.get(b.topic)?.length ?? 0));
    for (const tp of unowned) {
      const target = leastLoaded(tp.topic);
      if (target !== undefined) held.get(target)?.set(partitionKey(tp.topic, tp.partition), tp);
    }

    // Step 4: move surplus partitions from the most loaded members until none can move.
    const ownedBefore = (memberId: string, key: string): boolean => {
      const o = prior.get(key);
      return o?.kind === 'owned' && o.memberId === memberId;
    };
    // Each move takes from the most loaded member that can give: its first movable partition
    // (those it did not own before first, then topic-partition order) to the least loaded
    // other subscriber of the topic.
    const moveOrder = (from: string, a: [string, TopicPartition], b: [string, TopicPartition]): number =>
      Number(ownedBefore(from, a[0])) - Number(ownedBefore(from, b[0])) || byTopicThenPartition(a[1], b[1]);
    // Each member's partitions in that order, built on first use and dropped when it receives one.
    const candidateLists = new Map<string, [string, TopicPartition][]>();
    const candidatesOf = (from: string): [string, TopicPartition][] => {
      let list = candidateLists.get(from);
      if (list === undefined) {
        list = [...(held.get(from) ?? [])].sort((a, b) => moveOrder(from, a, b));
        candidateLists.set(from, list);
      }
      return list;
    };
    for (let moved = true; moved; ) {
      moved = false;
      const byLoad = [...held.keys()].sort(
        (a, b) => (held.get(b)?.size ?? 0) - (held.get(a)?.size ?? 0) || (rank.get(a) ?? 0) - (rank.get(b) ?? 0),
      );
      for (const from of byLoad) {
        const partitions = held.get(from) ?? new Map<string, TopicPartition>();
        const candidates = candidatesOf(from);
        const targetOfTopic = new Map<string, string | undefined>();
        const index = candidates.findIndex(([, tp]) => {
          if (!targetOfTopic.has(tp.topic)) {
            const to = leastLoaded(tp.topic, from);
            targetOfTopic.set(tp.topic, to !== undefined && partitions.size - (held.get(to)?.size ?? 0) >= 2 ? to : undefined);
          }
          return targetOfTopic.get(tp.topic) !== undefined;
        });
        const entry = candidates[index];
        const to = entry === undefined ? undefined : targetOfTopic.get(entry[1].topic);
        if (entry === undefined || to === undefined) continue;
        candidates.splice(index, 1);
        partitions.delete(entry[0]);
        held.get(to)?.set(entry[0], entry[1]);
        candidateLists.delete(to);
        moved = true;
        break;
      }
    }

    // Step 5: the cooperative rule — withhold partitions still owned by another member.
    const result = emptyAssignment(members);
    for (const [memberId, partitions] of held) {
      const list = result.get(memberId) ?? [];
      for (const [key, tp] of partitions) {
        const o = prior.get(key);
        const ownedElsewhere =
          (o?.kind === 'owned' && o.memberId !== memberId) || (o?.kind === 'contested' && !o.claimants.has(memberId));
        if (!ownedElsewhere) list.push(tp);
      }
      list.sort(byTopicThenPartition);
    }
    return result;
  }
}

/**
 * Step 1: the valid prior owner of each partition, keyed by {@link partitionKey}. Claims on
 * partitions that no longer exist or of topics the member no longer subscribes to are dropped.
 */
function priorOwnership(partitionsPerTopic: PartitionsPerTopic, members: readonly MemberSubscription[]): Map<string, PriorOwnership> {
  const best = new Map<string, { generation: number; claimants: Set<string> }>();
  for (const m of members) {
    const topics = new Set(m.topics);
    const generation = m.generation ?? DEFAULT_GENERATION;
    for (const tp of m.ownedPartitions ?? []) {
      if (!topics.has(tp.topic) || !Number.isInteger(tp.partition) || tp.partition < 0) continue;
      if (tp.partition >= (partitionsPerTopic.get(tp.topic) ?? 0)) continue;
      const key = partitionKey(tp.topic, tp.partition);
      const current = best.get(key);
      if (current === undefined || generation > current.generation) best.set(key, { generation, claimants: new Set([m.memberId]) });
      else if (generation === current.generation) current.claimants.add(m.memberId);
    }
  }
  const result = new Map<string, PriorOwnership>();
  for (const [key, { claimants }] of best) {
    const [only] = claimants;
    result.set(key, claimants.size === 1 && only !== undefined ? { kind: 'owned', memberId: only } : { kind: 'contested', claimants });
  }
  return result;
}
