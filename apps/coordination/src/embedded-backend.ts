/**
 * EmbeddedBackend: the coordination tree in this process, for one machine (`npm start`).
 * Same semantics as ZooKeeper (see backend.ts), persisted so a restart keeps the tree.
 *
 * Files in `dataDir`:
 *   coordination.wal       one committed transaction per line: `<crc32c, 8 hex> <json>\n`,
 *                          json = { r: revision, o: [ {t:'c'|'s'|'d', p: path, d?: base64,
 *                          l?: leaseId} ] }; written and fdatasync'ed before the caller is
 *                          answered. A torn or corrupt tail is cut off on open.
 *   coordination.snapshot  the whole tree at a revision (JSON), written atomically when the
 *                          log grows past `snapshotBytes`; the log then restarts empty.
 *
 * Ephemeral nodes are logged like the others — so revisions, cversions and therefore
 * sequence numbers (election terms) keep increasing across restarts — and deleted, in a
 * logged transaction, when the backend opens: leases do not survive a restart.
 *
 * Concurrency: all state changes are synchronous (one JS turn per transaction), so
 * transactions are serialised; a multi is applied with an undo list and rolled back whole
 * on the first failing op. Watches fire after the transaction is durable.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from '@tributary/records';
import type {
  Backend,
  BackendState,
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
import { nameOf, parentOf, sequenceSuffix } from './paths';

export interface EmbeddedBackendOptions {
  dataDir: string;
  /** fdatasync every transaction (default true; tests of the logic may turn it off). */
  fsync?: boolean;
  /** Compact the log into a snapshot past this size (default 16 MiB). */
  snapshotBytes?: number;
  now?: () => number;
}

interface TreeNode {
  data: Buffer;
  version: number;
  cversion: number;
  czxid: number;
  mzxid: number;
  pzxid: number;
  leaseId: bigint;
  children: Set<string>;
}

/** A primitive, logged change. */
type Change = { t: 'c'; p: string; d: string; l?: string } | { t: 's'; p: string; d: string } | { t: 'd'; p: string };

interface LeaseState {
  id: bigint;
  ttlMs: number;
  timer: NodeJS.Timeout;
  nodes: Set<string>;
}

const WAL_FILE = 'coordination.wal';
const SNAPSHOT_FILE = 'coordination.snapshot';
const MIN_TTL_MS = 1000;
const MAX_TTL_MS = 600_000;

export class EmbeddedBackend implements Backend {
  readonly kind = 'embedded';
  private readonly tree = new Map<string, TreeNode>();
  private revision = 0;
  private readonly leases = new Map<bigint, LeaseState>();
  private readonly dataWatches = new Map<string, Set<(fired: WatchFired) => void>>();
  private readonly childWatches = new Map<string, Set<(fired: WatchFired) => void>>();
  private readonly listeners: ((state: BackendState) => void)[] = [];
  private _state: BackendState = 'connected';
  private walFd: number;
  private walBytes = 0;
  private readonly fsync: boolean;
  private readonly snapshotBytes: number;

