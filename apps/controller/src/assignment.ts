/**
 * Replica assignment for new topics and partitions, Kafka's algorithm
 * (AdminUtils.assignReplicasToBrokers): leaders spread round-robin over the brokers from a
 * random start, followers shifted so that the replicas of consecutive partitions do not all
 * land on the same brokers. Rack-aware when every broker has a rack: brokers are first
 * ordered rack by rack alternately (a1, b1, c1, a2, b2, ...), and a follower goes to a
 * broker whose rack (and broker) this partition does not use yet, as long as there is one.
 *
 * Pure functions: the random start and shift can be given, so tests are deterministic.
 */
import { ErrorCode, TributaryError } from '@tributary/records';

export interface BrokerInfo {
  id: number;
  rack?: string;
}

export interface AssignmentOptions {
  /** Index of the first partition's leader in the broker list (default random). */
  startIndex?: number;
  /** Initial follower shift (default random). */
  replicaShift?: number;
  /** First partition id to assign (for CreatePartitions: the current count). */
  firstPartition?: number;
}

export class InvalidReplicationFactorError extends TributaryError {
  constructor(message: string) {
    super(ErrorCode.INVALID_REPLICATION_FACTOR, message);
    this.name = 'InvalidReplicationFactorError';
  }
}

/**
 * Replica lists (preferred leader first) for `partitions` partitions of `replicationFactor`
 * replicas over `brokers`.
 */
export function assignReplicas(brokers: readonly BrokerInfo[], partitions: number, replicationFactor: number, options: AssignmentOptions = {}): number[][] {
  if (!Number.isInteger(partitions) || partitions <= 0) {
    throw new TributaryError(ErrorCode.INVALID_PARTITIONS, `the number of partitions must be a positive integer, not ${partitions}`);
  }
  if (!Number.isInteger(replicationFactor) || replicationFactor <= 0) {
    throw new InvalidReplicationFactorError(`the replication factor must be a positive integer, not ${replicationFactor}`);
  }
  if (replicationFactor > brokers.length) {
    throw new InvalidReplicationFactorError(
      `replication factor ${replicationFactor} is larger than the ${brokers.length} available broker(s): register more brokers or lower the replication factor`,
    );
  }
  const racks = brokers.map((b) => b.rack);
  const rackAware = brokers.length > 0 && racks.every((r) => r !== undefined && r !== '');
  const ordered = rackAware ? rackAlternatingOrder(brokers) : [...brokers].sort((a, b) => a.id - b.id);
  const n = ordered.length;
  const startIndex = options.startIndex ?? Math.floor(Math.random() * n);
  let shift = options.replicaShift ?? Math.floor(Math.random() * n);
  const first = options.firstPartition ?? 0;
  const result: number[][] = [];
  for (let i = 0; i < partitions; i++) {
    const p = first + i;
    if (p > 0 && p % n === 0) shift++;
    const leaderIndex = (p + startIndex) % n;
    const replicas = [ordered[leaderIndex]!];
    if (!rackAware) {
      for (let j = 0; j < replicationFactor - 1; j++) replicas.push(ordered[followerIndex(leaderIndex, shift, j, n)]!);
    } else {
      const usedRacks = new Set([replicas[0]!.rack]);
      const distinctRacks = new Set(racks).size;
      for (let k = 0; replicas.length < replicationFactor; k++) {
        const candidate = ordered[followerIndex(leaderIndex, shift, k % (n - 1), n)]!;
        const rackFree = !usedRacks.has(candidate.rack) || usedRacks.size >= distinctRacks;
        // After one full pass, take any broker not used yet.
        if (!replicas.includes(candidate) && (rackFree || k >= n - 1)) {
          replicas.push(candidate);
          usedRacks.add(candidate.rack);
        }
      }
    }
    result.push(replicas.map((b) => b.id));
  }
  return result;
}

function followerIndex(leaderIndex: number, shift: number, j: number, n: number): number {
  return (leaderIndex + 1 + ((shift + j) % (n - 1))) % n;
}

/** a1, b1, c1, a2, b2, c2, ...: racks sorted by name, brokers by id within a rack. */
export function rackAlternatingOrder(brokers: readonly BrokerInfo[]): BrokerInfo[] {
  const byRack = new Map<string, BrokerInfo[]>();
  for (const b of [...brokers].sort((x, y) => x.id - y.id)) {
    const list = byRack.get(b.rack!) ?? [];
    list.push(b);
    byRack.set(b.rack!, list);
  }
  const racks = [...byRack.keys()].sort();
  const out: BrokerInfo[] = [];
  for (let i = 0; out.length < brokers.length; i++) {
    for (const rack of racks) {
      const b = byRack.get(rack)![i];
      if (b) out.push(b);
    }
  }
  return out;
}
