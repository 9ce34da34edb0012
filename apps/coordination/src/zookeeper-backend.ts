/**
 * ZooKeeperBackend: the Backend contract (backend.ts) on a real ZooKeeper ensemble, through
 * node-zookeeper-client (wrapped by zookeeper-session.ts).
 *
 * Mapping:
 * - Tree: every path lives under `chroot` (default '/tributary', created on start); '/' is
 *   the chroot node itself. Stats come from ZooKeeper's Stat: czxid/mzxid/pzxid are the
 *   create/mod/children revisions (bigint), ephemeralOwner is the lease id.
 * - Main session: one ZooKeeper session for reads, persistent writes, multi and watches.
 *   Within the session the client reconnects by itself (state 'disconnected' meanwhile);
 *   when the session EXPIRES a new one is opened and serving goes on. A call waits at most
 *   `operationTimeoutMs` for a connection; reads are retried across a connection loss
 *   within that time, writes are not (their outcome is unknown: UNAVAILABLE, as ZooKeeper's
 *   ConnectionLoss).
 * - Leases are ZooKeeper sessions: `grantLease(ttlMs)` opens a session of its own with that
 *   timeout (the server clamps it to its [min,max]SessionTimeout; the granted value is the
 *   lease's ttl) and its id is the session id. Ephemeral creates with `leaseId` go through
 *   that session, so ZooKeeper deletes the nodes when it ends. The backend ends the session
 *   when no keepAlive came within the ttl, on revoke, on close, or when the session has been
 *   disconnected for a whole ttl (ZooKeeper may have expired it: the holder must not
 *   believe it still holds the lease); if this process dies, ZooKeeper expires it after
 *   the ttl. Either way the ephemerals vanish.
 * - Watches are ZooKeeper's one-shot watches set by getData / getChildren (or exists on an
 *   absent node, which fires on creation) on the main session. A disconnection keeps them
 *   (the client re-registers them on reconnect and the server fires those whose node changed
 *   meanwhile); a session expiry or close loses them: pending watches then resolve 'lost'.
 */
import type {
  Backend,
  BackendState,
  CoordinationErrorCode,
  CreateOptions,
  Lease,
  NodeData,
  NodeStat,
  Op,
  OpResult,
  WatchFired,
  WatchedChildren,
  WatchedNode,
} from './backend';
import { CoordinationError } from './backend';
import type { RawTxnOp, TxnOpResult, ZkStat } from './zookeeper-session';
import { CREATE_MODE, OP, OPEN_ACL, ZK_ERROR, ZooKeeperCallError, ZooKeeperSession } from './zookeeper-session';

