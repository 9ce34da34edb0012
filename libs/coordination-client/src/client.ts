/**
 * CoordinationClient: what every Tributary service uses to keep its state and liveness in
 * the coordination service (proto/tributary/v1/coordination.proto).
 *
 * - Typed promise calls with a default deadline; failures are CoordinationClientError with
 *   the service's precise code (NODE_EXISTS, NO_NODE, BAD_VERSION, NOT_EMPTY,
 *   LEASE_EXPIRED, INVALID_ARGUMENT) or UNAVAILABLE for anything transient.
 * - `cas(path, update)`: read-modify-write retried on BAD_VERSION / NODE_EXISTS / NO_NODE.
 * - `grantLease(ttlMs)`: a lease kept alive in the background (a KeepAlive stream, a refresh
 *   every ttl/3, re-opened after errors) until revoked, or until the service says it expired
 *   (then `expired` resolves — whoever relied on it must stop acting on it).
 * - `watch(path, ...)`: a Watch stream re-established after errors, resuming from the last
 *   revision received, so no change is missed across reconnects.
 * - `campaign` / `observe` for elections; `Election` (election.ts) wraps them.
 */
import { Metadata, credentials as grpcCredentials, status as GrpcStatus } from '@grpc/grpc-js';
import type { ChannelCredentials, ClientDuplexStream, ClientOptions, ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import type {
  ChildrenResponse,
  CreateResponse,
  DeleteResponse,
  ExecuteOperation,
  ExecuteRequest,
  ExecuteResponse,
  ExecuteResult,
  GetResponse,
  MultiResponse,
  SetResponse,
  KeepAliveResponse,
  LeaderEvent,
  NodeStat,
  Op,
  OpResult,
  WatchEvent,
} from '@tributary/proto';
import { CoordinationServiceClient } from '@tributary/proto';

export const COORDINATION_ERROR_METADATA_KEY = 'tributary-coordination-error';

export type CoordinationClientErrorCode =
  | 'NODE_EXISTS'
  | 'NO_NODE'
  | 'BAD_VERSION'
  | 'NOT_EMPTY'
  | 'LEASE_EXPIRED'
  | 'INVALID_ARGUMENT'
  | 'UNAVAILABLE'
  | 'CANCELLED'
  | 'INTERNAL';

export class CoordinationClientError extends Error {
  constructor(
    readonly code: CoordinationClientErrorCode,
    message: string,
    readonly grpcCode?: number,
  ) {
    super(message);
    this.name = 'CoordinationClientError';
  }

  /** Worth retrying as is (the service or its backend was unreachable). */
  get retriable(): boolean {
    return this.code === 'UNAVAILABLE';
  }
}

/** Converts a gRPC error into a CoordinationClientError. */
export function toClientError(e: unknown): CoordinationClientError {
  if (e instanceof CoordinationClientError) return e;
  const se = e as Partial<ServiceError>;
  if (typeof se.code !== 'number') return new CoordinationClientError('INTERNAL', e instanceof Error ? e.message : String(e));
  const precise = se.metadata?.get(COORDINATION_ERROR_METADATA_KEY)[0];
  const detail = se.details || se.message || 'coordination call failed';
  if (typeof precise === 'string' && precise.length > 0) return new CoordinationClientError(precise as CoordinationClientErrorCode, detail, se.code);
  switch (se.code) {
    case GrpcStatus.UNAVAILABLE:
    case GrpcStatus.DEADLINE_EXCEEDED:
    case GrpcStatus.RESOURCE_EXHAUSTED:
    case GrpcStatus.ABORTED:
      return new CoordinationClientError('UNAVAILABLE', `coordination service unavailable: ${detail}`, se.code);
    case GrpcStatus.CANCELLED:
      return new CoordinationClientError('CANCELLED', detail, se.code);
    case GrpcStatus.INVALID_ARGUMENT:
      return new CoordinationClientError('INVALID_ARGUMENT', detail, se.code);
    default:
      return new CoordinationClientError('INTERNAL', detail, se.code);
  }
}

export interface CoordinationClientOptions {
  /** host:port of the coordination service. */
  address: string;
  /** Deadline of unary calls (default 10 s). */
  deadlineMs?: number;
  /** Channel credentials (default: plaintext; TLS plugs in here). */
  credentials?: ChannelCredentials;
  channelOptions?: Partial<ClientOptions>;
  logger?: { warn(fields: object, msg: string): void; info(fields: object, msg: string): void };
}

export interface CreateOptions {
  leaseId?: bigint;
  sequential?: boolean;
}

/** Backoff between reconnect attempts: 100 ms doubling to 2 s, with jitter. */
function backoffMs(attempt: number): number {
  const base = Math.min(2000, 100 * 2 ** attempt);
  return base * (0.8 + Math.random() * 0.4);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref?.());

type Callback<T> = (error: ServiceError | null, response: T) => void;

/**
 * Call metadata asking grpc-js to wait (within the deadline) for the channel to connect
 * instead of failing at once while it reconnects: clients ride out a service restart.
 */
function waitForReady(): Metadata {
  return new Metadata({ waitForReady: true });
}

export class CoordinationClient {
  readonly raw: CoordinationServiceClient;
  private readonly deadlineMs: number;
  private readonly closers = new Set<() => void>();
  private closed = false;
  private pipe: ExecutePipe | undefined;

  constructor(private readonly options: CoordinationClientOptions) {
    this.raw = new CoordinationServiceClient(options.address, options.credentials ?? grpcCredentials.createInsecure(), {
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2_000,
      ...options.channelOptions,
    });
    this.deadlineMs = options.deadlineMs ?? 10_000;
  }

  private call<Req, Res>(
    method: (req: Req, metadata: Metadata, options: { deadline: Date }, callback: Callback<Res>) => unknown,
    request: Req,
    deadlineMs = this.deadlineMs,
  ): Promise<Res> {
    if (this.closed) return Promise.reject(new CoordinationClientError('CANCELLED', 'the coordination client is closed'));
    return new Promise((resolve, reject) => {
      // waitForReady: ride out a restart of the service within the deadline instead of
      // failing at once while the channel reconnects.
      method.call(this.raw, request, waitForReady(), { deadline: new Date(Date.now() + deadlineMs) }, (error: ServiceError | null, response: Res) =>
        error ? reject(toClientError(error)) : resolve(response),
      );
    });
  }

  /**
   * Runs a tree operation over the shared Execute stream (opened on first use, re-opened
   * after a failure) and returns its result of the expected kind.
   */
  private async execute<K extends keyof ExecuteResults>(op: NonNullable<ExecuteOperation['op']>, expect: K): Promise<ExecuteResults[K]> {
    if (this.closed) throw new CoordinationClientError('CANCELLED', 'the coordination client is closed');
    this.pipe ??= new ExecutePipe(this.raw, this.deadlineMs);
    const result = await this.pipe.request(op);
    if (result.$case === 'error') {
      throw new CoordinationClientError(result.value.code as CoordinationClientErrorCode, result.value.message);
    }
    if (result.$case !== expect) throw new CoordinationClientError('INTERNAL', `expected a ${expect} result, got ${result.$case}`);
    return result.value as ExecuteResults[K];
  }

  async create(path: string, data: Buffer, options: CreateOptions = {}): Promise<{ path: string; stat: NodeStat }> {
    const res = await this.execute({ $case: 'create', value: { path, data, leaseId: options.leaseId ?? 0n, sequential: options.sequential ?? false } }, 'create');
    return { path: res.path, stat: res.stat! };
  }

  async get(path: string): Promise<{ data: Buffer; stat: NodeStat }> {
    const res = await this.execute({ $case: 'get', value: { path } }, 'get');
    return { data: res.data, stat: res.stat! };
  }

  /** Like get, but undefined when the node does not exist. */
  async tryGet(path: string): Promise<{ data: Buffer; stat: NodeStat } | undefined> {
    try {
      return await this.get(path);
    } catch (e) {
      if (e instanceof CoordinationClientError && e.code === 'NO_NODE') return undefined;
      throw e;
    }
  }

  async set(path: string, data: Buffer, expectedVersion = -1): Promise<NodeStat> {
    return (await this.execute({ $case: 'set', value: { path, data, expectedVersion } }, 'set')).stat!;
  }

  async delete(path: string, expectedVersion = -1): Promise<void> {
    await this.execute({ $case: 'delete', value: { path, expectedVersion } }, 'delete');
  }

  async children(path: string): Promise<{ children: string[]; stat: NodeStat }> {
    const res = await this.execute({ $case: 'children', value: { path } }, 'children');
    return { children: res.children, stat: res.stat! };
  }

  async multi(ops: Op[]): Promise<OpResult[]> {
    return (await this.execute({ $case: 'multi', value: { ops } }, 'multi')).results;
  }

  /** Creates every missing node of `path` (persistent, empty). */
  async ensurePath(path: string): Promise<void> {
    let current = '';
    for (const segment of path.split('/').filter(Boolean)) {
      current += `/${segment}`;
      try {
        await this.create(current, Buffer.alloc(0));
      } catch (e) {
        if (!(e instanceof CoordinationClientError) || e.code !== 'NODE_EXISTS') throw e;
      }
    }
  }

  /**
   * Read-modify-write with compare-and-set. `update` gets the current node (undefined if
   * absent) and returns the new data, `null` to delete, or `undefined` to leave it. Retried
   * when another writer got there first. Returns the node's stat after the write (undefined
   * after a delete or no change of an absent node).
   */
  async cas(
    path: string,
    update: (current: { data: Buffer; stat: NodeStat } | undefined) => Buffer | null | undefined | Promise<Buffer | null | undefined>,
    maxAttempts = 50,
  ): Promise<NodeStat | undefined> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.tryGet(path);
      const next = await update(current);
      try {
        if (next === undefined) return current?.stat;
        if (next === null) {
          if (current) await this.delete(path, current.stat.version);
          return undefined;
        }
        if (current) return await this.set(path, next, current.stat.version);
        return (await this.create(path, next)).stat;
      } catch (e) {
        const conflict = e instanceof CoordinationClientError && ['BAD_VERSION', 'NODE_EXISTS', 'NO_NODE'].includes(e.code);
        if (!conflict || attempt + 1 >= maxAttempts) throw e;
      }
    }
  }

  /**
   * Follows a node (or its children) from `fromRevision` (default 0: the current state is
   * reported if the node exists). The stream is re-opened after any transient failure,
   * resuming from the last revision received. Stop with `cancel()`.
   */
  watch(path: string, handlers: { children?: boolean; fromRevision?: bigint; onEvent: (event: WatchEvent) => void; onError?: (e: CoordinationClientError) => void }): { cancel(): void } {
    let revision = handlers.fromRevision ?? 0n;
    return this.follow<WatchEvent>(
      () => this.raw.watch({ path, children: handlers.children ?? false, fromRevision: revision }, waitForReady()),
      (event) => {
        revision = event.revision;
        handlers.onEvent(event);
      },
      handlers.onError,
    );
  }

  /**
   * Keeps a server stream open: re-opens it (with backoff) when it ends or fails with a
   * transient error, until cancelled. A permanent error (bad path, ...) ends it and goes to
   * `onPermanentError`.
   */
  private follow<T>(open: () => ClientReadableStream<T>, onData: (message: T) => void, onPermanentError?: (e: CoordinationClientError) => void): { cancel(): void } {
    let cancelled = false;
    let current: { cancel(): void } | undefined;
    const run = async (): Promise<void> => {
      for (let attempt = 0; !cancelled && !this.closed; ) {
        const ended = await new Promise<CoordinationClientError | undefined>((resolve) => {
          const stream = open();
          current = stream;
          stream.on('data', (message: T) => {
            attempt = 0;
            onData(message);
          });
          stream.on('error', (e) => resolve(toClientError(e)));
          stream.on('end', () => resolve(undefined));
        });
        if (cancelled || this.closed) return;
        if (ended && !ended.retriable && ended.code !== 'INTERNAL') {
          onPermanentError?.(ended);
          return;
        }
        await sleep(backoffMs(attempt++));
      }
    };
    void run();
    const handle = {
      cancel: () => {
        cancelled = true;
        current?.cancel();
        this.closers.delete(handle.cancel);
      },
    };
    this.closers.add(handle.cancel);
    return handle;
  }

  /** Grants a lease and keeps it alive in the background (see LeaseKeeper). */
  async grantLease(ttlMs: number): Promise<LeaseKeeper> {
    const res = await this.call(this.raw.grant, { ttlMs });
    const keeper = new LeaseKeeper(this, res.leaseId, res.ttlMs);
    this.closers.add(() => keeper.stop());
    keeper.start();
    return keeper;
  }

  /**
   * Resumes keeping alive a lease granted earlier (possibly through another coordination
   * replica, or by a previous client of this process): same LeaseKeeper as `grantLease`.
   * `expired` resolves at once if the service says the lease is gone.
   */
  keepLease(leaseId: bigint, ttlMs: number): LeaseKeeper {
    const keeper = new LeaseKeeper(this, leaseId, ttlMs);
    this.closers.add(() => keeper.stop());
    keeper.start();
    return keeper;
  }

  async revokeLease(leaseId: bigint): Promise<void> {
    await this.call(this.raw.revoke, { leaseId });
  }

  /** Campaigns until elected (no deadline unless `signal` aborts). */
  async campaign(election: string, candidate: Buffer, leaseId: bigint, signal?: AbortSignal): Promise<{ leader: LeaderEvent; key: string }> {
    if (this.closed) throw new CoordinationClientError('CANCELLED', 'the coordination client is closed');
    return new Promise((resolve, reject) => {
      const call = this.raw.campaign({ election, candidate, leaseId }, waitForReady(), (error, response) =>
        error ? reject(toClientError(error)) : resolve({ leader: response.leader!, key: response.key }),
      );
      signal?.addEventListener('abort', () => call.cancel(), { once: true });
    });
  }

  async resign(election: string, key: string): Promise<void> {
    await this.call(this.raw.resign, { election, key });
  }

  /** Follows the leader of an election (re-subscribing after failures). */
  observe(election: string, onLeader: (event: LeaderEvent) => void): { cancel(): void } {
    return this.follow<LeaderEvent>(() => this.raw.observe({ election }, waitForReady()), onLeader);
  }

  /** Stops every background activity and closes the channel (leases are not revoked). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const close of [...this.closers]) close();
    this.pipe?.close();
    this.raw.close();
  }

  /** @internal for LeaseKeeper */
  openKeepAlive(): ReturnType<CoordinationServiceClient['keepAlive']> {
    return this.raw.keepAlive(waitForReady());
  }

  /** @internal */
  get log(): CoordinationClientOptions['logger'] {
    return this.options.logger;
  }
}

