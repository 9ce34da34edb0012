/**
 * The coordination service's request handling, independent of the transport: each gRPC
 * method of proto/tributary/v1/coordination.proto as an async function (unary) or async
 * generator (streams) over a Backend. Inputs are validated here (paths, data sizes, TTLs,
 * names) so a bad request is INVALID_ARGUMENT and never reaches the backend; failures are
 * CoordinationError, which grpc.ts turns into gRPC statuses.
 *
 * Concurrency: stateless apart from counters; every call is independent. Streams stop when
 * their AbortSignal fires (client gone, server shutting down).
 */
import type {
  CampaignRequest,
  CampaignResponse,
  ChildrenRequest,
  ChildrenResponse,
  CreateRequest,
  CreateResponse,
  DeleteRequest,
  DeleteResponse,
  ExecuteOperation,
  ExecuteResult,
  GetRequest,
  GetResponse,
  GrantRequest,
  GrantResponse,
  KeepAliveRequest,
  KeepAliveResponse,
  LeaderEvent,
  MultiRequest,
  MultiResponse,
  ObserveRequest,
  ResignRequest,
  ResignResponse,
  RevokeRequest,
  RevokeResponse,
  SetRequest,
  SetResponse,
  WatchEvent,
  WatchRequest,
} from '@tributary/proto';
import { WatchEvent_Type } from '@tributary/proto';
import type { Backend, Op } from './backend';
import { CoordinationError } from './backend';
import { campaign, observe, resign, validateElectionName } from './election';
import { MAX_DATA_BYTES, validateData, validatePath } from './paths';
import { watchPath } from './watch';

const MIN_TTL_MS = 1000;
const MAX_TTL_MS = 600_000;
/** Most ops in one Multi. */
const MAX_MULTI_OPS = 1000;

export interface ServiceCounters {
  /** Open Watch and Observe streams. */
  activeWatches: number;
}

export class CoordinationHandlers {
  readonly counters: ServiceCounters = { activeWatches: 0 };
  private readonly stopping = new AbortController();

  constructor(private readonly backend: Backend) {}

  /**
   * Ends every open stream and pending campaign (clients resume on another connection or
   * after the restart), so a graceful shutdown does not wait for long-lived calls.
   */
  closeStreams(): void {
    this.stopping.abort(new CoordinationError('UNAVAILABLE', 'the coordination service is shutting down'));
  }

  /** `signal`, also aborted when the service starts shutting down. */
  linkStop(signal: AbortSignal): AbortSignal {
    return this.withStop(signal);
  }

  private withStop(signal: AbortSignal): AbortSignal {
    return AbortSignal.any([signal, this.stopping.signal]);
  }

  async create(req: CreateRequest): Promise<CreateResponse> {
    const created = await this.backend.create(validatePath(req.path), validateData(req.data), {
      leaseId: validLeaseId(req.leaseId, true),
      sequential: req.sequential,
    });
    return { path: created.path, stat: created.stat };
  }

  async get(req: GetRequest): Promise<GetResponse> {
    const node = await this.backend.get(validatePath(req.path));
    return { data: node.data, stat: node.stat };
  }

  async set(req: SetRequest): Promise<SetResponse> {
    const stat = await this.backend.set(validatePath(req.path), validateData(req.data), validVersion(req.expectedVersion));
    return { stat };
  }

  async delete(req: DeleteRequest): Promise<DeleteResponse> {
    const path = validatePath(req.path);
    if (path === '/') throw new CoordinationError('INVALID_ARGUMENT', 'the root cannot be deleted');
    await this.backend.delete(path, validVersion(req.expectedVersion));
    return {};
  }

  async children(req: ChildrenRequest): Promise<ChildrenResponse> {
    const { names, stat } = await this.backend.children(validatePath(req.path));
    return { children: names, stat };
  }

  async multi(req: MultiRequest): Promise<MultiResponse> {
    if (req.ops.length === 0) return { results: [] };
    if (req.ops.length > MAX_MULTI_OPS) throw new CoordinationError('INVALID_ARGUMENT', `a multi holds at most ${MAX_MULTI_OPS} ops`);
    const ops: Op[] = req.ops.map((op, i): Op => {
      const o = op.op;
      try {
        switch (o?.$case) {
          case 'create':
            return {
              kind: 'create',
              path: validatePath(o.value.path),
              data: validateData(o.value.data),
              options: { leaseId: validLeaseId(o.value.leaseId, true), sequential: o.value.sequential },
            };
          case 'set':
            return { kind: 'set', path: validatePath(o.value.path), data: validateData(o.value.data), expectedVersion: validVersion(o.value.expectedVersion) };
          case 'delete':
            return { kind: 'delete', path: validatePath(o.value.path), expectedVersion: validVersion(o.value.expectedVersion) };
          case 'check':
            return { kind: 'check', path: validatePath(o.value.path), expectedVersion: validVersion(o.value.expectedVersion) };
          default:
            throw new CoordinationError('INVALID_ARGUMENT', 'an op must be one of create, set, delete, check');
        }
      } catch (e) {
        if (e instanceof CoordinationError) throw new CoordinationError(e.code, `op ${i}: ${e.message}`, i);
        throw e;
      }
    });
    const total = ops.reduce((n, op) => n + ('data' in op ? op.data.length : 0), 0);
    // ZooKeeper bounds a whole request (jute.maxbuffer), so a multi gets the same budget.
    if (total > MAX_DATA_BYTES) throw new CoordinationError('INVALID_ARGUMENT', `a multi carries at most ${MAX_DATA_BYTES} bytes of data, this one ${total}`);
    const results = await this.backend.multi(ops);
    return {
      results: results.map((r) => (r.kind === 'create' ? { path: r.path, stat: r.stat } : r.kind === 'set' ? { path: '', stat: r.stat } : { path: '' })),
    };
  }