/** The subset of a pino logger used here. */
export interface ZooKeeperBackendLogger {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

export interface ZooKeeperBackendOptions {
  /** `host:port[,host:port...]` of the ensemble. */
  connectionString: string;
  /** Root of the tree inside ZooKeeper (default '/tributary'); created if missing. */
  chroot?: string;
  /** Timeout of the main session (default 10 s; the server may clamp it). */
  sessionTimeoutMs?: number;
  /** How long a call waits for a connection / an answer before UNAVAILABLE (default: the session timeout). */
  operationTimeoutMs?: number;
  /** How long `start()` waits for the first connection (default 30 s). */
  startTimeoutMs?: number;
  /** Upper bound of the random pause after every server was tried once (default 1 s). */
  reconnectDelayMs?: number;
  logger?: ZooKeeperBackendLogger;
}

interface LeaseEntry {
  id: bigint;
  ttlMs: number;
  session: ZooKeeperSession;
  /** Fires when no keepAlive came within the ttl. */
  deadline: NodeJS.Timeout;
  /** Runs while the session is disconnected; fires after a whole ttl without a connection. */
  disconnectedTimer?: NodeJS.Timeout;
}

/** A pending one-shot watch; `resolve` is dropped on cancel so nothing stays reachable. */
interface PendingWatch {
  resolve: ((fired: WatchFired) => void) | undefined;
}

const SILENT: ZooKeeperBackendLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export class ZooKeeperBackend implements Backend {
  readonly kind = 'zookeeper';
  private readonly connectionString: string;
  private readonly chroot: string;
  private readonly sessionTimeoutMs: number;
  private readonly operationTimeoutMs: number;
  private readonly startTimeoutMs: number;
  private readonly reconnectDelayMs: number;
  private readonly log: ZooKeeperBackendLogger;
  private session: ZooKeeperSession;
  /** Watches pending on each main session: resolved 'lost' when that session ends. */
  private readonly watches = new Map<ZooKeeperSession, Set<PendingWatch>>();
  private readonly leases = new Map<bigint, LeaseEntry>();
  private readonly listeners: ((state: BackendState) => void)[] = [];
  private _state: BackendState = 'disconnected';
  private chrootReady: Promise<void> | undefined;
  private closed = false;

  constructor(options: ZooKeeperBackendOptions) {
    this.connectionString = options.connectionString;
    const chroot = options.chroot ?? '/tributary';
    if (!/^\/([^/]+(\/[^/]+)*)?$/.test(chroot)) {
      throw new CoordinationError('INVALID_ARGUMENT', `chroot '${chroot}' must be an absolute path without a trailing '/'`);
    }
    this.chroot = chroot === '/' ? '' : chroot;
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000;
    this.operationTimeoutMs = options.operationTimeoutMs ?? this.sessionTimeoutMs;
    this.startTimeoutMs = options.startTimeoutMs ?? 30_000;
    this.reconnectDelayMs = options.reconnectDelayMs ?? 1_000;
    this.log = options.logger ?? SILENT;
    this.session = this.openMainSession();
  }

  /** Waits for the first connection and creates the chroot; UNAVAILABLE if ZooKeeper stays unreachable. */
  async start(): Promise<void> {
    await this.ensureChroot(Date.now() + this.startTimeoutMs);
  }

  get state(): BackendState {
    return this._state;
  }

  onStateChange(listener: (state: BackendState) => void): void {
    this.listeners.push(listener);
  }

  get activeLeases(): number {
    return this.leases.size;
  }

  /** ZooKeeper's id of the main session (0n before the first connection; changes after an expiry). */
  get sessionId(): bigint {
    return this.session.id;
  }

  /** `host:port` of the ZooKeeper server the main session is connected to (diagnostics, tests). */
  get connectedServer(): string | undefined {
    return this.session.server;
  }

  // ---------------------------------------------------------------------------------------
  // Reads: retried across connection losses until the call's deadline.

  async get(path: string): Promise<NodeData> {
    return this.read(`get ${path}`, async (s) => {
      const { data, stat } = await s.getData(this.full(path));
      return { data, stat: toNodeStat(stat) };
    });
  }

  async exists(path: string): Promise<NodeStat | undefined> {
    return this.read(`exists ${path}`, async (s) => {
      const stat = await s.exists(this.full(path));
      return stat === null ? undefined : toNodeStat(stat);
    });
  }

  async children(path: string): Promise<{ names: string[]; stat: NodeStat }> {
    return this.read(`children ${path}`, async (s) => {
      const { children, stat } = await s.getChildren(this.full(path));
      return { names: [...children].sort(), stat: toNodeStat(stat) };
    });
  }

  async getAndWatch(path: string): Promise<WatchedNode> {
    const full = this.full(path);
    return this.read(`getAndWatch ${path}`, async (s) => {
      for (;;) {
        const watch = this.newWatch(s);
        try {
          try {
            const { data, stat } = await s.getData(full, watch.watcher);
            return { node: { data, stat: toNodeStat(stat) }, changed: watch.changed, cancel: watch.cancel };
          } catch (e) {
            if (!isNoNode(e)) throw e;
          }
          // Absent: an exists watch fires when it is created. If it was created in between,
          // read it again (this watch is then surplus, and ignored when it fires).
          if ((await s.exists(full, watch.watcher)) === null) {
            return { node: undefined, changed: watch.changed, cancel: watch.cancel };
          }
        } catch (e) {
          watch.cancel();
          throw e;
        }
        watch.cancel();
      }
    });
  }

  async childrenAndWatch(path: string): Promise<WatchedChildren> {
    const full = this.full(path);
    return this.read(`childrenAndWatch ${path}`, async (s) => {
      for (;;) {
        const watch = this.newWatch(s);
        try {
          try {
            const { children, stat } = await s.getChildren(full, watch.watcher);
            return {
              children: { names: [...children].sort(), stat: toNodeStat(stat) },
              changed: watch.changed,
              cancel: watch.cancel,
            };
          } catch (e) {
            if (!isNoNode(e)) throw e;
          }
          if ((await s.exists(full, watch.watcher)) === null) {
            return { children: undefined, changed: watch.changed, cancel: watch.cancel };
          }
        } catch (e) {
          watch.cancel();
          throw e;
        }
        watch.cancel();
      }
    });
  }

  // ---------------------------------------------------------------------------------------
  // Writes: one attempt each (a lost connection leaves the outcome unknown: UNAVAILABLE).

  async create(path: string, data: Buffer, options: CreateOptions = {}): Promise<{ path: string; stat: NodeStat }> {
    const lease = this.leaseFor(options.leaseId);
    const mode = modeOf(lease !== undefined, options.sequential === true);
    return this.write(`create ${path}`, lease, async (s) => {
      const created = await s.create(this.full(path), data, mode);
      return { path: this.relative(created.path), stat: freshStat(created.zxid, data.length, lease?.id ?? 0n) };
    });
  }

  async set(path: string, data: Buffer, expectedVersion: number): Promise<NodeStat> {
    return this.write(`set ${path}`, undefined, async (s) => toNodeStat(await s.setData(this.full(path), data, expectedVersion)));
  }

  async delete(path: string, expectedVersion: number): Promise<void> {
    if (path === '/') throw new CoordinationError('INVALID_ARGUMENT', 'the root cannot be deleted');
    await this.write(`delete ${path}`, undefined, (s) => s.remove(this.full(path), expectedVersion));
  }

  async multi(ops: Op[]): Promise<OpResult[]> {
    if (ops.length === 0) return [];
    // Ephemeral creates must run in their lease's session, so a multi can hold one lease.
    const leaseIds = new Set(ops.flatMap((op) => (op.kind === 'create' && op.options?.leaseId ? [op.options.leaseId] : [])));
    if (leaseIds.size > 1) {
      throw new CoordinationError('INVALID_ARGUMENT', 'a multi can create ephemeral nodes of one lease only');
    }
    const [leaseId] = leaseIds;
    const lease = this.leaseFor(leaseId);
    const raw: RawTxnOp[] = ops.map((op) => {
      const path = this.full(op.path);
      switch (op.kind) {
        case 'create': {
          const mode = modeOf(op.options?.leaseId !== undefined && op.options.leaseId !== 0n, op.options?.sequential === true);
          return { type: OP.CREATE, path, data: op.data, acls: OPEN_ACL, mode };
        }
        case 'set':
          return { type: OP.SET_DATA, path, data: op.data, version: op.expectedVersion };
        case 'delete':
          if (op.path === '/') throw new CoordinationError('INVALID_ARGUMENT', 'the root cannot be deleted');
          return { type: OP.DELETE, path, version: op.expectedVersion };
        case 'check':
          return { type: OP.CHECK, path, version: op.expectedVersion };
      }
    });
    return this.write('multi', lease, async (s) => {
      const { results, zxid } = await s.multi(raw);
      return ops.map((op, i) => this.opResult(op, results[i], zxid, lease?.id ?? 0n));
    });
  }

  // ---------------------------------------------------------------------------------------
  // Leases

  async grantLease(ttlMs: number): Promise<Lease> {
    this.ensureOpen();
    if (!Number.isInteger(ttlMs) || ttlMs <= 0) {
      throw new CoordinationError('INVALID_ARGUMENT', `lease ttl ${ttlMs} ms must be a positive integer`);
    }
    const session = new ZooKeeperSession(this.connectionString, ttlMs, this.reconnectDelayMs);
    session.connect();
    try {
      await session.waitConnected(Date.now() + this.operationTimeoutMs);
    } catch (e) {
      await session.close();
      throw new CoordinationError('UNAVAILABLE', `grantLease: no ZooKeeper session within ${this.operationTimeoutMs} ms (${toCoordinationError(e, 'connect').message})`);
    }
    if (this.closed) {
      await session.close();
      throw closedError();
    }
    const id = session.id;
    const granted = session.timeoutMs;
    const entry: LeaseEntry = { id, ttlMs: granted, session, deadline: this.leaseDeadline(id, granted) };
    this.leases.set(id, entry);
    session.onEvent((event) => this.onLeaseSessionEvent(entry, event));
    this.log.info({ leaseId: session.idHex, requestedTtlMs: ttlMs, ttlMs: granted }, 'lease granted');
    return { id, ttlMs: granted };
  }

  async keepAlive(leaseId: bigint): Promise<Lease> {
    this.ensureOpen();
    const entry = this.leases.get(leaseId);
    if (entry === undefined) throw leaseExpired(leaseId);
    clearTimeout(entry.deadline);
    entry.deadline = this.leaseDeadline(leaseId, entry.ttlMs);
    return { id: leaseId, ttlMs: entry.ttlMs };
  }

  async revokeLease(leaseId: bigint): Promise<void> {
    await this.endLease(leaseId, 'revoked');
  }

  // ---------------------------------------------------------------------------------------

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const main = this.session;
    await Promise.all([...this.leases.keys()].map((id) => this.endLease(id, 'backend closed')));
    this.loseWatches(main);
    await main.close();
    this.setState('closed');
  }

