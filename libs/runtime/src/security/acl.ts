/**
 * Kafka's ACL model, pure (no I/O): what an ACL is, how one matches a request, how filters
 * match ACLs (DescribeAcls / DeleteAcls), validation of what CreateAcls accepts, the JSON
 * stored per resource in the coordination store, and path-safe names.
 *
 * An ACL binding = resource pattern (type, name, LITERAL | PREFIXED) + entry (principal,
 * host, operation, Allow | Deny). The decision (Kafka's AclAuthorizer.authorizeAction):
 * super users are always allowed; otherwise the ACLs matching the resource are gathered
 * (literal name, literal `*`, every prefixed pattern the name starts with); if there are
 * none, `allow.everyone.if.no.acl.found` decides; else a matching Deny refuses, and
 * otherwise a matching Allow is needed. An entry matches when its principal is the caller
 * or `User:*`, its host the caller's or `*`, and its operation the one asked or `All`.
 * Allow of Read, Write, Delete or Alter implies Describe; Allow of AlterConfigs implies
 * DescribeConfigs (implication never applies to Deny).
 */

import type { Principal } from './principal';

/** `User:<name>` (or `User:*`, every user): the principal authentication resolves (principal.ts). */
export type { Principal };

export const WILDCARD_PRINCIPAL = 'User:*';
export const WILDCARD_HOST = '*';
/** The literal resource name that matches every resource of its type. */
export const WILDCARD_RESOURCE = '*';
/** The only name of the Cluster resource (Kafka's). */
export const CLUSTER_RESOURCE_NAME = 'kafka-cluster';

export const ACL_OPERATIONS = [
  'All',
  'Read',
  'Write',
  'Create',
  'Delete',
  'Alter',
  'Describe',
  'ClusterAction',
  'DescribeConfigs',
  'AlterConfigs',
  'IdempotentWrite',
] as const;
export type AclOperation = (typeof ACL_OPERATIONS)[number];

export const RESOURCE_TYPES = ['Topic', 'Group', 'Cluster', 'TransactionalId'] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

/** How a stored ACL's resource name is read. */
export const PATTERN_TYPES = ['LITERAL', 'PREFIXED'] as const;
export type PatternType = (typeof PATTERN_TYPES)[number];
/** Filters add MATCH (what would apply to the named resource) and ANY (both stored kinds, name exact). */
export type PatternTypeFilter = PatternType | 'MATCH' | 'ANY';

export const PERMISSION_TYPES = ['Allow', 'Deny'] as const;
export type PermissionType = (typeof PERMISSION_TYPES)[number];

export interface ResourcePattern {
  resourceType: ResourceType;
  name: string;
  patternType: PatternType;
}

/** One access control entry, as stored (Kafka's JSON field names). */
export interface AclEntry {
  principal: Principal;
  permissionType: PermissionType;
  operation: AclOperation;
  host: string;
}

export interface AclBinding {
  pattern: ResourcePattern;
  entry: AclEntry;
}

/** A filter over bindings: undefined fields match anything. */
export interface AclBindingFilter {
  resourceType?: ResourceType;
  /** With MATCH: the resource whose applicable ACLs are wanted; else the exact stored name. */
  name?: string;
  patternType: PatternTypeFilter;
  principal?: Principal;
  host?: string;
  operation?: AclOperation;
  permissionType?: PermissionType;
}

/** Thrown for a binding or filter Kafka would answer INVALID_REQUEST. */
export class InvalidAclError extends Error {
  override readonly name = 'InvalidAclError';
}

// ---------------------------------------------------------------------------------------------
// Matching

/** Operations whose Allow also allows `operation` (Kafka's implication rules). */
export function impliedBy(operation: AclOperation): readonly AclOperation[] {
  switch (operation) {
    case 'Describe':
      return ['Describe', 'Read', 'Write', 'Delete', 'Alter'];
    case 'DescribeConfigs':
      return ['DescribeConfigs', 'AlterConfigs'];
    default:
      return [operation];
  }
}

/** Does the entry apply to this caller and host, for `operation` exactly (or All)? */
export function entryMatches(entry: AclEntry, principal: Principal, host: string, operation: AclOperation): boolean {
  return (
    (entry.principal === principal || entry.principal === WILDCARD_PRINCIPAL) &&
    (entry.host === host || entry.host === WILDCARD_HOST) &&
    (entry.operation === operation || entry.operation === 'All')
  );
}