type ExecuteOutcome = NonNullable<ExecuteResult['result']>;

/** What each Execute operation answers. */
interface ExecuteResults {
  create: CreateResponse;
  get: GetResponse;
  set: SetResponse;
  delete: DeleteResponse;
  children: ChildrenResponse;
  multi: MultiResponse;
}

/**
 * The client side of the Execute stream: ids, pending operations, deadlines. Operations
 * written while the channel connects wait for it (waitForReady), each within its deadline.
 * When the stream breaks, the operations in flight fail with UNAVAILABLE (their outcome is
 * unknown, as for a unary call cut off) and the next operation opens a new stream.
 */
class ExecutePipe {
  private stream: ClientDuplexStream<ExecuteRequest, ExecuteResponse> | undefined;
  private readonly pending = new Map<bigint, { resolve(r: ExecuteOutcome): void; reject(e: unknown): void; deadline: number }>();
  private nextId = 1n;
  private readonly sweeper: NodeJS.Timeout;
  /** Operations issued in this turn of the event loop, sent as one message. */
  private outbox: ExecuteOperation[] = [];

  constructor(
    private readonly raw: CoordinationServiceClient,
    private readonly deadlineMs: number,
  ) {
    this.sweeper = setInterval(() => this.expire(), Math.min(250, deadlineMs));
    this.sweeper.unref();
  }