  // ---------------------------------------------------------------------------------------
  // Main session

  private openMainSession(): ZooKeeperSession {
    const session = new ZooKeeperSession(this.connectionString, this.sessionTimeoutMs, this.reconnectDelayMs);
    this.watches.set(session, new Set());
    session.onEvent((event) => {
      if (session !== this.session || this.closed) return;
      switch (event) {
        case 'connected':
          this.log.info(
            { sessionId: session.idHex, server: session.server, sessionTimeoutMs: session.timeoutMs },
            'ZooKeeper session connected',
          );
          this.setState('connected');
          break;
        case 'disconnected':
          this.log.warn({ sessionId: session.idHex }, 'ZooKeeper connection lost; reconnecting within the session');
          this.setState('disconnected');
          break;
        case 'expired':
          this.log.warn({ sessionId: session.idHex }, 'ZooKeeper session expired; opening a new one (pending watches are lost)');
          this.setState('disconnected');
          this.loseWatches(session);
          this.session = this.openMainSession();
          void session.close();
          break;
      }
    });
    session.connect();
    return session;
  }

  private setState(state: BackendState): void {
    if (this._state === state || this._state === 'closed') return;
    this._state = state;
    for (const l of this.listeners) {
      try {
        l(state);
      } catch (e) {
        this.log.error({ err: e }, 'backend state listener failed');
      }
    }
  }

