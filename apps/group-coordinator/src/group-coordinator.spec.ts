/**
 * The group coordinator in a REAL cluster: coordination, a controller, three brokers and two
 * group coordinator instances as processes over real gRPC on loopback (libs/testing
 * startCluster). Raw gRPC calls to GroupCoordinatorService, no SDK: the wire contract.
 */
import { Admin, Producer } from '@tributary/client';
import { encodeAssignment, encodeSubscription } from '@tributary/groups';
import { ErrorCode, GroupCoordinatorServiceClient } from '@tributary/proto';
import type { JoinGroupRequest, JoinGroupResponse, OffsetFetchResponse } from '@tributary/proto';
import { createClient, unary } from '@tributary/runtime';
import type { TestCluster } from '@tributary/testing';
import { cleanupAll, startCluster, waitFor } from '@tributary/testing';

jest.setTimeout(180_000);

const PARTITIONS = 10;
const LEASE_TTL_MS = 2000;
const SESSION_MS = 20_000;
let cluster: TestCluster;
let admin: Admin;
const clients = new Map<string, GroupCoordinatorServiceClient>();

function client(address: string): GroupCoordinatorServiceClient {
  let c = clients.get(address);
  if (!c) {
    c = createClient(GroupCoordinatorServiceClient, address);
    clients.set(address, c);
  }
  return c;
}

const instance = (id: number): GroupCoordinatorServiceClient => client(cluster.groupCoordinators.get(id)!.address);

/** The coordinator of `group` as instance `askId` answers (waits for an owner). */
async function findCoordinator(group: string, askId?: number): Promise<{ nodeId: number; address: string }> {
  return waitFor(
    async () => {
      const ask = askId ?? [...cluster.groupCoordinators.keys()][0]!;
      const res = await unary(instance(ask), 'findCoordinator', { keyType: 0, coordinatorKeys: [group] });
      const c = res.coordinators[0]!;
      return c.errorCode === ErrorCode.NONE ? { nodeId: c.nodeId, address: `${c.host}:${c.port}` } : undefined;
    },
    { timeoutMs: 20_000, message: `coordinator of ${group}` },
  );
}

/** The coordinator client of `group`, once it has loaded the group's partition. */
async function coordinatorOf(group: string): Promise<GroupCoordinatorServiceClient> {
  return waitFor(
    async () => {
      const { address } = await findCoordinator(group);
      const c = client(address);
      const res = await unary(c, 'offsetFetch', { groupId: group, topics: [], allTopics: true, requireStable: false }).catch(() => undefined);
      return res?.errorCode === ErrorCode.NONE ? c : undefined;
    },
    { timeoutMs: 20_000, message: `loaded coordinator of ${group}` },
  );
}

function joinReq(group: string, clientId: string, memberId = ''): JoinGroupRequest {
  return {
    groupId: group,
    sessionTimeoutMs: SESSION_MS,
    rebalanceTimeoutMs: 10_000,
    memberId,
    groupInstanceId: '',
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: encodeSubscription({ topics: ['orders'], userData: null, ownedPartitions: [], generationId: -1, rackId: null }) }],
    reason: '',
    clientId,
  };
}

interface Members {
  generation: number;
  leader: string;
  follower: string;
}

