import {
  encodeGroupMetadataKey,
  encodeGroupMetadataValue,
  encodeOffsetCommitKey,
  encodeOffsetCommitValue,
} from '@tributary/groups';
import { PartitionLoad, expiredOffsets, setOffset, shouldDeleteGroup } from './offsets-state';
import type { GroupOffsets } from './offsets-state';

const commit = (offset: bigint, ts = 1000, metadata = ''): Buffer =>
  encodeOffsetCommitValue({ offset, leaderEpoch: 3, metadata, commitTimestampMs: ts, expireTimestampMs: -1 });
const meta = (generation: number, members: string[]): Buffer =>
  encodeGroupMetadataValue({
    protocolType: 'consumer',
    generation,
    protocol: members.length ? 'range' : null,
    leader: members[0] ?? null,
    currentStateTimestampMs: 500,
    members: members.map((memberId) => ({
      memberId,
      groupInstanceId: null,
      clientId: 'c',
      clientHost: '/127.0.0.1',
      rebalanceTimeoutMs: 30_000,
      sessionTimeoutMs: 10_000,
      subscription: Buffer.from(`sub-${memberId}`),
      assignment: Buffer.from(`asg-${memberId}`),
    })),
  });

describe('PartitionLoad (applying __consumer_offsets records in log order)', () => {
  it('keeps the last offset per partition, deletes on tombstones, and the last group metadata', () => {
    const load = new PartitionLoad();
    load.applyRecord(encodeOffsetCommitKey('g', 't', 0), commit(5n));
    load.applyRecord(encodeOffsetCommitKey('g', 't', 0), commit(9n, 2000, 'm'));
    load.applyRecord(encodeOffsetCommitKey('g', 't', 1), commit(7n));
    load.applyRecord(encodeOffsetCommitKey('g', 't', 1), null);
    load.applyRecord(encodeGroupMetadataKey('g'), meta(1, ['a']));
    load.applyRecord(encodeGroupMetadataKey('g'), meta(2, ['a', 'b']));
    const groups = load.result();
    const g = groups.get('g')!;
    expect(g.offsets.get('t')?.get(0)).toEqual({ offset: 9n, leaderEpoch: 3, metadata: 'm', commitTimestampMs: 2000 });
    expect(g.offsets.get('t')?.has(1)).toBe(false);
    expect(g.metadata?.generation).toBe(2);
    expect(g.metadata?.members.map((m) => [m.memberId, m.assignment.toString()])).toEqual([
      ['a', 'asg-a'],
      ['b', 'asg-b'],
    ]);
    expect(load.applied).toBe(6);
  });

  it('drops a group whose metadata and offsets were all tombstoned (DeleteGroups), keeps offsets of a group without metadata', () => {
    const load = new PartitionLoad();
    load.applyRecord(encodeOffsetCommitKey('gone', 't', 0), commit(1n));
    load.applyRecord(encodeGroupMetadataKey('gone'), meta(1, []));
    load.applyRecord(encodeOffsetCommitKey('gone', 't', 0), null);
    load.applyRecord(encodeGroupMetadataKey('gone'), null);
    load.applyRecord(encodeOffsetCommitKey('simple', 'u', 2), commit(4n));
    const groups = load.result();
    expect([...groups.keys()]).toEqual(['simple']);
    expect(groups.get('simple')?.metadata).toBeUndefined();
  });

  it('skips records it cannot read (null key, unknown type, corrupt bytes) without failing the load', () => {
    const load = new PartitionLoad();
    load.applyRecord(null, Buffer.from('x'));
    load.applyRecord(Buffer.from([0, 9, 1, 2]), Buffer.from('future record type'));
    load.applyRecord(encodeOffsetCommitKey('g', 't', 0), Buffer.from([0, 3, 1]));
    load.applyRecord(Buffer.from([0]), null);
    expect(load.skipped).toBe(4);
    expect(load.result().size).toBe(0);
  });
});

describe('retention decision (offsets.retention.minutes, KIP-211)', () => {
  const offsets = (): GroupOffsets => {
    const o: GroupOffsets = new Map();
    setOffset(o, 't', 0, { offset: 1n, leaderEpoch: -1, metadata: '', commitTimestampMs: 1_000 });
    setOffset(o, 't', 1, { offset: 1n, leaderEpoch: -1, metadata: '', commitTimestampMs: 5_000 });
    return o;
  };

  it('expires offsets only of an Empty group, counting from the later of becoming Empty and the commit', () => {
    expect(expiredOffsets({ state: 'Stable', stateSinceMs: 0 }, offsets(), 1_000_000, 100)).toEqual([]);
    expect(expiredOffsets({ state: 'Empty', stateSinceMs: 2_000 }, offsets(), 2_099, 100)).toEqual([]);
    expect(expiredOffsets({ state: 'Empty', stateSinceMs: 2_000 }, offsets(), 2_100, 100)).toEqual([{ topic: 't', partition: 0 }]);
    expect(expiredOffsets({ state: 'Empty', stateSinceMs: 2_000 }, offsets(), 5_100, 100)).toEqual([
      { topic: 't', partition: 0 },
      { topic: 't', partition: 1 },
    ]);
  });

  it('deletes an Empty group once it has no offsets left', () => {
    expect(shouldDeleteGroup('Empty', new Map())).toBe(true);
    expect(shouldDeleteGroup('Empty', offsets())).toBe(false);
    expect(shouldDeleteGroup('Stable', new Map())).toBe(false);
  });
});
