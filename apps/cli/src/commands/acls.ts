/**
 * `tributary acls add|remove|list`: kafka-acls.sh over the controller's AclService (SDK
 * Admin.createAcls / describeAcls / deleteAcls). Same flags and output as kafka-acls.sh:
 *
 * - bindings: every principal of `--allow-principal` × host of `--allow-host` (default `*`),
 *   Allow, and the same for `--deny-principal` / `--deny-host`, Deny; × every `--operation`
 *   (default All) × every resource (`--topic`, `--group`, `--transactional-id`, repeatable,
 *   `--cluster`) with `--resource-pattern-type` (literal by default);
 * - `--producer`: Write, Describe, Create on the topics (+ IdempotentWrite on the cluster with
 *   `--idempotent`, + Write, Describe on `--transactional-id`s); `--consumer`: Read, Describe
 *   on the topics and Read on the groups (a `--group` is required);
 * - remove without principals removes every ACL of the resources; without `--force` it only
 *   prints what it would remove (we never prompt).
 */
import type { AclBinding, AclBindingFilter } from '@tributary/client';
import type { GlobalOptions, Io } from '../context';
import { withAdmin, writeOut } from '../context';
import { UsageError } from '../errors';

type Operation = AclBinding['entry']['operation'];
type ResourceType = AclBinding['pattern']['resourceType'];
type PatternFilter = AclBindingFilter['patternType'];

export interface AclOptions {
  allowPrincipal?: string[];
  denyPrincipal?: string[];
  allowHost?: string[];
  denyHost?: string[];
  operation?: string[];
  topic?: string[];
  group?: string[];
  transactionalId?: string[];
  cluster?: boolean;
  resourcePatternType?: string;
  producer?: boolean;
  consumer?: boolean;
  idempotent?: boolean;
  force?: boolean;
  /** list: only ACLs of this principal. */
  principal?: string;
}

const OPERATIONS: readonly Operation[] = ['All', 'Read', 'Write', 'Create', 'Delete', 'Alter', 'Describe', 'ClusterAction', 'DescribeConfigs', 'AlterConfigs', 'IdempotentWrite'];
/** Kafka's AclCommand: the operations each resource type supports. */
const SUPPORTED: Record<ResourceType, readonly Operation[]> = {
  Topic: ['Read', 'Write', 'Create', 'Describe', 'Delete', 'Alter', 'DescribeConfigs', 'AlterConfigs', 'All'],
  Group: ['Read', 'Describe', 'Delete', 'All'],
  Cluster: ['Create', 'ClusterAction', 'DescribeConfigs', 'AlterConfigs', 'IdempotentWrite', 'Alter', 'Describe', 'All'],
  TransactionalId: ['Describe', 'Write', 'All'],
};
const CLUSTER_NAME = 'kafka-cluster';

/** `Read`, `read`, `cluster_action`, `ClusterAction` → the operation. */
export function parseOperation(value: string): Operation {
  const key = value.replace(/[_-]/g, '').toLowerCase();
  const op = OPERATIONS.find((o) => o.toLowerCase() === key);
  if (!op) throw new UsageError(`unknown --operation '${value}': one of ${OPERATIONS.join(', ')}`);
  return op;
}

function patternType(o: AclOptions, forCreate: boolean): PatternFilter {
  const value = (o.resourcePatternType ?? 'literal').toLowerCase();
  const map: Record<string, PatternFilter> = { literal: 'LITERAL', prefixed: 'PREFIXED', match: 'MATCH', any: 'ANY' };
  const type = map[value];
  if (!type) throw new UsageError(`unknown --resource-pattern-type '${o.resourcePatternType}': literal, prefixed, match or any`);
  if (forCreate && type !== 'LITERAL' && type !== 'PREFIXED') throw new UsageError(`--resource-pattern-type ${value} cannot be used to add ACLs: use literal or prefixed`);
  return type;
}

interface Resource {
  resourceType: ResourceType;
  name: string;
}

function resources(o: AclOptions): Resource[] {
  return [
    ...(o.topic ?? []).map((name) => ({ resourceType: 'Topic' as const, name })),
    ...(o.group ?? []).map((name) => ({ resourceType: 'Group' as const, name })),
    ...(o.transactionalId ?? []).map((name) => ({ resourceType: 'TransactionalId' as const, name })),
    ...(o.cluster === true ? [{ resourceType: 'Cluster' as const, name: CLUSTER_NAME }] : []),
  ];
}

