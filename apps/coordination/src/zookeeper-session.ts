/**
 * One ZooKeeper session over node-zookeeper-client 1.1.3, with promises instead of callbacks
 * and the few places where the library's public API is not enough, reached deliberately:
 *
 * - `create` and `multi` are queued as raw jute requests on the client's ConnectionManager,
 *   because the reply header carries the transaction's zxid (the public `create` drops it):
 *   a created node's stat is then exact without a second, racy read (czxid = mzxid = pzxid =
 *   that zxid, versions 0). And `Transaction.check/setData/remove` turn version 0 into -1
 *   (`version || -1`), which would make a compare-and-set on a fresh node match anything.
 * - `close()` waits for the ConnectionManager to reach CLOSED, and makes sure a client that
 *   is between reconnect attempts never reconnects after it.
 *
 * The library itself: reconnects by itself within the session (re-registering watches with
 * SetWatches from the last zxid it saw, so no change is missed); reports expiry once, at the
 * first reconnect after the server dropped the session, and then stays dead; queues calls
 * made while disconnected WITHOUT a deadline and never answers those queued when the session
 * expires — every call here is therefore raced against a deadline and the session's death.
 * It cannot remove a watcher: a watch that is no longer wanted is only ignored when it fires.
 * And it has no read timeout at all: a server that accepts the TCP connection but never
 * answers (ZooKeeper 3.8 does exactly that to a client connecting while it loads its
 * database: an NPE in its worker leaves the socket open) or a half-open connection would
 * hang the session forever. `watchLiveness` adds the Java client's timeouts: a handshake
 * must complete within min(2 s, session timeout / servers / 2), and a connected session
 * must hear from the server within 2/3 of the session timeout (it pings every 1/3);
 * otherwise the socket is dropped and the library reconnects, to the next server.
 */
import * as zookeeper from 'node-zookeeper-client';

// Internals of node-zookeeper-client 1.1.3 used here (pinned in package.json).
interface JuteRecord {
  [field: string]: unknown;
}
interface JuteModule {
  OP_CODES: { CREATE: number; DELETE: number; SET_DATA: number; CHECK: number; MULTI: number; ERROR: number };
  protocol: {
    RequestHeader: new () => JuteRecord;
    CreateRequest: new () => JuteRecord;
  };
  Request: new (header: JuteRecord, payload: unknown) => unknown;
  TransactionRequest: new (ops: RawTxnOp[]) => unknown;
}
interface JuteResponse {
  header: { zxid: Buffer; err: number };
  payload: unknown;
}
interface ConnectionManagerInternals {
  state: number;
  servers: unknown[];
  socket?: { remoteAddress?: string; remotePort?: number; destroy(): void };
  onSocketConnected(this: ConnectionManagerInternals): void;
  onSocketData(this: ConnectionManagerInternals, data: Buffer): void;
  queue(request: unknown, callback: (error: Error | null, response?: JuteResponse) => void): void;
  connect(): void;
  setState(state: number): void;
  on(event: 'state', listener: (state: number) => void): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const jute = require('node-zookeeper-client/lib/jute') as JuteModule;
const CM_CONNECTING = 1;
const CM_CONNECTED = 2;
const CM_CLOSED = -2;

export const ZK_ERROR = zookeeper.Exception as unknown as {
  OK: number;
  CONNECTION_LOSS: number;
  OPERATION_TIMEOUT: number;
  BAD_ARGUMENTS: number;
  NO_NODE: number;
  NO_AUTH: number;
  BAD_VERSION: number;
  NO_CHILDREN_FOR_EPHEMERALS: number;
  NODE_EXISTS: number;
  NOT_EMPTY: number;
  SESSION_EXPIRED: number;
  RUNTIME_INCONSISTENCY: number;
};

/** A ZooKeeper error code (`ZK_ERROR`), or a failure of the call itself. */
export class ZooKeeperCallError extends Error {
  constructor(
    readonly zkCode: number | undefined,
    message: string,
    /** For a failed multi: the index of the op that failed. */
    readonly opIndex?: number,
  ) {
    super(message);
    this.name = 'ZooKeeperCallError';
  }

