/**
 * Leader elections the controller runs on request, beside the liveness pass's failover
 * elections (controller.ts `nextPartitionState`): Kafka's election strategies as pure
 * functions, and the machinery they share to read partition states and write new ones.
 *
 * - preferred (KIP-460 ElectLeaders PREFERRED, and the automatic rebalance): the first
 *   replica of the assignment leads again, only when it is alive, in the ISR and not
 *   shutting down;
 * - unclean (ElectLeaders UNCLEAN): for a partition whose leader is gone, the first live
 *   ISR member, else the first live replica outside the ISR, alone in the ISR;
 * - controlled shutdown (Kafka's ControlledShutdownPartitionLeaderElectionStrategy): a
 *   partition led by a stopping broker moves to the first live ISR member that is not
 *   stopping; the stopping broker leaves every ISR it is in, unless it is the last member.
 *
 * A leader change bumps leader_epoch; every write records the controller epoch. Writes are
 * CAS on each state node's version, in fenced Multis of bounded size (`ElectionContext`):
 * a conflict rethrows so that the caller re-reads and recomputes.
 */
import type { CoordinationClient } from '@tributary/coordination-client';
import type { Op } from '@tributary/proto';
import { ErrorCode } from '@tributary/records';
import type { Logger } from '@tributary/runtime';
import type { ShuttingDownBrokers } from './controlled-shutdown';
import { TOPICS_PATH, json, ops, parseJson, partitionStatePath, topicPath } from './store';
import type { PartitionState, TopicAssignment } from './store';

/** The kinds the elections counter (`tributary_controller_leader_elections_total{type}`) counts. */
export type ElectionKind = 'clean' | 'unclean' | 'preferred' | 'controlled_shutdown';

/** What an election decided for one partition. */
export type ElectionOutcome =
  | { kind: 'elected'; next: PartitionState }
  | { kind: 'refused'; code: ErrorCode; message: string };

const refused = (code: ErrorCode, message: string): ElectionOutcome => ({ kind: 'refused', code, message });

/** Brokers that may lead: registered and not shutting down. */
export interface Eligibility {
  live: ReadonlySet<number>;
  shuttingDown: ReadonlySet<number>;
}

const eligible = (id: number, e: Eligibility): boolean => e.live.has(id) && !e.shuttingDown.has(id);

/** PREFERRED: the first replica of the assignment, when alive, in the ISR and not shutting down. */
export function preferredElection(state: PartitionState, replicas: readonly number[], e: Eligibility, controllerEpoch: number): ElectionOutcome {
  const preferred = replicas[0];
  if (preferred === undefined) return refused(ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, 'the partition has no replicas');
  if (state.leader === preferred) return refused(ErrorCode.ELECTION_NOT_NEEDED, `the preferred replica ${preferred} already leads`);
  if (!e.live.has(preferred)) return refused(ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, `the preferred replica ${preferred} is not alive (start broker ${preferred})`);
  if (e.shuttingDown.has(preferred)) return refused(ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, `the preferred replica ${preferred} is shutting down`);
  if (!state.isr.includes(preferred)) {
    return refused(ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, `the preferred replica ${preferred} is not in the ISR [${state.isr.join(',')}] yet (retry once it has caught up)`);
  }
  return { kind: 'elected', next: { leader: preferred, leader_epoch: state.leader_epoch + 1, isr: [...state.isr], controller_epoch: controllerEpoch } };
}

/**
 * UNCLEAN: only for a partition without a live leader. The first eligible ISR member in
 * assignment order (a clean choice, when one is back), else the first eligible replica,
 * which leads alone in the ISR.
 */
export function uncleanElection(state: PartitionState, replicas: readonly number[], e: Eligibility, controllerEpoch: number): ElectionOutcome {
  if (state.leader !== -1 && e.live.has(state.leader)) return refused(ErrorCode.ELECTION_NOT_NEEDED, `broker ${state.leader} leads and is alive`);
  const inIsr = replicas.find((id) => state.isr.includes(id) && eligible(id, e));
  const leader = inIsr ?? replicas.find((id) => eligible(id, e));
  if (leader === undefined) return refused(ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE, `none of the replicas [${replicas.join(',')}] is alive (start one of them)`);
  return {
    kind: 'elected',
    next: { leader, leader_epoch: state.leader_epoch + 1, isr: inIsr === undefined ? [leader] : [...state.isr], controller_epoch: controllerEpoch },
  };
}

/**
 * CONTROLLED SHUTDOWN of `broker`: returns the state with leadership moved away from it (to
 * the first eligible ISR member in assignment order) and with it out of the ISR (unless it
 * is the last member, which keeps a partition able to lead again without losing data), or
 * `state` itself when nothing can change. The broker keeps leading when no other eligible
 * ISR member exists: the caller reports the partition as remaining.
 */
