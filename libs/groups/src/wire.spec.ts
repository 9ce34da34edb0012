import { ErrorCode, GroupCoordinatorServiceService, JoinGroupRequest, SyncGroupResponse } from '@tributary/proto';
import { decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription } from './consumer-protocol';
import { joinGroupInput, syncGroupInput } from './requests';

// The ConsumerProtocol bytes ride in group.proto's opaque `bytes` fields unchanged.
describe('ConsumerProtocol bytes inside the GroupCoordinatorService messages (group.proto)', () => {
  it('carries a subscription through JoinGroupRequest.protocols[].metadata', () => {
    const metadata = encodeSubscription({ topics: ['orders'], userData: null, ownedPartitions: [{ topic: 'orders', partitions: [1] }], generationId: 3, rackId: 'az1' });
    const wire = JoinGroupRequest.encode({
      groupId: 'g',
      sessionTimeoutMs: 45000,
      rebalanceTimeoutMs: 300000,
      memberId: '',
      groupInstanceId: '',
      protocolType: 'consumer',
      protocols: [{ name: 'cooperative-sticky', metadata }],
      reason: '',
      clientId: 'c1',
    }).finish();
    const decoded = JoinGroupRequest.decode(wire);
    expect(decoded.protocols[0]?.metadata).toEqual(metadata);
    expect(decodeSubscription(Buffer.from(decoded.protocols[0]?.metadata ?? Buffer.alloc(0)))).toMatchObject({ generationId: 3, rackId: 'az1' });
  });

  it('carries an assignment through SyncGroupResponse.assignment', () => {
    const assignment = encodeAssignment({ partitions: [{ topic: 'orders', partitions: [0, 2] }], userData: null });
    const decoded = SyncGroupResponse.decode(
      SyncGroupResponse.encode({ errorCode: ErrorCode.NONE, errorMessage: '', protocolType: 'consumer', protocolName: 'range', assignment }).finish(),
    );
    expect(decodeAssignment(Buffer.from(decoded.assignment)).partitions).toEqual([{ topic: 'orders', partitions: [0, 2] }]);
  });

  it("defines the ten RPCs and the group error codes at Kafka's numbers", () => {
    expect(Object.values(GroupCoordinatorServiceService).map((m) => m.path)).toEqual(
      ['FindCoordinator', 'JoinGroup', 'SyncGroup', 'Heartbeat', 'LeaveGroup', 'OffsetCommit', 'OffsetFetch', 'ListGroups', 'DescribeGroups', 'DeleteGroups'].map(
        (rpc) => `/tributary.v1.GroupCoordinatorService/${rpc}`,
      ),
    );
    expect(ErrorCode.NON_EMPTY_GROUP).toBe(68);
    expect(ErrorCode.GROUP_ID_NOT_FOUND).toBe(69);
    expect(ErrorCode.UNSTABLE_OFFSET_COMMIT).toBe(88);
    expect(ErrorCode.MEMBER_ID_REQUIRED).toBe(79);
  });
});

describe('JoinGroup / SyncGroup requests as ConsumerGroup inputs', () => {
  const join = (rebalanceTimeoutMs: number): JoinGroupRequest => ({
    groupId: 'g',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs,
    memberId: 'm1',
    groupInstanceId: 'i1',
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from([1, 2, 3]) }],
    reason: '',
    clientId: 'c1',
  });

  it('copies every field, reads a missing rebalance timeout as the session timeout, and copies the metadata bytes', () => {
    const req = join(300_000);
    const input = joinGroupInput(req, '10.0.0.1');
    expect(input).toEqual({
      memberId: 'm1',
      groupInstanceId: 'i1',
      clientId: 'c1',
      clientHost: '10.0.0.1',
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 300_000,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.from([1, 2, 3]) }],
    });
    req.protocols[0]!.metadata[0] = 9;
    expect(input.protocols[0]!.metadata[0]).toBe(1);
    expect(joinGroupInput(join(0), 'h').rebalanceTimeoutMs).toBe(10_000);
  });

  it('copies the leader assignments of a SyncGroup request', () => {
    const assignment = Buffer.from([7]);
    const input = syncGroupInput({ groupId: 'g', generationId: 2, memberId: 'm1', groupInstanceId: '', protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: 'm2', assignment }] });
    assignment[0] = 0;
    expect(input).toEqual({ generationId: 2, memberId: 'm1', groupInstanceId: '', protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: 'm2', assignment: Buffer.from([7]) }] });
  });
});
