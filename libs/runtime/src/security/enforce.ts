/**
 * Authorization enforcement: the ONE place that maps every RPC to Kafka's (resource,
 * operation) checks (ARCHITECTURE.md §10, README.md "Enforcement").
 *
 * - {@link TRIBUTARY_AUTHORIZATION_TABLE}: the rule of every method of every Tributary
 *   service, as data (keyed `tributary.v1.Service/Method`, or `tributary.v1.Service/*`).
 * - {@link authorizationInterceptor}: runs last in createGrpcServer's interceptor chain (the
 *   principal is final by then) and refuses a call its whole-call rule denies, before the
 *   handler runs: PERMISSION_DENIED carrying the Kafka code of the resource type
 *   (TOPIC_ / GROUP_ / CLUSTER_ / TRANSACTIONAL_ID_AUTHORIZATION_FAILED) in
 *   `tributary-error-code`, as every Kafka error travels (grpc-errors.ts). A method without a
 *   rule is refused (fail closed) once an authorizer is on.
 * - {@link authorize}, {@link filterAllowed}, {@link requireAuthorized}: the per-resource
 *   checks handlers of multi-resource calls make (Produce / Fetch / Metadata per topic, ...)
 *   through `ctx.authorization`; with no authorizer configured they allow everything.
 *
 * Internal APIs (BrokerControlService, BrokerToControllerService, ReplicaFetch,
 * CoordinationService) accept service principals only: a client credential cannot call them
 * whatever ACLs say. Such a refusal is logged and counted like an authorizer denial
 * (ClusterAction on Cluster).
 */
import type { Registry } from 'prom-client';
import { ErrorCode, TributaryError } from '@tributary/records';
import type { Interceptor, Principal as CallPrincipal } from '../grpc-server';
import type { Logger } from '../logger';
import { getOrCreateCounter } from '../metrics';
import type { AclOperation, ResourceType } from './acl';
import { CLUSTER_RESOURCE_NAME } from './acl';
import { AclCache, type AclStoreClient } from './acl-store';
import { Authorizer, hostOfPeer } from './authorizer';
import type { SecurityConfig } from './config';
import { principalOf, type Principal } from './principal';

// ---------------------------------------------------------------------------------------------
// Rules

/** A check the handler applies per resource named in the request (documentation and tests). */
export interface PerResourceCheck {
  resourceType: ResourceType;
  operation: AclOperation;
  /** How the handler applies it (what is left out, what else allows it). */
  note?: string;
}

/** How one RPC is authorized. */
export type AuthorizationRule =
  /** Open to every caller (AuthService: the login that yields a principal). */
  | { kind: 'public' }
  /** Internal API: service principals only (refused with CLUSTER_AUTHORIZATION_FAILED). */
  | { kind: 'servicePrincipal' }
  /**
   * One resource for the whole call, checked before the handler. `name` reads it from the
   * request (a group id); absent for Cluster (`kafka-cluster`). `then`: checks the handler
   * still applies per resource (OffsetCommit: Group Read, then Topic Read per topic).
   */
  | {
      kind: 'resource';
      resourceType: ResourceType;
      operation: AclOperation;
      name?: (request: unknown) => string | undefined;
      then?: readonly PerResourceCheck[];
    }
  /** Only per-resource checks, applied by the handler (nothing refused before it). */
  | { kind: 'perResource'; checks: readonly PerResourceCheck[] };

/** Rules keyed by full method name (`tributary.v1.AdminService/ElectLeaders`) or `tributary.v1.Service/*`. */
export type AuthorizationTable = Readonly<Record<string, AuthorizationRule>>;

/** The rule of `method`: its own, else its service's `/*`, else undefined. */
export function ruleFor(table: AuthorizationTable, method: string): AuthorizationRule | undefined {
  const own = table[method];
  if (own) return own;
  const slash = method.indexOf('/');
  return slash < 0 ? undefined : table[`${method.slice(0, slash)}/*`];
}

/** Reads a string field of the request (e.g. `groupId`). */
export function requestField(field: string): (request: unknown) => string | undefined {
  return (request) => {
    const value = (request as Record<string, unknown> | null | undefined)?.[field];
    return typeof value === 'string' ? value : undefined;
  };
}

