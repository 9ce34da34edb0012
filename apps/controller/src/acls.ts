/**
 * The controller's AclService (proto/tributary/v1/acl.proto): Kafka's CreateAcls,
 * DescribeAcls and DeleteAcls over the ACLs in the coordination store (libs/runtime
 * AclStore: CAS writes plus change notifications every service's AclCache follows).
 *
 * Only the active controller answers; others throw NOT_CONTROLLER (the gRPC server maps it
 * to UNAVAILABLE with `tributary-error-code: 41`), as the AdminService does. Invalid
 * bindings and filters are per-item INVALID_REQUEST; a store failure fails the whole call.
 */
import type { AclBinding as WireBinding, AclServiceService, AclCreationResult, DeleteAclsFilterResult } from '@tributary/proto';
import { ErrorCode } from '@tributary/records';
import type { AclBinding, AclBindingFilter, AclStore, Logger, ServiceHandlers } from '@tributary/runtime';
import { InvalidAclError, bindingFromWire, bindingToWire, filterFromWire, patternSortKey } from '@tributary/runtime';
import { activeControllerGuard } from './active-only';

export interface AclHandlersOptions {
  store: AclStore;
  /** This controller's id, for NOT_CONTROLLER messages. */
  nodeId: number;
  /** Whether this controller is the active one. */
  isActive(): boolean;
  logger: Logger;
}

const invalid = (e: unknown): { errorCode: ErrorCode; errorMessage: string } => {
  if (e instanceof InvalidAclError) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: e.message };
  throw e;
};

const sorted = (bindings: AclBinding[]): WireBinding[] =>
  [...bindings].sort((a, b) => (patternSortKey(a.pattern) < patternSortKey(b.pattern) ? -1 : patternSortKey(a.pattern) > patternSortKey(b.pattern) ? 1 : 0)).map(bindingToWire);

export function aclHandlers(options: AclHandlersOptions): ServiceHandlers<typeof AclServiceService> {
  const { store, logger } = options;
  const requireActive = activeControllerGuard(options);
  return {
    createAcls: async (request, ctx) => {
      requireActive();
      const decoded: (AclBinding | InvalidAclError)[] = request.creations.map((w) => {
        try {
          return bindingFromWire(w);
        } catch (e) {
          if (e instanceof InvalidAclError) return e;
          throw e;
        }
      });
      const valid = decoded.filter((d): d is AclBinding => !(d instanceof InvalidAclError));
      const outcomes = await store.create(valid);
      let next = 0;
      const results: AclCreationResult[] = decoded.map((d) => {
        if (d instanceof InvalidAclError) return invalid(d);
        const outcome = outcomes[next++]!;
        return outcome.error ? invalid(outcome.error) : { errorCode: ErrorCode.NONE, errorMessage: '' };
      });
      const created = results.filter((r) => r.errorCode === ErrorCode.NONE).length;
      if (created > 0) logger.info({ principal: ctx.principal, created }, 'ACLs created');
      return { results };
    },

    describeAcls: async (request) => {
      requireActive();
      let filter: AclBindingFilter;
      try {
        filter = filterFromWire(request.filter);
      } catch (e) {
        return { ...invalid(e), acls: [] };
      }
      return { errorCode: ErrorCode.NONE, errorMessage: '', acls: sorted(await store.describe(filter)) };
    },

    deleteAcls: async (request, ctx) => {
      requireActive();
      const filters: (AclBindingFilter | InvalidAclError)[] = request.filters.map((w) => {
        try {
          return filterFromWire(w);
        } catch (e) {
          if (e instanceof InvalidAclError) return e;
          throw e;
        }
      });
      const valid = filters.filter((f): f is AclBindingFilter => !(f instanceof InvalidAclError));
      const deleted = await store.delete(valid);
      let next = 0;
      const filterResults: DeleteAclsFilterResult[] = filters.map((f) =>
        f instanceof InvalidAclError ? { ...invalid(f), matchingAcls: [] } : { errorCode: ErrorCode.NONE, errorMessage: '', matchingAcls: sorted(deleted[next++]!) },
      );
      const count = filterResults.reduce((n, r) => n + r.matchingAcls.length, 0);
      if (count > 0) logger.info({ principal: ctx.principal, deleted: count }, 'ACLs deleted');
      return { filterResults };
    },
  };
}