/** Does a stored pattern apply to the resource `resourceType`/`name`? */
export function patternApplies(pattern: ResourcePattern, resourceType: ResourceType, name: string): boolean {
  if (pattern.resourceType !== resourceType) return false;
  if (pattern.patternType === 'PREFIXED') return name.startsWith(pattern.name);
  return pattern.name === name || pattern.name === WILDCARD_RESOURCE;
}

/**
 * The decision over the entries of every pattern that applies to the resource (Kafka's
 * `aclsAllowAccess`, super users excluded: the caller checks those first).
 */
export function decide(
  entries: readonly AclEntry[],
  principal: Principal,
  host: string,
  operation: AclOperation,
  allowEveryoneIfNoAclFound: boolean,
): boolean {
  if (entries.length === 0) return allowEveryoneIfNoAclFound;
  let allowed = false;
  const allowOps = impliedBy(operation);
  for (const entry of entries) {
    if (entry.permissionType === 'Deny') {
      if (entryMatches(entry, principal, host, operation)) return false;
    } else if (!allowed) {
      allowed = allowOps.some((op) => entryMatches(entry, principal, host, op));
    }
  }
  return allowed;
}

/** Does `binding` match `filter` (Kafka's AclBindingFilter.matches)? */
export function filterMatches(filter: AclBindingFilter, binding: AclBinding): boolean {
  const { pattern, entry } = binding;
  if (filter.resourceType !== undefined && filter.resourceType !== pattern.resourceType) return false;
  if (filter.principal !== undefined && filter.principal !== entry.principal) return false;
  if (filter.host !== undefined && filter.host !== entry.host) return false;
  if (filter.operation !== undefined && filter.operation !== entry.operation) return false;
  if (filter.permissionType !== undefined && filter.permissionType !== entry.permissionType) return false;
  switch (filter.patternType) {
    case 'ANY':
      return filter.name === undefined || filter.name === pattern.name;
    case 'MATCH':
      // Every stored pattern that would apply to the named resource (Kafka's ResourcePatternFilter).
      if (filter.name === undefined) return true;
      if (pattern.patternType === 'PREFIXED') return filter.name.startsWith(pattern.name);
      return pattern.name === filter.name || pattern.name === WILDCARD_RESOURCE;
    default:
      return filter.patternType === pattern.patternType && (filter.name === undefined || filter.name === pattern.name);
  }
}

// ---------------------------------------------------------------------------------------------
// Validation (what CreateAcls accepts)

/** `Type:name` with a non-empty name; Kafka's SecurityUtils.parseKafkaPrincipal. */
export function validatePrincipal(principal: string): void {
  const colon = principal.indexOf(':');
  if (colon <= 0 || colon === principal.length - 1) {
    throw new InvalidAclError(`principal '${principal}' is not of the form User:<name> (or User:* for every user)`);
  }
  if (principal.slice(0, colon) !== 'User') {
    throw new InvalidAclError(`principal type '${principal.slice(0, colon)}' is not supported; use User:<name>`);
  }
}

/** Throws InvalidAclError for a binding Kafka's CreateAcls refuses with INVALID_REQUEST. */
export function validateBinding(binding: AclBinding): void {
  const { pattern, entry } = binding;
  if (!RESOURCE_TYPES.includes(pattern.resourceType)) throw new InvalidAclError(`unknown resource type '${String(pattern.resourceType)}'`);
  if (!PATTERN_TYPES.includes(pattern.patternType)) {
    throw new InvalidAclError(`pattern type must be LITERAL or PREFIXED to create an ACL, not '${String(pattern.patternType)}'`);
  }
  if (pattern.name.length === 0) throw new InvalidAclError('resource name must not be empty');
  if (pattern.resourceType === 'Cluster' && pattern.name !== CLUSTER_RESOURCE_NAME) {
    throw new InvalidAclError(`the only valid name for the Cluster resource is ${CLUSTER_RESOURCE_NAME}`);
  }
  if (pattern.patternType === 'PREFIXED' && pattern.name === WILDCARD_RESOURCE) {
    throw new InvalidAclError("a PREFIXED pattern '*' is not allowed: use the LITERAL name '*' for every resource");
  }
  validatePrincipal(entry.principal);
  if (entry.host.length === 0) throw new InvalidAclError('host must not be empty (use * for every host)');
  if (!ACL_OPERATIONS.includes(entry.operation)) throw new InvalidAclError(`unknown operation '${String(entry.operation)}'`);
  if (!PERMISSION_TYPES.includes(entry.permissionType)) throw new InvalidAclError(`permission type must be Allow or Deny, not '${String(entry.permissionType)}'`);
  if (resourcePath(pattern).length > MAX_PATH_BYTES) throw new InvalidAclError(`resource name is too long (its store path is over ${MAX_PATH_BYTES} bytes)`);
}

