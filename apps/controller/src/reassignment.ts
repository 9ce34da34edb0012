/**
 * Partition reassignment (Kafka's KIP-455 AlterPartitionReassignments), on the active
 * controller.
 *
 * State, in the topic's assignment node `/brokers/topics/<topic>` as Kafka keeps it: for a
 * partition being reassigned, `partitions[p]` is the full replica set RS = TRS ++ (ORS − TRS)
 * (target replicas first, then the original ones not in the target), `adding_replicas[p]` =
 * TRS − ORS and `removing_replicas[p]` = ORS − TRS. ORS = RS − adding, TRS = RS − removing.
 * Because it is durable, a new active controller resumes every reassignment in flight (its
 * first liveness pass runs `checkAll`).
 *
 * Steps of one partition (each a compare-and-set write inside a Multi fenced by the
 * controller epoch):
 *   1. start: RS := TRS ∪ ORS with adding/removing (and the throttle). The channels push
 *      LeaderAndIsr with RS to every broker in it: a new replica creates its log and fetches
 *      from the leader (throttled, see apps/broker/src/throttle.ts); the leader adds it to
 *      the ISR through AlterPartition once it reached the high watermark.
 *   2. complete, when TRS ⊆ ISR (checked after each ISR change, liveness pass and start): a
 *      leader outside TRS (or not live) is replaced by the first live ISR member of TRS (leader
 *      epoch + 1); replicas := TRS; ISR := ISR ∩ TRS; adding/removing/throttle cleared; the
 *      removed replicas are recorded in `removed_replicas[p]` until each confirmed
 *      StopReplica(delete) (sent by the broker channels after the LeaderAndIsr that drops the
 *      partition; a broker that is down gets it when it registers again).
 * A new request for a partition being reassigned REPLACES its reassignment (Kafka 2.4+):
 * RS := TRS' ∪ ORS, and replicas the earlier one added that are not in TRS' leave at once
 * (out of the ISR, data deleted). Cancel (empty target) is a replacement with TRS' = ORS.
 */
import type { CoordinationClient } from '@tributary/coordination-client';
import type {
  AlterPartitionReassignmentsRequest,
  AlterPartitionReassignmentsResponse,
  ListPartitionReassignmentsRequest,
  ListPartitionReassignmentsResponse,
  Op,
  OngoingTopicReassignment,
  ReassignablePartitionResponse,
} from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import type { Logger } from '@tributary/runtime';
import type { PartitionState, TopicAssignment } from './store';
import { TOPICS_PATH, deleteMarkerPath, json, ops, parseJson, partitionStatePath, topicPath } from './store';

/** One partition's replica assignment, Kafka's `ReplicaAssignment`. */
export interface ReplicaAssignment {
  /** The full replica set: target replicas first, then original ones being removed. */
  replicas: number[];
  adding: number[];
  removing: number[];
}

export const isBeingReassigned = (a: ReplicaAssignment): boolean => a.adding.length > 0 || a.removing.length > 0;
/** ORS: the replicas before the reassignment. */
export const originReplicas = (a: ReplicaAssignment): number[] => a.replicas.filter((r) => !a.adding.includes(r));
/** TRS: the replicas after it. */
export const targetReplicas = (a: ReplicaAssignment): number[] => a.replicas.filter((r) => !a.removing.includes(r));

/** Kafka's `ReplicaAssignment.reassignTo`: RS = (TRS ++ ORS) distinct, adding = RS − ORS, removing = RS − TRS. */
export function reassignTo(current: ReplicaAssignment, target: readonly number[]): ReplicaAssignment {
  const origin = originReplicas(current);
  const replicas = [...new Set([...target, ...origin])];
  return { replicas, adding: replicas.filter((r) => !origin.includes(r)), removing: replicas.filter((r) => !target.includes(r)) };
}

