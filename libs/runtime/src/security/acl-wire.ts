/**
 * ACL bindings and filters between the model (acl.ts: Kafka's names as strings) and the wire
 * (proto/tributary/v1/acl.proto enums), both ways. Decoding refuses what the wire can say
 * but a binding may not (ANY, MATCH, unknown enum values) with InvalidAclError, which
 * servers answer as INVALID_REQUEST.
 */
import type { AclBinding as WireBinding, AclBindingFilter as WireFilter } from '@tributary/proto';
import { AclOperation as WireOperation, AclPatternType as WirePattern, AclPermissionType as WirePermission, AclResourceType as WireResource } from '@tributary/proto';
import type { AclBinding, AclBindingFilter, AclOperation, PatternTypeFilter, PermissionType, ResourceType } from './acl';
import { InvalidAclError } from './acl';

const resourceTypes: ReadonlyArray<[ResourceType, WireResource]> = [
  ['Topic', WireResource.ACL_RESOURCE_TYPE_TOPIC],
  ['Group', WireResource.ACL_RESOURCE_TYPE_GROUP],
  ['Cluster', WireResource.ACL_RESOURCE_TYPE_CLUSTER],
  ['TransactionalId', WireResource.ACL_RESOURCE_TYPE_TRANSACTIONAL_ID],
];
const patternTypes: ReadonlyArray<[PatternTypeFilter, WirePattern]> = [
  ['LITERAL', WirePattern.ACL_PATTERN_TYPE_LITERAL],
  ['PREFIXED', WirePattern.ACL_PATTERN_TYPE_PREFIXED],
  ['MATCH', WirePattern.ACL_PATTERN_TYPE_MATCH],
  ['ANY', WirePattern.ACL_PATTERN_TYPE_ANY],
];
const operations: ReadonlyArray<[AclOperation, WireOperation]> = [
  ['All', WireOperation.ACL_OPERATION_ALL],
  ['Read', WireOperation.ACL_OPERATION_READ],
  ['Write', WireOperation.ACL_OPERATION_WRITE],
  ['Create', WireOperation.ACL_OPERATION_CREATE],
  ['Delete', WireOperation.ACL_OPERATION_DELETE],
  ['Alter', WireOperation.ACL_OPERATION_ALTER],
  ['Describe', WireOperation.ACL_OPERATION_DESCRIBE],
  ['ClusterAction', WireOperation.ACL_OPERATION_CLUSTER_ACTION],
  ['DescribeConfigs', WireOperation.ACL_OPERATION_DESCRIBE_CONFIGS],
  ['AlterConfigs', WireOperation.ACL_OPERATION_ALTER_CONFIGS],
  ['IdempotentWrite', WireOperation.ACL_OPERATION_IDEMPOTENT_WRITE],
];
const permissions: ReadonlyArray<[PermissionType, WirePermission]> = [
  ['Allow', WirePermission.ACL_PERMISSION_TYPE_ALLOW],
  ['Deny', WirePermission.ACL_PERMISSION_TYPE_DENY],
];

function toWire<M, W>(table: ReadonlyArray<[M, W]>, value: M): W {
  return table.find(([m]) => m === value)![1];
}
function fromWire<M, W>(table: ReadonlyArray<[M, W]>, value: W, what: string): M {
  const hit = table.find(([, w]) => w === value);
  if (!hit) throw new InvalidAclError(`${what} ${String(value)} is not valid here`);
  return hit[0];
}

export function bindingToWire(b: AclBinding): WireBinding {
  return {
    resourceType: toWire(resourceTypes, b.pattern.resourceType),
    resourceName: b.pattern.name,
    patternType: toWire(patternTypes, b.pattern.patternType),
    principal: b.entry.principal,
    host: b.entry.host,
    operation: toWire(operations, b.entry.operation),
    permissionType: toWire(permissions, b.entry.permissionType),
  };
}

/** A binding from the wire; InvalidAclError for ANY/MATCH/unknown values (validateBinding checks the rest). */
export function bindingFromWire(w: WireBinding): AclBinding {
  const patternType = fromWire(patternTypes, w.patternType, 'pattern type');
  if (patternType !== 'LITERAL' && patternType !== 'PREFIXED') throw new InvalidAclError(`pattern type must be LITERAL or PREFIXED to create an ACL, not ${patternType}`);
  return {
    pattern: { resourceType: fromWire(resourceTypes, w.resourceType, 'resource type'), name: w.resourceName, patternType },
    entry: {
      principal: w.principal,
      host: w.host,
      operation: fromWire(operations, w.operation, 'operation'),
      permissionType: fromWire(permissions, w.permissionType, 'permission type'),
    },
  };
}

export function filterToWire(f: AclBindingFilter): WireFilter {
  return {
    resourceType: f.resourceType === undefined ? WireResource.ACL_RESOURCE_TYPE_ANY : toWire(resourceTypes, f.resourceType),
    resourceName: f.name,
    patternType: toWire(patternTypes, f.patternType),
    principal: f.principal,
    host: f.host,
    operation: f.operation === undefined ? WireOperation.ACL_OPERATION_ANY : toWire(operations, f.operation),
    permissionType: f.permissionType === undefined ? WirePermission.ACL_PERMISSION_TYPE_ANY : toWire(permissions, f.permissionType),
  };
}

/** A filter from the wire; InvalidAclError for unknown enum values. */
export function filterFromWire(w: WireFilter | undefined): AclBindingFilter {
  if (!w) return { patternType: 'ANY' };
  const f: AclBindingFilter = { patternType: fromWire(patternTypes, w.patternType, 'pattern type') };
  if (w.resourceType !== WireResource.ACL_RESOURCE_TYPE_ANY) f.resourceType = fromWire(resourceTypes, w.resourceType, 'resource type');
  if (w.resourceName !== undefined) f.name = w.resourceName;
  if (w.principal !== undefined) f.principal = w.principal;
  if (w.host !== undefined) f.host = w.host;
  if (w.operation !== WireOperation.ACL_OPERATION_ANY) f.operation = fromWire(operations, w.operation, 'operation');
  if (w.permissionType !== WirePermission.ACL_PERMISSION_TYPE_ANY) f.permissionType = fromWire(permissions, w.permissionType, 'permission type');
  return f;
}