  static from(e: unknown, what: string): ZooKeeperCallError {
    if (e instanceof ZooKeeperCallError) return e;
    const code = (e as { code?: unknown } | null)?.code;
    const message = e instanceof Error ? e.message : String(e);
    return new ZooKeeperCallError(typeof code === 'number' ? code : undefined, `${what}: ${message}`);
  }
}

export interface ZkStat {
  czxid: Buffer;
  mzxid: Buffer;
  pzxid: Buffer;
  version: number;
  cversion: number;
  ephemeralOwner: Buffer;
  dataLength: number;
  numChildren: number;
}

export type RawTxnOp =
  | { type: number; path: string; data: Buffer; acls: unknown[]; mode: number }
  | { type: number; path: string; data: Buffer; version: number }
  | { type: number; path: string; version: number };

export type TxnOpResult = { type: number; path?: string; stat?: ZkStat; err?: number };

/**
 * 'detached': a session opened with `detachOnDisconnect` lost its connection after having
 * been connected; it is ended (see `abandon()`), neither reconnected nor closed.
 */
export type SessionEvent = 'connected' | 'disconnected' | 'expired' | 'detached';

export interface SessionOptions {
  /** Re-attach to this existing session instead of creating one. */
  attach?: { id: bigint; password: Buffer };
  /**
   * Once connected, a lost connection ends this object instead of reconnecting (lease
   * sessions: another replica may have taken the session over; reconnecting would steal it
   * back). Before the first connection, failed attempts are retried as usual.
   */
  detachOnDisconnect?: boolean;
}

export type Watcher = (event: unknown) => void;

export const CREATE_MODE = zookeeper.CreateMode;
/** World-readable and -writable: access control is the coordination service's job. */
export const OPEN_ACL = (zookeeper.ACL as unknown as { OPEN_ACL_UNSAFE: unknown[] }).OPEN_ACL_UNSAFE;
export const OP = jute.OP_CODES;

let nextSessionNumber = 1;

export class ZooKeeperSession {
  /** A number for logs (the server's session id is known only once connected). */
  readonly number = nextSessionNumber++;
  private readonly client: zookeeper.Client;
  private readonly cm: ConnectionManagerInternals;
  private readonly listeners: ((event: SessionEvent) => void)[] = [];
  private readonly connectWaiters = new Set<() => void>();
  private ended = false;
  private connectedNow = false;
  private deathReject!: (e: ZooKeeperCallError) => void;
  /** Rejecters of the calls in flight (failed at once if the session ends). */
  private readonly inFlight = new Set<(e: unknown) => void>();
  private readonly liveness: NodeJS.Timeout;
  private socketConnectedAt = 0;
  private lastReceivedAt = 0;
  /** Rejects once the session is unusable for good (expired or closed). Never resolves. */
  readonly dead: Promise<never>;

  private wasConnected = false;

