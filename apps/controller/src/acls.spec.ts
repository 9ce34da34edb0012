/**
 * The AclService as real processes over real gRPC: the coordination service (embedded
 * backend) and two controllers. The active one creates, describes (filters: literal,
 * prefixed, MATCH, by principal) and deletes ACLs, answering INVALID_REQUEST per item for
 * invalid bindings; the standby answers NOT_CONTROLLER; what is written is Kafka's JSON at
 * /acls/<literal|prefixed>/<Type>/<name>.
 */
import type { CoordinationClient } from '@tributary/coordination-client';
import type { AclBinding as WireBinding } from '@tributary/proto';
import { AclOperation, AclPatternType, AclPermissionType, AclResourceType, AclServiceClient } from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import { createClient, unary } from '@tributary/runtime';
import { startControllerPair } from './it/processes';
import type { ControllerPair } from './it/processes';

jest.setTimeout(40_000);

let store: CoordinationClient;
let pair: ControllerPair<AclServiceClient>;
let active: AclServiceClient;
let standby: AclServiceClient;

const binding = (over: Partial<WireBinding> = {}): WireBinding => ({
  resourceType: AclResourceType.ACL_RESOURCE_TYPE_TOPIC,
  resourceName: 'orders',
  patternType: AclPatternType.ACL_PATTERN_TYPE_LITERAL,
  principal: 'User:alice',
  host: '*',
  operation: AclOperation.ACL_OPERATION_READ,
  permissionType: AclPermissionType.ACL_PERMISSION_TYPE_ALLOW,
  ...over,
});
const anyFilter = {
  resourceType: AclResourceType.ACL_RESOURCE_TYPE_ANY,
  patternType: AclPatternType.ACL_PATTERN_TYPE_ANY,
  operation: AclOperation.ACL_OPERATION_ANY,
  permissionType: AclPermissionType.ACL_PERMISSION_TYPE_ANY,
};

beforeAll(async () => {
  pair = await startControllerPair('acls', [201, 202], (address) => createClient(AclServiceClient, address), (c) => unary(c, 'describeAcls', { filter: anyFilter }));
  ({ store, active, standby } = pair);
});

afterAll(async () => {
  await pair?.stop();
});

it('creates ACLs (Kafka JSON in the store), answering INVALID_REQUEST per invalid binding', async () => {
  const { results } = await unary(active, 'createAcls', {
    creations: [
      binding(),
      binding({ principal: 'User:bob', operation: AclOperation.ACL_OPERATION_WRITE }),
      binding({ resourceName: 'pay', patternType: AclPatternType.ACL_PATTERN_TYPE_PREFIXED, permissionType: AclPermissionType.ACL_PERMISSION_TYPE_DENY }),
      binding({ resourceType: AclResourceType.ACL_RESOURCE_TYPE_GROUP, resourceName: 'billing' }),
      binding({ resourceName: '' }),
      binding({ patternType: AclPatternType.ACL_PATTERN_TYPE_MATCH }),
      binding({ operation: AclOperation.ACL_OPERATION_ANY }),
      binding({ principal: 'alice' }),
      binding({ resourceType: AclResourceType.ACL_RESOURCE_TYPE_CLUSTER, resourceName: 'mine', operation: AclOperation.ACL_OPERATION_ALTER }),
      binding({ resourceType: AclResourceType.ACL_RESOURCE_TYPE_CLUSTER, resourceName: 'kafka-cluster', operation: AclOperation.ACL_OPERATION_IDEMPOTENT_WRITE }),
    ],
  });
  expect(results.map((r) => ErrorCode[r.errorCode])).toEqual([
    'NONE',
    'NONE',
    'NONE',
    'NONE',
    'INVALID_REQUEST',
    'INVALID_REQUEST',
    'INVALID_REQUEST',
    'INVALID_REQUEST',
    'INVALID_REQUEST',
    'NONE',
  ]);
  expect(results[8]!.errorMessage).toMatch(/kafka-cluster/);
  const node = await store.get('/acls/literal/Topic/orders');
  expect(JSON.parse(node.data.toString())).toEqual({
    version: 1,
    acls: [
      { principal: 'User:alice', permissionType: 'Allow', operation: 'Read', host: '*' },
      { principal: 'User:bob', permissionType: 'Allow', operation: 'Write', host: '*' },
    ],
  });
  expect(JSON.parse((await store.get('/acls/prefixed/Topic/pay')).data.toString()).acls[0].permissionType).toBe('Deny');
});