  /** The main session once connected, or UNAVAILABLE at the deadline. */
  private async connectedSession(deadline: number, what: string): Promise<ZooKeeperSession> {
    for (;;) {
      this.ensureOpen();
      const session = this.session;
      if (session.connected) return session;
      if (Date.now() >= deadline) {
        throw new CoordinationError('UNAVAILABLE', `${what}: no ZooKeeper connection (${this.connectionString}) within ${this.operationTimeoutMs} ms`);
      }
      // Ends at the deadline, at connection, or when the session expires (a new one replaces it).
      await session.waitConnected(deadline).catch(() => undefined);
    }
  }

  private async ensureChroot(deadline: number): Promise<void> {
    if (this.chroot === '') return;
    if (this.chrootReady === undefined) {
      const attempt = (async () => {
        const s = await this.connectedSession(deadline, 'creating the chroot');
        let path = '';
        for (const part of this.chroot.slice(1).split('/')) {
          path += `/${part}`;
          try {
            await this.withDeadline(s.create(path, Buffer.alloc(0), CREATE_MODE.PERSISTENT), deadline, `create ${path}`);
          } catch (e) {
            if (!(e instanceof ZooKeeperCallError && e.zkCode === ZK_ERROR.NODE_EXISTS)) throw e;
          }
        }
      })();
      this.chrootReady = attempt;
      attempt.catch(() => {
        if (this.chrootReady === attempt) this.chrootReady = undefined;
      });
    }
    try {
      await this.chrootReady;
    } catch (e) {
      throw toCoordinationError(e, `creating the chroot ${this.chroot}`);
    }
  }

