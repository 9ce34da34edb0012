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
 *   detached (connection lost, not re-attached) for a whole ttl — unless another replica
 *   holds it now (see "Ending" below); if this process dies, ZooKeeper expires it after the
 *   ttl unless another replica adopts it. Either way the ephemerals vanish.
 * - Lease failover: several replicas serve one ensemble and a lease must survive the replica
 *   that granted it (crashed, or the client's connection moved). See "Lease failover" below.
 * - Watches are ZooKeeper's one-shot watches set by getData / getChildren (or exists on an
 *   absent node, which fires on creation) on the main session. A disconnection keeps them
 *   (the client re-registers them on reconnect and the server fires those whose node changed
 *   meanwhile); a session expiry or close loses them: pending watches then resolve 'lost'.
 */
/*
 * Lease failover
 * --------------
 * Stored: at grant, the lease's own session creates the EPHEMERAL node
 * `<chroot>/.leases/<id as 16 hex digits>` holding JSON `{ password, ttlMs, holder }`:
 * the session password (hex) — with the id, all a replica needs to re-attach to the session
 * (node-zookeeper-client `createClient(..., { sessionId, sessionPassword })`) —, the ttl, and
 * an opaque token of the replica currently holding the session's connection. The node
 * vanishes with the session. `/.leases` (created with the chroot) is RESERVED: user paths
 * under it are refused (INVALID_ARGUMENT, here and in paths.ts) and it is left out of the
 * root's children (the root's numChildren too; its cversion/pzxid do count it).
 * SECURITY: whoever can read the ZooKeeper tree can take over any lease (and end it). The
 * Tributary API never returns these nodes; ZooKeeper itself must be protected (ACLs/auth,
 * network policy) — today every node is OPEN_ACL_UNSAFE.
 *
 * Adoption: keepAlive / create / multi with a lease / revoke for a lease this replica does
 * not hold: read `/.leases/<id>` (absent → LEASE_EXPIRED), write holder := this replica
 * (through the main session), THEN re-attach a session with id + password and the lease
 * ttl as timeout (expired → LEASE_EXPIRED), and hold it like a granted lease (same keepAlive
 * deadline and rules). Concurrent adoptions in one replica share one attempt.
 *
 * Takeover: ZooKeeper lets one connection hold a session; when another client re-attaches,
 * the server closes the older connection (same server), or that connection stays open but
 * no longer owns the session (another server of an ensemble). node-zookeeper-client would
 * reconnect the dropped one and steal the session back (ping-pong), so a lease session is
 * never reconnected by the library: once connected, a lost connection DETACHES it
 * (`ZooKeeperSession.abandon()`: socket dropped, no closeSession, the session lives on in
 * ZooKeeper). A detached lease stays known here with its deadline: a keepAlive for it
 * re-attaches (LEASE_EXPIRED if the session is gone; answered as alive if ZooKeeper does
 * not answer within ttl/4, the attempt going on); a create / multi / revoke re-attaches
 * first (bounded by the operation timeout). That covers both a network blip and a lease that
 * came back after being served elsewhere; only clients' calls move a session, never the
 * replicas by themselves.
 *
 * Ending: when no keepAlive came within the ttl (or a lease stayed detached a whole ttl, or
 * on close()), the replica reads the holder token first: if another replica has adopted
 * the lease, it only forgets it locally (never closeSession: ZooKeeper does not check who
 * closes a session, so a stale connection could kill the adopter's lease). Otherwise it
 * ends the session (closeSession if attached; if detached the session expires in ZooKeeper
 * within the ttl since no one is connected to it) and remembers the id as ended, so this
 * replica answers LEASE_EXPIRED for it even if ZooKeeper (e.g. restored after a restart)
 * still has the session for a while. A replica that dies holds nothing: its leases live
 * on in ZooKeeper for their ttl, adoptable by any replica.
 */
