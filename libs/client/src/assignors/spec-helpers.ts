/**
 * Test helpers for the assignor specs (not exported): a seeded PRNG, shorthand builders, and
 * the validity and balance checks of Kafka's `AbstractStickyAssignorTest.verifyValidityAndBalance`.
 */
import type { TopicPartition } from '../consumer-options';
import { ErrorCode } from '@tributary/records';
import type { GroupAssignment, MemberSubscription, PartitionAssignor } from './types';

/** mulberry32: a small deterministic PRNG, so randomized specs replay exactly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function tp(topic: string, partition: number): TopicPartition {
  return { topic, partition };
}

/** Topic → partition count, from `{ t1: 3, t2: 2 }`. */
export function topics(counts: Record<string, number>): Map<string, number> {
  return new Map(Object.entries(counts));
}

/** A member's partitions as 't1-0' strings, for readable expectations. */
export function names(assignment: GroupAssignment, memberId: string): string[] {
  return (assignment.get(memberId) ?? []).map((p) => `${p.topic}-${p.partition}`);
}

/** Moves the result into the members' `ownedPartitions` for the next rebalance (generation + 1). */
export function nextGeneration(members: readonly MemberSubscription[], assignment: GroupAssignment, generation: number): MemberSubscription[] {
  return members.map((m) => ({ ...m, ownedPartitions: assignment.get(m.memberId) ?? [], generation }));
}

/**
 * Partitions taken from a member still in the group: owned by it in `before`, owned by another
 * member in `after`. Partitions of members that left do not count.
 */
export function movedPartitions(before: GroupAssignment, after: GroupAssignment): number {
  const owner = new Map<string, string>();
  for (const [id, ps] of after) for (const p of ps) owner.set(`${p.topic}-${p.partition}`, id);
  let moved = 0;
  for (const [id, ps] of before) {
    if (!after.has(id)) continue;
    for (const p of ps) if ((owner.get(`${p.topic}-${p.partition}`) ?? id) !== id) moved++;
  }
  return moved;
}

/**
 * Throws unless: every member has an entry; each partition is assigned at most once, exists,
 * and only to a subscriber; if `complete`, every partition of a subscribed topic is assigned;
 * and no member holds a partition another member subscribes to while having two or more
 * partitions more than that member (Kafka's balance rule; with equal subscriptions, counts
 * differ by at most one).
 */
export function verifyValidityAndBalance(
  partitionsPerTopic: ReadonlyMap<string, number>,
  members: readonly MemberSubscription[],
  assignment: GroupAssignment,
  options: { complete?: boolean; balanced?: boolean } = {},
): void {
  const seen = new Set<string>();
  const subs = new Map(members.map((m) => [m.memberId, new Set(m.topics)] as const));
  for (const m of members) if (!assignment.has(m.memberId)) throw new Error(`no entry for ${m.memberId}`);
  for (const [id, ps] of assignment) {
    for (const p of ps) {
      const key = `${p.topic}-${p.partition}`;
      if (seen.has(key)) throw new Error(`${key} assigned twice`);
      seen.add(key);
      if (p.partition < 0 || p.partition >= (partitionsPerTopic.get(p.topic) ?? 0)) throw new Error(`${key} does not exist`);
      if (!(subs.get(id)?.has(p.topic) ?? false)) throw new Error(`${key} given to ${id}, not a subscriber`);
    }
  }
  if (options.complete ?? true) {
    const subscribed = new Set(members.flatMap((m) => m.topics));
    for (const t of subscribed) {
      for (let p = 0; p < (partitionsPerTopic.get(t) ?? 0); p++) if (!seen.has(`${t}-${p}`)) throw new Error(`${t}-${p} not assigned`);
    }
  }
  if (options.balanced ?? true) {
    for (const [a, pa] of assignment) {
      for (const [b, pb] of assignment) {
        if (pa.length - pb.length < 2) continue;
        const movable = pa.find((p) => subs.get(b)?.has(p.topic) ?? false);
        if (movable !== undefined) throw new Error(`unbalanced: ${a} has ${pa.length}, ${b} has ${pb.length} and could take ${movable.topic}-${movable.partition}`);
      }
    }
  }
}

/** The input checks every assignor shares: duplicate member ids, bad partition counts, topics that do not exist. */
export function itRefusesBadInputAndSkipsMissingTopics(assignor: PartitionAssignor): void {
  it('rejects a member id given twice (INVALID_REQUEST) and a bad partition count (INVALID_PARTITIONS)', () => {
    expect(() => assignor.assign(topics({ t: 1 }), [{ memberId: 'c1', topics: ['t'] }, { memberId: 'c1', topics: ['t'] }])).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_REQUEST }),
    );
    for (const bad of [-1, 1.5, Number.NaN]) {
      expect(() => assignor.assign(topics({ t: bad }), [{ memberId: 'c1', topics: ['t'] }])).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_PARTITIONS }));
    }
  });

  it('gives nothing to a consumer with no topics, or only a nonexistent one', () => {
    expect(names(assignor.assign(topics({}), [{ memberId: 'c1', topics: [] }]), 'c1')).toEqual([]);
    expect(names(assignor.assign(topics({ t: 3 }), [{ memberId: 'c1', topics: ['missing'] }]), 'c1')).toEqual([]);
  });
}
