/**
 * Finding and following a group's coordinator (Kafka's `lookupCoordinator` /
 * `markCoordinatorUnknown`), shared by the group Consumer and Admin's group calls.
 *
 * Brokers list the group coordinator instances in their Metadata answers
 * (`group_coordinators`). FindCoordinator(group) goes to any of them (a random one first,
 * then the others); the answer names the instance that owns the group's `__consumer_offsets`
 * partition, and every call for the group goes there. When that instance answers
 * NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE (ownership moved, or it is unloading), or
 * cannot be reached, the cached coordinator is forgotten and found again; when no listed
 * instance answers FindCoordinator, metadata is refreshed first. COORDINATOR_LOAD_IN_PROGRESS
 * is retried at the same instance after a backoff. Backoff: retry.backoff.ms doubling to
 * retry.backoff.max.ms, until the caller's deadline.
 *
 * Concurrency: single-threaded; concurrent lookups of one group share one FindCoordinator.
 */
import { CoordinatorKeyType, type GroupCoordinatorServiceClient } from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import { GrpcStatusError, Status, abortableSleep } from '@tributary/runtime';
import type { ClientRequest, ClientResponse, MethodsOfKind } from '@tributary/runtime';
import type { ResolvedClientOptions } from './config';
import { retryDelayMs } from './config';
import type { ConnectionPool } from './connections';
import { ClientClosedError, ClientTimeoutError, START_HINT } from './errors';
import type { Metadata } from './metadata';

/** A group's coordinator, as FindCoordinator named it. */
export interface CoordinatorNode {
  nodeId: number;
  host: string;
  port: number;
  /** `host:port`. */
  address: string;
}

/** Methods of GroupCoordinatorService. */
export type GroupMethod = MethodsOfKind<GroupCoordinatorServiceClient, 'unary'>;

/** Whether a group call's error code means "find the coordinator again". */
export function isCoordinatorMoved(code: ErrorCode): boolean {
  return code === ErrorCode.NOT_COORDINATOR || code === ErrorCode.COORDINATOR_NOT_AVAILABLE;
}

/** Whether a call failure (not an answer) means the coordinator may have gone: rediscover and retry. */
function isUnreachable(e: unknown): boolean {
  if (e instanceof GrpcStatusError) return e.code === Status.UNAVAILABLE || e.code === Status.DEADLINE_EXCEEDED || e.code === Status.CANCELLED;
  if (e instanceof TributaryError) return e.retriable;
  return false;
}

type Options = Pick<ResolvedClientOptions, 'requestTimeoutMs' | 'retryBackoffMs' | 'retryBackoffMaxMs' | 'logger'>;

/** The coordinators of the groups one client uses. */
export class GroupCoordinators {
  private readonly known = new Map<string, CoordinatorNode>();
  private readonly lookups = new Map<string, Promise<CoordinatorNode>>();

  constructor(
    private readonly options: Options,
    private readonly metadata: Metadata,
    private readonly pool: ConnectionPool,
  ) {}

  /** The cached coordinator of `groupId`, if any. */
  cached(groupId: string): CoordinatorNode | undefined {
    return this.known.get(groupId);
  }

  /** Forgets the coordinator of `groupId` (the next call finds it again). */
  markUnknown(groupId: string): void {
    this.known.delete(groupId);
  }

  /**
   * The coordinator of `groupId`, asking FindCoordinator when none is cached, retrying
   * until `deadlineMs` (ClientTimeoutError then, saying whether any instance is registered).
   */
  find(groupId: string, deadlineMs: number, signal?: AbortSignal): Promise<CoordinatorNode> {
    const cached = this.known.get(groupId);
    if (cached !== undefined) return Promise.resolve(cached);
    let lookup = this.lookups.get(groupId);
    if (lookup === undefined) {
      lookup = this.lookup(groupId, deadlineMs, signal).finally(() => this.lookups.delete(groupId));
      this.lookups.set(groupId, lookup);
    }
    return lookup;
  }