  /** An idempotent call on the main session, retried across connection losses until the deadline. */
  private async read<T>(what: string, call: (s: ZooKeeperSession) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.operationTimeoutMs;
    await this.ensureChroot(deadline);
    for (;;) {
      const s = await this.connectedSession(deadline, what);
      try {
        return await this.withDeadline(call(s), deadline, what);
      } catch (e) {
        const retriable =
          e instanceof ZooKeeperCallError &&
          (e.zkCode === ZK_ERROR.CONNECTION_LOSS || e.zkCode === ZK_ERROR.SESSION_EXPIRED) &&
          Date.now() < deadline &&
          !this.closed;
        if (!retriable) throw toCoordinationError(e, what);
      }
    }
  }

  /** One attempt of a write, on the main session or on a lease's. */
  private async write<T>(what: string, lease: LeaseEntry | undefined, call: (s: ZooKeeperSession) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.operationTimeoutMs;
    await this.ensureChroot(deadline);
    let session: ZooKeeperSession;
    if (lease === undefined) {
      session = await this.connectedSession(deadline, what);
    } else {
      session = lease.session;
      try {
        await session.waitConnected(deadline);
      } catch {
        if (session.isEnded || !this.leases.has(lease.id)) throw leaseExpired(lease.id);
        throw new CoordinationError('UNAVAILABLE', `${what}: the lease's ZooKeeper session is not connected (${this.operationTimeoutMs} ms)`);
      }
    }
    try {
      return await this.withDeadline(call(session), deadline, what);
    } catch (e) {
      if (lease !== undefined && e instanceof ZooKeeperCallError && e.zkCode === ZK_ERROR.SESSION_EXPIRED) {
        void this.endLease(lease.id, 'session expired');
        throw leaseExpired(lease.id);
      }
      if (lease !== undefined && session.isEnded && !this.leases.has(lease.id)) throw leaseExpired(lease.id);
      throw toCoordinationError(e, what);
    }
  }

  private async withDeadline<T>(p: Promise<T>, deadline: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        p,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new CoordinationError('UNAVAILABLE', `${what}: no answer from ZooKeeper within ${this.operationTimeoutMs} ms`)),
            Math.max(0, deadline - Date.now()),
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Watches

  private newWatch(session: ZooKeeperSession): { watcher: () => void; changed: Promise<WatchFired>; cancel: () => void } {
    const pending: PendingWatch = { resolve: undefined };
    const changed = new Promise<WatchFired>((resolve) => {
      pending.resolve = resolve;
    });
    const set = this.watches.get(session);
    set?.add(pending);
    const settle = (fired: WatchFired): void => {
      const resolve = pending.resolve;
      pending.resolve = undefined;
      set?.delete(pending);
      resolve?.(fired);
    };
    return {
      watcher: () => settle('changed'),
      changed,
      // The library keeps the watcher until it fires; it then finds nothing to resolve.
      cancel: () => {
        pending.resolve = undefined;
        set?.delete(pending);
      },
    };
  }

