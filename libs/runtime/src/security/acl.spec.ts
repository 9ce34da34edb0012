/**
 * Kafka's AclAuthorizer rules, one table row each: the Authorizer over a fixed set of
 * bindings (an in-memory source with the same matching as the cache), plus filters,
 * validation, path escaping and the stored JSON.
 */
import type { AclBinding, AclBindingFilter, AclEntry, AclOperation, PatternType, PermissionType, ResourceType } from './acl';
import {
  InvalidAclError,
  decodeEntries,
  encodeEntries,
  escapeName,
  filterMatches,
  patternApplies,
  resourcePath,
  unescapeName,
  validateBinding,
} from './acl';
import type { AclSource } from './authorizer';
import { createMetrics } from '../metrics';
import { Authorizer, hostOfPeer, parseSuperUsers } from './authorizer';

const binding = (
  resourceType: ResourceType,
  name: string,
  patternType: PatternType,
  principal: string,
  permissionType: PermissionType,
  operation: AclOperation,
  host = '*',
): AclBinding => ({ pattern: { resourceType, name, patternType }, entry: { principal, permissionType, operation, host } });

function source(bindings: AclBinding[]): AclSource {
  return {
    matchingEntries: (type, name) => bindings.filter((b) => patternApplies(b.pattern, type, name)).map((b) => b.entry),
    bindingsOfType: (type) => bindings.filter((b) => b.pattern.resourceType === type),
  };
}

const authorizer = (bindings: AclBinding[], options: { superUsers?: string[]; allowEveryone?: boolean } = {}): Authorizer =>
  new Authorizer({ acls: source(bindings), superUsers: options.superUsers, allowEveryoneIfNoAclFound: options.allowEveryone });

type Row = [string, AclBinding[], { principal?: string; host?: string; op: AclOperation; type?: ResourceType; name?: string }, boolean];

