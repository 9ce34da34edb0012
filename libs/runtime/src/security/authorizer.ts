/**
 * The Authorizer: Kafka's AclAuthorizer decision over the ACLs an {@link AclCache} follows.
 *
 * `authorize(principal, host, operation, resourceType, resourceName)` is synchronous and
 * reads only the cache's index (the literal name, the literal `*` and the prefixes that
 * exist), so an interceptor can call it per RPC (and per topic of a request). Super users
 * are always allowed; with no ACL on a resource `allowEveryoneIfNoAclFound` decides
 * (Kafka's `allow.everyone.if.no.acl.found`, default false). Denials are logged
 * (principal, host, operation, resource: nothing else of the request) and counted in
 * `tributary_authorizer_denials_total{operation,resource_type}`; allowed decisions in
 * `tributary_authorizer_allowed_total{operation,resource_type}`.
 */
import type { Counter } from 'prom-client';
import type { Metrics } from '../metrics';
import type { AclOperation, Principal, ResourceType } from './acl';
import { InvalidAclError, WILDCARD_HOST, WILDCARD_PRINCIPAL, WILDCARD_RESOURCE, decide, validatePrincipal } from './acl';
import type { AclCache } from './acl-store';

/** Where the authorizer finds ACLs (an AclCache, or a fixed index in unit tests). */
export type AclSource = Pick<AclCache, 'matchingEntries' | 'bindingsOfType'>;

export interface AuthorizerOptions {
  acls: AclSource;
  /** Kafka's `super.users`: principals (`User:admin`) allowed everything. */
  superUsers?: readonly Principal[];
  /** Kafka's `allow.everyone.if.no.acl.found` (default false). */
  allowEveryoneIfNoAclFound?: boolean;
  logger?: { info(fields: object, msg: string): void };
  metrics?: Pick<Metrics, 'counter'>;
}

export class Authorizer {
  private readonly superUsers: ReadonlySet<Principal>;
  private readonly allowEveryone: boolean;
  private readonly denials: Counter<'operation' | 'resource_type'> | undefined;
  private readonly allowed: Counter<'operation' | 'resource_type'> | undefined;
  private readonly denialChildren = new Map<string, { inc(): void }>();
  private readonly allowedChildren = new Map<string, { inc(): void }>();

  constructor(private readonly options: AuthorizerOptions) {
    this.superUsers = new Set(options.superUsers ?? []);
    this.allowEveryone = options.allowEveryoneIfNoAclFound ?? false;
    this.denials = options.metrics?.counter({
      name: 'tributary_authorizer_denials_total',
      help: 'Requests refused by the authorizer, by operation and resource type',
      labelNames: ['operation', 'resource_type'],
    });
    this.allowed = options.metrics?.counter({
      name: 'tributary_authorizer_allowed_total',
      help: 'Authorization checks allowed by the authorizer (super users included), by operation and resource type',
      labelNames: ['operation', 'resource_type'],
    });
  }

  /** The labelled series, created once per (operation, type): no label hashing per check. */
  private child(
    cache: Map<string, { inc(): void }>,
    counter: Counter<'operation' | 'resource_type'> | undefined,
    operation: AclOperation,
    resourceType: ResourceType,
  ): { inc(): void } | undefined {
    if (!counter) return undefined;
    const key = `${operation}/${resourceType}`;
    let series = cache.get(key);
    if (!series) {
      series = counter.labels({ operation, resource_type: resourceType });
      cache.set(key, series);
    }
    return series;
  }

  isSuperUser(principal: Principal): boolean {
    return this.superUsers.has(principal);
  }

  /** Is `principal` connecting from `host` (an IP address) allowed `operation` on the resource? */
  authorize(principal: Principal, host: string, operation: AclOperation, resourceType: ResourceType, resourceName: string): boolean {
    const ok =
      this.isSuperUser(principal) || decide(this.options.acls.matchingEntries(resourceType, resourceName), principal, host, operation, this.allowEveryone);
    this.record(ok, principal, host, operation, resourceType, resourceName);
    return ok;
  }

  /**
   * Kafka's Authorizer.authorizeByResourceType: may the principal perform `operation` on at
   * least one resource of the type? (E.g. InitProducerId without a transactional id: Write on
   * any topic, KIP-679.) Allowed when the check of an unnamed resource is (super user, or no
   * ACL with allow.everyone, or Allow on `*`), or when some Allow pattern is not covered by a
   * Deny (literal of the same name, or a prefix of it). Not logged or counted: the caller
   * records the resulting decision.
   */
  authorizeByResourceType(principal: Principal, host: string, operation: AclOperation, resourceType: ResourceType): boolean {
    if (this.isSuperUser(principal)) return true;
    if (decide(this.options.acls.matchingEntries(resourceType, '\u0000unnamed'), principal, host, operation, this.allowEveryone)) return true;
    const deny = { literal: new Set<string>(), prefixed: new Set<string>() };
    const allow = { literal: new Set<string>(), prefixed: new Set<string>() };
    let wildcardAllow = false;
    for (const { pattern, entry } of this.options.acls.bindingsOfType(resourceType)) {
      if (entry.host !== host && entry.host !== WILDCARD_HOST) continue;
      if (entry.principal !== principal && entry.principal !== WILDCARD_PRINCIPAL) continue;
      if (entry.operation !== operation && entry.operation !== 'All') continue;
      const sets = entry.permissionType === 'Deny' ? deny : allow;
      if (pattern.patternType === 'LITERAL') {
        if (pattern.name === WILDCARD_RESOURCE) {
          if (entry.permissionType === 'Deny') return false;
          wildcardAllow = true;
          continue;
        }
        sets.literal.add(pattern.name);
      } else sets.prefixed.add(pattern.name);
    }
    if (wildcardAllow) return true;
    const deniedByPrefix = (name: string): boolean => {
      for (let i = 1; i <= name.length; i++) if (deny.prefixed.has(name.slice(0, i))) return true;
      return false;
    };
    for (const name of allow.literal) if (!deny.literal.has(name) && !deniedByPrefix(name)) return true;
    for (const name of allow.prefixed) if (!deniedByPrefix(name)) return true;
    return false;
  }

  private record(ok: boolean, principal: Principal, host: string, operation: AclOperation, resourceType: ResourceType, resourceName: string): void {
    if (ok) {
      this.child(this.allowedChildren, this.allowed, operation, resourceType)?.inc();
      return;
    }
    this.child(this.denialChildren, this.denials, operation, resourceType)?.inc();
    this.options.logger?.info({ principal, host, operation, resourceType, resourceName }, 'authorization denied');
  }
}

/**
 * Kafka's `super.users` value: principals separated by `;` (`User:admin;User:ops`), blanks
 * ignored. Throws InvalidAclError naming a malformed one, for the config loader to report.
 */
export function parseSuperUsers(value: string): Principal[] {
  const principals = value
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  for (const p of principals) {
    validatePrincipal(p);
    if (p === WILDCARD_PRINCIPAL) throw new InvalidAclError('super.users cannot be User:* (that would make every user a super user; use allow.everyone.if.no.acl.found or ACLs)');
  }
  return principals;
}

/** The client IP of a grpc-js peer string (`ipv4:127.0.0.1:5342`, `ipv6:[::1]:5342`, `127.0.0.1:5342`). */
export function hostOfPeer(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, '');
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(bare);
  if (bracketed) return bracketed[1]!;
  const lastColon = bare.lastIndexOf(':');
  return lastColon > 0 && bare.indexOf(':') === lastColon ? bare.slice(0, lastColon) : bare;
}