  /**
   * Runs one operation of an Execute stream; never throws: failures become an `error`
   * result with the same code a unary call would carry.
   */
  async execute(req: ExecuteOperation): Promise<ExecuteResult> {
    const id = req.id;
    try {
      const op = req.op;
      switch (op?.$case) {
        case 'create':
          return { id, result: { $case: 'create', value: await this.create(op.value) } };
        case 'get':
          return { id, result: { $case: 'get', value: await this.get(op.value) } };
        case 'set':
          return { id, result: { $case: 'set', value: await this.set(op.value) } };
        case 'delete':
          return { id, result: { $case: 'delete', value: await this.delete(op.value) } };
        case 'children':
          return { id, result: { $case: 'children', value: await this.children(op.value) } };
        case 'multi':
          return { id, result: { $case: 'multi', value: await this.multi(op.value) } };
        default:
          throw new CoordinationError('INVALID_ARGUMENT', 'an Execute operation needs one of create, get, set, delete, children, multi');
      }
    } catch (e) {
      if (e instanceof CoordinationError) {
        return { id, result: { $case: 'error', value: { code: e.code, message: e.message, opIndex: e.opIndex ?? -1 } } };
      }
      return { id, result: { $case: 'error', value: { code: 'UNAVAILABLE', message: `unexpected failure: ${(e as Error).message}`, opIndex: -1 } } };
    }
  }

  async *watch(req: WatchRequest, signal: AbortSignal): AsyncGenerator<WatchEvent> {
    const path = validatePath(req.path);
    this.counters.activeWatches++;
    try {
      for await (const update of watchPath(this.backend, path, { children: req.children, fromRevision: req.fromRevision, signal: this.withStop(signal) })) {
        switch (update.type) {
          case 'node-changed':
            yield { type: WatchEvent_Type.TYPE_NODE_CHANGED, path, data: update.data, stat: update.stat, children: [], revision: update.revision };
            break;
          case 'children-changed':
            yield { type: WatchEvent_Type.TYPE_CHILDREN_CHANGED, path, data: Buffer.alloc(0), stat: update.stat, children: update.children, revision: update.revision };
            break;
          case 'node-deleted':
            yield { type: WatchEvent_Type.TYPE_NODE_DELETED, path, data: Buffer.alloc(0), children: [], revision: 0n };
            break;
        }
      }
    } finally {
      this.counters.activeWatches--;
    }
  }

  async grant(req: GrantRequest): Promise<GrantResponse> {
    if (!Number.isInteger(req.ttlMs) || req.ttlMs < MIN_TTL_MS || req.ttlMs > MAX_TTL_MS) {
      throw new CoordinationError('INVALID_ARGUMENT', `ttl_ms ${req.ttlMs} must be between ${MIN_TTL_MS} and ${MAX_TTL_MS}`);
    }
    const lease = await this.backend.grantLease(req.ttlMs);
    return { leaseId: lease.id, ttlMs: lease.ttlMs };
  }

  /** One answer per refresh; ends (throws LEASE_EXPIRED) when the lease is gone. */
  async *keepAlive(requests: AsyncIterable<KeepAliveRequest>, signal: AbortSignal): AsyncGenerator<KeepAliveResponse> {
    const stop = this.withStop(signal);
    for await (const req of requests) {
      if (stop.aborted) return;
      const lease = await this.backend.keepAlive(validLeaseId(req.leaseId, false));
      yield { leaseId: lease.id, ttlMs: lease.ttlMs };
    }
  }

  async revoke(req: RevokeRequest): Promise<RevokeResponse> {
    await this.backend.revokeLease(validLeaseId(req.leaseId, false));
    return {};
  }

  async campaign(req: CampaignRequest, signal: AbortSignal): Promise<CampaignResponse> {
    validateData(req.candidate);
    const leadership = await campaign(this.backend, validateElectionName(req.election), req.candidate, validLeaseId(req.leaseId, false), this.withStop(signal));
    return { leader: toLeaderEvent(leadership), key: leadership.key };
  }

  async resign(req: ResignRequest): Promise<ResignResponse> {
    await resign(this.backend, validateElectionName(req.election), req.key);
    return {};
  }

  async *observe(req: ObserveRequest, signal: AbortSignal): AsyncGenerator<LeaderEvent> {
    const name = validateElectionName(req.election);
    this.counters.activeWatches++;
    try {
      for await (const leadership of observe(this.backend, name, this.withStop(signal))) yield toLeaderEvent(leadership);
    } finally {
      this.counters.activeWatches--;
    }
  }
}

function toLeaderEvent(l: { election: string; leader: Buffer; term: bigint; key: string }): LeaderEvent {
  return { election: l.election, leader: l.leader, term: l.term, key: l.key };
}

function validVersion(v: number): number {
  if (!Number.isInteger(v) || v < -1) throw new CoordinationError('INVALID_ARGUMENT', `expected_version ${v} must be -1 (any) or a version ≥ 0`);
  return v;
}

function validLeaseId(id: bigint, zeroAllowed: boolean): bigint {
  if (id < 0n || (!zeroAllowed && id === 0n)) throw new CoordinationError('INVALID_ARGUMENT', `lease id ${id} is not valid`);
  return id;
}