const cluster = (operation: AclOperation): AuthorizationRule => ({ kind: 'resource', resourceType: 'Cluster', operation });
const group = (operation: AclOperation, then?: readonly PerResourceCheck[]): AuthorizationRule => ({
  kind: 'resource',
  resourceType: 'Group',
  operation,
  name: requestField('groupId'),
  ...(then ? { then } : {}),
});
const perResource = (...checks: PerResourceCheck[]): AuthorizationRule => ({ kind: 'perResource', checks });
const SERVICE: AuthorizationRule = { kind: 'servicePrincipal' };
const V1 = 'tributary.v1';

/**
 * Tributary's RPC → (resource, operation) mapping (README.md "Enforcement", Kafka's
 * AclAuthorizer checks per request). Every method of every service has a rule
 * (enforce.spec.ts checks it against the generated definitions).
 */
export const TRIBUTARY_AUTHORIZATION_TABLE: AuthorizationTable = Object.freeze({
  // AuthService: the SCRAM login comes before any principal exists.
  [`${V1}.AuthService/*`]: { kind: 'public' },

  // BrokerService (client API): per topic in the handlers.
  [`${V1}.BrokerService/Produce`]: perResource({
    resourceType: 'Topic',
    operation: 'Write',
    note: 'each topic; denied ones answer TOPIC_AUTHORIZATION_FAILED; internal topics: service principals only (INVALID_TOPIC_EXCEPTION)',
  }),
  [`${V1}.BrokerService/ProduceStream`]: perResource({ resourceType: 'Topic', operation: 'Write', note: 'each topic, per request of the stream; internal topics as Produce' }),
  [`${V1}.BrokerService/Fetch`]: perResource({ resourceType: 'Topic', operation: 'Read', note: 'each topic; a request with replica_id >= 0 (a follower) needs a service principal' }),
  [`${V1}.BrokerService/ReplicaFetch`]: SERVICE,
  [`${V1}.BrokerService/ListOffsets`]: perResource({ resourceType: 'Topic', operation: 'Describe', note: 'each topic' }),
  [`${V1}.BrokerService/OffsetsForLeaderEpoch`]: perResource({ resourceType: 'Topic', operation: 'Describe', note: 'each topic (clients); replica_id >= 0 needs a service principal' }),
  [`${V1}.BrokerService/Metadata`]: perResource({
    resourceType: 'Topic',
    operation: 'Describe',
    note: 'topics not allowed are left out (asked by name: TOPIC_AUTHORIZATION_FAILED); brokers never auto-create topics',
  }),
  [`${V1}.BrokerService/InitProducerId`]: perResource(
    { resourceType: 'TransactionalId', operation: 'Write', note: 'with a transactional id' },
    { resourceType: 'Cluster', operation: 'IdempotentWrite', note: 'without one; else authorizeByResourceType(Write, Topic) (KIP-679)' },
  ),

  // Internal APIs: service principals only.
  [`${V1}.BrokerControlService/*`]: SERVICE,
  [`${V1}.BrokerToControllerService/*`]: SERVICE,
  [`${V1}.CoordinationService/*`]: SERVICE,

  // AdminService.
  [`${V1}.AdminService/CreateTopics`]: perResource({ resourceType: 'Cluster', operation: 'Create', note: 'all topics at once; else Topic Create per topic' }, { resourceType: 'Topic', operation: 'Create' }),
  [`${V1}.AdminService/DeleteTopics`]: perResource({ resourceType: 'Topic', operation: 'Delete' }),
  [`${V1}.AdminService/CreatePartitions`]: perResource({ resourceType: 'Topic', operation: 'Alter' }),
  [`${V1}.AdminService/ListTopics`]: perResource({ resourceType: 'Topic', operation: 'Describe', note: 'topics not allowed are left out' }),
  [`${V1}.AdminService/DescribeTopics`]: perResource({ resourceType: 'Topic', operation: 'Describe' }),
  [`${V1}.AdminService/DescribeConfigs`]: perResource({ resourceType: 'Topic', operation: 'DescribeConfigs' }),
  [`${V1}.AdminService/AlterConfigs`]: perResource({ resourceType: 'Topic', operation: 'AlterConfigs' }),
  [`${V1}.AdminService/DescribeCluster`]: cluster('Describe'),
  [`${V1}.AdminService/ElectLeaders`]: cluster('Alter'),
  [`${V1}.AdminService/AlterPartitionReassignments`]: cluster('Alter'),
  [`${V1}.AdminService/ListPartitionReassignments`]: cluster('Describe'),

  // AclService.
  [`${V1}.AclService/CreateAcls`]: cluster('Alter'),
  [`${V1}.AclService/DeleteAcls`]: cluster('Alter'),
  [`${V1}.AclService/DescribeAcls`]: cluster('Describe'),
  // UserAdminService (KIP-554: AlterUserScramCredentials needs Alter, Describe… Describe on the cluster).
  [`${V1}.UserAdminService/AlterUserScramCredentials`]: cluster('Alter'),
  [`${V1}.UserAdminService/DescribeUserScramCredentials`]: cluster('Describe'),
  // ClientQuotaService (KIP-546: AlterClientQuotas needs AlterConfigs, DescribeClientQuotas DescribeConfigs on the cluster).
  [`${V1}.ClientQuotaService/AlterClientQuotas`]: cluster('AlterConfigs'),
  [`${V1}.ClientQuotaService/DescribeClientQuotas`]: cluster('DescribeConfigs'),

  // GroupCoordinatorService.
  [`${V1}.GroupCoordinatorService/FindCoordinator`]: perResource({ resourceType: 'Group', operation: 'Describe', note: 'each key (a group id)' }),
  [`${V1}.GroupCoordinatorService/JoinGroup`]: group('Read'),
  [`${V1}.GroupCoordinatorService/SyncGroup`]: group('Read'),
  [`${V1}.GroupCoordinatorService/Heartbeat`]: group('Read'),
  [`${V1}.GroupCoordinatorService/LeaveGroup`]: group('Read'),
  [`${V1}.GroupCoordinatorService/OffsetCommit`]: group('Read', [{ resourceType: 'Topic', operation: 'Read', note: 'each topic' }]),
  [`${V1}.GroupCoordinatorService/OffsetFetch`]: group('Describe', [
    { resourceType: 'Topic', operation: 'Describe', note: 'named topics not allowed: TOPIC_AUTHORIZATION_FAILED per partition; all topics: the others left out' },
  ]),
  [`${V1}.GroupCoordinatorService/ListGroups`]: perResource({ resourceType: 'Cluster', operation: 'Describe', note: 'all groups; else only the groups with Group Describe' }, { resourceType: 'Group', operation: 'Describe' }),
  [`${V1}.GroupCoordinatorService/DescribeGroups`]: perResource({ resourceType: 'Group', operation: 'Describe' }),
  [`${V1}.GroupCoordinatorService/DeleteGroups`]: perResource({ resourceType: 'Group', operation: 'Delete' }),
} satisfies Record<string, AuthorizationRule>);

