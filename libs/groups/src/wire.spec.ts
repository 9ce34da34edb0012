import { ErrorCode, GroupCoordinatorServiceService, JoinGroupRequest, SyncGroupResponse } from '@tributary/proto';
import { decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription } from './consumer-protocol';

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
