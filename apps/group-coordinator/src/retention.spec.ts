/**
 * offsets.retention.minutes end to end, and a restart reading the partitions back: one broker,
 * one group coordinator with a retention of about a second (real processes).
 */
import { encodeSubscription } from '@tributary/groups';
import { ErrorCode, GroupCoordinatorServiceClient } from '@tributary/proto';
import type { OffsetFetchResponse } from '@tributary/proto';
import { createClient, unary } from '@tributary/runtime';
import type { TestCluster } from '@tributary/testing';
import { cleanupAll, startCluster, waitFor } from '@tributary/testing';

jest.setTimeout(120_000);

let cluster: TestCluster;
let c: GroupCoordinatorServiceClient;

beforeAll(async () => {
  cluster = await startCluster({
    name: 'group-retention-it',
    brokers: 1,
    controllers: 1,
    leaseTtlMs: 2000,
    groupCoordinators: 1,
    groupCoordinatorFlags: {
      'offsets-topic-num-partitions': 3,
      'offsets-retention-minutes': 0.02,
      'offsets-retention-check-interval-ms': 200,
      'group-min-session-timeout-ms': 500,
      'group-initial-rebalance-delay-ms': 0,
    },
  });
  c = createClient(GroupCoordinatorServiceClient, cluster.groupCoordinators.get(0)!.address);
});

afterAll(async () => {
  c?.close();
  await cluster?.stop();
  await cleanupAll();
});

const fetchAll = (groupId: string): Promise<OffsetFetchResponse> => unary(c, 'offsetFetch', { groupId, topics: [], allTopics: true, requireStable: false });
const committed = (res: OffsetFetchResponse): string[] => res.topics.flatMap((t) => t.partitions.map((p) => `${t.name}-${p.partitionIndex}@${p.committedOffset}`));

async function commit(groupId: string, generationId: number, memberId: string, offset: bigint): Promise<ErrorCode> {
  const res = await unary(c, 'offsetCommit', {
    groupId,
    generationId,
    memberId,
    groupInstanceId: '',
    topics: [{ name: 'events', partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: '' }] }],
  });
  return res.topics[0]!.partitions[0]!.errorCode;
}

it('expires the offsets of an Empty group after the retention and deletes the group; a group with members keeps them, also across a restart', async () => {
  await waitFor(async () => (await fetchAll('probe').catch(() => undefined))?.errorCode === ErrorCode.NONE, { timeoutMs: 20_000, message: 'coordinator serving' });
  // A group with a member (session 30 s): Stable, its offsets stay.
  const join = { groupId: 'live', sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 5_000, groupInstanceId: '', protocolType: 'consumer', reason: '', clientId: 'c' };
  const protocols = [{ name: 'range', metadata: encodeSubscription({ topics: ['events'], userData: null, ownedPartitions: [], generationId: -1, rackId: null }) }];
  const first = await unary(c, 'joinGroup', { ...join, memberId: '', protocols });
  const joined = await unary(c, 'joinGroup', { ...join, memberId: first.memberId, protocols });
  expect(joined.errorCode).toBe(ErrorCode.NONE);
  const sync = await unary(c, 'syncGroup', { groupId: 'live', generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: '', protocolType: '', protocolName: '', assignments: [] });
  expect(sync.errorCode).toBe(ErrorCode.NONE);
  expect(await commit('live', joined.generationId, joined.memberId, 11n)).toBe(ErrorCode.NONE);
  // A simple consumer's group (Empty): expires.
  expect(await commit('tool', -1, '', 5n)).toBe(ErrorCode.NONE);
  expect(committed(await fetchAll('tool'))).toEqual(['events-0@5']);
  await waitFor(async () => committed(await fetchAll('tool')).length === 0, { timeoutMs: 20_000, message: 'offsets of tool expired' });
  await waitFor(async () => !(await unary(c, 'listGroups', { statesFilter: [] })).groups.some((g) => g.groupId === 'tool'), { message: 'group tool deleted' });
  const hb = await unary(c, 'heartbeat', { groupId: 'live', generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: '' });
  expect(hb.errorCode).toBe(ErrorCode.NONE);
  expect(committed(await fetchAll('live'))).toEqual(['events-0@11']);

  // Restart: the partitions are read back (tombstones included).
  await cluster.stopGroupCoordinator(0, 'SIGTERM');
  await cluster.startGroupCoordinator(0);
  c.close();
  c = createClient(GroupCoordinatorServiceClient, cluster.groupCoordinators.get(0)!.address);
  await waitFor(async () => (await fetchAll('live')).errorCode === ErrorCode.NONE, { timeoutMs: 20_000, message: 'reloaded' });
  expect(committed(await fetchAll('live'))).toEqual(['events-0@11']);
  expect(committed(await fetchAll('tool'))).toEqual([]);
  const described = await unary(c, 'describeGroups', { groups: ['live', 'tool'] });
  expect(described.groups.map((g) => [g.groupId, g.groupState, g.members.length])).toEqual([
    ['live', 'Stable', 1],
    ['tool', 'Dead', 0],
  ]);
});