import { randomBytes } from 'node:crypto';
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
  password: Buffer;
  /** The attached session; undefined while detached (see "Lease failover"). */
  session: ZooKeeperSession | undefined;
  /** A re-attach in progress. */
  attaching: Promise<ZooKeeperSession> | undefined;
  /** Fires when no keepAlive came within the ttl. */
  deadline: NodeJS.Timeout;
  /** When the deadline is due (a keepAlive during the holder check keeps the lease). */
  expiresAt: number;
  /** Runs while detached; fires after a whole ttl without a session. */
  detachedTimer?: NodeJS.Timeout;
}

/** The reserved top-level node (under the chroot) holding one node per live lease. */
export const LEASES_DIR = '/.leases';
const LEASES_NAME = LEASES_DIR.slice(1);
/** How many ended lease ids a replica remembers (answering LEASE_EXPIRED without a look-up). */
const ENDED_LEASES_KEPT = 10_000;

interface LeaseRecord {
  password: string;
  ttlMs: number;
  holder: string;
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
  /** Adoptions in progress (one per lease id). */
  private readonly adopting = new Map<bigint, Promise<LeaseEntry>>();
  /** Leases this replica ended (see "Ending"), oldest first. */
  private readonly ended = new Set<bigint>();
  /** This replica's holder token in lease nodes. */
  readonly replicaToken = randomBytes(8).toString('hex');
  private readonly listeners: ((state: BackendState) => void)[] = [];
  private _state: BackendState = 'disconnected';
  private chrootReady: Promise<void> | undefined;
  /** `/.leases` exists under the chroot (the root's numChildren then leaves it out). */
  private leasesDirReady = false;
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
      return { data, stat: this.statOf(path, stat) };
    });
  }

  async exists(path: string): Promise<NodeStat | undefined> {
    return this.read(`exists ${path}`, async (s) => {
      const stat = await s.exists(this.full(path));
      return stat === null ? undefined : this.statOf(path, stat);
    });
  }

  async children(path: string): Promise<{ names: string[]; stat: NodeStat }> {
    return this.read(`children ${path}`, async (s) => {
      const { children, stat } = await s.getChildren(this.full(path));
      return { names: this.userChildren(path, children), stat: this.statOf(path, stat) };
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
            return { node: { data, stat: this.statOf(path, stat) }, changed: watch.changed, cancel: watch.cancel };
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
              children: { names: this.userChildren(path, children), stat: this.statOf(path, stat) },
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
    const full = this.full(path);
    const leaseId = options.leaseId === undefined || options.leaseId === 0n ? undefined : options.leaseId;
    const mode = modeOf(leaseId !== undefined, options.sequential === true);
    return this.write(`create ${path}`, leaseId, async (s) => {
      const created = await s.create(full, data, mode);
      return { path: this.relative(created.path), stat: freshStat(created.zxid, data.length, leaseId ?? 0n) };
    });
  }

  async set(path: string, data: Buffer, expectedVersion: number): Promise<NodeStat> {
    return this.write(`set ${path}`, undefined, async (s) => this.statOf(path, await s.setData(this.full(path), data, expectedVersion)));
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
    this.ensureOpen();
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
    return this.write('multi', leaseId, async (s) => {
      const { results, zxid } = await s.multi(raw);
      return ops.map((op, i) => this.opResult(op, results[i], zxid, leaseId ?? 0n));
    });
  }

  // ---------------------------------------------------------------------------------------
  // Leases

  async grantLease(ttlMs: number): Promise<Lease> {
    this.ensureOpen();
    if (!Number.isInteger(ttlMs) || ttlMs <= 0) {
      throw new CoordinationError('INVALID_ARGUMENT', `lease ttl ${ttlMs} ms must be a positive integer`);
    }
    const deadline = Date.now() + this.operationTimeoutMs;
    await this.ensureChroot(deadline);
    const session = new ZooKeeperSession(this.connectionString, ttlMs, this.reconnectDelayMs, { detachOnDisconnect: true });
    session.connect();
    try {
      await session.waitConnected(deadline);
    } catch (e) {
      await session.close();
      throw new CoordinationError('UNAVAILABLE', `grantLease: no ZooKeeper session within ${this.operationTimeoutMs} ms (${toCoordinationError(e, 'connect').message})`);
    }
    const id = session.id;
    const granted = session.timeoutMs;
    const password = session.password;
    try {
      // Created by the lease's own session: it vanishes with the lease.
      await this.withDeadline(session.create(this.leasePath(id), this.leaseRecord(password, granted), CREATE_MODE.EPHEMERAL), deadline, 'grantLease');
    } catch (e) {
      await session.close();
      throw new CoordinationError('UNAVAILABLE', `grantLease: could not record the lease (${toCoordinationError(e, 'create').message})`);
    }
    if (this.closed) {
      await session.close();
      throw closedError();
    }
    this.hold(id, granted, password, session);
    this.log.info({ leaseId: session.idHex, requestedTtlMs: ttlMs, ttlMs: granted }, 'lease granted');
    return { id, ttlMs: granted };
  }

  async keepAlive(leaseId: bigint): Promise<Lease> {
    this.ensureOpen();
    const entry = this.leases.get(leaseId) ?? (await this.adopt(leaseId, Date.now() + this.operationTimeoutMs));
    if (this.leases.get(leaseId) !== entry) throw leaseExpired(leaseId);
    this.armDeadline(entry);
    if (entry.session === undefined) {
      // Detached: re-attach. A lease ZooKeeper says is gone is LEASE_EXPIRED; one that cannot
      // be re-attached quickly (ZooKeeper unreachable) is answered as alive meanwhile, as
      // while a connection is being re-established — until it has been detached a whole ttl.
      const attempt = this.attach(entry, Date.now() + this.operationTimeoutMs);
      attempt.catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        attempt.then(
          () => 'ok',
          (e: unknown) => (e instanceof CoordinationError && e.code === 'LEASE_EXPIRED' ? 'expired' : 'unknown'),
        ),
        new Promise<string>((resolve) => (timer = setTimeout(() => resolve('unknown'), Math.max(50, Math.floor(entry.ttlMs / 4))))),
      ]);
      clearTimeout(timer);
      if (outcome === 'expired') throw leaseExpired(leaseId);
    }
    return { id: leaseId, ttlMs: entry.ttlMs };
  }

  async revokeLease(leaseId: bigint): Promise<void> {
    this.ensureOpen();
    try {
      await this.leaseSession(leaseId, Date.now() + this.operationTimeoutMs);
    } catch (e) {
      if (e instanceof CoordinationError && e.code === 'LEASE_EXPIRED') return;
      // Known here but not re-attachable now: forget it (its session expires in ZooKeeper).
      if (!this.leases.has(leaseId)) throw e;
    }
    await this.endLease(leaseId, 'revoked', 'end');
  }

  /** Models a crash of this process: every connection dropped, no session closed. Then closed. */
  async abandon(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const entry of this.leases.values()) {
      clearTimeout(entry.deadline);
      clearTimeout(entry.detachedTimer);
      entry.session?.abandon();
    }
    this.leases.clear();
    this.loseWatches(this.session);
    this.session.abandon();
    this.setState('closed');
  }

  // ---------------------------------------------------------------------------------------

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const main = this.session;
    await Promise.all([...this.leases.values()].map((entry) => this.expire(entry, 'closing')));
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
    if (this.chrootReady === undefined) {
      const attempt = (async () => {
        const s = await this.connectedSession(deadline, 'creating the chroot');
        let path = '';
        for (const part of [...this.chroot.slice(1).split('/').filter((p) => p !== ''), LEASES_NAME]) {
          path += `/${part}`;
          try {
            await this.withDeadline(s.create(path, Buffer.alloc(0), CREATE_MODE.PERSISTENT), deadline, `create ${path}`);
          } catch (e) {
            if (!(e instanceof ZooKeeperCallError && e.zkCode === ZK_ERROR.NODE_EXISTS)) throw e;
          }
        }
        this.leasesDirReady = true;
      })();
      this.chrootReady = attempt;
      attempt.catch(() => {
        if (this.chrootReady === attempt) this.chrootReady = undefined;
      });
    }
    try {
      await this.chrootReady;
    } catch (e) {
      throw toCoordinationError(e, `creating the chroot ${this.chroot || '/'} and ${LEASES_DIR}`);
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

  /** One attempt of a write, on the main session or on a lease's (adopted or re-attached first if needed). */
  private async write<T>(
    what: string,
    leaseId: bigint | undefined,
    call: (s: ZooKeeperSession) => Promise<T>,
    deadline = Date.now() + this.operationTimeoutMs,
  ): Promise<T> {
    await this.ensureChroot(deadline);
    const session = leaseId === undefined ? await this.connectedSession(deadline, what) : await this.leaseSession(leaseId, deadline, what);
    try {
      return await this.withDeadline(call(session), deadline, what);
    } catch (e) {
      if (leaseId !== undefined && e instanceof ZooKeeperCallError && e.zkCode === ZK_ERROR.SESSION_EXPIRED) {
        void this.endLease(leaseId, 'session expired', 'end');
        throw leaseExpired(leaseId);
      }
      if (leaseId !== undefined && session.isEnded && !this.leases.has(leaseId)) throw leaseExpired(leaseId);
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

  private leasePath(id: bigint): string {
    return `${this.chroot}${LEASES_DIR}/${BigInt.asUintN(64, id).toString(16).padStart(16, '0')}`;
  }

  private leaseRecord(password: Buffer, ttlMs: number): Buffer {
    const record: LeaseRecord = { password: password.toString('hex'), ttlMs, holder: this.replicaToken };
    return Buffer.from(JSON.stringify(record));
  }

  /** The lease node's record, or undefined if the lease is gone (one attempt, on the main session). */
  private async readLease(id: bigint, deadline: number): Promise<LeaseRecord | undefined> {
    const path = this.leasePath(id);
    try {
      const s = this.session;
      await s.waitConnected(deadline);
      const { data, stat } = await this.withDeadline(s.getData(path), deadline, `read ${path}`);
      if (toBigInt(stat.ephemeralOwner) !== id) return undefined;
      const record = JSON.parse(data.toString()) as Partial<LeaseRecord>;
      if (typeof record.password !== 'string' || typeof record.ttlMs !== 'number') return undefined;
      return { password: record.password, ttlMs: record.ttlMs, holder: String(record.holder ?? '') };
    } catch (e) {
      if (isNoNode(e)) return undefined;
      throw toCoordinationError(e, `lease 0x${id.toString(16)}`);
    }
  }

  /** Starts holding an attached lease session here. */
  private hold(id: bigint, ttlMs: number, password: Buffer, session: ZooKeeperSession): LeaseEntry {
    const entry: LeaseEntry = { id, ttlMs, password, session: undefined, attaching: undefined, deadline: setTimeout(() => undefined, 0), expiresAt: 0 };
    this.ended.delete(id);
    this.leases.set(id, entry);
    this.armDeadline(entry);
    this.attached(entry, session);
    return entry;
  }

  private attached(entry: LeaseEntry, session: ZooKeeperSession): void {
    entry.session = session;
    clearTimeout(entry.detachedTimer);
    entry.detachedTimer = undefined;
    session.onEvent((event) => {
      if (this.leases.get(entry.id) !== entry || entry.session !== session) return;
      if (event === 'expired') {
        void this.endLease(entry.id, 'session expired', 'end');
      } else if (event === 'detached') {
        // Lost connection, or another replica took the session over: never reconnect by
        // ourselves (see "Takeover"); a call for the lease re-attaches.
        entry.session = undefined;
        this.log.info({ leaseId: session.idHex }, 'lease session detached (connection lost or taken over by another replica)');
        clearTimeout(entry.detachedTimer);
        entry.detachedTimer = setTimeout(() => void this.expire(entry, 'detached'), entry.ttlMs);
      }
    });
  }

  private armDeadline(entry: LeaseEntry): void {
    clearTimeout(entry.deadline);
    entry.expiresAt = Date.now() + entry.ttlMs;
    entry.deadline = setTimeout(() => void this.expire(entry, 'deadline'), entry.ttlMs);
  }

  /** The lease's connected session: held here, re-attached, or adopted. LEASE_EXPIRED if gone. */
  private async leaseSession(leaseId: bigint, deadline: number, what = 'lease'): Promise<ZooKeeperSession> {
    this.ensureOpen();
    const entry = this.leases.get(leaseId) ?? (await this.adopt(leaseId, deadline));
    const session = entry.session;
    if (session !== undefined && !session.isEnded) {
      try {
        await session.waitConnected(deadline);
        return session;
      } catch {
        if (session.isEnded && entry.session === session) entry.session = undefined;
        if (!this.leases.has(leaseId)) throw leaseExpired(leaseId);
        if (entry.session === session) {
          throw new CoordinationError('UNAVAILABLE', `${what}: the lease's ZooKeeper session is not connected (${this.operationTimeoutMs} ms)`);
        }
      }
    }
    return this.attach(entry, deadline);
  }

  /** Re-attaches a detached lease held here (one attempt at a time). */
  private attach(entry: LeaseEntry, deadline: number): Promise<ZooKeeperSession> {
    if (entry.session !== undefined && !entry.session.isEnded) return Promise.resolve(entry.session);
    if (entry.attaching === undefined) {
      const attempt = this.reattach(entry.id, entry.password, entry.ttlMs, deadline).then(
        (session) => {
          if (this.leases.get(entry.id) !== entry || this.closed) {
            session.abandon();
            throw leaseExpired(entry.id);
          }
          this.attached(entry, session);
          this.log.info({ leaseId: session.idHex }, 'lease session re-attached');
          return session;
        },
        (e: unknown) => {
          if (e instanceof CoordinationError && e.code === 'LEASE_EXPIRED') void this.endLease(entry.id, 'session expired', 'end');
          throw e;
        },
      );
      entry.attaching = attempt;
      void attempt.then(
        () => (entry.attaching = undefined),
        () => (entry.attaching = undefined),
      );
    }
    return entry.attaching;
  }

  /** Takes over a lease granted by another replica (or forgotten here), through its `/.leases` node. */
  private adopt(leaseId: bigint, deadline: number): Promise<LeaseEntry> {
    if (this.ended.has(leaseId) || leaseId <= 0n) return Promise.reject(leaseExpired(leaseId));
    let attempt = this.adopting.get(leaseId);
    if (attempt === undefined) {
      attempt = (async () => {
        await this.ensureChroot(deadline);
        const record = await this.readLease(leaseId, deadline);
        if (record === undefined) throw leaseExpired(leaseId);
        const password = Buffer.from(record.password, 'hex');
        const session = await this.reattach(leaseId, password, record.ttlMs, deadline);
        if (this.closed) {
          session.abandon();
          throw closedError();
        }
        const existing = this.leases.get(leaseId);
        if (existing !== undefined) {
          // Granted/adopted meanwhile (cannot happen with one attempt per id; be safe).
          session.abandon();
          return existing;
        }
        this.log.info({ leaseId: session.idHex, ttlMs: record.ttlMs, previousHolder: record.holder }, 'lease adopted from another replica');
        return this.hold(leaseId, record.ttlMs, password, session);
      })();
      this.adopting.set(leaseId, attempt);
      const done = attempt;
      void done.then(
        () => this.adopting.delete(leaseId),
        () => this.adopting.delete(leaseId),
      );
    }
    return attempt;
  }

  /**
   * Claims the lease (holder := this replica, so a replica losing it knows it moved), then
   * re-attaches a session with its id and password. LEASE_EXPIRED if the session is gone.
   */
  private async reattach(id: bigint, password: Buffer, ttlMs: number, deadline: number): Promise<ZooKeeperSession> {
    const path = this.leasePath(id);
    const record = this.leaseRecord(password, ttlMs);
    try {
      await this.write(`claim lease ${path}`, undefined, (s) => s.setData(path, record, -1), deadline);
    } catch (e) {
      if (e instanceof CoordinationError && e.code === 'NO_NODE') throw leaseExpired(id);
      throw e;
    }
    const session = new ZooKeeperSession(this.connectionString, ttlMs, this.reconnectDelayMs, { attach: { id, password }, detachOnDisconnect: true });
    session.connect();
    try {
      await session.waitConnected(deadline);
    } catch (e) {
      session.abandon();
      if (e instanceof ZooKeeperCallError && e.zkCode === ZK_ERROR.SESSION_EXPIRED) throw leaseExpired(id);
      throw new CoordinationError('UNAVAILABLE', `lease 0x${id.toString(16)}: could not re-attach its ZooKeeper session within ${this.operationTimeoutMs} ms`);
    }
    if (session.id !== id) {
      void session.close();
      throw leaseExpired(id);
    }
    return session;
  }

  /**
   * The lease's time is up here (no keepAlive, detached too long, or closing). If another
   * replica has adopted it, only forget it; otherwise end it (see "Ending").
   */
  private async expire(entry: LeaseEntry, why: 'deadline' | 'detached' | 'closing'): Promise<void> {
    if (this.leases.get(entry.id) !== entry) return;
    const reason = { deadline: 'no keepAlive within the ttl', detached: 'detached for a whole ttl', closing: 'backend closed' }[why];
    let holder: string | undefined;
    try {
      holder = (await this.readLease(entry.id, Date.now() + Math.min(this.operationTimeoutMs, entry.ttlMs)))?.holder;
    } catch {
      holder = undefined; // ZooKeeper unreachable: the lease is ours to end
    }
    if (this.leases.get(entry.id) !== entry) return;
    if (holder !== undefined && holder !== this.replicaToken) {
      await this.endLease(entry.id, `${reason}; held by another replica now`, 'forget');
      return;
    }
    // A keepAlive (or a re-attach) came while reading: the lease goes on.
    if (why === 'deadline' && entry.expiresAt > Date.now()) return;
    if (why === 'detached' && entry.session !== undefined) return;
    await this.endLease(entry.id, reason, 'end');
  }

  /**
   * 'end': closes the session if attached (ZooKeeper deletes its nodes), remembers the id as
   * ended. 'forget': drops the connection only; the session lives on (held elsewhere).
   */
  private async endLease(id: bigint, reason: string, how: 'end' | 'forget'): Promise<void> {
    const entry = this.leases.get(id);
    if (entry === undefined) return;
    this.leases.delete(id);
    clearTimeout(entry.deadline);
    clearTimeout(entry.detachedTimer);
    const hex = `0x${id.toString(16)}`;
    const quiet = reason === 'revoked' || reason === 'backend closed' || how === 'forget';
    const log = quiet ? this.log.info : this.log.warn;
    log.call(this.log, { leaseId: hex, reason }, how === 'end' ? 'lease ended' : 'lease forgotten here (held by another replica)');
    const session = entry.session;
    entry.session = undefined;
    if (how === 'forget') {
      session?.abandon();
      return;
    }
    this.ended.add(id);
    if (this.ended.size > ENDED_LEASES_KEPT) {
      const [oldest] = this.ended;
      if (oldest !== undefined) this.ended.delete(oldest);
    }
    await session?.close();
  }

  /** Stat of a user path; the root's numChildren leaves out the reserved `/.leases`. */
  private statOf(path: string, zkStat: ZkStat): NodeStat {
    const stat = toNodeStat(zkStat);
    if (path === '/' && this.leasesDirReady) stat.numChildren = Math.max(0, stat.numChildren - 1);
    return stat;
  }

  private userChildren(path: string, names: string[]): string[] {
    return (path === '/' ? names.filter((n) => n !== LEASES_NAME) : [...names]).sort();
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
        return { kind: 'set', stat: this.statOf(op.path, result.stat) };
      case 'delete':
        return { kind: 'delete' };
      case 'check':
        return { kind: 'check' };
    }
  }

  private full(path: string): string {
    if (path === LEASES_DIR || path.startsWith(`${LEASES_DIR}/`)) {
      throw new CoordinationError('INVALID_ARGUMENT', `'${path}' is reserved (lease records of the coordination service)`);
    }
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
