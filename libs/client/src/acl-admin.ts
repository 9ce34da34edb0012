/**
 * ACL administration for {@link Admin}: Kafka's createAcls / describeAcls / deleteAcls over
 * the active controller's AclService (proto/tributary/v1/acl.proto), following the
 * controller as every other Admin call does (NOT_CONTROLLER or unreachable: refresh
 * metadata and retry). Bindings and filters are the runtime's ACL model (Kafka's names:
 * `{ pattern: { resourceType: 'Topic', name: 'orders', patternType: 'LITERAL' }, entry: {
 * principal: 'User:alice', host: '*', operation: 'Read', permissionType: 'Allow' } }`).
 */
import { AclServiceClient } from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import type { AclBinding, AclBindingFilter, ClientRequest, ClientResponse, MethodsOfKind } from '@tributary/runtime';
import { bindingFromWire, bindingToWire, filterToWire, unary } from '@tributary/runtime';
import type { ResolvedClientOptions } from './config';
import type { ConnectionPool } from './connections';

export type { AclBinding, AclBindingFilter } from '@tributary/runtime';

type AclMethod = MethodsOfKind<AclServiceClient, 'unary'>;

/** Runs `call` against the active controller's address, following it (Admin's loop). */
export type OnController = <T>(method: string, call: (address: string) => Promise<T>) => Promise<T>;

/** Some bindings or filters were refused; `errors` maps their index in the request to why. */
export class AclOperationError extends TributaryError {
  readonly errors: ReadonlyMap<number, TributaryError>;

  constructor(operation: string, errors: ReadonlyMap<number, TributaryError>) {
    const first = errors.values().next().value as TributaryError;
    const lines = [...errors].map(([i, e]) => `#${i + 1}: ${e.message}`);
    super(first.code, `${operation} failed for ${errors.size} of the request's items: ${lines.join('; ')}`, { cause: first, retriable: false });
    this.name = 'AclOperationError';
    this.errors = errors;
  }
}

export class AclAdmin {

  constructor(
    private readonly options: ResolvedClientOptions,
    private readonly onController: OnController,
    private readonly pool: ConnectionPool,
  ) {}

  /** Creates ACL bindings (existing ones stay as they are). Rejects with AclOperationError naming the invalid ones; the others were created. */
  async createAcls(bindings: readonly AclBinding[]): Promise<void> {
    const { results } = await this.call('createAcls', { creations: bindings.map(bindingToWire) });
    const errors = new Map<number, TributaryError>();
    results.forEach((r, i) => {
      if (r.errorCode !== ErrorCode.NONE) errors.set(i, new TributaryError(r.errorCode, r.errorMessage || ErrorCode[r.errorCode] || `error ${r.errorCode}`));
    });
    if (errors.size > 0) throw new AclOperationError('createAcls', errors);
  }

  /** The bindings matching `filter`, sorted by resource. */
  async describeAcls(filter: AclBindingFilter): Promise<AclBinding[]> {
    const res = await this.call('describeAcls', { filter: filterToWire(filter) });
    if (res.errorCode !== ErrorCode.NONE) throw new TributaryError(res.errorCode, `describeAcls failed: ${res.errorMessage}`);
    return res.acls.map(bindingFromWire);
  }

  /** Deletes every binding matching any filter; returns, per filter, the bindings it deleted. */
  async deleteAcls(filters: readonly AclBindingFilter[]): Promise<AclBinding[][]> {
    const { filterResults } = await this.call('deleteAcls', { filters: filters.map(filterToWire) });
    const errors = new Map<number, TributaryError>();
    filterResults.forEach((r, i) => {
      if (r.errorCode !== ErrorCode.NONE) errors.set(i, new TributaryError(r.errorCode, r.errorMessage));
    });
    if (errors.size > 0) throw new AclOperationError('deleteAcls', errors);
    return filterResults.map((r) => r.matchingAcls.map(bindingFromWire));
  }


  private call<M extends AclMethod>(method: M, request: ClientRequest<AclServiceClient, M>): Promise<ClientResponse<AclServiceClient, M>> {
    return this.onController(method, (address) => {
      return unary(this.pool.service(AclServiceClient, address), method, request, { deadlineMs: this.options.requestTimeoutMs });
    });
  }
}