/** Why `target` cannot be a partition's replica set (Kafka's checks), or undefined. */
export function validateTarget(target: readonly number[], live: ReadonlySet<number>): string | undefined {
  if (target.some((r) => !Number.isInteger(r) || r < 0)) return `broker ids must be non-negative integers, not [${target.join(',')}]`;
  if (new Set(target).size !== target.length) return `the replicas [${target.join(',')}] contain a broker more than once`;
  const unknown = target.filter((r) => !live.has(r));
  if (unknown.length > 0) {
    return `broker(s) ${unknown.join(',')} are not registered (live brokers: ${[...live].sort((a, b) => a - b).join(',') || 'none'}); check the ids with \`tributary cluster describe\``;
  }
  return undefined;
}

/**
 * The partition state once a reassignment's replicas that left (`gone`) are out: out of the
 * ISR (never emptied) and, if one led, a new leader from the remaining live ISR in `replicas`
 * order (leader epoch + 1; -1 when none). Returns `state` itself when nothing changes.
 */
export function withoutReplicas(state: PartitionState, gone: readonly number[], replicas: readonly number[], live: ReadonlySet<number>, controllerEpoch: number): PartitionState {
  if (gone.length === 0) return state;
  const remaining = state.isr.filter((r) => !gone.includes(r));
  const isr = remaining.length > 0 ? remaining : state.isr;
  const leaderGone = gone.includes(state.leader);
  if (!leaderGone && isr.length === state.isr.length) return state;
  const leader = leaderGone ? (replicas.find((r) => isr.includes(r) && live.has(r)) ?? -1) : state.leader;
  return {
    leader,
    leader_epoch: leader === state.leader ? state.leader_epoch : state.leader_epoch + 1,
    isr,
    controller_epoch: controllerEpoch,
  };
}

/**
 * Step 2 of a reassignment, if it can be taken now: every target replica is in the ISR and a
 * live one of them can lead. Returns the new replica set (TRS), partition state (leader in
 * TRS, bumped epoch when it moved; ISR ∩ TRS) and the replicas removed; undefined to wait.
 */
export function completeReassignment(
  a: ReplicaAssignment,
  state: PartitionState,
  live: ReadonlySet<number>,
  controllerEpoch: number,
): { replicas: number[]; state: PartitionState; removed: number[] } | undefined {
  const target = targetReplicas(a);
  if (!target.every((r) => state.isr.includes(r))) return undefined;
  const keep = target.includes(state.leader) && live.has(state.leader);
  const leader = keep ? state.leader : target.find((r) => state.isr.includes(r) && live.has(r));
  if (leader === undefined) return undefined;
  const isr = target.filter((r) => state.isr.includes(r));
  return {
    replicas: target,
    state: { leader, leader_epoch: leader === state.leader ? state.leader_epoch : state.leader_epoch + 1, isr, controller_epoch: controllerEpoch },
    removed: a.replicas.filter((r) => !target.includes(r)),
  };
}

/** A partition's assignment as read from the topic node. */
export function replicaAssignmentOf(assignment: TopicAssignment, p: string): ReplicaAssignment | undefined {
  const replicas = assignment.partitions[p];
  if (!replicas) return undefined;
  return { replicas, adding: assignment.adding_replicas?.[p] ?? [], removing: assignment.removing_replicas?.[p] ?? [] };
}

/** The topic node with partition `p` set to `a` (empty reassignment fields dropped). */
export function withReplicaAssignment(assignment: TopicAssignment, p: string, a: ReplicaAssignment, throttle: number, removed: readonly number[]): TopicAssignment {
  const next: TopicAssignment = { ...assignment, partitions: { ...assignment.partitions, [p]: a.replicas } };
  const setKey = <T>(field: 'adding_replicas' | 'removing_replicas' | 'reassignment_throttles' | 'removed_replicas', value: T | undefined): void => {
    const map = { ...((next[field] as Record<string, T> | undefined) ?? {}) };
    if (value === undefined) delete map[p];
    else map[p] = value;
    if (Object.keys(map).length > 0) (next as unknown as Record<string, unknown>)[field] = map;
    else delete next[field];
  };
  const reassigning = isBeingReassigned(a);
  setKey('adding_replicas', reassigning ? a.adding : undefined);
  setKey('removing_replicas', reassigning ? a.removing : undefined);
  setKey('reassignment_throttles', reassigning && throttle > 0 ? throttle : undefined);
  // A broker back in the replica set must not delete its copy any more.
  const pending = [...new Set([...(assignment.removed_replicas?.[p] ?? []), ...removed])].filter((r) => !a.replicas.includes(r)).sort((x, y) => x - y);
  setKey('removed_replicas', pending.length > 0 ? pending : undefined);
  return next;
}