const A = 'User:alice';
const rows: Row[] = [
  ['no ACL at all: denied (allow.everyone.if.no.acl.found=false)', [], { op: 'Read' }, false],
  ['literal Allow Read', [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Read')], { op: 'Read' }, true],
  ['Allow for another principal only', [binding('Topic', 'orders', 'LITERAL', 'User:bob', 'Allow', 'Read')], { op: 'Read' }, false],
  ['Allow on another topic only (ACLs exist elsewhere)', [binding('Topic', 'other', 'LITERAL', A, 'Allow', 'Read')], { op: 'Read' }, false],
  ['Allow of another operation', [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Write')], { op: 'Read' }, false],
  ['Deny wins over Allow', [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Read'), binding('Topic', 'orders', 'LITERAL', A, 'Deny', 'Read')], { op: 'Read' }, false],
  [
    'Deny for User:* wins over a principal Allow',
    [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Read'), binding('Topic', 'orders', 'LITERAL', 'User:*', 'Deny', 'Read')],
    { op: 'Read' },
    false,
  ],
  [
    'Deny on a prefix wins over a literal Allow',
    [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Read'), binding('Topic', 'ord', 'PREFIXED', A, 'Deny', 'Read')],
    { op: 'Read' },
    false,
  ],
  [
    'Deny from another host does not apply',
    [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Read'), binding('Topic', 'orders', 'LITERAL', A, 'Deny', 'Read', '10.0.0.9')],
    { op: 'Read', host: '10.0.0.1' },
    true,
  ],
  ['Allow for the caller host', [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Read', '10.0.0.1')], { op: 'Read', host: '10.0.0.1' }, true],
  ['Allow for another host', [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Read', '10.0.0.2')], { op: 'Read', host: '10.0.0.1' }, false],
  ['User:* Allow', [binding('Topic', 'orders', 'LITERAL', 'User:*', 'Allow', 'Read')], { op: 'Read' }, true],
  ['All allows every operation', [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'All')], { op: 'Delete' }, true],
  ['Deny All denies every operation', [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'All'), binding('Topic', 'orders', 'LITERAL', A, 'Deny', 'All')], { op: 'Describe' }, false],
  ['Read implies Describe', [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Read')], { op: 'Describe' }, true],
  ['Write implies Describe', [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Write')], { op: 'Describe' }, true],
  ['Delete implies Describe', [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Delete')], { op: 'Describe' }, true],
  ['Alter implies Describe', [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Alter')], { op: 'Describe' }, true],
  ['Create does not imply Describe', [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Create')], { op: 'Describe' }, false],
  ['Describe does not imply Read', [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Describe')], { op: 'Read' }, false],
  ['AlterConfigs implies DescribeConfigs', [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'AlterConfigs')], { op: 'DescribeConfigs' }, true],
  ['DescribeConfigs does not imply AlterConfigs', [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'DescribeConfigs')], { op: 'AlterConfigs' }, false],
  [
    'implication is for Allow only: Deny Read leaves Describe allowed by Write',
    [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Write'), binding('Topic', 'orders', 'LITERAL', A, 'Deny', 'Read')],
    { op: 'Describe' },
    true,
  ],
  ['literal * matches every topic', [binding('Topic', '*', 'LITERAL', A, 'Allow', 'Read')], { op: 'Read', name: 'anything' }, true],
  ['literal * of another type does not', [binding('Group', '*', 'LITERAL', A, 'Allow', 'Read')], { op: 'Read', name: 'orders' }, false],
  ['prefixed matches names that start with it', [binding('Topic', 'ord', 'PREFIXED', A, 'Allow', 'Read')], { op: 'Read', name: 'orders' }, true],
  ['prefixed matches the prefix itself', [binding('Topic', 'orders', 'PREFIXED', A, 'Allow', 'Read')], { op: 'Read', name: 'orders' }, true],
  ['prefixed does not match a shorter name', [binding('Topic', 'orders-', 'PREFIXED', A, 'Allow', 'Read')], { op: 'Read', name: 'orders' }, false],
  ['prefixed is case-sensitive', [binding('Topic', 'Ord', 'PREFIXED', A, 'Allow', 'Read')], { op: 'Read', name: 'orders' }, false],
  ['a LITERAL name is not a prefix', [binding('Topic', 'ord', 'LITERAL', A, 'Allow', 'Read')], { op: 'Read', name: 'orders' }, false],
  ['group Read', [binding('Group', 'g1', 'LITERAL', A, 'Allow', 'Read')], { op: 'Read', type: 'Group', name: 'g1' }, true],
  ['cluster ClusterAction', [binding('Cluster', 'kafka-cluster', 'LITERAL', A, 'Allow', 'ClusterAction')], { op: 'ClusterAction', type: 'Cluster', name: 'kafka-cluster' }, true],
  [
    'transactional id Write by prefix',
    [binding('TransactionalId', 'tx-', 'PREFIXED', A, 'Allow', 'Write')],
    { op: 'Write', type: 'TransactionalId', name: 'tx-1' },
    true,
  ],
  ['Write on a topic is not IdempotentWrite on the cluster', [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Write')], { op: 'IdempotentWrite', type: 'Cluster', name: 'kafka-cluster' }, false],
];

describe('Authorizer.authorize (Kafka AclAuthorizer rules)', () => {
  it.each(rows)('%s', (_name, bindings, q, expected) => {
    expect(authorizer(bindings).authorize(q.principal ?? A, q.host ?? '10.0.0.1', q.op, q.type ?? 'Topic', q.name ?? 'orders')).toBe(expected);
  });

  it('super users are allowed everything, even against a Deny', () => {
    const acls = [binding('Topic', 'orders', 'LITERAL', 'User:*', 'Deny', 'All')];
    expect(authorizer(acls, { superUsers: ['User:admin'] }).authorize('User:admin', '10.0.0.1', 'Delete', 'Topic', 'orders')).toBe(true);
    expect(authorizer(acls, { superUsers: ['User:admin'] }).authorize(A, '10.0.0.1', 'Delete', 'Topic', 'orders')).toBe(false);
  });

  it('allow.everyone.if.no.acl.found allows only resources without any applicable ACL', () => {
    const acls = [binding('Topic', 'orders', 'LITERAL', 'User:bob', 'Allow', 'Read')];
    const open = authorizer(acls, { allowEveryone: true });
    expect(open.authorize(A, '10.0.0.1', 'Read', 'Topic', 'payments')).toBe(true);
    expect(open.authorize(A, '10.0.0.1', 'Read', 'Topic', 'orders')).toBe(false);
    expect(authorizer(acls).authorize(A, '10.0.0.1', 'Read', 'Topic', 'payments')).toBe(false);
  });

  it('counts denials and allowed checks by operation and resource type and logs denials without secrets', async () => {
    const metrics = createMetrics({ service: 'test', nodeId: 0, defaultMetrics: false });
    const logged: object[] = [];
    const auth = new Authorizer({ acls: source([binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Read')]), metrics, logger: { info: (f) => logged.push(f) } });
    auth.authorize(A, '10.0.0.1', 'Read', 'Topic', 'orders');
    auth.authorize(A, '10.0.0.1', 'Write', 'Topic', 'orders');
    auth.authorize(A, '10.0.0.1', 'Write', 'Topic', 'orders');
    const text = await metrics.registry.metrics();
    expect(text).toContain('tributary_authorizer_allowed_total{operation="Read",resource_type="Topic"} 1');
    expect(text).toContain('tributary_authorizer_denials_total{operation="Write",resource_type="Topic"} 2');
    expect(logged).toEqual([
      { principal: A, host: '10.0.0.1', operation: 'Write', resourceType: 'Topic', resourceName: 'orders' },
      { principal: A, host: '10.0.0.1', operation: 'Write', resourceType: 'Topic', resourceName: 'orders' },
    ]);
  });
});

describe('Authorizer.authorizeByResourceType (Kafka Authorizer default)', () => {
  const byType = (acls: AclBinding[], op: AclOperation = 'Write'): boolean => authorizer(acls).authorizeByResourceType(A, '10.0.0.1', op, 'Topic');
  it.each<[string, AclBinding[], boolean]>([
    ['no ACL', [], false],
    ['an Allow on one topic', [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Write')], true],
    ['an Allow denied by the same literal', [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Write'), binding('Topic', 'orders', 'LITERAL', A, 'Deny', 'Write')], false],
    ['an Allow denied by a covering prefix', [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Write'), binding('Topic', 'or', 'PREFIXED', A, 'Deny', 'Write')], false],
    ['a prefixed Allow with a longer prefixed Deny', [binding('Topic', 'or', 'PREFIXED', A, 'Allow', 'Write'), binding('Topic', 'orders', 'PREFIXED', A, 'Deny', 'Write')], true],
    ['Allow * with Deny *', [binding('Topic', '*', 'LITERAL', A, 'Allow', 'Write'), binding('Topic', '*', 'LITERAL', A, 'Deny', 'Write')], false],
    ['Allow * alone', [binding('Topic', '*', 'LITERAL', A, 'Allow', 'Write')], true],
    ['only another operation', [binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Read')], false],
  ])('%s', (_n, acls, expected) => expect(byType(acls)).toBe(expected));
});

describe('filters (DescribeAcls / DeleteAcls)', () => {
  const lit = binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Read');
  const star = binding('Topic', '*', 'LITERAL', A, 'Allow', 'Read');
  const pre = binding('Topic', 'ord', 'PREFIXED', 'User:bob', 'Deny', 'Write', '10.0.0.1');
  const all = [lit, star, pre];
  const names = (f: AclBindingFilter): string[] => all.filter((b) => filterMatches(f, b)).map((b) => `${b.pattern.patternType}:${b.pattern.name}`);
  it.each<[string, AclBindingFilter, string[]]>([
    ['ANY without name: everything', { patternType: 'ANY' }, ['LITERAL:orders', 'LITERAL:*', 'PREFIXED:ord']],
    ['ANY with name: exact name of either kind', { patternType: 'ANY', name: 'ord' }, ['PREFIXED:ord']],
    ['LITERAL with name: exact literal', { patternType: 'LITERAL', name: 'orders' }, ['LITERAL:orders']],
    ['PREFIXED', { patternType: 'PREFIXED' }, ['PREFIXED:ord']],
    ['MATCH with name: every pattern that applies', { patternType: 'MATCH', resourceType: 'Topic', name: 'orders' }, ['LITERAL:orders', 'LITERAL:*', 'PREFIXED:ord']],
    ['MATCH with another name', { patternType: 'MATCH', resourceType: 'Topic', name: 'payments' }, ['LITERAL:*']],
    ['by principal', { patternType: 'ANY', principal: 'User:bob' }, ['PREFIXED:ord']],
    ['by host, operation and permission', { patternType: 'ANY', host: '10.0.0.1', operation: 'Write', permissionType: 'Deny' }, ['PREFIXED:ord']],
    ['by resource type', { patternType: 'ANY', resourceType: 'Group' }, []],
  ])('%s', (_n, f, expected) => expect(names(f)).toEqual(expected));
});

describe('validation (INVALID_REQUEST in CreateAcls)', () => {
  it.each<[string, AclBinding]>([
    ['empty name', binding('Topic', '', 'LITERAL', A, 'Allow', 'Read')],
    ['cluster with another name', binding('Cluster', 'mine', 'LITERAL', A, 'Allow', 'Alter')],
    ['principal without type', binding('Topic', 'orders', 'LITERAL', 'alice', 'Allow', 'Read')],
    ['principal with an empty name', binding('Topic', 'orders', 'LITERAL', 'User:', 'Allow', 'Read')],
    ['principal of another type', binding('Topic', 'orders', 'LITERAL', 'Group:x', 'Allow', 'Read')],
    ['MATCH pattern', { ...binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Read'), pattern: { resourceType: 'Topic', name: 'orders', patternType: 'MATCH' as PatternType } }],
    ['unknown operation', binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Any' as AclOperation)],
    ['empty host', binding('Topic', 'orders', 'LITERAL', A, 'Allow', 'Read', '')],
    ['too long a name', binding('Group', 'g'.repeat(1100), 'LITERAL', A, 'Allow', 'Read')],
  ])('refuses %s', (_n, b) => expect(() => validateBinding(b)).toThrow(InvalidAclError));

  it('accepts the usual bindings', () => {
    expect(() => validateBinding(binding('Cluster', 'kafka-cluster', 'LITERAL', A, 'Allow', 'IdempotentWrite'))).not.toThrow();
    expect(() => validateBinding(binding('Topic', '*', 'LITERAL', 'User:*', 'Deny', 'All', '10.1.2.3'))).not.toThrow();
  });
});

describe('storage format', () => {
  it('escapes names into one safe path segment and back', () => {
    for (const name of ['orders', 'a/b', '..', '.', '%2F', 'grüße', '*', 'a b?c#d']) {
      const segment = escapeName(name);
      expect(segment).not.toMatch(/\//);
      expect(['.', '..']).not.toContain(segment);
      expect(unescapeName(segment)).toBe(name);
    }
    expect(resourcePath({ resourceType: 'Group', name: 'a/b', patternType: 'PREFIXED' })).toBe('/acls/prefixed/Group/a%2Fb');
    expect(resourcePath({ resourceType: 'Topic', name: '*', patternType: 'LITERAL' })).toBe('/acls/literal/Topic/*');
  });

  it("writes Kafka's JSON and drops unknown entries when reading", () => {
    const entries: AclEntry[] = [{ principal: A, permissionType: 'Allow', operation: 'Read', host: '*' }];
    expect(JSON.parse(encodeEntries(entries).toString())).toEqual({ version: 1, acls: entries });
    const tampered = Buffer.from(JSON.stringify({ version: 1, acls: [...entries, { principal: A, permissionType: 'Allow', operation: 'Everything', host: '*' }] }));
    expect(decodeEntries(tampered)).toEqual(entries);
  });
});

it('hostOfPeer takes the IP out of grpc-js peer strings', () => {
  expect(hostOfPeer('ipv4:127.0.0.1:5342')).toBe('127.0.0.1');
  expect(hostOfPeer('127.0.0.1:5342')).toBe('127.0.0.1');
  expect(hostOfPeer('ipv6:[::1]:5342')).toBe('::1');
  expect(hostOfPeer('[::1]:5342')).toBe('::1');
});

it("parseSuperUsers reads Kafka's super.users (`;`-separated) and refuses malformed or wildcard principals", () => {
  expect(parseSuperUsers(' User:admin ; User:ops;')).toEqual(['User:admin', 'User:ops']);
  expect(parseSuperUsers('')).toEqual([]);
  expect(() => parseSuperUsers('admin')).toThrow(InvalidAclError);
  expect(() => parseSuperUsers('User:*')).toThrow(/every user/);
});