/** Two members join (KIP-394 dance) and sync: the leader assigns orders-0 to itself, orders-1 to the follower. */
async function twoMembers(c: GroupCoordinatorServiceClient, group: string): Promise<Members> {
  const first = await Promise.all([unary(c, 'joinGroup', joinReq(group, 'a')), unary(c, 'joinGroup', joinReq(group, 'b'))]);
  for (const r of first) expect(r.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
  const joined: JoinGroupResponse[] = await Promise.all(first.map((r, i) => unary(c, 'joinGroup', joinReq(group, i === 0 ? 'a' : 'b', r.memberId))));
  for (const r of joined) expect(r).toMatchObject({ errorCode: ErrorCode.NONE, protocolName: 'range' });
  expect(joined[0]!.generationId).toBe(joined[1]!.generationId);
  const leaderRes = joined.find((r) => r.memberId === r.leader)!;
  const followerRes = joined.find((r) => r.memberId !== r.leader)!;
  expect(leaderRes.members.map((m) => m.memberId).sort()).toEqual(joined.map((r) => r.memberId).sort());
  expect(followerRes.members).toEqual([]);
  const generation = leaderRes.generationId;
  const assignments = [
    { memberId: leaderRes.memberId, assignment: encodeAssignment({ partitions: [{ topic: 'orders', partitions: [0] }], userData: null }) },
    { memberId: followerRes.memberId, assignment: encodeAssignment({ partitions: [{ topic: 'orders', partitions: [1] }], userData: null }) },
  ];
  const syncBase = { groupId: group, generationId: generation, groupInstanceId: '', protocolType: 'consumer', protocolName: 'range' };
  const [followerSync, leaderSync] = await Promise.all([
    unary(c, 'syncGroup', { ...syncBase, memberId: followerRes.memberId, assignments: [] }),
    unary(c, 'syncGroup', { ...syncBase, memberId: leaderRes.memberId, assignments }),
  ]);
  expect(leaderSync.errorCode).toBe(ErrorCode.NONE);
  expect(Buffer.from(leaderSync.assignment).equals(assignments[0]!.assignment)).toBe(true);
  expect(followerSync.errorCode).toBe(ErrorCode.NONE);
  expect(Buffer.from(followerSync.assignment).equals(assignments[1]!.assignment)).toBe(true);
  return { generation, leader: leaderRes.memberId, follower: followerRes.memberId };
}

function commitReq(group: string, m: { generation: number; memberId: string }, offsets: [number, bigint][], metadata = 'm'): Parameters<GroupCoordinatorServiceClient['offsetCommit']>[0] {
  return {
    groupId: group,
    generationId: m.generation,
    memberId: m.memberId,
    groupInstanceId: '',
    topics: [{ name: 'orders', partitions: offsets.map(([partitionIndex, committedOffset]) => ({ partitionIndex, committedOffset, committedLeaderEpoch: -1, committedMetadata: metadata })) }],
  };
}

const offsetsOf = (res: OffsetFetchResponse): Record<string, string> =>
  Object.fromEntries(res.topics.flatMap((t) => t.partitions.map((p) => [`${t.name}-${p.partitionIndex}`, `${p.committedOffset}/${p.metadata}`])));

beforeAll(async () => {
  cluster = await startCluster({
    name: 'group-coordinator-it',
    brokers: 3,
    controllers: 1,
    leaseTtlMs: LEASE_TTL_MS,
    groupCoordinators: 2,
    groupCoordinatorFlags: {
      'offsets-topic-num-partitions': PARTITIONS,
      'group-min-session-timeout-ms': 500,
      'group-initial-rebalance-delay-ms': 0,
      'lag-refresh-interval-ms': 200,
    },
  });
  admin = new Admin({ bootstrap: cluster.bootstrap.split(',') });
});

afterAll(async () => {
  for (const c of clients.values()) c.close();
  await admin?.close();
  await cluster?.stop();
  await cleanupAll();
});

/** Sum of the instances' owned partitions, from their metrics. */
async function ownedPartitions(): Promise<number[]> {
  return Promise.all(
    [...cluster.groupCoordinators.values()].map(async (g) => {
      const m = /^tributary_group_coordinator_owned_partitions (\d+)$/m.exec(await g.metrics());
      return Number(m?.[1] ?? -1);
    }),
  );
}

it('creates __consumer_offsets compacted with rf 3, and the instances share its partitions: FindCoordinator agrees everywhere', async () => {
  const [topic] = await admin.describeTopics(['__consumer_offsets']);
  expect(topic?.partitions.length).toBe(PARTITIONS);
  expect(topic?.partitions.every((p) => p.replicas.length === 3)).toBe(true);
  const [configs] = await admin.describeConfigs(['__consumer_offsets']);
  const entry = (name: string): string | undefined => configs?.entries.find((e) => e.name === name)?.value;
  expect(entry('cleanup.policy')).toBe('compact');
  expect(entry('min.insync.replicas')).toBe('2');
  await waitFor(async () => {
    const owned = await ownedPartitions();
    return owned.every((n) => n > 0) && owned.reduce((a, b) => a + b, 0) === PARTITIONS;
  }, { timeoutMs: 20_000, message: 'every partition owned once, by both instances' });
  const groups = Array.from({ length: 40 }, (_, i) => `agree-${i}`);
  const [from0, from1] = await Promise.all(
    [0, 1].map((id) => unary(instance(id), 'findCoordinator', { keyType: 0, coordinatorKeys: groups })),
  );
  expect(from0!.coordinators.map((c) => c.errorCode)).toEqual(groups.map(() => ErrorCode.NONE));
  expect(from0!.coordinators).toEqual(from1!.coordinators);
  expect(new Set(from0!.coordinators.map((c) => c.nodeId))).toEqual(new Set([0, 1]));
  const unknownType = await unary(instance(0), 'findCoordinator', { keyType: 1, coordinatorKeys: ['x'] });
  expect(unknownType.coordinators[0]!.errorCode).toBe(ErrorCode.INVALID_REQUEST);
});

it('two members join and sync, heartbeat and commit; OffsetFetch returns the offsets; stale generations and bad input get error codes', async () => {
  const group = 'orders-app';
  const c = await coordinatorOf(group);
  const m = await twoMembers(c, group);
  const hb = await unary(c, 'heartbeat', { groupId: group, generationId: m.generation, memberId: m.follower, groupInstanceId: '' });
  expect(hb.errorCode).toBe(ErrorCode.NONE);
  const commit = await unary(c, 'offsetCommit', commitReq(group, { generation: m.generation, memberId: m.leader }, [[0, 42n], [1, 7n]]));
  expect(commit.topics[0]!.partitions.map((p) => p.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
  const fetched = await unary(c, 'offsetFetch', { groupId: group, topics: [{ name: 'orders', partitionIndexes: [0, 1, 2] }], allTopics: false, requireStable: false });
  expect(offsetsOf(fetched)).toEqual({ 'orders-0': '42/m', 'orders-1': '7/m', 'orders-2': '-1/' });
  expect(offsetsOf(await unary(c, 'offsetFetch', { groupId: group, topics: [], allTopics: true, requireStable: false }))).toEqual({ 'orders-0': '42/m', 'orders-1': '7/m' });
  // Stale generation, unknown member.
  const stale = await unary(c, 'offsetCommit', commitReq(group, { generation: m.generation - 1, memberId: m.leader }, [[0, 99n]]));
  expect(stale.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
  const stranger = await unary(c, 'offsetCommit', commitReq(group, { generation: m.generation, memberId: 'nobody' }, [[0, 99n]]));
  expect(stranger.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  const hbUnknown = await unary(c, 'heartbeat', { groupId: group, generationId: m.generation, memberId: 'nobody', groupInstanceId: '' });
  expect(hbUnknown.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  // Oversized metadata: refused for that partition only.
  const huge = await unary(c, 'offsetCommit', {
    ...commitReq(group, { generation: m.generation, memberId: m.leader }, [[0, 50n]]),
    topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 50n, committedLeaderEpoch: -1, committedMetadata: 'x'.repeat(5000) }, { partitionIndex: 1, committedOffset: 8n, committedLeaderEpoch: -1, committedMetadata: '' }] }],
  });
  expect(huge.topics[0]!.partitions.map((p) => p.errorCode)).toEqual([ErrorCode.OFFSET_METADATA_TOO_LARGE, ErrorCode.NONE]);
  expect(offsetsOf(await unary(c, 'offsetFetch', { groupId: group, topics: [], allTopics: true, requireStable: false }))).toEqual({ 'orders-0': '42/m', 'orders-1': '8/' });
  // Empty group id everywhere.
  expect((await unary(c, 'joinGroup', joinReq('', 'x'))).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
  expect((await unary(c, 'offsetCommit', commitReq('', { generation: -1, memberId: '' }, [[0, 1n]]))).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
  expect((await unary(c, 'offsetFetch', { groupId: '', topics: [], allTopics: true, requireStable: false })).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
  expect((await unary(c, 'heartbeat', { groupId: '', generationId: 1, memberId: 'x', groupInstanceId: '' })).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
  expect((await unary(c, 'joinGroup', joinReq('g'.repeat(40_000), 'x'))).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
  // A session timeout outside the coordinator's bounds, a member id the group never gave.
  expect((await unary(c, 'joinGroup', { ...joinReq(group, 'x'), sessionTimeoutMs: 100 })).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT);
  expect((await unary(c, 'syncGroup', { groupId: group, generationId: m.generation, memberId: 'nobody', groupInstanceId: '', protocolType: '', protocolName: '', assignments: [] })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  // The other instance is not the coordinator.
  const { nodeId } = await findCoordinator(group);
  const other = instance(nodeId === 0 ? 1 : 0);
  expect((await unary(other, 'heartbeat', { groupId: group, generationId: m.generation, memberId: m.leader, groupInstanceId: '' })).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
  // DescribeGroups and ListGroups.
  const described = await unary(c, 'describeGroups', { groups: [group, 'never-seen-group'] });
  expect(described.groups[0]).toMatchObject({ errorCode: ErrorCode.NONE, groupState: 'Stable', protocolType: 'consumer', protocolData: 'range' });
  expect(described.groups[0]!.members.map((x) => x.memberId).sort()).toEqual([m.leader, m.follower].sort());
  expect(described.groups[0]!.members.every((x) => x.clientHost === '/127.0.0.1' && x.memberAssignment.length > 0)).toBe(true);
  expect(described.groups.map((g) => g.groupId)).toEqual([group, 'never-seen-group']);
  const listed = await unary(c, 'listGroups', { statesFilter: [] });
  expect(listed.groups).toContainEqual({ groupId: group, protocolType: 'consumer', groupState: 'Stable' });
  expect((await unary(c, 'listGroups', { statesFilter: ['Empty'] })).groups.map((g) => g.groupId)).not.toContain(group);
});

it('accepts a simple consumer commit (generation -1) on an unknown group, refuses a member commit there', async () => {
  const group = 'simple-tool';
  const c = await coordinatorOf(group);
  const member = await unary(c, 'offsetCommit', commitReq(group, { generation: 3, memberId: 'm' }, [[0, 5n]]));
  expect(member.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
  const simple = await unary(c, 'offsetCommit', commitReq(group, { generation: -1, memberId: '' }, [[0, 5n]]));
  expect(simple.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
  const listed = await unary(c, 'listGroups', { statesFilter: ['Empty'] });
  expect(listed.groups).toContainEqual({ groupId: group, protocolType: '', groupState: 'Empty' });
});

it('exposes consumer lag (log end offset minus committed offset) in its metrics', async () => {
  await admin.createTopics([{ name: 'lagged', numPartitions: 1, replicationFactor: 1 }]);
  const producer = new Producer({ bootstrap: cluster.bootstrap.split(',') });
  try {
    await producer.sendBatch('lagged', Array.from({ length: 5 }, (_, i) => ({ value: Buffer.from(`r${i}`), partition: 0 })));
  } finally {
    await producer.close();
  }
  const group = 'lag-watcher';
  const c = await coordinatorOf(group);
  const res = await unary(c, 'offsetCommit', {
    groupId: group,
    generationId: -1,
    memberId: '',
    groupInstanceId: '',
    topics: [{ name: 'lagged', partitions: [{ partitionIndex: 0, committedOffset: 2n, committedLeaderEpoch: -1, committedMetadata: '' }] }],
  });
  expect(res.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
  const { nodeId } = await findCoordinator(group);
  await waitFor(
    async () => (await cluster.groupCoordinators.get(nodeId)!.metrics()).includes('tributary_consumer_group_lag{group="lag-watcher",topic="lagged",partition="0"} 3'),
    { timeoutMs: 15_000, message: 'lag gauge of lag-watcher' },
  );
  const metrics = await cluster.groupCoordinators.get(nodeId)!.metrics();
  expect(metrics).toMatch(/^tributary_group_coordinator_offset_commits_total [1-9]/m);
  expect(metrics).toMatch(/^tributary_group_coordinator_groups\{state="Stable"\} \d+$/m);
});

it('DeleteGroups refuses a group with members, deletes an empty one with its offsets, and answers GROUP_ID_NOT_FOUND for unknown groups', async () => {
  const group = 'to-delete';
  const c = await coordinatorOf(group);
  const m = await twoMembers(c, group);
  await unary(c, 'offsetCommit', commitReq(group, { generation: m.generation, memberId: m.leader }, [[0, 3n]]));
  const refused = await unary(c, 'deleteGroups', { groupsNames: [group, 'no-such-group', ''] });
  expect(refused.results).toEqual([
    { groupId: group, errorCode: ErrorCode.NON_EMPTY_GROUP },
    { groupId: 'no-such-group', errorCode: ErrorCode.GROUP_ID_NOT_FOUND },
    { groupId: '', errorCode: ErrorCode.INVALID_GROUP_ID },
  ]);
  const left = await unary(c, 'leaveGroup', { groupId: group, members: [{ memberId: m.leader, groupInstanceId: '', reason: '' }, { memberId: m.follower, groupInstanceId: '', reason: '' }, { memberId: 'ghost', groupInstanceId: '', reason: '' }] });
  expect(left.members.map((x) => x.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID]);
  await waitFor(async () => (await unary(c, 'describeGroups', { groups: [group] })).groups[0]!.groupState === 'Empty', { message: `${group} Empty` });
  const deleted = await unary(c, 'deleteGroups', { groupsNames: [group] });
  expect(deleted.results).toEqual([{ groupId: group, errorCode: ErrorCode.NONE }]);
  expect(offsetsOf(await unary(c, 'offsetFetch', { groupId: group, topics: [{ name: 'orders', partitionIndexes: [0] }], allTopics: false, requireStable: false }))).toEqual({ 'orders-0': '-1/' });
  expect((await unary(c, 'describeGroups', { groups: [group] })).groups[0]!.groupState).toBe('Dead');
});

it('the owning instance killed with kill -9: the other takes over within the lease TTL with the offsets and the group', async () => {
  const group = 'orders-app';
  const before = await findCoordinator(group);
  await cluster.stopGroupCoordinator(before.nodeId, 'SIGKILL');
  const survivor = [...cluster.groupCoordinators.keys()][0]!;
  await waitFor(async () => (await findCoordinator(group, survivor)).nodeId === survivor, { timeoutMs: 20_000, message: 'FindCoordinator moves to the survivor' });
  const c = await coordinatorOf(group);
  expect(offsetsOf(await unary(c, 'offsetFetch', { groupId: group, topics: [], allTopics: true, requireStable: false }))).toEqual({ 'orders-0': '42/m', 'orders-1': '8/' });
  const described = (await unary(c, 'describeGroups', { groups: [group] })).groups[0]!;
  expect(described).toMatchObject({ errorCode: ErrorCode.NONE, groupState: 'Stable', protocolData: 'range' });
  expect(described.members).toHaveLength(2);
  // The survivor owns every partition now.
  await waitFor(async () => (await ownedPartitions()).join() === String(PARTITIONS), { timeoutMs: 20_000, message: 'survivor owns all partitions' });
  // The killed instance comes back (once its old lease expired) and gets its share again.
  await cluster.startGroupCoordinator(before.nodeId);
  await waitFor(async () => {
    const owned = await ownedPartitions();
    return owned.every((n) => n > 0) && owned.reduce((a, b) => a + b, 0) === PARTITIONS;
  }, { timeoutMs: 30_000, message: 'partitions shared again' });
});

it('a graceful SIGTERM of the owner hands its partitions over at once and exits 0', async () => {
  const group = 'orders-app';
  const owner = await findCoordinator(group);
  const proc = cluster.groupCoordinators.get(owner.nodeId)!;
  await cluster.stopGroupCoordinator(owner.nodeId, 'SIGTERM');
  expect((await proc.proc.exited).code).toBe(0);
  const survivor = [...cluster.groupCoordinators.keys()][0]!;
  await waitFor(async () => (await findCoordinator(group, survivor)).nodeId === survivor, { timeoutMs: 20_000, message: 'FindCoordinator moves after SIGTERM' });
  const c = await coordinatorOf(group);
  expect(offsetsOf(await unary(c, 'offsetFetch', { groupId: group, topics: [], allTopics: true, requireStable: false }))).toEqual({ 'orders-0': '42/m', 'orders-1': '8/' });
  expect((await unary(c, 'describeGroups', { groups: ['to-delete'] })).groups[0]!.groupState).toBe('Dead');
});

it('an instance frozen past its lease (SIGSTOP) loses its partitions to the other, then re-registers and gets its share back', async () => {
  const group = 'orders-app';
  // Two instances again: the one stopped above comes back.
  const missing = [0, 1].find((id) => !cluster.groupCoordinators.has(id))!;
  await cluster.startGroupCoordinator(missing);
  const shared = async (): Promise<boolean> => {
    const owned = await ownedPartitions();
    return owned.length === 2 && owned.every((n) => n > 0) && owned.reduce((a, b) => a + b, 0) === PARTITIONS;
  };
  await waitFor(shared, { timeoutMs: 30_000, message: 'partitions shared by both instances' });
  const frozen = await findCoordinator(group);
  const other = frozen.nodeId === 0 ? 1 : 0;
  const proc = cluster.groupCoordinators.get(frozen.nodeId)!.proc;
  proc.kill('SIGSTOP');
  try {
    await waitFor(async () => (await findCoordinator(group, other)).nodeId === other, { timeoutMs: 20_000, message: 'the other instance takes the group over' });
  } finally {
    proc.kill('SIGCONT');
  }
  const registered = async (): Promise<boolean> => /^tributary_group_coordinator_registered 1$/m.test(await cluster.groupCoordinators.get(frozen.nodeId)!.metrics());
  // Back: it notices the lost lease, registers again and the partitions are shared once more.
  await waitFor(async () => (await registered()) && (await shared()), { timeoutMs: 30_000, message: 'the frozen instance back with its share' });
  const groups = Array.from({ length: 20 }, (_, i) => `after-freeze-${i}`);
  await waitFor(
    async () => {
      const [a, b] = await Promise.all([0, 1].map((id) => unary(instance(id), 'findCoordinator', { keyType: 0, coordinatorKeys: groups })));
      return a!.coordinators.every((x) => x.errorCode === ErrorCode.NONE) && JSON.stringify(a!.coordinators) === JSON.stringify(b!.coordinators);
    },
    { timeoutMs: 20_000, message: 'both instances agree again' },
  );
  const c = await coordinatorOf(group);
  expect(offsetsOf(await unary(c, 'offsetFetch', { groupId: group, topics: [], allTopics: true, requireStable: false }))).toEqual({ 'orders-0': '42/m', 'orders-1': '8/' });
});