/** What reassignment needs from the controller (its fenced writes, CAS retries and liveness). */
export interface ReassignmentHost {
  client: CoordinationClient;
  logger: Logger;
  /** A write fenced by the controller epoch (throws NOT_CONTROLLER when deposed). */
  fencedMulti(writes: Op[]): Promise<void>;
  /** Runs a read-then-write step again while its CAS conflicts. */
  retrying<T>(step: () => Promise<T>): Promise<T>;
  /** Ids of the registered brokers. */
  liveBrokerIds(): Promise<Set<number>>;
  /** The active controller's epoch (throws NOT_CONTROLLER when not active). */
  controllerEpoch(): number;
  /** Brokers must get the new state. */
  kick(): void;
  /** The number of partitions being reassigned changed (metric). */
  onReassigningPartitions?(count: number): void;
}

function fail(code: ErrorCode, message: string): never {
  throw new TributaryError(code, message);
}

export class Reassignments {
  /** Partitions being reassigned (`topic\0partition`), as this controller last wrote or read them (for the metric). */
  private readonly ongoing = new Set<string>();

  constructor(private readonly host: ReassignmentHost) {}

  /** Forgets the in-memory view (leaving office). */
  clear(): void {
    this.ongoing.clear();
    this.host.onReassigningPartitions?.(0);
  }

  private track(topic: string, index: number, reassigning: boolean): void {
    const key = `${topic}\0${index}`;
    if (reassigning === this.ongoing.has(key)) return;
    if (reassigning) this.ongoing.add(key);
    else this.ongoing.delete(key);
    this.host.onReassigningPartitions?.(this.ongoing.size);
  }

  async alter(request: AlterPartitionReassignmentsRequest): Promise<AlterPartitionReassignmentsResponse> {
    this.host.controllerEpoch();
    const throttle = Number(request.throttleBytesPerSecond);
    const seen = new Map<string, number>();
    for (const t of request.topics) for (const p of t.partitions) seen.set(`${t.name}\0${p.partitionIndex}`, (seen.get(`${t.name}\0${p.partitionIndex}`) ?? 0) + 1);
    const responses = [];
    for (const t of request.topics) {
      const partitions: ReassignablePartitionResponse[] = [];
      for (const p of t.partitions) {
        const index = p.partitionIndex;
        try {
          if (!Number.isSafeInteger(throttle) || throttle < 0) fail(ErrorCode.INVALID_REQUEST, `the throttle must be 0 (none) or a positive number of bytes per second, not ${request.throttleBytesPerSecond}`);
          if ((seen.get(`${t.name}\0${index}`) ?? 0) > 1) fail(ErrorCode.INVALID_REQUEST, `${t.name}-${index} appears more than once in the request`);
          await this.reassign(t.name, index, p.replicas, throttle);
          partitions.push({ partitionIndex: index, errorCode: ErrorCode.NONE, errorMessage: '' });
        } catch (e) {
          if (!(e instanceof TributaryError) || e.code === ErrorCode.NOT_CONTROLLER) throw e;
          partitions.push({ partitionIndex: index, errorCode: e.code, errorMessage: e.message });
        }
      }
      responses.push({ name: t.name, partitions });
    }
    return { responses };
  }