// ---------------------------------------------------------------------------------------------
// Errors

/** The Kafka code of a denial on a resource of `resourceType`. */
export function authorizationErrorCode(resourceType: ResourceType): ErrorCode {
  switch (resourceType) {
    case 'Topic':
      return ErrorCode.TOPIC_AUTHORIZATION_FAILED;
    case 'Group':
      return ErrorCode.GROUP_AUTHORIZATION_FAILED;
    case 'Cluster':
      return ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
    case 'TransactionalId':
      return ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
  }
}

/** The error of a denial (PERMISSION_DENIED over gRPC, with the Kafka code). */
export function authorizationError(principal: Principal, operation: AclOperation, resourceType: ResourceType, name: string): TributaryError {
  const what = resourceType === 'Cluster' ? 'the cluster' : `${resourceType} ${JSON.stringify(name)}`;
  return new TributaryError(
    authorizationErrorCode(resourceType),
    `${principal} is not authorized to ${operation} ${what}: ask an administrator for an ACL (tributary acls add --allow-principal ${principal} --operation ${operation} ...)`,
    { retriable: false },
  );
}

// ---------------------------------------------------------------------------------------------
// The interceptor

/** Service principals (what the authenticator gives authenticated super users) and the authorizer's super users. */
export function defaultIsServicePrincipal(authorizer: Authorizer): (principal: CallPrincipal) => boolean {
  return (p) => p.kind === 'service' || authorizer.isSuperUser(principalOf({ principal: p }));
}

