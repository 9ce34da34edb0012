/**
 * The controller's ClientQuotaService (proto/tributary/v1/quotas.proto): Kafka's
 * AlterClientQuotas and DescribeClientQuotas (KIP-546) over the quotas in the coordination
 * store (libs/runtime QuotaStore: CAS writes that keep the keys they do not own, such as SCRAM
 * credentials, plus change notifications every broker's QuotaCache follows).
 *
 * Only the active controller answers; others throw NOT_CONTROLLER, as the AclService does.
 * A bad entity, key or value is that entry's INVALID_REQUEST (nothing of it written); a bad
 * filter is the response's INVALID_REQUEST; a store failure fails the whole call.
 */
import type { AlterClientQuotasEntryResult, ClientQuotaServiceService } from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import type { Logger, QuotaEntity, QuotaFilterComponent, QuotaOp, QuotaStore, ServiceHandlers } from '@tributary/runtime';
import { QUOTA_KEYS, describeEntity, entityFromWire, entityToWire, quotaFilterFromWire } from '@tributary/runtime';
import { activeControllerGuard } from './active-only';

export interface QuotaHandlersOptions {
  store: QuotaStore;
  /** This controller's id, for NOT_CONTROLLER messages. */
  nodeId: number;
  /** Whether this controller is the active one. */
  isActive(): boolean;
  logger: Logger;
}

const isInvalid = (e: unknown): e is TributaryError => e instanceof TributaryError && e.code === ErrorCode.INVALID_REQUEST;

export function quotaHandlers(options: QuotaHandlersOptions): ServiceHandlers<typeof ClientQuotaServiceService> {
  const { store, logger } = options;
  const requireActive = activeControllerGuard(options);
  return {
    alterClientQuotas: async (request, ctx) => {
      requireActive();
      const results: AlterClientQuotasEntryResult[] = [];
      const seen = new Set<string>();
      for (const entry of request.entries) {
        try {
          const entity: QuotaEntity = entityFromWire(entry.entity);
          const label = describeEntity(entity);
          if (seen.has(label)) throw new TributaryError(ErrorCode.INVALID_REQUEST, `the entity ${label} is altered more than once in the request: alter it once`);
          seen.add(label);
          const ops: QuotaOp[] = entry.ops.map((o) => (o.remove ? { key: o.key } : { key: o.key, value: o.value }));
          await store.alter(entity, ops, request.validateOnly);
          if (!request.validateOnly && ops.length > 0) {
            logger.info({ principal: ctx.principal, entity: label, ops: ops.map((o) => (o.value === undefined ? `-${o.key}` : `${o.key}=${o.value}`)) }, 'client quotas altered');
          }
          results.push({ errorCode: ErrorCode.NONE, errorMessage: '', entity: entry.entity });
        } catch (e) {
          if (!isInvalid(e)) throw e;
          results.push({ errorCode: e.code, errorMessage: e.message, entity: entry.entity });
        }
      }
      return { entries: results };
    },

    describeClientQuotas: async (request) => {
      requireActive();
      let filter: QuotaFilterComponent[];
      try {
        filter = quotaFilterFromWire(request.components);
      } catch (e) {
        if (!isInvalid(e)) throw e;
        return { errorCode: e.code, errorMessage: e.message, entries: [] };
      }
      const entries = (await store.describe(filter, request.strict)).map((e) => ({
        entity: entityToWire(e.entity),
        values: QUOTA_KEYS.filter((k) => e.values[k] !== undefined).map((key) => ({ key, value: e.values[key]! })),
      }));
      return { errorCode: ErrorCode.NONE, errorMessage: '', entries };
    },
  };
}
