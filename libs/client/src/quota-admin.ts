/**
 * Client quota administration for {@link Admin}: Kafka's alterClientQuotas /
 * describeClientQuotas (KIP-546) over the active controller's ClientQuotaService
 * (proto/tributary/v1/quotas.proto), following the controller as every other Admin call does.
 *
 * An entity is `{ user?, clientId? }` (Kafka's ClientQuotaEntity with the entity types
 * `user` and `client-id`); `null` is the default entity of the type (`<default>`). A quota
 * op sets a value or, with `value: null`, removes it.
 */
import { ClientQuotaServiceClient } from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import type { ClientRequest, ClientResponse, MethodsOfKind, QuotaEntity, QuotaFilterComponent } from '@tributary/runtime';
import { describeEntity, entityFromWire, entityToWire, quotaFilterToWire, unary } from '@tributary/runtime';
import type { OnController } from './acl-admin';
import type { ResolvedClientOptions } from './config';
import type { ConnectionPool } from './connections';

export type { QuotaEntity as ClientQuotaEntity, QuotaFilterComponent as ClientQuotaFilterComponent } from '@tributary/runtime';

/** One change of a quota (Kafka's ClientQuotaAlteration.Op): `value` null removes it. */
export interface ClientQuotaOp {
  key: 'producer_byte_rate' | 'consumer_byte_rate' | 'request_percentage' | (string & {});
  value: number | null;
}

/** The changes of one entity (Kafka's ClientQuotaAlteration). */
export interface ClientQuotaAlteration {
  entity: QuotaEntity;
  ops: ClientQuotaOp[];
}

/** Which entities to describe (Kafka's ClientQuotaFilter): every component must match; `strict`: no other entity type. */
export interface ClientQuotaFilter {
  components?: QuotaFilterComponent[];
  strict?: boolean;
}

/** An entity and its quotas. */
export interface ClientQuotaEntry {
  entity: QuotaEntity;
  values: Record<string, number>;
}

/** Some entities could not be altered; `errors` maps each (as `user=…, client-id=…`) to why. The others were altered. */
export class ClientQuotaAlterationError extends TributaryError {
  readonly errors: ReadonlyMap<string, TributaryError>;

  constructor(errors: ReadonlyMap<string, TributaryError>) {
    const first = errors.values().next().value as TributaryError;
    super(first.code, `alterClientQuotas failed for ${errors.size} entit${errors.size === 1 ? 'y' : 'ies'}: ${[...errors].map(([k, e]) => `${k}: ${e.message}`).join('; ')}`, {
      cause: first,
      retriable: false,
    });
    this.name = 'ClientQuotaAlterationError';
    this.errors = errors;
  }
}

type QuotaMethod = MethodsOfKind<ClientQuotaServiceClient, 'unary'>;

export class QuotaAdmin {
  constructor(
    private readonly options: ResolvedClientOptions,
    private readonly onController: OnController,
    private readonly pool: ConnectionPool,
  ) {}

  /** Sets and removes quotas; rejects with ClientQuotaAlterationError naming the refused entities (each left unchanged). */
  async alterClientQuotas(alterations: readonly ClientQuotaAlteration[], options: { validateOnly?: boolean } = {}): Promise<void> {
    const entries = alterations.map((a) => ({
      entity: entityToWire(a.entity),
      ops: a.ops.map((o) => (o.value === null ? { key: o.key, value: 0, remove: true } : { key: o.key, value: o.value, remove: false })),
    }));
    const res = await this.call('alterClientQuotas', { entries, validateOnly: options.validateOnly ?? false });
    const errors = new Map<string, TributaryError>();
    res.entries.forEach((r, i) => {
      if (r.errorCode === ErrorCode.NONE) return;
      const a = alterations[i];
      const label = a && (a.entity.user !== undefined || a.entity.clientId !== undefined) ? describeEntity(a.entity) : `entry ${i}`;
      errors.set(label, new TributaryError(r.errorCode, r.errorMessage || ErrorCode[r.errorCode] || `error ${r.errorCode}`));
    });
    if (errors.size > 0) throw new ClientQuotaAlterationError(errors);
  }

  /** The quotas of the entities matching `filter` (default: every entity with a quota), sorted by entity. */
  async describeClientQuotas(filter: ClientQuotaFilter = {}): Promise<ClientQuotaEntry[]> {
    const res = await this.call('describeClientQuotas', { components: quotaFilterToWire(filter.components ?? []), strict: filter.strict ?? false });
    if (res.errorCode !== ErrorCode.NONE) throw new TributaryError(res.errorCode, `describeClientQuotas failed: ${res.errorMessage}`);
    return res.entries.map((e) => ({ entity: entityFromWire(e.entity), values: Object.fromEntries(e.values.map((v) => [v.key, v.value])) }));
  }

  private call<M extends QuotaMethod>(method: M, request: ClientRequest<ClientQuotaServiceClient, M>): Promise<ClientResponse<ClientQuotaServiceClient, M>> {
    // The pool's channel: the client's TLS, login and client id, closed with the pool.
    return this.onController(method, (address) => unary(this.pool.service(ClientQuotaServiceClient, address), method, request, { deadlineMs: this.options.requestTimeoutMs }));
  }
}