export interface AuthorizationInterceptorOptions {
  /**
   * May `principal` call internal APIs? Default: service principals (what the authenticator
   * gives authenticated super users) and the authorizer's super users.
   */
  isServicePrincipal?: (principal: CallPrincipal) => boolean;
  /** Where refusals of internal APIs are logged (authorizer denials log through the authorizer). */
  logger?: Pick<Logger, 'info'>;
  /** Where refusals of internal APIs are counted, in `tributary_authorizer_denials_total`. */
  registry?: Registry;
}

/**
 * The interceptor enforcing `table` (see the file header). Put it last in the chain: it
 * checks the principal the others settled on.
 */
export function authorizationInterceptor(authorizer: Authorizer, table: AuthorizationTable, options: AuthorizationInterceptorOptions = {}): Interceptor {
  const isService = options.isServicePrincipal ?? defaultIsServicePrincipal(authorizer);
  const denials = options.registry
    ? getOrCreateCounter(options.registry, {
        name: 'tributary_authorizer_denials_total',
        help: 'Requests refused by the authorizer, by operation and resource type',
        labelNames: ['operation', 'resource_type'],
      })
    : undefined;
  return (_metadata, peer, info) => {
    const rule = ruleFor(table, info.method);
    const principal = principalOf(info);
    if (rule === undefined) {
      options.logger?.info({ principal, method: info.method }, 'authorization denied: the method has no authorization rule');
      return Promise.reject(
        new TributaryError(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, `${info.method} has no authorization rule (security/enforce.ts): refused while an authorizer is on`, { retriable: false }),
      );
    }
    switch (rule.kind) {
      case 'public':
      case 'perResource':
        return Promise.resolve();
      case 'servicePrincipal': {
        if (isService(info.principal)) return Promise.resolve();
        const host = hostOfPeer(peer);
        denials?.labels({ operation: 'ClusterAction', resource_type: 'Cluster' }).inc();
        options.logger?.info({ principal, host, operation: 'ClusterAction', resourceType: 'Cluster', resourceName: CLUSTER_RESOURCE_NAME, method: info.method }, 'authorization denied');
        return Promise.reject(
          new TributaryError(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, `${info.method} is an internal API: only service principals may call it, not ${principal}`, { retriable: false }),
        );
      }
      case 'resource': {
        // An empty name is authorized like any other (Kafka: the coordinator then answers
        // INVALID_GROUP_ID to those allowed); no name at all is a table mistake (a rule reading
        // a field of a request that streams): refused.
        const name = rule.resourceType === 'Cluster' ? CLUSTER_RESOURCE_NAME : rule.name?.(info.request);
        if (name === undefined) {
          return Promise.reject(
            new TributaryError(authorizationErrorCode(rule.resourceType), `${info.method}: its authorization rule finds no ${rule.resourceType} name in the request`, { retriable: false }),
          );
        }
        if (authorizer.authorize(principal, hostOfPeer(peer), rule.operation, rule.resourceType, name)) return Promise.resolve();
        return Promise.reject(authorizationError(principal, rule.operation, rule.resourceType, name));
      }
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Per-resource checks in handlers

/** The per-call authorization handlers reach through `ctx.authorization`. */
export interface CallAuthorization {
  /** `User:<name>` of the caller. */
  readonly principal: Principal;
  /** The caller's IP. */
  readonly host: string;
  /** Whether the caller is a service principal (may act as a replica: Fetch with replica_id >= 0). */
  readonly servicePrincipal: boolean;
  /** Is the caller allowed `operation` on the resource? (Denials logged and counted.) */
  authorize(operation: AclOperation, resourceType: ResourceType, name: string): boolean;
  /** Is the caller allowed `operation` on some resource of the type? (KIP-679.) */
  authorizeByResourceType(operation: AclOperation, resourceType: ResourceType): boolean;
}

/** Builds `ctx.authorization` of one call. */
export function callAuthorization(
  authorizer: Authorizer,
  principal: CallPrincipal,
  peer: string,
  isServicePrincipal: (principal: CallPrincipal) => boolean = defaultIsServicePrincipal(authorizer),
): CallAuthorization {
  const user = principalOf({ principal });
  const host = hostOfPeer(peer);
  return {
    principal: user,
    host,
    servicePrincipal: isServicePrincipal(principal),
    authorize: (operation, resourceType, name) => authorizer.authorize(user, host, operation, resourceType, name),
    authorizeByResourceType: (operation, resourceType) => authorizer.authorizeByResourceType(user, host, operation, resourceType),
  };
}

/** What the per-resource helpers need of a handler's CallContext. */
export interface AuthorizationContext {
  readonly authorization?: CallAuthorization | undefined;
}

/** Is the call's principal allowed `operation` on the resource? Always true with no authorizer. */
export function authorize(ctx: AuthorizationContext, operation: AclOperation, resourceType: ResourceType, name: string): boolean {
  return ctx.authorization?.authorize(operation, resourceType, name) ?? true;
}

/** Throws the Kafka authorization error of the resource type unless {@link authorize} allows it. */
export function requireAuthorized(ctx: AuthorizationContext, operation: AclOperation, resourceType: ResourceType, name: string): void {
  if (!authorize(ctx, operation, resourceType, name)) {
    throw authorizationError(ctx.authorization?.principal ?? 'User:ANONYMOUS', operation, resourceType, name);
  }
}

/**
 * Throws CLUSTER_AUTHORIZATION_FAILED unless the caller is a service principal (a Fetch or
 * OffsetsForLeaderEpoch with replica_id >= 0, i.e. a follower); nothing with no authorizer.
 */
export function requireServicePrincipal(ctx: AuthorizationContext, what: string): void {
  const authorization = ctx.authorization;
  if (authorization && !authorization.servicePrincipal) {
    throw new TributaryError(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, `${what} is for replicas: only service principals may ask it, not ${authorization.principal}`, { retriable: false });
  }
}

/**
 * The names the principal may `operation` (each distinct name checked once, order kept);
 * every name with no authorizer. Handlers answer the others TOPIC_AUTHORIZATION_FAILED (or
 * leave them out, as Metadata does).
 */
export function filterAllowed(ctx: AuthorizationContext, operation: AclOperation, resourceType: ResourceType, names: Iterable<string>): string[] {
  const list = [...names];
  const authorization = ctx.authorization;
  if (!authorization) return list;
  const decided = new Map<string, boolean>();
  return list.filter((name) => {
    let ok = decided.get(name);
    if (ok === undefined) {
      ok = authorization.authorize(operation, resourceType, name);
      decided.set(name, ok);
    }
    return ok;
  });
}

// ---------------------------------------------------------------------------------------------
// A service's authorizer from its config

/** A running authorizer and the ACL cache it reads. */
export interface ServiceAuthorizer {
  authorizer: Authorizer;
  cache: AclCache;
  /** Stops following ACL changes. */
  close(): void;
}

/**
 * Builds and starts a service's Authorizer over an AclCache following `/acls` in the
 * coordination store (a `CoordinationClient` is an `AclStoreClient`), from the security
 * settings; undefined when `--authorizer-enable` is off. Resolves once the ACLs are loaded,
 * so the first call is decided on them (pass `authorizer` to createGrpcServer).
 */
export async function startServiceAuthorizer(
  config: Pick<SecurityConfig, 'authorizerEnable' | 'superUsers' | 'allowEveryoneIfNoAclFound'>,
  deps: { client: AclStoreClient; logger: Logger; registry?: Registry },
): Promise<ServiceAuthorizer | undefined> {
  if (!config.authorizerEnable) return undefined;
  const logger = deps.logger.child({ component: 'authorizer' });
  const cache = new AclCache(deps.client, { logger });
  await cache.start();
  const registry = deps.registry;
  const authorizer = new Authorizer({
    acls: cache,
    superUsers: config.superUsers,
    allowEveryoneIfNoAclFound: config.allowEveryoneIfNoAclFound,
    logger,
    ...(registry ? { metrics: { counter: (o) => getOrCreateCounter(registry, o) } } : {}),
  });
  return { authorizer, cache, close: () => cache.stop() };
}
