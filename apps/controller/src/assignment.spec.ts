import { ErrorCode } from '@tributary/records';
import { assignReplicas, rackAlternatingOrder } from './assignment';
import { collidingTopic, validateTopicName } from './topic-names';

const brokers = (ids: number[], racks?: string[]) => ids.map((id, i) => ({ id, rack: racks?.[i] }));

function counts(values: number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

describe('assignReplicas', () => {
  it('spreads leaders and replicas evenly, distinct brokers per partition', () => {
    for (let start = 0; start < 3; start++) {
      for (let shift = 0; shift < 3; shift++) {
        const a = assignReplicas(brokers([1, 2, 3]), 6, 3, { startIndex: start, replicaShift: shift });
        expect(a).toHaveLength(6);
        for (const replicas of a) expect(new Set(replicas).size).toBe(3);
        expect([...counts(a.map((r) => r[0]!)).values()]).toEqual([2, 2, 2]); // leaders
        expect([...counts(a.flat()).values()]).toEqual([6, 6, 6]);
      }
    }
  });

  it('is deterministic for a given start and shift, and continues for added partitions', () => {
    const all = assignReplicas(brokers([1, 2, 3, 4]), 8, 2, { startIndex: 1, replicaShift: 2 });
    expect(assignReplicas(brokers([4, 3, 2, 1]), 8, 2, { startIndex: 1, replicaShift: 2 })).toEqual(all);
    const tail = assignReplicas(brokers([1, 2, 3, 4]), 3, 2, { startIndex: 1, replicaShift: 2 + 1, firstPartition: 5 });
    expect(tail.map((r) => r[0])).toEqual(all.slice(5).map((r) => r[0]));
  });

  it('puts the replicas of a partition on distinct racks when it can', () => {
    const six = brokers([1, 2, 3, 4, 5, 6], ['a', 'a', 'b', 'b', 'c', 'c']);
    expect(rackAlternatingOrder(six).map((b) => b.id)).toEqual([1, 3, 5, 2, 4, 6]);
    const a = assignReplicas(six, 12, 3, { startIndex: 0, replicaShift: 0 });
    const rackOf = new Map(six.map((b) => [b.id, b.rack]));
    for (const replicas of a) expect(new Set(replicas.map((id) => rackOf.get(id))).size).toBe(3);
    expect([...counts(a.map((r) => r[0]!)).values()]).toEqual([2, 2, 2, 2, 2, 2]);
    // Two racks, three replicas: both racks used, all brokers distinct.
    const four = brokers([1, 2, 3, 4], ['x', 'x', 'y', 'y']);
    for (const replicas of assignReplicas(four, 8, 3, { startIndex: 1, replicaShift: 1 })) {
      expect(new Set(replicas).size).toBe(3);
      expect(new Set(replicas.map((id) => four.find((b) => b.id === id)!.rack)).size).toBe(2);
    }
  });

  it('refuses impossible requests with Kafka codes', () => {
    expect(() => assignReplicas(brokers([1, 2]), 3, 3)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_REPLICATION_FACTOR }));
    expect(() => assignReplicas(brokers([1, 2]), 0, 1)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_PARTITIONS }));
    expect(() => assignReplicas(brokers([1, 2]), 2, 0)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_REPLICATION_FACTOR }));
    expect(assignReplicas(brokers([7]), 3, 1)).toEqual([[7], [7], [7]]);
  });
});

describe('topic names', () => {
  it("follows Kafka's rules", () => {
    for (const ok of ['orders', 'a.b_c-d', 'X'.repeat(249), '__consumer_offsets']) expect(validateTopicName(ok)).toBe(ok);
    for (const bad of ['', '.', '..', 'x'.repeat(250), 'with space', 'slash/no', 'ünïcode']) {
      expect(() => validateTopicName(bad)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_TOPIC_EXCEPTION }));
    }
    expect(collidingTopic('a.b', ['a_b', 'c'])).toBe('a_b');
    expect(collidingTopic('a.b', ['a.b', 'c'])).toBeUndefined();
  });
});
