/**
 * Per-resource authorization of requests naming several resources (Produce, Fetch,
 * ListOffsets per topic; DescribeGroups per group; ...), for handlers: split what the request
 * names into the items the caller may act on and the others, let the handler answer the
 * allowed ones, and put the denied answers (the Kafka error of the resource type) back in
 * request order. Kafka answers per resource, never by failing the whole call.
 *
 * Cost: one authorizer check per distinct name ({@link filterAllowed}); nothing at all, and
 * no allocation, when the server has no authorizer or every name is allowed (the request is
 * then used as it is). The split works per topic / group: never per partition or record.
 */
import type { AclOperation, ResourceType } from './acl';
import type { ErrorCode } from '@tributary/records';
import { authorizationError, authorizationErrorCode, filterAllowed, type AuthorizationContext } from './enforce';

/** The items of a request the caller may act on, and the names of the others. */
export interface AuthorizedSplit<T> {
  /** The allowed items, in request order. */
  readonly allowed: T[];
  /** Names of the refused items (non-empty). */
  readonly denied: ReadonlySet<string>;
}

/**
 * Splits `items` by whether the caller may `operation` the resource each names. Undefined when
 * every item is allowed (or there is no authorizer): answer the request unchanged.
 */
export function splitAuthorized<T>(
  ctx: AuthorizationContext,
  operation: AclOperation,
  resourceType: ResourceType,
  items: readonly T[],
  nameOf: (item: T) => string,
): AuthorizedSplit<T> | undefined {
  if (!ctx.authorization || items.length === 0) return undefined;
  const names = items.map(nameOf);
  const allowedNames = new Set(filterAllowed(ctx, operation, resourceType, names));
  let denied: Set<string> | undefined;
  for (const name of names) if (!allowedNames.has(name)) (denied ??= new Set()).add(name);
  if (!denied) return undefined;
  const refused = denied;
  return { allowed: items.filter((_, i) => !refused.has(names[i]!)), denied: refused };
}

/**
 * The answers to `items` in request order: `answered[k]` for the k-th allowed item (the
 * handler answered `split.allowed` one for one, in order), `deny(item)` for the others.
 */
export function mergeAuthorized<T, R>(items: readonly T[], split: AuthorizedSplit<T>, nameOf: (item: T) => string, answered: readonly R[], deny: (item: T) => R): R[] {
  let next = 0;
  return items.map((item) => (split.denied.has(nameOf(item)) ? deny(item) : answered[next++]!));
}

/** The per-resource answer to a refused resource: the Kafka code of its type and what to do. */
export interface Refusal {
  errorCode: ErrorCode;
  errorMessage: string;
}

/**
 * For handlers that answer resource by resource in a loop (DeleteTopics, DescribeGroups, ...):
 * checks every distinct name of `names` once and returns the refusal of a name, undefined for
 * the allowed ones (always undefined with no authorizer).
 */
export function refusalsOf(ctx: AuthorizationContext, operation: AclOperation, resourceType: ResourceType, names: Iterable<string>): (name: string) => Refusal | undefined {
  const authorization = ctx.authorization;
  if (!authorization) return () => undefined;
  const list = [...names];
  const allowed = new Set(filterAllowed(ctx, operation, resourceType, list));
  if (allowed.size === new Set(list).size) return () => undefined;
  const errorCode = authorizationErrorCode(resourceType);
  return (name) => (allowed.has(name) ? undefined : { errorCode, errorMessage: authorizationError(authorization.principal, operation, resourceType, name).message });
}
