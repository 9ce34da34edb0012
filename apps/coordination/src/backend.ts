/**
 * The contract between the coordination service and its storage: a tree of nodes with
 * ZooKeeper's semantics, implemented by `EmbeddedBackend` (in-process, write-ahead file) and
 * `ZooKeeperBackend` (node-zookeeper-client). The gRPC layer, watch streams and the election
 * recipe are built once on top of it (service.ts, election.ts), so both backends behave the
 * same — the conformance suite (backend-conformance.ts) runs against each.
 *
 * Semantics every backend must keep:
 * - Paths are absolute ('/a/b'), validated by the caller (paths.ts). '/' always exists. A
 *   node's parent must exist (NO_NODE otherwise); ephemeral nodes cannot have children.
 * - Versions: `version` counts data changes (0 at creation), `cversion` counts child
 *   creations/deletions. Revisions are a global, strictly increasing counter (ZooKeeper's
 *   zxid): every write gets a new one; `createRevision`, `modRevision` (last data change or
 *   creation) and `childrenRevision` (last child created or deleted; ZooKeeper's pzxid).
 * - Sequential creates append a 10-digit zero-padded counter taken from the parent's
 *   cversion, so sequence numbers strictly increase under one parent while it exists.
 * - expectedVersion -1 means "any version".
 * - Leases: `grantLease(ttlMs)` returns an id (a positive integer below 2^63); nodes created
 *   with it are ephemeral and are deleted when the lease is revoked or expires (no
 *   `keepAlive` within ttlMs), or when this process (the lease holder's service) dies.
 *   A lease that is gone makes create/keepAlive fail with LEASE_EXPIRED.
 * - Watches are one-shot, as in ZooKeeper: `getAndWatch` / `childrenAndWatch` return the
 *   current state and a promise that resolves at the first change AFTER that state (no
 *   gap between read and watch). The promise resolves with 'lost' if the backend lost its
 *   connection/session and cannot tell whether something changed: the caller re-reads.
 * - Failures are CoordinationError with one of the codes below.
 */

export type CoordinationErrorCode =
  | 'NODE_EXISTS'
  | 'NO_NODE'
  | 'BAD_VERSION'
  | 'NOT_EMPTY'
  | 'LEASE_EXPIRED'
  | 'UNAVAILABLE'
  | 'INVALID_ARGUMENT';

export class CoordinationError extends Error {
  constructor(
    readonly code: CoordinationErrorCode,
    message: string,
    /** For a failed multi: the index of the op that failed. */
    readonly opIndex?: number,
  ) {
    super(message);
    this.name = 'CoordinationError';
  }
}

export interface NodeStat {
  version: number;
  cversion: number;
  createRevision: bigint;
  modRevision: bigint;
  childrenRevision: bigint;
  /** Owning lease of an ephemeral node, 0n for persistent nodes. */
  leaseId: bigint;
  numChildren: number;
  dataLength: number;
}

export interface NodeData {
  data: Buffer;
  stat: NodeStat;
}

export interface CreateOptions {
  /** Ephemeral node owned by this lease. */
  leaseId?: bigint;
  /** Append the parent's next sequence number (10 digits) to the name. */
  sequential?: boolean;
}

export type Op =
  | { kind: 'create'; path: string; data: Buffer; options?: CreateOptions }
  | { kind: 'set'; path: string; data: Buffer; expectedVersion: number }
  | { kind: 'delete'; path: string; expectedVersion: number }
  | { kind: 'check'; path: string; expectedVersion: number };

export type OpResult =
  | { kind: 'create'; path: string; stat: NodeStat }
  | { kind: 'set'; stat: NodeStat }
  | { kind: 'delete' }
  | { kind: 'check' };

/** Why a one-shot watch fired: something changed, or the backend cannot tell ('lost'). */
export type WatchFired = 'changed' | 'lost';

export interface WatchedNode {
  /** The node now, or undefined if it does not exist. */
  node: NodeData | undefined;
  /** Resolves at the first change after `node` was read. */
  changed: Promise<WatchFired>;
  /** Stops waiting (the promise then never resolves); frees backend resources. */
  cancel(): void;
}

export interface WatchedChildren {
  /** Sorted child names and the parent's stat, or undefined if the parent does not exist. */
  children: { names: string[]; stat: NodeStat } | undefined;
  changed: Promise<WatchFired>;
  cancel(): void;
}

export type BackendState = 'connected' | 'disconnected' | 'closed';

export interface Lease {
  id: bigint;
  ttlMs: number;
}

export interface Backend {
  /** Which implementation: 'embedded' or 'zookeeper'. */
  readonly kind: string;
  readonly state: BackendState;
  /** Called on every state change (metrics, readiness). */
  onStateChange(listener: (state: BackendState) => void): void;

  create(path: string, data: Buffer, options?: CreateOptions): Promise<{ path: string; stat: NodeStat }>;
  get(path: string): Promise<NodeData>;
  /** The stat, or undefined if the node does not exist. */
  exists(path: string): Promise<NodeStat | undefined>;
  set(path: string, data: Buffer, expectedVersion: number): Promise<NodeStat>;
  delete(path: string, expectedVersion: number): Promise<void>;
  children(path: string): Promise<{ names: string[]; stat: NodeStat }>;
  /** All or nothing; a failure is the failing op's CoordinationError with `opIndex`. */
  multi(ops: Op[]): Promise<OpResult[]>;

  getAndWatch(path: string): Promise<WatchedNode>;
  childrenAndWatch(path: string): Promise<WatchedChildren>;

  grantLease(ttlMs: number): Promise<Lease>;
  /** Refreshes the lease's deadline; LEASE_EXPIRED if it is gone. */
  keepAlive(leaseId: bigint): Promise<Lease>;
  /** Deletes the lease's ephemeral nodes; no error if it is already gone. */
  revokeLease(leaseId: bigint): Promise<void>;
  /** Number of live leases held through this backend (a gauge). */
  readonly activeLeases: number;

  /** Releases everything (leases held here end, as if this process died). */
  close(): Promise<void>;
}
