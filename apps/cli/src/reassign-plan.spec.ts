import { UsageError } from './errors';
import { brokerList, formatPlan, parseReassignment, parseTopicsToMove, proposeAssignment } from './reassign-plan';
import type { PartitionReplicas } from './reassign-plan';

const counts = (values: number[]): Map<number, number> => {
  const m = new Map<number, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
};

describe('proposeAssignment (--generate)', () => {
  const current = (topic: string, partitions: number, rf: number): PartitionReplicas[] =>
    Array.from({ length: partitions }, (_, p) => ({ topic, partition: p, replicas: Array.from({ length: rf }, (_, j) => 100 + j) }));

  it('keeps each replication factor, uses only the listed brokers, never twice in a partition', () => {
    for (const [partitions, rf, brokers] of [
      [6, 3, [1, 2, 3]],
      [12, 2, [4, 5, 6, 7]],
      [5, 1, [9]],
      [7, 3, [1, 2, 3, 4, 5]],
    ] as const) {
      const proposed = proposeAssignment(current('t', partitions, rf), brokers);
      expect(proposed.map((p) => p.partition)).toEqual(Array.from({ length: partitions }, (_, p) => p));
      for (const p of proposed) {
        expect(p.replicas).toHaveLength(rf);
        expect(new Set(p.replicas).size).toBe(rf);
        for (const b of p.replicas) expect(brokers).toContain(b);
      }
    }
  });

  it('spreads leaders and replicas evenly', () => {
    const proposed = proposeAssignment(current('orders', 6, 2), [1, 2, 3]);
    expect([...counts(proposed.map((p) => p.replicas[0]!)).values()]).toEqual([2, 2, 2]);
    expect([...counts(proposed.flatMap((p) => p.replicas)).values()]).toEqual([4, 4, 4]);
  });

  it('is deterministic per topic, and refuses more replicas than brokers', () => {
    expect(proposeAssignment(current('a', 4, 2), [1, 2, 3])).toEqual(proposeAssignment(current('a', 4, 2), [3, 2, 1]));
    expect(() => proposeAssignment(current('a', 1, 3), [1, 2])).toThrow(/3 replicas but --broker-list names only 2/);
  });
});

describe('reassignment JSON files (kafka-reassign-partitions formats)', () => {
  it('parses topics to move and reassignments, and formats a plan Kafka tools read back', () => {
    expect(parseTopicsToMove('{"version":1,"topics":[{"topic":"a"},{"topic":"b"},{"topic":"a"}]}')).toEqual(['a', 'b']);
    const text = formatPlan([
      { topic: 'b', partition: 0, replicas: [3, 1] },
      { topic: 'a', partition: 1, replicas: [2] },
    ]);
    expect(JSON.parse(text)).toEqual({
      version: 1,
      partitions: [
        { topic: 'a', partition: 1, replicas: [2], log_dirs: ['any'] },
        { topic: 'b', partition: 0, replicas: [3, 1], log_dirs: ['any', 'any'] },
      ],
    });
    expect(parseReassignment(text).partitions).toEqual([
      { topic: 'a', partition: 1, replicas: [2] },
      { topic: 'b', partition: 0, replicas: [3, 1] },
    ]);
  });

  it('refuses malformed files with a message saying what is wrong', () => {
    expect(() => parseReassignment('{')).toThrow(UsageError);
    expect(() => parseReassignment('{"partitions":[]}')).toThrow(/no partitions/);
    expect(() => parseReassignment('{"partitions":[{"topic":"a","partition":0,"replicas":[1,1]}]}')).toThrow(/broker twice/);
    expect(() => parseReassignment('{"partitions":[{"topic":"a","partition":0,"replicas":[1]},{"topic":"a","partition":0,"replicas":[2]}]}')).toThrow(/a-0 appears more than once/);
    expect(() => parseReassignment('{"partitions":[{"topic":"a","partition":-1,"replicas":[1]}]}')).toThrow(/partition/);
    expect(() => parseTopicsToMove('{"topics":[{}]}')).toThrow(/topics\[0\]/);
    expect(brokerList('1, 2,3')).toEqual([1, 2, 3]);
    expect(() => brokerList('1,x')).toThrow(/broker ids/);
  });
});
