import { progressLine } from './partitions';

describe('progressLine (--execute --wait)', () => {
  it('counts partitions done and how many records each new replica is behind the leader', () => {
    const line = progressLine(4, [
      { topic: 'a', partition: 0, replicas: [3, 1, 2], addingReplicas: [3], removingReplicas: [2], throttleBytesPerSecond: 0, logEndOffsets: new Map([[1, 1000n], [2, 990n], [3, 400n]]) },
      { topic: 'b', partition: 2, replicas: [2, 3, 1], addingReplicas: [3], removingReplicas: [1], throttleBytesPerSecond: 0, logEndOffsets: new Map([[1, 50n], [2, 50n], [3, 50n]]) },
    ]);
    expect(line.text).toBe('2/4 partitions reassigned, new replicas 600 records behind (slowest: a-0 on broker 3, 600 behind)');
    expect(line.bar).toBe(`[${'#'.repeat(12)}${'-'.repeat(12)}]  50%`);
  });

  it('says which replicas did not answer, and ends at n/n', () => {
    const waiting = progressLine(1, [{ topic: 'a', partition: 0, replicas: [3, 1], addingReplicas: [3], removingReplicas: [1], throttleBytesPerSecond: 0, logEndOffsets: new Map([[1, 10n]]) }]);
    expect(waiting.text).toBe('0/1 partitions reassigned, new replicas 0 records behind, 1 not answering yet');
    expect(progressLine(3, []).text).toBe('3/3 partitions reassigned');
  });
});