  request(op: NonNullable<ExecuteOperation['op']>): Promise<ExecuteOutcome> {
    const id = this.nextId++;
    if (this.outbox.length === 0) queueMicrotask(() => this.flush());
    this.outbox.push({ id, op });
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, deadline: Date.now() + this.deadlineMs });
    });
  }

  private flush(): void {
    const operations = this.outbox;
    this.outbox = [];
    if (operations.length === 0) return;
    const stream = (this.stream ??= this.open());
    stream.write({ operations });
  }

  private open(): ClientDuplexStream<ExecuteRequest, ExecuteResponse> {
    const stream = this.raw.execute(waitForReady());
    stream.on('data', (res: ExecuteResponse) => {
      for (const result of res.results) {
        const waiter = this.pending.get(result.id);
        if (!waiter) continue; // timed out meanwhile
        this.pending.delete(result.id);
        if (result.result) waiter.resolve(result.result);
        else waiter.reject(new CoordinationClientError('INTERNAL', 'empty Execute answer'));
      }
    });
    const broken = (e?: unknown): void => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      const reason = e ? toClientError(e) : undefined;
      const error = new CoordinationClientError(
        'UNAVAILABLE',
        `the stream to the coordination service ended${reason ? ` (${reason.message})` : ''}; operations in flight may or may not have been applied`,
      );
      for (const waiter of this.pending.values()) waiter.reject(error);
      this.pending.clear();
    };
    stream.on('error', broken);
    stream.on('end', () => broken());
    return stream;
  }

  private expire(): void {
    const now = Date.now();
    for (const [id, waiter] of this.pending) {
      if (waiter.deadline <= now) {
        this.pending.delete(id);
        waiter.reject(new CoordinationClientError('UNAVAILABLE', `no answer from the coordination service within ${this.deadlineMs} ms`));
      }
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    const stream = this.stream;
    this.stream = undefined;
    for (const waiter of this.pending.values()) waiter.reject(new CoordinationClientError('CANCELLED', 'the coordination client is closed'));
    this.pending.clear();
    stream?.cancel();
  }
}