/** Operations per resource: --producer / --consumer conveniences, else --operation (default All) on every resource. */
function operationsByResource(o: AclOptions): Array<[Resource, Operation[]]> {
  const all = resources(o);
  if (o.producer === true || o.consumer === true) {
    if (o.operation && o.operation.length > 0) throw new UsageError('--operation cannot be combined with --producer or --consumer');
    if (o.consumer === true && !(o.group && o.group.length > 0)) throw new UsageError('--consumer needs --group: the consumer group to grant Read on');
    if (!(o.topic && o.topic.length > 0)) throw new UsageError('--producer and --consumer need --topic');
    const out = new Map<Resource, Set<Operation>>();
    const add = (r: Resource, ops: Operation[]): void => {
      const set = out.get(r) ?? new Set();
      for (const op of ops) set.add(op);
      out.set(r, set);
    };
    for (const r of all) {
      if (o.producer === true && r.resourceType === 'Topic') add(r, ['Write', 'Describe', 'Create']);
      if (o.producer === true && r.resourceType === 'TransactionalId') add(r, ['Write', 'Describe']);
      if (o.consumer === true && r.resourceType === 'Topic') add(r, ['Read', 'Describe']);
      if (o.consumer === true && r.resourceType === 'Group') add(r, ['Read']);
    }
    if (o.producer === true && o.idempotent === true) add(all.find((r) => r.resourceType === 'Cluster') ?? { resourceType: 'Cluster', name: CLUSTER_NAME }, ['IdempotentWrite']);
    return [...out].map(([r, ops]) => [r, [...ops]]);
  }
  const ops = o.operation && o.operation.length > 0 ? [...new Set(o.operation.map(parseOperation))] : (['All'] as Operation[]);
  for (const r of all) {
    const unsupported = ops.filter((op) => !SUPPORTED[r.resourceType].includes(op));
    if (unsupported.length > 0) {
      throw new UsageError(`operation ${unsupported.join(', ')} does not apply to ${r.resourceType}: it supports ${SUPPORTED[r.resourceType].join(', ')}`);
    }
  }
  return all.map((r) => [r, ops]);
}

/** Principal × host × permission, as kafka-acls.sh pairs them. */
function entries(o: AclOptions): Array<{ principal: string; host: string; permissionType: 'Allow' | 'Deny' }> {
  const out: Array<{ principal: string; host: string; permissionType: 'Allow' | 'Deny' }> = [];
  for (const [principals, hosts, permissionType] of [
    [o.allowPrincipal, o.allowHost, 'Allow'],
    [o.denyPrincipal, o.denyHost, 'Deny'],
  ] as const) {
    if ((!principals || principals.length === 0) && hosts && hosts.length > 0) {
      throw new UsageError(`--${permissionType.toLowerCase()}-host needs --${permissionType.toLowerCase()}-principal`);
    }
    for (const principal of principals ?? []) {
      if (!/^User:.+/.test(principal)) throw new UsageError(`principal '${principal}' must look like User:<name> (or User:* for everyone)`);
      for (const host of hosts && hosts.length > 0 ? hosts : ['*']) out.push({ principal, host, permissionType });
    }
  }
  return out;
}

/** The bindings `add` creates. */
export function bindingsToAdd(o: AclOptions): AclBinding[] {
  const type = patternType(o, true) as 'LITERAL' | 'PREFIXED';
  if (resources(o).length === 0 && o.producer !== true) throw new UsageError('give a resource: --topic, --group, --transactional-id or --cluster');
  const who = entries(o);
  if (who.length === 0) throw new UsageError('give --allow-principal or --deny-principal');
  const out: AclBinding[] = [];
  for (const [r, ops] of operationsByResource(o)) {
    for (const e of who) {
      for (const operation of ops) out.push({ pattern: { resourceType: r.resourceType, name: r.name, patternType: r.resourceType === 'Cluster' ? 'LITERAL' : type }, entry: { ...e, operation } });
    }
  }
  return out;
}

/** The filters `remove` deletes with: exact bindings when principals are given, else every ACL of each resource. */
export function filtersToRemove(o: AclOptions): AclBindingFilter[] {
  const type = patternType(o, false);
  if (resources(o).length === 0) throw new UsageError('give a resource: --topic, --group, --transactional-id or --cluster');
  const who = entries(o);
  const out: AclBindingFilter[] = [];
  if (who.length === 0) {
    if (o.operation && o.operation.length > 0) throw new UsageError('--operation needs --allow-principal or --deny-principal when removing');
    for (const r of resources(o)) out.push({ resourceType: r.resourceType, name: r.name, patternType: r.resourceType === 'Cluster' && type !== 'MATCH' ? 'LITERAL' : type });
    return out;
  }
  for (const [r, ops] of operationsByResource(o)) {
    for (const e of who) {
      for (const operation of ops) out.push({ resourceType: r.resourceType, name: r.name, patternType: type, principal: e.principal, host: e.host, permissionType: e.permissionType, operation });
    }
  }
  return out;
}