  /**
   * Calls `method` at the coordinator of `groupId`, following it (see the file comment) until
   * `deadlineMs` (each attempt bounded by `callTimeoutMs`, default request.timeout.ms capped
   * at the deadline: a JoinGroup waits for a whole rebalance). `errorOf` reads the answer's coordinator-level error (NONE if none); answers
   * with any other error are returned for the caller to handle.
   */
  async call<M extends GroupMethod>(
    groupId: string,
    method: M,
    request: ClientRequest<GroupCoordinatorServiceClient, M>,
    errorOf: (response: ClientResponse<GroupCoordinatorServiceClient, M>) => ErrorCode,
    options: { deadlineMs: number; callTimeoutMs?: number; signal?: AbortSignal },
  ): Promise<ClientResponse<GroupCoordinatorServiceClient, M>> {
    let lastError: unknown;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await this.backOff(attempt - 1, options.deadlineMs, options.signal, () => `${method} for group '${groupId}'`, lastError);
      const node = await this.find(groupId, options.deadlineMs, options.signal);
      try {
        const response = await this.pool.call(
          this.pool.groupCoordinator(node.address),
          method,
          request,
          options.callTimeoutMs ?? Math.max(1, Math.min(this.options.requestTimeoutMs, options.deadlineMs - Date.now())),
          options.signal,
        );
        const code = errorOf(response);
        if (isCoordinatorMoved(code)) {
          this.markUnknown(groupId);
          lastError = new TributaryError(code, `coordinator ${node.nodeId} at ${node.address} answered ${ErrorCode[code]}`);
          continue;
        }
        if (code === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) {
          lastError = new TributaryError(code, `coordinator ${node.nodeId} is still loading the group`);
          continue;
        }
        return response;
      } catch (e) {
        if (options.signal?.aborted) throw e;
        if (!isUnreachable(e)) throw e;
        this.options.logger.debug({ groupId, method, coordinator: node.address, err: e }, 'group coordinator unreachable: finding it again');
        this.markUnknown(groupId);
        lastError = e;
      }
    }
  }

  // ---- internals -------------------------------------------------------------------------

  private async backOff(attempt: number, deadlineMs: number, signal: AbortSignal | undefined, what: () => string, lastError: unknown): Promise<void> {
    const now = Date.now();
    if (now >= deadlineMs) {
      const why = lastError instanceof Error ? lastError.message : 'no answer';
      throw new ClientTimeoutError(`${what()} did not complete in time (last: ${why})`, lastError);
    }
    await abortableSleep(Math.min(retryDelayMs(this.options, attempt), deadlineMs - now), signal ?? this.metadata.signal).catch(() => {
      throw signal?.reason instanceof Error ? signal.reason : new ClientClosedError('client');
    });
  }

  private async lookup(groupId: string, deadlineMs: number, signal: AbortSignal | undefined): Promise<CoordinatorNode> {
    let lastError: unknown;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        await this.backOff(attempt - 1, deadlineMs, signal, () => this.lookupFailure(groupId), lastError);
      }
      if (this.metadata.lastRefreshMs === 0 || this.metadata.groupCoordinators.length === 0 || attempt > 0) {
        try {
          await this.metadata.refresh();
        } catch (e) {
          if (this.metadata.closed) throw e;
          lastError = e;
          continue;
        }
      }
      const instances = [...this.metadata.groupCoordinators];
      if (instances.length === 0) {
        lastError = new TributaryError(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'the brokers list no group coordinator instance');
        continue;
      }
      const start = Math.floor(Math.random() * instances.length);
      for (let i = 0; i < instances.length; i++) {
        const instance = instances[(start + i) % instances.length]!;
        try {
          const response = await this.pool.call(
            this.pool.groupCoordinator(instance.address),
            'findCoordinator',
            { keyType: CoordinatorKeyType.COORDINATOR_KEY_TYPE_GROUP, coordinatorKeys: [groupId] },
            Math.max(1, Math.min(this.options.requestTimeoutMs, deadlineMs - Date.now())),
            signal,
          );
          const c = response.coordinators.find((x) => x.key === groupId) ?? response.coordinators[0];
          if (c === undefined) {
            lastError = new TributaryError(ErrorCode.COORDINATOR_NOT_AVAILABLE, `instance ${instance.id} gave no answer for group '${groupId}'`);
            continue;
          }
          if (c.errorCode !== ErrorCode.NONE) {
            lastError = new TributaryError(c.errorCode, c.errorMessage || (ErrorCode[c.errorCode] ?? `error ${c.errorCode}`));
            // Retrying cannot fix these (Kafka's client: InvalidGroupIdException, GroupAuthorizationException at once).
            if (c.errorCode === ErrorCode.INVALID_REQUEST || c.errorCode === ErrorCode.INVALID_GROUP_ID || c.errorCode === ErrorCode.GROUP_AUTHORIZATION_FAILED) throw lastError;
            break; // the instances share one view of ownership: asking another now would answer the same
          }
          const node = { nodeId: c.nodeId, host: c.host, port: c.port, address: `${c.host}:${c.port}` };
          this.known.set(groupId, node);
          return node;
        } catch (e) {
          if (signal?.aborted || (e instanceof TributaryError && !e.retriable)) throw e;
          lastError = e;
          this.options.logger.debug({ groupId, instance: instance.address, err: e }, 'FindCoordinator failed');
        }
      }
    }
  }

  private lookupFailure(groupId: string): string {
    if (this.metadata.groupCoordinators.length === 0) {
      return `finding the coordinator of group '${groupId}': no group coordinator is registered (is apps/group-coordinator running? ${START_HINT})`;
    }
    return `finding the coordinator of group '${groupId}'`;
  }
}