  private loseWatches(session: ZooKeeperSession): void {
    const set = this.watches.get(session);
    this.watches.delete(session);
    for (const pending of set ?? []) {
      const resolve = pending.resolve;
      pending.resolve = undefined;
      resolve?.('lost');
    }
  }

  // ---------------------------------------------------------------------------------------
  // Leases

  private leaseFor(leaseId: bigint | undefined): LeaseEntry | undefined {
    if (leaseId === undefined || leaseId === 0n) return undefined;
    this.ensureOpen();
    const entry = this.leases.get(leaseId);
    if (entry === undefined || entry.session.isEnded) throw leaseExpired(leaseId);
    return entry;
  }

  private leaseDeadline(id: bigint, ttlMs: number): NodeJS.Timeout {
    return setTimeout(() => void this.endLease(id, 'no keepAlive within the ttl'), ttlMs);
  }

  private onLeaseSessionEvent(entry: LeaseEntry, event: 'connected' | 'disconnected' | 'expired'): void {
    if (this.leases.get(entry.id) !== entry) return;
    switch (event) {
      case 'connected':
        clearTimeout(entry.disconnectedTimer);
        entry.disconnectedTimer = undefined;
        break;
      case 'disconnected':
        clearTimeout(entry.disconnectedTimer);
        entry.disconnectedTimer = setTimeout(() => void this.endLease(entry.id, 'disconnected for a whole ttl'), entry.ttlMs);
        break;
      case 'expired':
        void this.endLease(entry.id, 'session expired');
        break;
    }
  }

  private async endLease(id: bigint, reason: string): Promise<void> {
    const entry = this.leases.get(id);
    if (entry === undefined) return;
    this.leases.delete(id);
    clearTimeout(entry.deadline);
    clearTimeout(entry.disconnectedTimer);
    const log = reason === 'revoked' || reason === 'backend closed' ? this.log.info : this.log.warn;
    log.call(this.log, { leaseId: entry.session.idHex, reason }, 'lease ended');
    await entry.session.close();
  }

  // ---------------------------------------------------------------------------------------

  private opResult(op: Op, result: TxnOpResult | undefined, zxid: bigint, leaseId: bigint): OpResult {
    switch (op.kind) {
      case 'create': {
        const owner = op.options?.leaseId !== undefined && op.options.leaseId !== 0n ? leaseId : 0n;
        return { kind: 'create', path: this.relative(result?.path ?? this.full(op.path)), stat: freshStat(zxid, op.data.length, owner) };
      }
      case 'set':
        if (result?.stat === undefined) throw new CoordinationError('UNAVAILABLE', 'multi: ZooKeeper returned no stat for a set');
        return { kind: 'set', stat: toNodeStat(result.stat) };
      case 'delete':
        return { kind: 'delete' };
      case 'check':
        return { kind: 'check' };
    }
  }

  private full(path: string): string {
    return path === '/' ? this.chroot || '/' : this.chroot + path;
  }

  private relative(full: string): string {
    if (this.chroot === '') return full;
    return full === this.chroot ? '/' : full.slice(this.chroot.length);
  }

  private ensureOpen(): void {
    if (this.closed) throw closedError();
  }
}

const isNoNode = (e: unknown): boolean => e instanceof ZooKeeperCallError && e.zkCode === ZK_ERROR.NO_NODE;

function modeOf(ephemeral: boolean, sequential: boolean): number {
  if (ephemeral) return sequential ? CREATE_MODE.EPHEMERAL_SEQUENTIAL : CREATE_MODE.EPHEMERAL;
  return sequential ? CREATE_MODE.PERSISTENT_SEQUENTIAL : CREATE_MODE.PERSISTENT;
}

