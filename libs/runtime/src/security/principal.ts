import type { Principal as CallPrincipal } from '../grpc-server';

/**
 * A Kafka-style principal: `User:<name>`. Shared by authentication (who is calling) and the
 * authorizer (what they may do). Kept a plain string so it travels through logs, ACL entries
 * and the coordination store unchanged, as Kafka's `KafkaPrincipal.toString()` does.
 */
export type Principal = string;

/** The principal type prefix every principal carries (Kafka's `KafkaPrincipal.USER_TYPE`). */
export const USER_PRINCIPAL_TYPE = 'User';

/** The principal of a caller that did not authenticate (Kafka's `KafkaPrincipal.ANONYMOUS`). */
export const ANONYMOUS_PRINCIPAL: Principal = 'User:ANONYMOUS';

/** `User:<name>` for a user name. */
export function userPrincipal(name: string): Principal {
  return `${USER_PRINCIPAL_TYPE}:${name}`;
}

/** The user name of a `User:<name>` principal, or undefined when it is not a user principal. */
export function principalName(principal: Principal): string | undefined {
  const prefix = `${USER_PRINCIPAL_TYPE}:`;
  return principal.startsWith(prefix) ? principal.slice(prefix.length) : undefined;
}

/**
 * The `User:<name>` principal of a call, from its handler context (`principalOf(ctx)`):
 * authenticated users and services by name, `User:ANONYMOUS` otherwise.
 */
export function principalOf(ctx: { readonly principal: CallPrincipal }): Principal {
  return ctx.principal.kind === 'anonymous' ? ANONYMOUS_PRINCIPAL : userPrincipal(ctx.principal.name);
}