  async list(request: ListPartitionReassignmentsRequest): Promise<ListPartitionReassignmentsResponse> {
    this.host.controllerEpoch();
    const wanted =
      request.topics.length > 0 ? request.topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes })) : (await this.host.client.children(TOPICS_PATH)).children.map((name) => ({ name, partitions: [] as number[] }));
    const topics: OngoingTopicReassignment[] = [];
    for (const w of [...wanted].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const node = await this.host.client.tryGet(topicPath(w.name));
      if (!node) continue;
      const assignment = parseJson<TopicAssignment>(node.data);
      const partitions = Object.keys(assignment.partitions)
        .map(Number)
        .filter((p) => w.partitions.length === 0 || w.partitions.includes(p))
        .sort((a, b) => a - b)
        .flatMap((p) => {
          const a = replicaAssignmentOf(assignment, String(p));
          if (!a || !isBeingReassigned(a)) return [];
          const throttle = assignment.reassignment_throttles?.[String(p)] ?? 0;
          return [{ partitionIndex: p, replicas: a.replicas, addingReplicas: a.adding, removingReplicas: a.removing, throttleBytesPerSecond: BigInt(throttle) }];
        });
      if (partitions.length > 0) topics.push({ name: w.name, partitions });
    }
    return { topics };
  }

  /** Starts, replaces or cancels (empty `target`) the reassignment of one partition; then tries to complete it. */
  private async reassign(topic: string, index: number, target: readonly number[], throttle: number): Promise<void> {
    const p = String(index);
    const live = await this.host.liveBrokerIds();
    if (target.length > 0) {
      const invalid = validateTarget(target, live);
      if (invalid) fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `${topic}-${index}: ${invalid}`);
    }
    await this.host.retrying(async () => {
      const node = await this.host.client.tryGet(topicPath(topic));
      if (!node) fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topic}' does not exist`);
      if (await this.host.client.tryGet(deleteMarkerPath(topic))) fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topic}' is being deleted`);
      const assignment = parseJson<TopicAssignment>(node.data);
      const current = replicaAssignmentOf(assignment, p);
      const stateNode = current && (await this.host.client.tryGet(partitionStatePath(topic, index)));
      if (!current || !stateNode) fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `partition ${index} of topic '${topic}' does not exist (it has ${Object.keys(assignment.partitions).length})`);
      if (target.length === 0 && !isBeingReassigned(current)) fail(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, `${topic}-${index} is not being reassigned: nothing to cancel`);
      const next = reassignTo(current, target.length > 0 ? target : originReplicas(current));
      const gone = current.replicas.filter((r) => !next.replicas.includes(r));
      const epoch = this.host.controllerEpoch();
      const state = parseJson<PartitionState>(stateNode.data);
      const nextState = withoutReplicas(state, gone, next.replicas, live, epoch);
      const writes: Op[] = [ops.set(topicPath(topic), json(withReplicaAssignment(assignment, p, next, throttle, gone)), node.stat.version)];
      writes.push(nextState === state ? ops.check(partitionStatePath(topic, index), stateNode.stat.version) : ops.set(partitionStatePath(topic, index), json(nextState), stateNode.stat.version));
      await this.host.fencedMulti(writes);
      this.track(topic, index, isBeingReassigned(next));
      this.host.logger.info(
        { topic, partition: index, from: current, to: next, removedAtOnce: gone, throttleBytesPerSecond: throttle, cancel: target.length === 0 },
        target.length === 0 ? 'partition reassignment cancelled' : isBeingReassigned(current) ? 'partition reassignment replaced' : 'partition reassignment started',
      );
    });
    this.host.kick();
    await this.maybeComplete(topic, index);
  }

  /** Step 2 for one partition if its target replicas are all in the ISR (or nothing is left to do). */
  async maybeComplete(topic: string, index: number, live?: ReadonlySet<number>): Promise<void> {
    const p = String(index);
    const brokers = live ?? (await this.host.liveBrokerIds());
    const done = await this.host.retrying(async () => {
      const [node, stateNode] = await Promise.all([this.host.client.tryGet(topicPath(topic)), this.host.client.tryGet(partitionStatePath(topic, index))]);
      if (!node || !stateNode) return false;
      const assignment = parseJson<TopicAssignment>(node.data);
      const a = replicaAssignmentOf(assignment, p);
      if (!a || !isBeingReassigned(a)) return false;
      const state = parseJson<PartitionState>(stateNode.data);
      const epoch = this.host.controllerEpoch();
      const step = completeReassignment(a, state, brokers, epoch);
      if (!step) return false;
      const finished: ReplicaAssignment = { replicas: step.replicas, adding: [], removing: [] };
      await this.host.fencedMulti([
        ops.set(topicPath(topic), json(withReplicaAssignment(assignment, p, finished, 0, step.removed)), node.stat.version),
        ops.set(partitionStatePath(topic, index), json(step.state), stateNode.stat.version),
      ]);
      this.track(topic, index, false);
      this.host.logger.info({ topic, partition: index, replicas: step.replicas, removed: step.removed, from: state, to: step.state }, 'partition reassignment completed');
      return true;
    });
    if (done) this.host.kick();
  }

  /** Every reassignment in flight gets a completion check (after liveness changes and at failover); then a recount from the store. */
  async checkAll(): Promise<void> {
    const live = await this.host.liveBrokerIds();
    for (const [topic, partitions] of await this.readReassigning()) for (const p of partitions) await this.maybeComplete(topic, p, live);
    this.ongoing.clear();
    for (const [topic, partitions] of await this.readReassigning()) for (const p of partitions) this.ongoing.add(`${topic}\0${p}`);
    this.host.onReassigningPartitions?.(this.ongoing.size);
  }

  /** Partitions being reassigned, by topic, as the store holds them. */
  private async readReassigning(): Promise<Map<string, number[]>> {
    const { children } = await this.host.client.children(TOPICS_PATH);
    const found = new Map<string, number[]>();
    for (const topic of children) {
      const node = await this.host.client.tryGet(topicPath(topic));
      if (!node) continue;
      const assignment = parseJson<TopicAssignment>(node.data);
      const partitions = Object.keys({ ...assignment.adding_replicas, ...assignment.removing_replicas }).map(Number);
      if (partitions.length > 0) found.set(topic, partitions);
    }
    return found;
  }

  /** A broker deleted its copy of a partition a reassignment removed from it. */
  async replicaDeleted(topic: string, index: number, brokerId: number): Promise<void> {
    const p = String(index);
    await this.host.retrying(async () => {
      const node = await this.host.client.tryGet(topicPath(topic));
      if (!node) return;
      const assignment = parseJson<TopicAssignment>(node.data);
      const pending = assignment.removed_replicas?.[p] ?? [];
      if (!pending.includes(brokerId)) return;
      const removed = { ...assignment.removed_replicas };
      const rest = pending.filter((b) => b !== brokerId);
      if (rest.length > 0) removed[p] = rest;
      else delete removed[p];
      const next: TopicAssignment = { ...assignment, removed_replicas: removed };
      if (Object.keys(removed).length === 0) delete next.removed_replicas;
      await this.host.fencedMulti([ops.set(topicPath(topic), json(next), node.stat.version)]);
      this.host.logger.info({ topic, partition: index, broker: brokerId }, 'removed replica deleted its data');
    });
  }
}

/** The reassignment fields brokers are told about one partition (LeaderAndIsr). */
export function reassignmentView(assignment: TopicAssignment, index: number): { adding: number[]; removing: number[]; throttleBytesPerSecond: number } {
  const p = String(index);
  return {
    adding: assignment.adding_replicas?.[p] ?? [],
    removing: assignment.removing_replicas?.[p] ?? [],
    throttleBytesPerSecond: assignment.reassignment_throttles?.[p] ?? 0,
  };
}

/** Removed replicas still to delete their data, per partition of a topic. */
export function pendingReplicaDeletions(topic: string, assignment: TopicAssignment): { topic: string; partition: number; brokers: number[] }[] {
  return Object.entries(assignment.removed_replicas ?? {}).map(([p, brokers]) => ({ topic, partition: Number(p), brokers }));
}