it('describes with filters: pattern types, MATCH, principal, resource type', async () => {
  const describe = async (filter: Partial<typeof anyFilter> & { resourceName?: string; principal?: string }): Promise<string[]> => {
    const res = await unary(active, 'describeAcls', { filter: { ...anyFilter, ...filter } });
    expect(res.errorCode).toBe(ErrorCode.NONE);
    return res.acls.map((a) => `${AclResourceType[a.resourceType]}:${AclPatternType[a.patternType]}:${a.resourceName}:${a.principal}`);
  };
  expect(await describe({})).toHaveLength(5);
  expect(await describe({ patternType: AclPatternType.ACL_PATTERN_TYPE_PREFIXED })).toEqual(['ACL_RESOURCE_TYPE_TOPIC:ACL_PATTERN_TYPE_PREFIXED:pay:User:alice']);
  expect(await describe({ resourceType: AclResourceType.ACL_RESOURCE_TYPE_TOPIC, patternType: AclPatternType.ACL_PATTERN_TYPE_MATCH, resourceName: 'payments' })).toEqual([
    'ACL_RESOURCE_TYPE_TOPIC:ACL_PATTERN_TYPE_PREFIXED:pay:User:alice',
  ]);
  expect(await describe({ principal: 'User:bob' })).toEqual(['ACL_RESOURCE_TYPE_TOPIC:ACL_PATTERN_TYPE_LITERAL:orders:User:bob']);
  expect(await describe({ resourceType: AclResourceType.ACL_RESOURCE_TYPE_GROUP })).toEqual(['ACL_RESOURCE_TYPE_GROUP:ACL_PATTERN_TYPE_LITERAL:billing:User:alice']);
  const bad = await unary(active, 'describeAcls', { filter: { ...anyFilter, operation: 99 as AclOperation } });
  expect(bad.errorCode).toBe(ErrorCode.INVALID_REQUEST);
});

it('deletes what each filter matches and returns it', async () => {
  const { filterResults } = await unary(active, 'deleteAcls', {
    filters: [
      { ...anyFilter, resourceType: AclResourceType.ACL_RESOURCE_TYPE_TOPIC, patternType: AclPatternType.ACL_PATTERN_TYPE_LITERAL, resourceName: 'orders', principal: 'User:alice' },
      { ...anyFilter, patternType: AclPatternType.ACL_PATTERN_TYPE_PREFIXED },
      { ...anyFilter, resourceName: 'nothing' },
      { ...anyFilter, permissionType: 42 as AclPermissionType },
    ],
  });
  expect(filterResults.map((r) => ErrorCode[r.errorCode])).toEqual(['NONE', 'NONE', 'NONE', 'INVALID_REQUEST']);
  expect(filterResults[0]!.matchingAcls.map((a) => `${a.resourceName}:${a.principal}:${AclOperation[a.operation]}`)).toEqual(['orders:User:alice:ACL_OPERATION_READ']);
  expect(filterResults[1]!.matchingAcls.map((a) => a.resourceName)).toEqual(['pay']);
  expect(filterResults[2]!.matchingAcls).toEqual([]);
  expect(await store.tryGet('/acls/prefixed/Topic/pay')).toBeUndefined();
  const left = await unary(active, 'describeAcls', { filter: anyFilter });
  expect(left.acls.map((a) => `${a.resourceName}:${a.principal}`).sort()).toEqual(['billing:User:alice', 'kafka-cluster:User:alice', 'orders:User:bob']);
});

it('the standby answers NOT_CONTROLLER', async () => {
  const error = await unary(standby, 'createAcls', { creations: [binding()] }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(TributaryError);
  expect((error as TributaryError).code).toBe(ErrorCode.NOT_CONTROLLER);
});