  constructor(connectionString: string, sessionTimeoutMs: number, reconnectDelayMs: number, options: SessionOptions = {}) {
    const attach = options.attach;
    let sessionId: Buffer | undefined;
    if (attach !== undefined) {
      sessionId = Buffer.alloc(8);
      sessionId.writeBigInt64BE(attach.id);
    }
    this.client = zookeeper.createClient(connectionString, {
      sessionTimeout: sessionTimeoutMs,
      spinDelay: reconnectDelayMs,
      retries: 0,
      ...(attach !== undefined ? { sessionId, sessionPassword: attach.password } : {}),
    } as Partial<zookeeper.Option>);
    this.cm = (this.client as unknown as { connectionManager: ConnectionManagerInternals }).connectionManager;
    this.dead = new Promise<never>((_, reject) => {
      this.deathReject = reject;
    });
    this.dead.catch(() => undefined);
    this.liveness = this.watchLiveness(sessionTimeoutMs);
    this.client.on('state', (state: zookeeper.State) => {
      if (this.ended) return;
      if (state === zookeeper.State.SYNC_CONNECTED) {
        this.connectedNow = true;
        this.wasConnected = true;
        for (const wake of this.connectWaiters) wake();
        this.connectWaiters.clear();
        this.emit('connected');
      } else if (state === zookeeper.State.DISCONNECTED) {
        this.connectedNow = false;
        if (options.detachOnDisconnect === true && this.wasConnected) {
          // Emitted synchronously by the library just before it calls connect() again:
          // abandon() replaces connect() first, so it never reconnects.
          this.abandon();
          this.emit('detached');
          return;
        }
        this.emit('disconnected');
      } else if (state === zookeeper.State.EXPIRED) {
        this.connectedNow = false;
        this.end(new ZooKeeperCallError(ZK_ERROR.SESSION_EXPIRED, `ZooKeeper session ${this.idHex} expired`));
        this.emit('expired');
      }
    });
  }

  connect(): void {
    this.client.connect();
  }

  onEvent(listener: (event: SessionEvent) => void): void {
    this.listeners.push(listener);
  }

  get connected(): boolean {
    return this.connectedNow && !this.ended;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** The server's session id (valid once connected; 0n before). */
  get id(): bigint {
    return this.client.getSessionId().readBigInt64BE(0);
  }

  get idHex(): string {
    return `0x${this.id.toString(16)}`;
  }

  /** The timeout the server granted (the requested one until connected). */
  get timeoutMs(): number {
    return this.client.getSessionTimeout();
  }

  /** The session password (valid once connected): with the id, what re-attaches to the session. */
  get password(): Buffer {
    return this.client.getSessionPassword();
  }

  /** `host:port` of the server this session is connected to, if any. */
  get server(): string | undefined {
    const s = this.cm.socket;
    return this.connected && s?.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : undefined;
  }

  /**
   * Resolves once connected. Rejects with CONNECTION_LOSS at `deadline`, or with the reason
   * when the session ends. A call is only issued once connected: the library would queue it
   * without a deadline and send it whenever the connection comes back, long after the
   * caller gave up.
   */
  async waitConnected(deadline: number): Promise<void> {
    if (this.connected) return;
    if (this.ended) return this.dead;
    let timer: NodeJS.Timeout | undefined;
    let wake: (() => void) | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve) => {
          wake = resolve;
          this.connectWaiters.add(resolve);
        }),
        this.dead,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new ZooKeeperCallError(ZK_ERROR.CONNECTION_LOSS, 'not connected to ZooKeeper')),
            Math.max(0, deadline - Date.now()),
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (wake !== undefined) this.connectWaiters.delete(wake);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Calls. Each rejects with ZooKeeperCallError; none has a deadline of its own (see call()).

  getData(path: string, watcher?: Watcher): Promise<{ data: Buffer; stat: ZkStat }> {
    return this.call(`getData ${path}`, (cb) => {
      const done = (e: unknown, data: Buffer | undefined, stat: ZkStat): void =>
        cb(e, { data: data ?? Buffer.alloc(0), stat });
      if (watcher) this.client.getData(path, watcher, done as never);
      else this.client.getData(path, done as never);
    });
  }

  /** The stat, or null if the node does not exist (a watcher then waits for its creation). */
  exists(path: string, watcher?: Watcher): Promise<ZkStat | null> {
    return this.call(`exists ${path}`, (cb) => {
      const done = (e: unknown, stat: ZkStat | null | undefined): void => cb(e, stat ?? null);
      if (watcher) this.client.exists(path, watcher, done as never);
      else this.client.exists(path, done as never);
    });
  }