/**
 * Keeps a lease alive: one KeepAlive stream, a refresh every ttl/3; after a stream error it
 * re-opens one with backoff for as long as the lease can still be alive. `expired` resolves
 * once the service reports the lease gone, or no refresh succeeded for a whole TTL.
 */
export class LeaseKeeper {
  private stopped = false;
  private resolveExpired!: (reason: string) => void;
  /** Resolves with the reason when the lease is gone: stop using it. */
  readonly expired: Promise<string>;
  private lastRefreshMs = Date.now();
  private stream: ReturnType<CoordinationClient['openKeepAlive']> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: CoordinationClient,
    readonly id: bigint,
    readonly ttlMs: number,
  ) {
    this.expired = new Promise((resolve) => (this.resolveExpired = resolve));
  }

  /** @internal */
  start(): void {
    void this.run();
  }

  private async run(): Promise<void> {
    for (let attempt = 0; !this.stopped; ) {
      const outcome = await new Promise<'expired' | 'retry'>((resolve) => {
        const stream = this.client.openKeepAlive();
        this.stream = stream;
        const send = (): void => {
          if (!this.stopped) stream.write({ leaseId: this.id });
        };
        stream.on('data', (_res: KeepAliveResponse) => {
          attempt = 0;
          this.lastRefreshMs = Date.now();
        });
        stream.on('error', (e) => {
          clearInterval(this.timer);
          const err = toClientError(e);
          resolve(err.code === 'LEASE_EXPIRED' || err.code === 'NO_NODE' ? 'expired' : 'retry');
        });
        stream.on('end', () => {
          clearInterval(this.timer);
          resolve('retry');
        });
        send();
        this.timer = setInterval(send, Math.max(100, Math.floor(this.ttlMs / 3)));
        this.timer.unref();
      });
      if (this.stopped) return;
      if (outcome === 'expired' || Date.now() - this.lastRefreshMs > this.ttlMs) {
        this.finish(outcome === 'expired' ? 'the coordination service expired the lease' : 'no keep-alive succeeded for a whole TTL');
        return;
      }
      await sleep(backoffMs(attempt++));
    }
  }

  private finish(reason: string): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.stream?.cancel();
    this.client.log?.warn({ leaseId: this.id.toString(), reason }, 'lease lost');
    this.resolveExpired(reason);
  }

  /** Stops refreshing (the lease then expires after its TTL). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.stream?.end();
    this.stream?.cancel();
  }

  /** Revokes the lease now: its ephemeral nodes vanish. */
  async revoke(): Promise<void> {
    this.stop();
    await this.client.revokeLease(this.id);
  }
}