const toBigInt = (b: Buffer): bigint => b.readBigInt64BE(0);

function toNodeStat(s: ZkStat): NodeStat {
  return {
    version: s.version,
    cversion: s.cversion,
    createRevision: toBigInt(s.czxid),
    modRevision: toBigInt(s.mzxid),
    childrenRevision: toBigInt(s.pzxid),
    leaseId: toBigInt(s.ephemeralOwner),
    numChildren: s.numChildren,
    dataLength: s.dataLength,
  };
}

/** The stat of a node just created by the transaction `zxid` (as ZooKeeper's DataTree sets it). */
function freshStat(zxid: bigint, dataLength: number, leaseId: bigint): NodeStat {
  return {
    version: 0,
    cversion: 0,
    createRevision: zxid,
    modRevision: zxid,
    childrenRevision: zxid,
    leaseId,
    numChildren: 0,
    dataLength,
  };
}

const CODE_OF: ReadonlyMap<number, CoordinationErrorCode> = new Map([
  [ZK_ERROR.NO_NODE, 'NO_NODE'],
  [ZK_ERROR.NODE_EXISTS, 'NODE_EXISTS'],
  [ZK_ERROR.BAD_VERSION, 'BAD_VERSION'],
  [ZK_ERROR.NOT_EMPTY, 'NOT_EMPTY'],
  [ZK_ERROR.NO_CHILDREN_FOR_EPHEMERALS, 'INVALID_ARGUMENT'],
  [ZK_ERROR.BAD_ARGUMENTS, 'INVALID_ARGUMENT'],
  [ZK_ERROR.CONNECTION_LOSS, 'UNAVAILABLE'],
  [ZK_ERROR.OPERATION_TIMEOUT, 'UNAVAILABLE'],
  [ZK_ERROR.SESSION_EXPIRED, 'UNAVAILABLE'],
]);

const EXPLAIN: ReadonlyMap<number, string> = new Map([
  [ZK_ERROR.NO_NODE, 'no such node (or no parent)'],
  [ZK_ERROR.NODE_EXISTS, 'the node already exists'],
  [ZK_ERROR.BAD_VERSION, 'the version does not match'],
  [ZK_ERROR.NOT_EMPTY, 'the node has children'],
  [ZK_ERROR.NO_CHILDREN_FOR_EPHEMERALS, 'ephemeral nodes cannot have children'],
  [ZK_ERROR.CONNECTION_LOSS, 'connection to ZooKeeper lost; the outcome is unknown'],
  [ZK_ERROR.SESSION_EXPIRED, 'ZooKeeper session expired'],
]);

/** Any failure of a ZooKeeper call as the contract's error. */
export function toCoordinationError(e: unknown, what: string): CoordinationError {
  if (e instanceof CoordinationError) return e;
  if (e instanceof ZooKeeperCallError) {
    const code = e.zkCode === undefined ? 'UNAVAILABLE' : (CODE_OF.get(e.zkCode) ?? 'UNAVAILABLE');
    const why = e.zkCode === undefined ? e.message : (EXPLAIN.get(e.zkCode) ?? `ZooKeeper error ${e.zkCode}`);
    const op = e.opIndex === undefined ? '' : ` (op ${e.opIndex})`;
    return new CoordinationError(code, `${what}${op}: ${why}`, e.opIndex);
  }
  return new CoordinationError('UNAVAILABLE', `${what}: ${e instanceof Error ? e.message : String(e)}`);
}

function leaseExpired(id: bigint): CoordinationError {
  return new CoordinationError('LEASE_EXPIRED', `lease 0x${id.toString(16)} has expired or does not exist`);
}

function closedError(): CoordinationError {
  return new CoordinationError('UNAVAILABLE', 'the ZooKeeper backend is closed');
}