export function controlledShutdownState(state: PartitionState, replicas: readonly number[], broker: number, e: Eligibility, controllerEpoch: number): PartitionState {
  if (state.leader === broker) {
    const leader = replicas.find((id) => id !== broker && state.isr.includes(id) && eligible(id, e));
    if (leader === undefined) return state;
    return { leader, leader_epoch: state.leader_epoch + 1, isr: state.isr.filter((id) => id !== broker), controller_epoch: controllerEpoch };
  }
  if (!state.isr.includes(broker) || state.isr.length <= 1) return state;
  return { ...state, isr: state.isr.filter((id) => id !== broker), controller_epoch: controllerEpoch };
}

/** One partition as read from the store: its replicas (preferred first), state and the state node's version. */
export interface PartitionSnapshot {
  topic: string;
  index: number;
  replicas: number[];
  state: PartitionState;
  version: number;
}

/** What the election modules need from the controller (its private fencing and retry paths). */
export interface ElectionContext {
  client: CoordinationClient;
  /** The controller epoch; throws NOT_CONTROLLER when this controller is not active. */
  controllerEpoch(): number;
  /** A write fenced by the controller epoch (NOT_CONTROLLER when deposed; a CAS conflict rethrows). */
  fencedMulti(writes: Op[]): Promise<void>;
  /** Runs a read-then-write step again while its CAS conflicts. */
  retrying<T>(step: () => Promise<T>): Promise<T>;
}

/**
 * Reads the partitions of `topics` (default: every topic), in topic then index order. A
 * topic that does not exist is left out (the caller tells); a partition without a state
 * node too.
 */
export async function readPartitions(client: CoordinationClient, topics?: readonly string[]): Promise<{ partitions: PartitionSnapshot[]; missingTopics: Set<string> }> {
  const names = topics ?? [...(await client.children(TOPICS_PATH)).children].sort();
  const missingTopics = new Set<string>();
  const perTopic = await Promise.all(
    names.map(async (topic): Promise<PartitionSnapshot[]> => {
      const node = await client.tryGet(topicPath(topic));
      if (!node) {
        missingTopics.add(topic);
        return [];
      }
      const assignment = parseJson<TopicAssignment>(node.data);
      const indexes = Object.keys(assignment.partitions)
        .map(Number)
        .sort((a, b) => a - b);
      const states = await Promise.all(indexes.map((p) => client.tryGet(partitionStatePath(topic, p))));
      return indexes.flatMap((index, i) => {
        const s = states[i];
        return s ? [{ topic, index, replicas: assignment.partitions[String(index)] ?? [], state: parseJson<PartitionState>(s.data), version: s.stat.version }] : [];
      });
    }),
  );
  return { partitions: perTopic.flat(), missingTopics };
}

/** Partition-state writes per Multi: under the service's 1000 ops and well under its 1 MB. */
const MULTI_MAX_OPS = 500;
const MULTI_MAX_BYTES = 512 * 1024;

/** Writes new states (CAS on the versions read), in fenced Multis of bounded size. */
export async function writeStates(ctx: ElectionContext, changes: ReadonlyArray<{ snapshot: PartitionSnapshot; next: PartitionState }>): Promise<void> {
  let chunk: Op[] = [];
  let bytes = 0;
  for (const { snapshot, next } of changes) {
    const path = partitionStatePath(snapshot.topic, snapshot.index);
    const data = json(next);
    const size = data.length + path.length + 32;
    if (chunk.length >= MULTI_MAX_OPS || (chunk.length > 0 && bytes + size > MULTI_MAX_BYTES)) {
      await ctx.fencedMulti(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(ops.set(path, data, snapshot.version));
    bytes += size;
  }
  if (chunk.length > 0) await ctx.fencedMulti(chunk);
}

/** Partition health over a snapshot: offline (leader -1) and not led by their preferred replica. */
export function partitionHealth(partitions: ReadonlyArray<Pick<PartitionSnapshot, 'replicas' | 'state'>>): { offline: number; preferredImbalance: number } {
  let offline = 0;
  let preferredImbalance = 0;
  for (const p of partitions) {
    if (p.state.leader === -1) offline++;
    if (p.replicas.length > 0 && p.state.leader !== p.replicas[0]) preferredImbalance++;
  }
  return { offline, preferredImbalance };
}

/** What the election handlers (ElectLeaders, controlled shutdown, auto rebalance) need from the controller. */
export interface LeadershipContext extends ElectionContext {
  logger: Logger;
  /** Registered brokers with the incarnation of their registration. */
  liveBrokers(): Promise<ReadonlyArray<{ id: number; incarnation?: string }>>;
  /** Brokers in controlled shutdown: never elected while they are. */
  shuttingDown: ShuttingDownBrokers;
  /** After a write: push the state to the brokers (LeaderAndIsr) and refresh the health gauges. */
  changed(): void;
  /** Counts leaders elected. */
  onElections(count: number, kind: ElectionKind): void;
}

/** The registered brokers and those shutting down (pruned against the registrations first). */
export async function eligibility(ctx: LeadershipContext): Promise<Eligibility> {
  const brokers = await ctx.liveBrokers();
  ctx.shuttingDown.prune(brokers);
  return { live: new Set(brokers.map((b) => b.id)), shuttingDown: ctx.shuttingDown.ids() };
}