  constructor(private readonly options: EmbeddedBackendOptions) {
    mkdirSync(options.dataDir, { recursive: true });
    this.fsync = options.fsync ?? true;
    this.snapshotBytes = options.snapshotBytes ?? 16 * 1024 * 1024;
    this.tree.set('/', newNode(Buffer.alloc(0), 0, 0n));
    this.loadSnapshot();
    this.walFd = openSync(join(options.dataDir, WAL_FILE), existsSync(join(options.dataDir, WAL_FILE)) ? 'r+' : 'w+');
    this.replayWal();
    // Leases do not survive a restart: their nodes go, in a logged transaction.
    const orphans = [...this.tree.entries()].filter(([, n]) => n.leaseId !== 0n).map(([p]) => p);
    if (orphans.length > 0) this.commit(orphans.sort((a, b) => b.length - a.length).map((p) => ({ t: 'd', p }) as Change));
    if (this.walBytes > this.snapshotBytes) this.writeSnapshot();
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

  // ---------------------------------------------------------------------------------------
  // Reads

  async get(path: string): Promise<NodeData> {
    this.ensureOpen();
    const node = this.tree.get(path);
    if (!node) throw noNode(path);
    return { data: node.data, stat: statOf(node) };
  }

  async exists(path: string): Promise<NodeStat | undefined> {
    this.ensureOpen();
    const node = this.tree.get(path);
    return node ? statOf(node) : undefined;
  }

  async children(path: string): Promise<{ names: string[]; stat: NodeStat }> {
    this.ensureOpen();
    const node = this.tree.get(path);
    if (!node) throw noNode(path);
    return { names: [...node.children].sort(), stat: statOf(node) };
  }

  async getAndWatch(path: string): Promise<WatchedNode> {
    this.ensureOpen();
    const node = this.tree.get(path);
    const { promise, cancel } = this.register(this.dataWatches, path);
    return { node: node ? { data: node.data, stat: statOf(node) } : undefined, changed: promise, cancel };
  }

  async childrenAndWatch(path: string): Promise<WatchedChildren> {
    this.ensureOpen();
    const node = this.tree.get(path);
    const { promise, cancel } = this.register(this.childWatches, path);
    return { children: node ? { names: [...node.children].sort(), stat: statOf(node) } : undefined, changed: promise, cancel };
  }

  private register(map: Map<string, Set<(fired: WatchFired) => void>>, path: string): { promise: Promise<WatchFired>; cancel(): void } {
    let listener!: (fired: WatchFired) => void;
    const promise = new Promise<WatchFired>((resolve) => {
      listener = resolve;
    });
    let set = map.get(path);
    if (!set) {
      set = new Set();
      map.set(path, set);
    }
    set.add(listener);
    return {
      promise,
      cancel: () => {
        const s = map.get(path);
        s?.delete(listener);
        if (s?.size === 0) map.delete(path);
      },
    };
  }

  // ---------------------------------------------------------------------------------------
  // Writes

  async create(path: string, data: Buffer, options: CreateOptions = {}): Promise<{ path: string; stat: NodeStat }> {
    const [result] = this.transact([{ kind: 'create', path, data, options }]);
    return result as { kind: 'create'; path: string; stat: NodeStat };
  }

  async set(path: string, data: Buffer, expectedVersion: number): Promise<NodeStat> {
    const [result] = this.transact([{ kind: 'set', path, data, expectedVersion }]);
    return (result as { kind: 'set'; stat: NodeStat }).stat;
  }

  async delete(path: string, expectedVersion: number): Promise<void> {
    this.transact([{ kind: 'delete', path, expectedVersion }]);
  }

  async multi(ops: Op[]): Promise<OpResult[]> {
    return this.transact(ops);
  }

  /**
   * Checks and applies `ops` as one transaction: each op is checked against the state left
   * by the previous ones; the first failure undoes everything. Then logs it durably.
   */
  private transact(ops: Op[]): OpResult[] {
    this.ensureOpen();
    const rev = this.revision + 1;
    const undo: (() => void)[] = [];
    const changes: Change[] = [];
    const results: OpResult[] = [];
    try {
      ops.forEach((op, index) => {
        try {
          results.push(this.applyOp(op, rev, undo, changes));
        } catch (e) {
          if (e instanceof CoordinationError) throw new CoordinationError(e.code, e.message, index);
          throw e;
        }
      });
      this.appendWal(rev, changes);
    } catch (e) {
      for (const u of undo.reverse()) u();
      throw e;
    }
    this.revision = rev;
    this.fireFor(changes);
    return results; // each stat as its op left the node, as ZooKeeper reports them
  }

  private applyOp(op: Op, rev: number, undo: (() => void)[], changes: Change[]): OpResult {
    switch (op.kind) {
      case 'create': {
        const parentPath = parentOf(op.path);
        const parent = this.tree.get(parentPath);
        if (op.path === '/') throw new CoordinationError('NODE_EXISTS', `node / exists`);
        if (!parent) throw noNode(parentPath, `parent ${parentPath} of ${op.path} does not exist`);
        if (parent.leaseId !== 0n) throw new CoordinationError('INVALID_ARGUMENT', `${parentPath} is ephemeral and cannot have children`);
        const leaseId = op.options?.leaseId ?? 0n;
        if (leaseId !== 0n && !this.leases.has(leaseId)) throw new CoordinationError('LEASE_EXPIRED', `lease ${leaseId} has expired or does not exist`);
        const path = op.options?.sequential ? `${op.path}${sequenceSuffix(parent.cversion)}` : op.path;
        if (this.tree.has(path)) throw new CoordinationError('NODE_EXISTS', `node ${path} already exists`);
        const change: Change = { t: 'c', p: path, d: op.data.toString('base64'), ...(leaseId !== 0n ? { l: leaseId.toString() } : {}) };
        this.applyChange(change, rev, undo);
        changes.push(change);
        return { kind: 'create', path, stat: statOf(this.tree.get(path)!) };
      }
      case 'set': {
        const node = this.tree.get(op.path);
        if (!node) throw noNode(op.path);
        if (op.expectedVersion !== -1 && op.expectedVersion !== node.version) throw badVersion(op.path, op.expectedVersion, node.version);
        const change: Change = { t: 's', p: op.path, d: op.data.toString('base64') };
        this.applyChange(change, rev, undo);
        changes.push(change);
        return { kind: 'set', stat: statOf(node) };
      }
      case 'delete': {
        const node = this.tree.get(op.path);
        if (op.path === '/') throw new CoordinationError('INVALID_ARGUMENT', 'the root cannot be deleted');
        if (!node) throw noNode(op.path);
        if (op.expectedVersion !== -1 && op.expectedVersion !== node.version) throw badVersion(op.path, op.expectedVersion, node.version);
        if (node.children.size > 0) throw new CoordinationError('NOT_EMPTY', `node ${op.path} has ${node.children.size} children`);
        const change: Change = { t: 'd', p: op.path };
        this.applyChange(change, rev, undo);
        changes.push(change);
        return { kind: 'delete' };
      }
      case 'check': {
        const node = this.tree.get(op.path);
        if (!node) throw noNode(op.path);
        if (op.expectedVersion !== -1 && op.expectedVersion !== node.version) throw badVersion(op.path, op.expectedVersion, node.version);
        return { kind: 'check' };
      }
    }
  }

  /** Applies one primitive change (live or replayed), recording how to undo it. */
  private applyChange(change: Change, rev: number, undo?: (() => void)[]): void {
    const path = change.p;
    switch (change.t) {
      case 'c': {
        const parentPath = parentOf(path);
        const parent = this.tree.get(parentPath);
        if (!parent) throw new Error(`log replay: parent of ${path} missing`);
        const leaseId = change.l ? BigInt(change.l) : 0n;
        const before = { cversion: parent.cversion, pzxid: parent.pzxid };
        this.tree.set(path, newNode(Buffer.from(change.d, 'base64'), rev, leaseId));
        parent.children.add(nameOf(path));
        parent.cversion++;
        parent.pzxid = rev;
        const lease = leaseId !== 0n ? this.leases.get(leaseId) : undefined;
        lease?.nodes.add(path);
        undo?.push(() => {
          this.tree.delete(path);
          parent.children.delete(nameOf(path));
          parent.cversion = before.cversion;
          parent.pzxid = before.pzxid;
          lease?.nodes.delete(path);
        });
        return;
      }
      case 's': {
        const node = this.tree.get(path);
        if (!node) throw new Error(`log replay: ${path} missing`);
        const before = { data: node.data, version: node.version, mzxid: node.mzxid };
        node.data = Buffer.from(change.d, 'base64');
        node.version++;
        node.mzxid = rev;
        undo?.push(() => Object.assign(node, before));
        return;
      }
      case 'd': {
        const node = this.tree.get(path);
        const parentPath = parentOf(path);
        const parent = this.tree.get(parentPath);
        if (!node || !parent) throw new Error(`log replay: ${path} missing`);
        const before = { cversion: parent.cversion, pzxid: parent.pzxid };
        this.tree.delete(path);
        parent.children.delete(nameOf(path));
        parent.cversion++;
        parent.pzxid = rev;
        const lease = node.leaseId !== 0n ? this.leases.get(node.leaseId) : undefined;
        lease?.nodes.delete(path);
        undo?.push(() => {
          this.tree.set(path, node);
          parent.children.add(nameOf(path));
          parent.cversion = before.cversion;
          parent.pzxid = before.pzxid;
          lease?.nodes.add(path);
        });
        return;
      }
    }
  }

  /** Applies and logs primitive changes as one transaction (internal: lease expiry, restart). */
  private commit(changes: Change[]): void {
    const rev = this.revision + 1;
    const undo: (() => void)[] = [];
    try {
      for (const c of changes) this.applyChange(c, rev, undo);
      this.appendWal(rev, changes);
    } catch (e) {
      for (const u of undo.reverse()) u();
      throw e;
    }
    this.revision = rev;
    this.fireFor(changes);
  }

  private fireFor(changes: Change[]): void {
    const fire = (map: Map<string, Set<(fired: WatchFired) => void>>, path: string): void => {
      const set = map.get(path);
      if (!set) return;
      map.delete(path);
      for (const listener of set) listener('changed');
    };
    for (const c of changes) {
      fire(this.dataWatches, c.p);
      if (c.t !== 's') {
        fire(this.childWatches, parentOf(c.p));
        fire(this.childWatches, c.p); // the watched parent itself appeared or vanished
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Leases

  async grantLease(ttlMs: number): Promise<Lease> {
    this.ensureOpen();
    if (!Number.isInteger(ttlMs) || ttlMs < MIN_TTL_MS || ttlMs > MAX_TTL_MS) {
      throw new CoordinationError('INVALID_ARGUMENT', `lease ttl ${ttlMs} ms is outside ${MIN_TTL_MS}..${MAX_TTL_MS} ms`);
    }
    let id: bigint;
    do id = randomBytes(8).readBigUInt64BE() >> 2n;
    while (id === 0n || this.leases.has(id));
    const lease: LeaseState = { id, ttlMs, nodes: new Set(), timer: this.expiryTimer(id, ttlMs) };
    this.leases.set(id, lease);
    return { id, ttlMs };
  }

  async keepAlive(leaseId: bigint): Promise<Lease> {
    this.ensureOpen();
    const lease = this.leases.get(leaseId);
    if (!lease) throw new CoordinationError('LEASE_EXPIRED', `lease ${leaseId} has expired or does not exist`);
    clearTimeout(lease.timer);
    lease.timer = this.expiryTimer(leaseId, lease.ttlMs);
    return { id: leaseId, ttlMs: lease.ttlMs };
  }

  async revokeLease(leaseId: bigint): Promise<void> {
    this.ensureOpen();
    this.endLease(leaseId);
  }

  private expiryTimer(id: bigint, ttlMs: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      try {
        this.endLease(id);
      } catch {
        // closed meanwhile
      }
    }, ttlMs);
    timer.unref();
    return timer;
  }

  private endLease(id: bigint): void {
    const lease = this.leases.get(id);
    if (!lease) return;
    clearTimeout(lease.timer);
    this.leases.delete(id);
    // Deepest first (ephemerals have no children, but be safe about order).
    const doomed = [...lease.nodes].filter((p) => this.tree.has(p)).sort((a, b) => b.length - a.length);
    if (doomed.length > 0 && this._state !== 'closed') this.commit(doomed.map((p) => ({ t: 'd', p }) as Change));
  }

  // ---------------------------------------------------------------------------------------
  // Persistence

  private appendWal(rev: number, changes: Change[]): void {
    if (changes.length === 0) return;
    const json = JSON.stringify({ r: rev, o: changes });
    const body = Buffer.from(json);
    const line = Buffer.from(`${crc32c(body).toString(16).padStart(8, '0')} ${json}\n`);
    try {
      let done = 0;
      while (done < line.length) done += writeSync(this.walFd, line, done, line.length - done, this.walBytes + done);
      if (this.fsync) fdatasyncSync(this.walFd);
    } catch (e) {
      throw new CoordinationError('UNAVAILABLE', `cannot write the coordination log: ${(e as Error).message}`);
    }
    this.walBytes += line.length;
    if (this.walBytes > this.snapshotBytes) this.writeSnapshot();
  }

  private replayWal(): void {
    const size = fstatSync(this.walFd).size;
    const content = size > 0 ? readFileSync(join(this.options.dataDir, WAL_FILE)) : Buffer.alloc(0);
    let pos = 0;
    while (pos < content.length) {
      const nl = content.indexOf(0x0a, pos);
      if (nl < 0) break; // torn last line
      const line = content.subarray(pos, nl);
      const space = line.indexOf(0x20);
      if (space !== 8) break;
      const body = line.subarray(9);
      if (crc32c(body).toString(16).padStart(8, '0') !== line.subarray(0, 8).toString()) break;
      let record: { r: number; o: Change[] };
      try {
        record = JSON.parse(body.toString()) as { r: number; o: Change[] };
      } catch {
        break;
      }
      if (record.r > this.revision) {
        for (const c of record.o) this.applyChange(c, record.r);
        this.revision = record.r;
      }
      pos = nl + 1;
    }
    if (pos < size) {
      ftruncateSync(this.walFd, pos); // cut a torn or corrupt tail
      if (this.fsync) fdatasyncSync(this.walFd);
    }
    this.walBytes = pos;
  }

  private loadSnapshot(): void {
    const path = join(this.options.dataDir, SNAPSHOT_FILE);
    if (!existsSync(path)) return;
    const snapshot = JSON.parse(readFileSync(path, 'utf8')) as { r: number; nodes: [string, SnapshotNode][] };
    this.tree.clear();
    for (const [p, n] of snapshot.nodes) {
      this.tree.set(p, {
        data: Buffer.from(n.d, 'base64'),
        version: n.v,
        cversion: n.cv,
        czxid: n.cz,
        mzxid: n.mz,
        pzxid: n.pz,
        leaseId: BigInt(n.l),
        children: new Set(),
      });
    }
    for (const p of this.tree.keys()) if (p !== '/') this.tree.get(parentOf(p))?.children.add(nameOf(p));
    this.revision = snapshot.r;
  }

  /** Writes the tree atomically, then empties the log. */
  private writeSnapshot(): void {
    const nodes: [string, SnapshotNode][] = [...this.tree.entries()].map(([p, n]) => [
      p,
      { d: n.data.toString('base64'), v: n.version, cv: n.cversion, cz: n.czxid, mz: n.mzxid, pz: n.pzxid, l: n.leaseId.toString() },
    ]);
    const path = join(this.options.dataDir, SNAPSHOT_FILE);
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, JSON.stringify({ r: this.revision, nodes }));
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    const dirFd = openSync(this.options.dataDir, 'r');
    try {
      fdatasyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    ftruncateSync(this.walFd, 0);
    this.walBytes = 0;
  }

  // ---------------------------------------------------------------------------------------

  private ensureOpen(): void {
    if (this._state === 'closed') throw new CoordinationError('UNAVAILABLE', 'the coordination backend is closed');
  }

  /** Drops everything without writing, as if the process died (for crash tests). */
  abandon(): void {
    this._state = 'closed';
    for (const lease of this.leases.values()) clearTimeout(lease.timer);
    this.leases.clear();
    closeSync(this.walFd);
  }

  async close(): Promise<void> {
    if (this._state === 'closed') return;
    this._state = 'closed';
    for (const lease of this.leases.values()) clearTimeout(lease.timer);
    this.leases.clear();
    for (const map of [this.dataWatches, this.childWatches]) {
      for (const set of map.values()) for (const listener of set) listener('lost');
      map.clear();
    }
    closeSync(this.walFd);
    for (const l of this.listeners) l('closed');
  }
}

interface SnapshotNode {
  d: string;
  v: number;
  cv: number;
  cz: number;
  mz: number;
  pz: number;
  l: string;
}

function newNode(data: Buffer, rev: number, leaseId: bigint): TreeNode {
  return { data, version: 0, cversion: 0, czxid: rev, mzxid: rev, pzxid: rev, leaseId, children: new Set() };
}

function statOf(node: TreeNode): NodeStat {
  return {
    version: node.version,
    cversion: node.cversion,
    createRevision: BigInt(node.czxid),
    modRevision: BigInt(node.mzxid),
    childrenRevision: BigInt(node.pzxid),
    leaseId: node.leaseId,
    numChildren: node.children.size,
    dataLength: node.data.length,
  };
}

function noNode(path: string, message = `node ${path} does not exist`): CoordinationError {
  return new CoordinationError('NO_NODE', message);
}

function badVersion(path: string, expected: number, actual: number): CoordinationError {
  return new CoordinationError('BAD_VERSION', `node ${path} is at version ${actual}, not ${expected}`);
}