// ---------------------------------------------------------------------------------------------
// Storage format: /acls/<literal|prefixed>/<ResourceType>/<escaped name>, Kafka's JSON

export const ACLS_ROOT = '/acls';
/** Change notifications: sequential nodes naming the resource that changed (Kafka's acl_changes_). */
export const ACL_CHANGES_PATH = '/acls/changes';
export const ACL_CHANGE_PREFIX = 'acl_changes_';
/** The coordination store's path limit. */
const MAX_PATH_BYTES = 1024;

const patternDir = (patternType: PatternType): string => (patternType === 'LITERAL' ? 'literal' : 'prefixed');

/**
 * One path segment for any resource name: percent-encoding (so `/` and `%` cannot split or
 * confuse paths), plus `.` encoded in the names `.` and `..` the store refuses.
 */
export function escapeName(name: string): string {
  const encoded = encodeURIComponent(name);
  return encoded === '.' || encoded === '..' ? encoded.replace(/\./g, '%2E') : encoded;
}

export function unescapeName(segment: string): string {
  return decodeURIComponent(segment);
}

export function resourceTypeDir(patternType: PatternType, resourceType: ResourceType): string {
  return `${ACLS_ROOT}/${patternDir(patternType)}/${resourceType}`;
}

export function resourcePath(pattern: ResourcePattern): string {
  return `${resourceTypeDir(pattern.patternType, pattern.resourceType)}/${escapeName(pattern.name)}`;
}

/** Every directory the store needs (created once, empty). */
export function aclDirectories(): string[] {
  return [ACL_CHANGES_PATH, ...PATTERN_TYPES.flatMap((p) => RESOURCE_TYPES.map((t) => resourceTypeDir(p, t)))];
}

interface StoredAcls {
  version: 1;
  acls: AclEntry[];
}

export function encodeEntries(entries: readonly AclEntry[]): Buffer {
  const stored: StoredAcls = {
    version: 1,
    acls: entries.map((e) => ({ principal: e.principal, permissionType: e.permissionType, operation: e.operation, host: e.host })),
  };
  return Buffer.from(JSON.stringify(stored));
}

/** Parses a resource node; entries with unknown operation or permission are dropped (never widen access). */
export function decodeEntries(data: Buffer): AclEntry[] {
  if (data.length === 0) return [];
  const parsed = JSON.parse(data.toString('utf8')) as Partial<StoredAcls>;
  if (!Array.isArray(parsed.acls)) throw new Error('ACL node has no "acls" array');
  return parsed.acls.filter(
    (e): e is AclEntry =>
      typeof e?.principal === 'string' &&
      typeof e.host === 'string' &&
      ACL_OPERATIONS.includes(e.operation) &&
      PERMISSION_TYPES.includes(e.permissionType),
  );
}

export const sameEntry = (a: AclEntry, b: AclEntry): boolean =>
  a.principal === b.principal && a.host === b.host && a.operation === b.operation && a.permissionType === b.permissionType;

export const patternKey = (p: ResourcePattern): string => `${p.patternType}/${p.resourceType}/${p.name}`;

/** The change notification's body: the resource that changed. */
export function encodeChange(pattern: ResourcePattern): Buffer {
  return Buffer.from(JSON.stringify({ version: 1, resourceType: pattern.resourceType, name: pattern.name, patternType: pattern.patternType }));
}

export function decodeChange(data: Buffer): ResourcePattern | undefined {
  try {
    const p = JSON.parse(data.toString('utf8')) as Partial<ResourcePattern>;
    if (typeof p.name !== 'string' || !RESOURCE_TYPES.includes(p.resourceType!) || !PATTERN_TYPES.includes(p.patternType!)) return undefined;
    return { resourceType: p.resourceType!, name: p.name, patternType: p.patternType! };
  } catch {
    return undefined;
  }
}

/** Sort key of patterns: by type, then pattern type, then name (DescribeAcls' order). */
export const patternSortKey = (p: ResourcePattern): string => `${p.resourceType}\u0000${p.patternType}\u0000${p.name}`;
