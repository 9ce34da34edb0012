/**
 * The group coordinator's per-resource authorization (authorization.ts, and `refusalsOf` as
 * the handlers use it) with a real Authorizer over in-memory ACLs and the `ctx.authorization`
 * the gRPC server gives handlers; the coordinator core is a stub recording what it is asked.
 * On a running cluster: tools/e2e security-matrix.spec.ts.
 */
import type { ListGroupsResponse, OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse } from '@tributary/proto';
import { ErrorCode } from '@tributary/records';
import type { AclBinding, AclOperation, AuthorizationContext, PatternType, PermissionType, ResourceType } from '@tributary/runtime';
import { Authorizer, callAuthorization, patternApplies, refusalsOf } from '@tributary/runtime';
import { authorizedListGroups, authorizedOffsetCommit, authorizedOffsetFetch } from './authorization';

const bindings: AclBinding[] = [];
const acl = (resourceType: ResourceType, name: string, principal: string, operation: AclOperation, patternType: PatternType = 'LITERAL', permissionType: PermissionType = 'Allow'): void => {
  bindings.push({ pattern: { resourceType, name, patternType }, entry: { principal, permissionType, operation, host: '*' } });
};
const authorizer = new Authorizer({
  acls: {
    matchingEntries: (type, name) => bindings.filter((b) => patternApplies(b.pattern, type, name)).map((b) => b.entry),
    bindingsOfType: (type) => bindings.filter((b) => b.pattern.resourceType === type),
  },
  superUsers: ['User:admin'],
});
const as = (name: string): AuthorizationContext => ({ authorization: callAuthorization(authorizer, { kind: 'user', name }, '127.0.0.1:5000') });

beforeEach(() => {
  bindings.length = 0;
  acl('Topic', 'orders-', 'User:alice', 'Read', 'PREFIXED');
  acl('Topic', 'orders-secret', 'User:alice', 'Read', 'LITERAL', 'Deny');
  acl('Group', 'team-', 'User:alice', 'Describe', 'PREFIXED');
  acl('Group', 'team-b', 'User:alice', 'Delete');
});

describe('OffsetCommit', () => {
  const request: OffsetCommitRequest = {
    groupId: 'team-a',
    generationId: -1,
    memberId: '',
    groupInstanceId: '',
    topics: ['orders-eu', 'orders-secret', 'payments'].map((name) => ({ name, partitions: [{ partitionIndex: 0, committedOffset: 5n, committedLeaderEpoch: -1, committedMetadata: '' }] })),
  };
  it('commits only the topics the member may Read; the others answer TOPIC_AUTHORIZATION_FAILED', async () => {
    const asked: string[][] = [];
    const commit = async (r: OffsetCommitRequest): Promise<OffsetCommitResponse> => {
      asked.push(r.topics.map((t) => t.name));
      return { topics: r.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE })) })) };
    };
    const response = await authorizedOffsetCommit(as('alice'), request, commit);
    expect(asked).toEqual([['orders-eu']]);
    expect(response.topics.map((t) => [t.name, t.partitions[0]!.errorCode])).toEqual([
      ['orders-eu', ErrorCode.NONE],
      ['orders-secret', ErrorCode.TOPIC_AUTHORIZATION_FAILED],
      ['payments', ErrorCode.TOPIC_AUTHORIZATION_FAILED],
    ]);
    // Nothing allowed: the coordinator is not asked at all (no empty group created).
    asked.length = 0;
    await authorizedOffsetCommit(as('bob'), request, commit);
    expect(asked).toEqual([]);
  });
});

describe('OffsetFetch', () => {
  const stored: OffsetFetchResponse['topics'] = ['orders-eu', 'payments'].map((name) => ({ name, partitions: [{ partitionIndex: 0, committedOffset: 3n, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE }] }));
  const fetch = (r: OffsetFetchRequest): OffsetFetchResponse => ({
    errorCode: ErrorCode.NONE,
    errorMessage: '',
    topics: r.allTopics ? stored : r.topics.map((t) => stored.find((s) => s.name === t.name) ?? { name: t.name, partitions: [] }),
  });

  it('all topics: leaves out those without Describe', () => {
    const response = authorizedOffsetFetch(as('alice'), { groupId: 'team-a', topics: [], allTopics: true, requireStable: false }, fetch);
    expect(response.topics.map((t) => t.name)).toEqual(['orders-eu']);
  });

  it('named topics: TOPIC_AUTHORIZATION_FAILED per partition for those without Describe', () => {
    const response = authorizedOffsetFetch(
      as('alice'),
      { groupId: 'team-a', topics: [{ name: 'payments', partitionIndexes: [0, 1] }, { name: 'orders-eu', partitionIndexes: [0] }], allTopics: false, requireStable: false },
      fetch,
    );
    expect(response.topics.map((t) => [t.name, t.partitions.map((p) => p.errorCode)])).toEqual([
      ['payments', [ErrorCode.TOPIC_AUTHORIZATION_FAILED, ErrorCode.TOPIC_AUTHORIZATION_FAILED]],
      ['orders-eu', [ErrorCode.NONE]],
    ]);
  });

  it('keeps a group-level error as it is', () => {
    const failing = (): OffsetFetchResponse => ({ errorCode: ErrorCode.NOT_COORDINATOR, errorMessage: 'elsewhere', topics: [] });
    const response = authorizedOffsetFetch(as('alice'), { groupId: 'team-a', topics: [{ name: 'payments', partitionIndexes: [0] }, { name: 'orders-eu', partitionIndexes: [0] }], allTopics: false, requireStable: false }, failing);
    expect(response.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
  });
});

describe('ListGroups, DescribeGroups, DeleteGroups, FindCoordinator', () => {
  const groups: ListGroupsResponse = {
    errorCode: ErrorCode.NONE,
    errorMessage: '',
    groups: ['other', 'team-a', 'team-b'].map((groupId) => ({ groupId, protocolType: 'consumer', groupState: 'Stable' })),
  };

  it('ListGroups: every group with Describe on the cluster, else those the caller may Describe', () => {
    expect(authorizedListGroups(as('alice'), () => groups).groups.map((g) => g.groupId)).toEqual(['team-a', 'team-b']);
    expect(authorizedListGroups(as('bob'), () => groups).groups).toEqual([]);
    acl('Cluster', 'kafka-cluster', 'User:bob', 'Describe');
    expect(authorizedListGroups(as('bob'), () => groups).groups).toHaveLength(3);
    expect(authorizedListGroups({}, () => groups).groups).toHaveLength(3);
  });

  it('refusalsOf gives GROUP_AUTHORIZATION_FAILED per group for the others (Delete implies Describe)', () => {
    const describe = refusalsOf(as('alice'), 'Describe', 'Group', ['team-a', 'other', 'team-b']);
    expect(describe('team-a')).toBeUndefined();
    expect(describe('team-b')).toBeUndefined();
    expect(describe('other')).toMatchObject({ errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, errorMessage: expect.stringContaining('User:alice is not authorized to Describe Group "other"') });
    const del = refusalsOf(as('alice'), 'Delete', 'Group', ['team-a', 'team-b']);
    expect(del('team-a')?.errorCode).toBe(ErrorCode.GROUP_AUTHORIZATION_FAILED);
    expect(del('team-b')).toBeUndefined();
    expect(refusalsOf({}, 'Delete', 'Group', ['x'])('x')).toBeUndefined();
  });
});