  getChildren(path: string, watcher?: Watcher): Promise<{ children: string[]; stat: ZkStat }> {
    return this.call(`getChildren ${path}`, (cb) => {
      const done = (e: unknown, children: string[] | undefined, stat: ZkStat): void =>
        cb(e, { children: children ?? [], stat });
      if (watcher) this.client.getChildren(path, watcher, done as never);
      else this.client.getChildren(path, done as never);
    });
  }

  setData(path: string, data: Buffer, version: number): Promise<ZkStat> {
    return this.call(`setData ${path}`, (cb) => this.client.setData(path, data, version, cb as never));
  }

  remove(path: string, version: number): Promise<void> {
    return this.call(`remove ${path}`, (cb) => this.client.remove(path, version, (e) => cb(e, undefined)));
  }

  /** Creates a node; returns its actual path (sequential suffix included) and the txn zxid. */
  create(path: string, data: Buffer, mode: number): Promise<{ path: string; zxid: bigint }> {
    const header = new jute.protocol.RequestHeader();
    header['type'] = jute.OP_CODES.CREATE;
    const payload = new jute.protocol.CreateRequest();
    payload['path'] = path;
    payload['acl'] = OPEN_ACL.map((a) => (a as unknown as { toRecord(): unknown }).toRecord());
    payload['flags'] = mode;
    payload['data'] = Buffer.from(data);
    return this.raw(`create ${path}`, new jute.Request(header, payload)).then((r) => ({
      path: (r.payload as { path: string }).path,
      zxid: r.header.zxid.readBigInt64BE(0),
    }));
  }

  /**
   * Runs a transaction. On failure rejects with the failing op's code and index (ZooKeeper
   * answers OK for the ops before it and RUNTIME_INCONSISTENCY for those after).
   */
  async multi(ops: RawTxnOp[]): Promise<{ results: TxnOpResult[]; zxid: bigint }> {
    const header = new jute.protocol.RequestHeader();
    header['type'] = jute.OP_CODES.MULTI;
    const response = await this.raw('multi', new jute.Request(header, new jute.TransactionRequest(ops)));
    const results = (response.payload as { results: TxnOpResult[] }).results;
    const failed = (r: TxnOpResult): boolean => r.type === jute.OP_CODES.ERROR && r.err !== ZK_ERROR.OK;
    let index = results.findIndex((r) => failed(r) && r.err !== ZK_ERROR.RUNTIME_INCONSISTENCY);
    if (index < 0) index = results.findIndex(failed);
    if (index >= 0) {
      const code = results[index]?.err;
      throw new ZooKeeperCallError(code, `multi op ${index} failed with ZooKeeper error ${code}`, index);
    }
    return { results, zxid: response.header.zxid.readBigInt64BE(0) };
  }

