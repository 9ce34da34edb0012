/**
 * The automatic rebalance's imbalance computation (Kafka's checkAndTriggerAutoLeaderRebalance):
 * per preferred leader, the share of its partitions another broker leads, against
 * leader.imbalance.per.broker.percentage.
 */
import { leaderImbalance, partitionsToRebalance } from './rebalance';

const p = (topic: string, index: number, replicas: number[], leader: number) => ({ topic, index, replicas, state: { leader, leader_epoch: 0, isr: replicas, controller_epoch: 1 } });

describe('leaderImbalance', () => {
  const partitions = [
    p('a', 0, [1, 2], 1),
    p('a', 1, [2, 1], 1), // preferred 2, led by 1
    p('a', 2, [1, 2], 1),
    p('b', 0, [2, 3], 2),
    p('b', 1, [3, 2], -1), // preferred 3, offline
    p('b', 2, [1, 3], 3), // preferred 1, led by 3
    p('b', 3, [1, 3], 1),
  ];

  it('counts, per preferred leader, its partitions and those led by another broker (or none)', () => {
    expect(leaderImbalance(partitions)).toEqual([
      { broker: 1, preferred: 4, notLed: [{ topic: 'b', index: 2 }], ratio: 0.25 },
      { broker: 2, preferred: 2, notLed: [{ topic: 'a', index: 1 }], ratio: 0.5 },
      { broker: 3, preferred: 1, notLed: [{ topic: 'b', index: 1 }], ratio: 1 },
    ]);
  });

  it('rebalances only the brokers strictly above the percentage', () => {
    const imbalance = leaderImbalance(partitions);
    expect(partitionsToRebalance(imbalance, 10)).toEqual([
      { topic: 'b', index: 2 },
      { topic: 'a', index: 1 },
      { topic: 'b', index: 1 },
    ]);
    expect(partitionsToRebalance(imbalance, 25)).toEqual([
      { topic: 'a', index: 1 },
      { topic: 'b', index: 1 },
    ]);
    expect(partitionsToRebalance(imbalance, 100)).toEqual([]);
  });

  it('finds nothing to do when every partition is led by its preferred replica', () => {
    const balanced = [p('a', 0, [1, 2], 1), p('a', 1, [2, 1], 2)];
    expect(leaderImbalance(balanced).map((b) => b.ratio)).toEqual([0, 0]);
    expect(partitionsToRebalance(leaderImbalance(balanced), 0)).toEqual([]);
  });
});