/** The filters `list` shows: each resource (or everything), optionally of one principal. */
export function filtersToList(o: AclOptions): AclBindingFilter[] {
  const type = patternType(o, false);
  const principal = o.principal === undefined ? {} : { principal: o.principal };
  const rs = resources(o);
  if (rs.length === 0) return [{ patternType: o.resourcePatternType === undefined ? 'ANY' : type, ...principal }];
  return rs.map((r) => ({ resourceType: r.resourceType, name: r.name, patternType: type, ...principal }));
}

// ---- output (kafka-acls.sh's) ------------------------------------------------------------

const upperSnake = (s: string): string => s.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();

export function formatPattern(p: AclBinding['pattern']): string {
  return `ResourcePattern(resourceType=${upperSnake(p.resourceType)}, name=${p.name}, patternType=${p.patternType})`;
}

export function formatEntry(e: AclBinding['entry']): string {
  return `(principal=${e.principal}, host=${e.host}, operation=${upperSnake(e.operation)}, permissionType=${upperSnake(e.permissionType)})`;
}

/** Bindings grouped by resource: `<title> for resource `<pattern>`:` then one indented entry per line. */
export function formatByResource(title: string, bindings: readonly AclBinding[]): string {
  const groups = new Map<string, { pattern: AclBinding['pattern']; entries: AclBinding['entry'][] }>();
  for (const b of bindings) {
    const key = formatPattern(b.pattern);
    const g = groups.get(key) ?? { pattern: b.pattern, entries: [] };
    g.entries.push(b.entry);
    groups.set(key, g);
  }
  return [...groups.values()].map((g) => `${title} for resource \`${formatPattern(g.pattern)}\`: \n${g.entries.map((e) => ` \t${formatEntry(e)} \n`).join('')}\n`).join('');
}

// ---- commands ----------------------------------------------------------------------------

export async function addAcls(io: Io, global: GlobalOptions, o: AclOptions): Promise<void> {
  const bindings = bindingsToAdd(o);
  await withAdmin(global, async (admin) => {
    await writeOut(io.stdout, formatByResource('Adding ACLs', bindings));
    await admin.createAcls(bindings);
    const patterns = new Map(bindings.map((b) => [formatPattern(b.pattern), b.pattern]));
    const current: AclBinding[] = [];
    for (const p of patterns.values()) current.push(...(await admin.describeAcls({ resourceType: p.resourceType, name: p.name, patternType: p.patternType })));
    await writeOut(io.stdout, formatByResource('Current ACLs', current));
  });
}

export async function removeAcls(io: Io, global: GlobalOptions, o: AclOptions): Promise<void> {
  const filters = filtersToRemove(o);
  await withAdmin(global, async (admin) => {
    if (o.force !== true) {
      const matching = new Map<string, AclBinding>();
      for (const f of filters) for (const b of await admin.describeAcls(f)) matching.set(`${formatPattern(b.pattern)} ${formatEntry(b.entry)}`, b);
      if (matching.size === 0) {
        await writeOut(io.stdout, 'No ACL matches: nothing to remove.\n');
        return;
      }
      await writeOut(io.stdout, `${formatByResource('Would remove ACLs', [...matching.values()])}Nothing removed: run again with --force to remove these ACLs.\n`);
      return;
    }
    const deleted = (await admin.deleteAcls(filters)).flat();
    const unique = new Map(deleted.map((b) => [`${formatPattern(b.pattern)} ${formatEntry(b.entry)}`, b]));
    await writeOut(io.stdout, unique.size === 0 ? 'No ACL matches: nothing removed.\n' : formatByResource('Removed ACLs', [...unique.values()]));
  });
}

export async function listAcls(io: Io, global: GlobalOptions, o: AclOptions): Promise<void> {
  const filters = filtersToList(o);
  await withAdmin(global, async (admin) => {
    const found = new Map<string, AclBinding>();
    for (const f of filters) for (const b of await admin.describeAcls(f)) found.set(`${formatPattern(b.pattern)} ${formatEntry(b.entry)}`, b);
    await writeOut(io.stdout, formatByResource('Current ACLs', [...found.values()]));
  });
}