  /**
   * Ends the session: ZooKeeper deletes its ephemeral nodes before answering. Resolves when
   * the client is closed (at most `timeoutMs`; then the socket is dropped and the server
   * expires the session after its timeout).
   */
  async close(timeoutMs = 3_000): Promise<void> {
    const wasConnected = this.connected;
    this.end(new ZooKeeperCallError(ZK_ERROR.CONNECTION_LOSS, `ZooKeeper session ${this.idHex} is closed`));
    if (this.cm.state !== CM_CLOSED) {
      const closed = new Promise<void>((resolve) => {
        this.cm.on('state', (s) => {
          if (s === CM_CLOSED) resolve();
        });
      });
      if (wasConnected) {
        this.client.close();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([closed, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
        clearTimeout(timer);
      }
    }
    // Never reconnect after this (a client between reconnect attempts would otherwise
    // connect again and revive the session), and drop the socket if it is still there.
    this.cm.connect = () => this.cm.setState(CM_CLOSED);
    if (this.cm.state !== CM_CLOSED) {
      this.cm.setState(CM_CLOSED);
      this.cm.socket?.destroy();
    }
  }

  /**
   * Drops the connection WITHOUT ending the ZooKeeper session (no closeSession): the server
   * expires it after its timeout unless some client re-attaches to it. Models a process
   * death, and lets go of a lease session another replica has taken over.
   */
  abandon(): void {
    this.end(new ZooKeeperCallError(ZK_ERROR.CONNECTION_LOSS, `ZooKeeper session ${this.idHex} was abandoned by this process`));
    this.cm.connect = () => this.cm.setState(CM_CLOSED);
    if (this.cm.state !== CM_CLOSED) {
      this.cm.setState(CM_CLOSED);
      this.cm.socket?.destroy();
    }
  }

  private watchLiveness(requestedTimeoutMs: number): NodeJS.Timeout {
    const cm = this.cm;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    const onSocketConnected = cm.onSocketConnected;
    const onSocketData = cm.onSocketData;
    // The library binds these per socket at connect time, so instance overrides take effect.
    cm.onSocketConnected = function () {
      self.socketConnectedAt = Date.now();
      self.lastReceivedAt = self.socketConnectedAt;
      onSocketConnected.call(this);
    };
    cm.onSocketData = function (data: Buffer) {
      self.lastReceivedAt = Date.now();
      onSocketData.call(this, data);
    };
    // A new attempt (CONNECTING) or a finished handshake (CONNECTED) ends the handshake clock.
    cm.on('state', (state) => {
      if (state === CM_CONNECTING || state === CM_CONNECTED) this.socketConnectedAt = 0;
    });
    const handshakeTimeoutMs = Math.max(200, Math.min(2_000, Math.floor(requestedTimeoutMs / Math.max(1, cm.servers.length) / 2)));
    const timer = setInterval(
      () => {
        if (this.ended || cm.socket === undefined) return;
        const now = Date.now();
        const handshakeStuck = cm.state === CM_CONNECTING && this.socketConnectedAt > 0 && now - this.socketConnectedAt > handshakeTimeoutMs;
        const silent = cm.state === CM_CONNECTED && now - this.lastReceivedAt > (this.timeoutMs * 2) / 3;
        if (handshakeStuck || silent) {
          this.socketConnectedAt = 0;
          cm.socket.destroy(); // -> DISCONNECTED, then the library reconnects
        }
      },
      Math.max(50, Math.min(1_000, Math.floor(requestedTimeoutMs / 10))),
    );
    timer.unref();
    return timer;
  }

  private end(reason: ZooKeeperCallError): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.liveness);
    this.connectedNow = false;
    this.deathReject(reason);
    for (const reject of this.inFlight) reject(reason);
    this.inFlight.clear();
  }

  private emit(event: SessionEvent): void {
    for (const l of this.listeners) l(event);
  }

  private call<T>(what: string, start: (cb: (e: unknown, value: T) => void) => void): Promise<T> {
    if (this.ended) return this.dead;
    // Calls in flight are failed together when the session ends (end()). Not
    // Promise.race([result, this.dead]): every race would add a reaction to the long-lived
    // `dead` promise that is only released when it settles — a leak on the hot path.
    return new Promise<T>((resolve, reject) => {
      this.inFlight.add(reject);
      const settle = (e: unknown, value: T): void => {
        this.inFlight.delete(reject);
        if (e) reject(ZooKeeperCallError.from(e, what));
        else resolve(value);
      };
      try {
        start(settle);
      } catch (e) {
        // The library asserts on bad arguments (paths) synchronously.
        settle(new ZooKeeperCallError(ZK_ERROR.BAD_ARGUMENTS, `${what}: ${(e as Error).message}`), undefined as T);
      }
    });
  }

  private raw(what: string, request: unknown): Promise<JuteResponse> {
    return this.call<JuteResponse>(what, (cb) =>
      this.cm.queue(request, (e, response) => cb(e, response as JuteResponse)),
    );
  }
}
