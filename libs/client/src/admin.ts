/**
 * The Admin client: the active controller's AdminService, found through broker Metadata
 * (controller_host/controller_port), plus `listOffsets` through the partition leaders, plus
 * consumer group calls at each group's coordinator (found with FindCoordinator through the
 * group coordinator instances Metadata lists, following NOT_COORDINATOR; group-coordinators.ts).
 *
 * Following the controller: a call goes to the controller address the brokers last named.
 * When it answers NOT_CONTROLLER (a standby), or cannot be reached (UNAVAILABLE, the process
 * died), metadata is refreshed and the call retried with backoff, until metadataWaitMs. The
 * calls that change things (create/delete/alter) are therefore at-least-once: after a failover
 * a retried CreateTopics may answer TOPIC_ALREADY_EXISTS for the topic its first attempt
 * created; createTopics treats that answer on a retry as success.
 */
import { CONSUMER_PROTOCOL_TYPE, decodeAssignment } from '@tributary/groups';
import { AlterConfigOp_OpType, ElectionType as WireElectionType, type AdminServiceClient, type ListGroupsResponse } from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import { GrpcStatusError, Status, abortableSleep } from '@tributary/runtime';
import type { ClientRequest, ClientResponse, MethodsOfKind } from '@tributary/runtime';
import type { AclBinding, AclBindingFilter } from './acl-admin';
import { AclAdmin } from './acl-admin';
import type { UserScramCredentialAlteration, UserScramCredentialsDescription } from './user-admin';
import { QuotaAdmin } from './quota-admin';
import type { ClientQuotaAlteration, ClientQuotaEntry, ClientQuotaFilter } from './quota-admin';
import { UserAdmin } from './user-admin';
import type { ClientOptions, ResolvedClientOptions } from './config';
import { resolveClientOptions, retryDelayMs } from './config';
import { ConnectionPool } from './connections';
import { byTopic, byTopicCommit, flatten } from './consumer-coordinator';
import type { CommitOffset, TopicPartition } from './consumer-options';
import { GroupCoordinators } from './group-coordinators';
import { ClientClosedError, ClientTimeoutError, NoBrokerAvailableError, TopicOperationError, START_HINT, explain } from './errors';
import { Metadata } from './metadata';
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, MAX_TIMESTAMP, listOffsets, tpKey } from './offsets';

/** A topic to create. */
export interface NewTopic {
  name: string;
  /** Partitions (default: the cluster's num.partitions, KIP-464). */
  numPartitions?: number;
  /** Copies of each partition, at most the number of live brokers (default: the cluster's default.replication.factor). */
  replicationFactor?: number;
  /** Topic config overrides by Kafka name (`retention.ms`, `cleanup.policy`, ...). */
  configs?: Record<string, string>;
}

/** A topic created (or that would be, with validateOnly). */
export interface CreatedTopic {
  name: string;
  numPartitions: number;
  replicationFactor: number;
}

/** One partition's replicas and leadership. */
export interface PartitionInfo {
  partition: number;
  /** Broker id of the leader; -1 when there is none. */
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}

/** A topic and its partitions. */
export interface TopicInfo {
  name: string;
  partitions: PartitionInfo[];
}

/** One topic config and its effective value. */
export interface ConfigEntry {
  name: string;
  value: string;
  /** True when the topic has no override for it. */
  isDefault: boolean;
  documentation: string;
}

/** A topic's configs. */
export interface TopicConfigs {
  topic: string;
  /** Every known config, sorted by name. */
  entries: ConfigEntry[];
}

/** Changes to one topic's config overrides, applied together. */
export interface AlterTopicConfigs {
  topic: string;
  /** Overrides to set, by Kafka name. */
  set?: Record<string, string>;
  /** Overrides to remove (back to the default). */
  delete?: string[];
}

/** A registered broker. */
export interface BrokerInfo {
  id: number;
  host: string;
  port: number;
  /** Empty when none. */
  rack: string;
}

/** The cluster as the active controller sees it. */
export interface ClusterInfo {
  brokers: BrokerInfo[];
  controllerId: number;
  controllerEpoch: bigint;
  /** `host:port` of the active controller's Admin API. */
  controllerAddress: string;
  /** The cluster's id (stable for its lifetime; Kafka's cluster id). */
  clusterId: string;
}

/** Which offset `listOffsets` looks for. */
export type OffsetSpec = 'earliest' | 'latest' | 'maxTimestamp' | { timestamp: number };

/** An offset found by `listOffsets`. */
export interface PartitionOffset {
  topic: string;
  partition: number;
  /** The offset; -1n when no record matches the timestamp. */
  offset: bigint;
  /** Timestamp of that record, or -1. */
  timestamp: number;
}

/** Which leader election to run (Kafka's ElectionType). */
export type ElectionType = 'preferred' | 'unclean';

/** Partitions to elect leaders for: a topic's listed partitions, or all of them when `partitions` is left out. */
export interface ElectionPartitions {
  topic: string;
  partitions?: number[];
}

/** The outcome of an election for one partition. */
export interface ElectionResult {
  topic: string;
  /** Partition index; -1 for a topic asked as a whole that does not exist. */
  partition: number;
  /**
   * Undefined when the leader was elected; otherwise why not, with its Kafka code:
   * ELECTION_NOT_NEEDED (the preferred replica already leads / the leader is alive),
   * PREFERRED_LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION.
   */
  error?: TributaryError;
  /** The partition's leader after the call (-1: none). */
  leader: number;
}

/** A partition to move: its target replicas (preferred leader first), or `null` to cancel its reassignment. */
export interface PartitionReassignment {
  topic: string;
  partition: number;
  replicas: number[] | null;
}

/** The outcome of one partition of `alterPartitionReassignments`. */
export interface ReassignmentOutcome {
  topic: string;
  partition: number;
  /** undefined: started (or replaced, cancelled, already in place); else why not (code and what to do). */
  error: TributaryError | undefined;
}

/** A partition being reassigned (Kafka's PartitionReassignment). */
export interface OngoingReassignment {
  topic: string;
  partition: number;
  /** The full replica set now: target replicas first, then the original ones being removed. */
  replicas: number[];
  addingReplicas: number[];
  removingReplicas: number[];
  /** Replication throttle of the adding replicas, bytes/s (0: none). */
  throttleBytesPerSecond: number;
  /**
   * With `logEndOffsets: true`: each replica's log end offset by broker id, as that broker
   * answered (missing when it did not answer); the leader's minus an adding replica's is how
   * far the new replica is behind.
   */
  logEndOffsets?: Map<number, bigint>;
}

/** A consumer group as `listGroups` finds it. */
export interface GroupListing {
  groupId: string;
  /** 'consumer' for consumer groups; '' for a group that only has committed offsets. */
  protocolType: string;
  /** 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead' or 'Empty'. */
  state: string;
  /** Id of the group coordinator instance that listed it. */
  coordinatorId: number;
}

/** A member of a described group. */
export interface GroupMemberDescription {
  memberId: string;
  /** group.instance.id of a static member, '' for a dynamic one. */
  groupInstanceId: string;
  clientId: string;
  clientHost: string;
  /** Its assigned partitions (decoded for protocol type 'consumer'; empty otherwise). */
  assignment: TopicPartition[];
}

/** A consumer group as `describeGroups` describes it. */
export interface GroupDescription {
  groupId: string;
  /** 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Empty', or 'Dead' (unknown group). */
  state: string;
  protocolType: string;
  /** The assignor the group uses ('' unless Stable). */
  protocol: string;
  /** The coordinator instance that answered. */
  coordinator: { nodeId: number; host: string; port: number };
  members: GroupMemberDescription[];
  /** NONE, or why the group could not be described. */
  errorCode: ErrorCode;
}

/** The outcome of deleting one group. */
export interface DeletedGroup {
  groupId: string;
  /** NONE; NON_EMPTY_GROUP (stop its consumers first); GROUP_ID_NOT_FOUND; ... */
  errorCode: ErrorCode;
  /** What happened and what to do ('' on success). */
  errorMessage: string;
}

/** A group's committed offset of one partition. */
export interface GroupOffset {
  topic: string;
  partition: number;
  /** -1n when the group has none for the partition. */
  offset: bigint;
  metadata: string;
  /** -1 when unknown. */
  leaderEpoch: number;
}

/** The outcome of altering one partition's committed offset. */
export interface AlteredGroupOffset {
  topic: string;
  partition: number;
  /** NONE; UNKNOWN_MEMBER_ID when the group has active members (stop them first); ... */
  errorCode: ErrorCode;
}

/** Options of {@link Admin}. */
export type AdminOptions = ClientOptions;

type AdminMethod = MethodsOfKind<AdminServiceClient, 'unary'>;

/** Kafka's DEBUGGING_REPLICA_ID: ListOffsets answered by followers too, from their log end. */
const DEBUGGING_REPLICA_ID = -2;

/** A per-topic outcome of the AdminService. */
interface TopicOutcome {
  errorCode: ErrorCode;
  errorMessage: string;
}

/**
 * Manages topics and reads cluster state.
 *
 * Errors: a method on several topics resolves only when every topic succeeded; otherwise it
 * rejects with a `TopicOperationError` whose `errors` maps each failed topic to its
 * `TributaryError` (code and a message that says what to do); the other topics succeeded.
 * Whole-call failures reject with a `TributaryError`: `NoBrokerAvailableError` when no
 * bootstrap broker answers, `ClientTimeoutError` when no active controller answered within
 * metadataWaitMs.
 *
 * ```ts
 * const admin = new Admin({ bootstrap: ['127.0.0.1:7200'] });
 * await admin.createTopics([{ name: 'orders', numPartitions: 6, replicationFactor: 3 }]);
 * console.log(await admin.describeTopics(['orders']));
 * await admin.close();
 * ```
 */
export class Admin {
  private readonly client: ResolvedClientOptions;
  private readonly pool: ConnectionPool;
  private readonly metadata: Metadata;
  private readonly groups: GroupCoordinators;
  private readonly acls: AclAdmin;
  private readonly users: UserAdmin;
  private readonly quotas: QuotaAdmin;
  private closed = false;

  /** Creates an admin client; nothing connects until the first call. Throws RangeError on a bad option. */
  constructor(options: AdminOptions = {}) {
    this.client = resolveClientOptions(options);
    this.pool = new ConnectionPool(this.client);
    this.metadata = new Metadata(this.client, this.pool);
    this.groups = new GroupCoordinators(this.client, this.metadata, this.pool);
    this.acls = new AclAdmin(this.client, (method, call) => this.onController(method, call), this.pool);
    this.users = new UserAdmin(this.client, (method, call) => this.onController(method, call), this.pool);
    this.quotas = new QuotaAdmin(this.client, (method, call) => this.onController(method, call), this.pool);
  }

  /**
   * Creates topics (`validateOnly`: checks names, counts, configs and broker count, writes
   * nothing). numPartitions defaults to 1, replicationFactor to 1.
   */
  async createTopics(topics: readonly NewTopic[], options: { validateOnly?: boolean } = {}): Promise<CreatedTopic[]> {
    let attempts = 0;
    const response = await this.callController('createTopics', () => {
      attempts++;
      return {
        topics: topics.map((t) => ({
          name: t.name,
          numPartitions: t.numPartitions ?? -1,
          replicationFactor: t.replicationFactor ?? -1,
          configs: t.configs ?? {},
        })),
        validateOnly: options.validateOnly ?? false,
      };
    });
    // After a failover retry, TOPIC_ALREADY_EXISTS may be our own first attempt's doing.
    const results = response.results.map((r) =>
      attempts > 1 && r.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS ? { ...r, errorCode: ErrorCode.NONE } : r,
    );
    throwTopicErrors('createTopics', results.map((r) => [r.name, r]));
    return results.map((r) => ({ name: r.name, numPartitions: r.numPartitions, replicationFactor: r.replicationFactor }));
  }

  /** Deletes topics and their data. */
  async deleteTopics(names: readonly string[]): Promise<void> {
    let attempts = 0;
    const response = await this.callController('deleteTopics', () => {
      attempts++;
      return { names: [...names] };
    });
    const results = response.results.map((r) =>
      attempts > 1 && r.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION ? { ...r, errorCode: ErrorCode.NONE } : r,
    );
    throwTopicErrors('deleteTopics', results.map((r) => [r.name, r]));
  }

  /** Grows topics to `count` partitions in total (never shrinks: keyed records would move). */
  async createPartitions(topics: ReadonlyArray<{ topic: string; count: number }>, options: { validateOnly?: boolean } = {}): Promise<void> {
    const response = await this.callController('createPartitions', () => ({
      topics: topics.map((t) => ({ name: t.topic, count: t.count })),
      validateOnly: options.validateOnly ?? false,
    }));
    throwTopicErrors('createPartitions', response.results.map((r) => [r.name, r]));
  }

  /** Names of every topic, sorted. */
  async listTopics(): Promise<string[]> {
    return (await this.callController('listTopics', () => ({}))).names;
  }

  /** Describes topics (default: every topic) as the controller last decided them. */
  async describeTopics(names: readonly string[] = []): Promise<TopicInfo[]> {
    const response = await this.callController('describeTopics', () => ({ names: [...names] }));
    throwTopicErrors('describeTopics', response.topics.map((t) => [t.name, t]));
    return response.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partition: p.partition, leader: p.leader, leaderEpoch: p.leaderEpoch, replicas: p.replicas, isr: p.isr })),
    }));
  }

  /** Every config of each topic with its effective value. */
  async describeConfigs(topics: readonly string[]): Promise<TopicConfigs[]> {
    const response = await this.callController('describeConfigs', () => ({ topics: [...topics] }));
    throwTopicErrors('describeConfigs', response.results.map((r) => [r.topic, r]));
    return response.results.map((r) => ({
      topic: r.topic,
      entries: r.entries.map((e) => ({ name: e.name, value: e.value, isDefault: e.isDefault, documentation: e.documentation })),
    }));
  }

  /** Sets or removes config overrides, incrementally (Kafka's IncrementalAlterConfigs); each topic's changes apply together. */
  async alterConfigs(changes: readonly AlterTopicConfigs[], options: { validateOnly?: boolean } = {}): Promise<void> {
    const response = await this.callController('alterConfigs', () => ({
      topics: changes.map((c) => ({
        topic: c.topic,
        ops: [
          ...Object.entries(c.set ?? {}).map(([name, value]) => ({ name, op: AlterConfigOp_OpType.OP_TYPE_SET, value })),
          ...(c.delete ?? []).map((name) => ({ name, op: AlterConfigOp_OpType.OP_TYPE_DELETE, value: '' })),
        ],
      })),
      validateOnly: options.validateOnly ?? false,
    }));
    throwTopicErrors('alterConfigs', response.results.map((r) => [r.topic, r]));
  }

  /** Registered brokers and the active controller. */
  async describeCluster(): Promise<ClusterInfo> {
    const r = await this.callController('describeCluster', () => ({}));
    return {
      brokers: r.brokers.map((b) => ({ id: b.id, host: b.host, port: b.port, rack: b.rack })),
      controllerId: r.controllerId,
      controllerEpoch: r.controllerEpoch,
      controllerAddress: `${r.controllerHost}:${r.controllerPort}`,
      clusterId: r.clusterId,
    };
  }

  /**
   * Elects partition leaders (Kafka's Admin.electLeaders, KIP-460): `'preferred'` moves
   * leadership back to each partition's preferred replica (first of its replicas) when it is
   * alive and in the ISR; `'unclean'` elects a live replica outside the ISR for partitions
   * whose in-sync replicas are all down (records only they had are lost). `partitions`
   * left out: every partition of every topic. Resolves with one result per partition, an
   * `error` on those not elected (ELECTION_NOT_NEEDED is not a failure as such: see
   * `ElectionResult`); rejects only on whole-call failures.
   */
  async electLeaders(type: ElectionType, partitions?: readonly ElectionPartitions[]): Promise<ElectionResult[]> {
    const electionType = type === 'preferred' ? WireElectionType.ELECTION_TYPE_PREFERRED : type === 'unclean' ? WireElectionType.ELECTION_TYPE_UNCLEAN : undefined;
    if (electionType === undefined) throw new RangeError(`election type must be 'preferred' or 'unclean', not '${String(type)}'`);
    const response = await this.callController('electLeaders', () => ({
      electionType,
      topics: (partitions ?? []).map((p) => ({ name: p.topic, partitions: [...(p.partitions ?? [])] })),
    }));
    return response.topics.flatMap((t) =>
      t.partitions.map((p) => ({
        topic: t.name,
        partition: p.partition,
        leader: p.leader,
        ...(p.errorCode === ErrorCode.NONE ? {} : { error: explain(p.errorCode, p.errorMessage, p.partition === -1 ? t.name : undefined) }),
      })),
    );
  }

  /**
   * Offsets of a topic's partitions (default: all of them) from their leaders: `'earliest'`
   * (log start), `'latest'` (high watermark: the offset the next record will get, as far as
   * consumers can see), `'maxTimestamp'` (the record with the largest timestamp), or
   * `{ timestamp }` (first offset whose timestamp is at or after it; -1n when none).
   */
  async listOffsets(topic: string, spec: OffsetSpec, partitions?: readonly number[]): Promise<PartitionOffset[]> {
    this.checkOpen();
    const deadline = Date.now() + this.client.metadataWaitMs;
    const meta = await this.metadata.waitForTopic(topic, this.client.metadataWaitMs);
    const ids = partitions ?? meta.partitions.map((p) => p.partition);
    for (const p of ids) {
      if (!Number.isInteger(p) || p < 0 || p >= meta.partitions.length) {
        throw new TributaryError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `partition ${p} of topic '${topic}' does not exist: it has ${meta.partitions.length} partition(s)`, {
          retriable: false,
        });
      }
    }
    const timestamp =
      spec === 'earliest' ? EARLIEST_TIMESTAMP : spec === 'latest' ? LATEST_TIMESTAMP : spec === 'maxTimestamp' ? MAX_TIMESTAMP : BigInt(spec.timestamp);
    const answers = await listOffsets(
      ids.map((partition) => ({ topic, partition, timestamp })),
      this.metadata,
      this.pool,
      this.client,
      deadline,
      this.metadata.signal,
    );
    return ids.map((partition) => {
      const a = answers.get(tpKey(topic, partition))!;
      return { topic, partition, offset: a.offset, timestamp: Number(a.timestamp) };
    });
  }

  /**
   * Starts, replaces or cancels (`replicas: null`) partition reassignments (Kafka's
   * AlterPartitionReassignments, KIP-455); resolves once they are started, with one outcome
   * per partition (never throws for a per-partition error). `throttleBytesPerSecond` limits
   * how fast each new replica copies the partition (0: unthrottled).
   */
  async alterPartitionReassignments(reassignments: readonly PartitionReassignment[], options: { throttleBytesPerSecond?: number } = {}): Promise<ReassignmentOutcome[]> {
    const byTopic = new Map<string, PartitionReassignment[]>();
    for (const r of reassignments) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r]);
    const response = await this.callController('alterPartitionReassignments', () => ({
      topics: [...byTopic].map(([name, list]) => ({ name, partitions: list.map((r) => ({ partitionIndex: r.partition, replicas: r.replicas ?? [] })) })),
      throttleBytesPerSecond: BigInt(Math.max(0, Math.floor(options.throttleBytesPerSecond ?? 0))),
    }));
    return response.responses.flatMap((t) =>
      t.partitions.map((p) => ({
        topic: t.name,
        partition: p.partitionIndex,
        error: p.errorCode === ErrorCode.NONE ? undefined : explain(p.errorCode, p.errorMessage, t.name),
      })),
    );
  }

  /**
   * The reassignments in progress (default: of every topic; `partitions` limits a topic to
   * some). `logEndOffsets: true` also asks every replica's broker for its log end offset
   * (ListOffsets with Kafka's debugging replica id -2, answered by followers too).
   */
  async listPartitionReassignments(options: { topics?: ReadonlyArray<{ topic: string; partitions?: number[] }>; logEndOffsets?: boolean } = {}): Promise<OngoingReassignment[]> {
    const response = await this.callController('listPartitionReassignments', () => ({
      topics: (options.topics ?? []).map((t) => ({ name: t.topic, partitionIndexes: t.partitions ?? [] })),
    }));
    const ongoing: OngoingReassignment[] = response.topics.flatMap((t) =>
      t.partitions.map((p) => ({
        topic: t.name,
        partition: p.partitionIndex,
        replicas: p.replicas,
        addingReplicas: p.addingReplicas,
        removingReplicas: p.removingReplicas,
        throttleBytesPerSecond: Number(p.throttleBytesPerSecond),
      })),
    );
    if (options.logEndOffsets === true && ongoing.length > 0) {
      const brokers = new Map((await this.describeCluster()).brokers.map((b) => [b.id, `${b.host}:${b.port}`]));
      const asked = new Map<number, OngoingReassignment[]>();
      for (const r of ongoing) {
        r.logEndOffsets = new Map();
        for (const id of r.replicas) asked.set(id, [...(asked.get(id) ?? []), r]);
      }
      await Promise.all(
        [...asked].map(async ([id, list]) => {
          const address = brokers.get(id);
          if (!address) return;
          const topics = new Map<string, OngoingReassignment[]>();
          for (const r of list) topics.set(r.topic, [...(topics.get(r.topic) ?? []), r]);
          try {
            const answer = await this.pool.call(this.pool.broker(address), 'listOffsets', {
              replicaId: DEBUGGING_REPLICA_ID,
              topics: [...topics].map(([name, rs]) => ({ name, partitions: rs.map((r) => ({ index: r.partition, currentLeaderEpoch: -1, timestamp: LATEST_TIMESTAMP })) })),
            });
            for (const t of answer.topics) {
              for (const p of t.partitions) {
                if (p.errorCode !== ErrorCode.NONE) continue;
                list.find((r) => r.topic === t.name && r.partition === p.index)?.logEndOffsets?.set(id, p.offset);
              }
            }
          } catch (e) {
            this.client.logger.debug({ broker: id, err: e }, 'replica log end offsets not available');
          }
        }),
      );
    }
    return ongoing;
  }

  // ---- consumer groups -------------------------------------------------------------------

  /**
   * Every group of every group coordinator instance the brokers list (Kafka's
   * listConsumerGroups), sorted by id. An instance that does not answer is skipped (logged);
   * when none answers: ClientTimeoutError-like TributaryError COORDINATOR_NOT_AVAILABLE.
   */
  async listGroups(): Promise<GroupListing[]> {
    this.checkOpen();
    await this.metadata.refresh();
    const instances = this.metadata.groupCoordinators;
    if (instances.length === 0) return [];
    const answers = await Promise.all(
      instances.map(async (instance) => {
        try {
          const response: ListGroupsResponse = await this.pool.call(this.pool.groupCoordinator(instance.address), 'listGroups', { statesFilter: [] });
          if (response.errorCode !== ErrorCode.NONE) this.client.logger.warn({ coordinator: instance.id, error: ErrorCode[response.errorCode] }, 'group list may be incomplete');
          return { instance, response };
        } catch (e) {
          this.client.logger.warn({ coordinator: instance.address, err: e }, 'a group coordinator did not answer ListGroups');
          return { instance, error: e };
        }
      }),
    );
    if (answers.every((a) => a.response === undefined)) {
      const first = answers[0]?.error;
      throw new TributaryError(
        ErrorCode.COORDINATOR_NOT_AVAILABLE,
        `no group coordinator answered ListGroups (${instances.map((i) => i.address).join(', ')}): ${first instanceof Error ? first.message : 'no answer'}`,
        { cause: first },
      );
    }
    const byId = new Map<string, GroupListing>();
    for (const { instance, response } of answers) {
      for (const g of response?.groups ?? []) {
        if (!byId.has(g.groupId)) byId.set(g.groupId, { groupId: g.groupId, protocolType: g.protocolType, state: g.groupState, coordinatorId: instance.id });
      }
    }
    return [...byId.values()].sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
  }

  /**
   * Describes groups at their coordinators (Kafka's describeConsumerGroups): state, assignor,
   * members with their decoded assignments. A group that does not exist is described 'Dead'
   * with no members. One entry per id, in order; `errorCode` says when one could not be
   * described (the others still are).
   */
  async describeGroups(groupIds: readonly string[]): Promise<GroupDescription[]> {
    this.checkOpen();
    return Promise.all(
      groupIds.map(async (groupId): Promise<GroupDescription> => {
        checkGroupId(groupId);
        const response = await this.groups.call(groupId, 'describeGroups', { groups: [groupId] }, (r) => r.groups[0]?.errorCode ?? ErrorCode.NONE, {
          deadlineMs: Date.now() + this.client.metadataWaitMs,
        });
        const g = response.groups.find((x) => x.groupId === groupId) ?? response.groups[0];
        const node = this.groups.cached(groupId);
        const coordinator = { nodeId: node?.nodeId ?? -1, host: node?.host ?? '', port: node?.port ?? 0 };
        if (g === undefined) return { groupId, state: 'Dead', protocolType: '', protocol: '', coordinator, members: [], errorCode: ErrorCode.UNKNOWN_SERVER_ERROR };
        return {
          groupId,
          state: g.groupState,
          protocolType: g.protocolType,
          protocol: g.protocolData,
          coordinator,
          errorCode: g.errorCode,
          members: g.members.map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            assignment: g.protocolType === CONSUMER_PROTOCOL_TYPE ? decodeMemberAssignment(m.memberAssignment) : [],
          })),
        };
      }),
    );
  }

  /**
   * Deletes groups with no active members, and their committed offsets (Kafka's
   * deleteConsumerGroups). One outcome per id, in order: NON_EMPTY_GROUP when consumers are
   * still in it, GROUP_ID_NOT_FOUND for an unknown group.
   */
  async deleteGroups(groupIds: readonly string[]): Promise<DeletedGroup[]> {
    this.checkOpen();
    return Promise.all(
      groupIds.map(async (groupId): Promise<DeletedGroup> => {
        checkGroupId(groupId);
        const response = await this.groups.call(groupId, 'deleteGroups', { groupsNames: [groupId] }, (r) => r.results[0]?.errorCode ?? ErrorCode.NONE, {
          deadlineMs: Date.now() + this.client.metadataWaitMs,
        });
        const errorCode = (response.results.find((r) => r.groupId === groupId) ?? response.results[0])?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
        return { groupId, errorCode, errorMessage: groupErrorMessage(groupId, errorCode) };
      }),
    );
  }

  /**
   * A group's committed offsets (Kafka's listConsumerGroupOffsets): of `partitions`, or of
   * every partition the group committed for. Offset -1n: none for that partition.
   */
  async listGroupOffsets(groupId: string, partitions?: readonly TopicPartition[]): Promise<GroupOffset[]> {
    this.checkOpen();
    checkGroupId(groupId);
    const response = await this.groups.call(
      groupId,
      'offsetFetch',
      {
        groupId,
        topics: partitions === undefined ? [] : byTopic(partitions).map((t) => ({ name: t.topic, partitionIndexes: t.partitions })),
        allTopics: partitions === undefined,
        requireStable: false,
      },
      (r) => r.errorCode,
      { deadlineMs: Date.now() + this.client.metadataWaitMs },
    );
    if (response.errorCode !== ErrorCode.NONE) throw explain(response.errorCode, response.errorMessage);
    const out: GroupOffset[] = [];
    for (const t of response.topics) {
      for (const p of t.partitions) {
        if (p.errorCode !== ErrorCode.NONE && p.errorCode !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) throw explain(p.errorCode, '', t.name);
        out.push({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, metadata: p.metadata, leaderEpoch: p.committedLeaderEpoch });
      }
    }
    return out.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
  }

  /**
   * Sets a group's committed offsets (Kafka's alterConsumerGroupOffsets: an OffsetCommit
   * outside group management). The coordinator accepts it only while the group has no active
   * members: otherwise each partition answers UNKNOWN_MEMBER_ID (stop the group's consumers
   * first). One outcome per partition.
   */
  async alterGroupOffsets(groupId: string, offsets: readonly CommitOffset[]): Promise<AlteredGroupOffset[]> {
    this.checkOpen();
    checkGroupId(groupId);
    for (const o of offsets) {
      if (typeof o.offset !== 'bigint' || o.offset < 0n || !Number.isInteger(o.partition) || o.partition < 0 || typeof o.topic !== 'string' || o.topic === '') {
        throw new RangeError(`cannot set ${String(o.topic)}-${String(o.partition)} to ${String(o.offset)}: a topic, a partition >= 0 and a bigint offset >= 0 are needed`);
      }
    }
    if (offsets.length === 0) return [];
    const response = await this.groups.call(
      groupId,
      'offsetCommit',
      { groupId, generationId: -1, memberId: '', groupInstanceId: '', topics: byTopicCommit(offsets) },
      (r) => r.topics[0]?.partitions[0]?.errorCode ?? ErrorCode.NONE,
      { deadlineMs: Date.now() + this.client.metadataWaitMs },
    );
    return response.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, errorCode: p.errorCode })));
  }

  /** Closes the connections. Idempotent. */
  /** Creates ACL bindings (Kafka's createAcls; see acl-admin.ts). Rejects with AclOperationError naming the invalid ones. */
  createAcls(bindings: readonly AclBinding[]): Promise<void> {
    return this.acls.createAcls(bindings);
  }

  /** The ACL bindings matching `filter` (Kafka's describeAcls). */
  describeAcls(filter: AclBindingFilter): Promise<AclBinding[]> {
    return this.acls.describeAcls(filter);
  }

  /** Deletes the ACL bindings matching any filter; returns per filter what it deleted (Kafka's deleteAcls). */
  deleteAcls(filters: readonly AclBindingFilter[]): Promise<AclBinding[][]> {
    return this.acls.deleteAcls(filters);
  }

  /** Users' SCRAM credentials: mechanisms and iterations (Kafka's describeUserScramCredentials; see user-admin.ts). Default: every user with one. */
  describeUserScramCredentials(users?: readonly string[]): Promise<UserScramCredentialsDescription[]> {
    return this.users.describeUserScramCredentials(users);
  }

  /** Creates, replaces and deletes SCRAM credentials; passwords are salted here and never sent (Kafka's alterUserScramCredentials, KIP-554). */
  alterUserScramCredentials(alterations: readonly UserScramCredentialAlteration[]): Promise<void> {
    return this.users.alterUserScramCredentials(alterations);
  }

  /** Sets and removes client quotas (Kafka's alterClientQuotas, KIP-546; see quota-admin.ts). Rejects with ClientQuotaAlterationError naming the refused entities. */
  alterClientQuotas(alterations: readonly ClientQuotaAlteration[], options?: { validateOnly?: boolean }): Promise<void> {
    return this.quotas.alterClientQuotas(alterations, options);
  }

  /** The client quotas of the entities matching `filter` (Kafka's describeClientQuotas); default: all. */
  describeClientQuotas(filter?: ClientQuotaFilter): Promise<ClientQuotaEntry[]> {
    return this.quotas.describeClientQuotas(filter);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.metadata.close();
    this.pool.close();
  }

  // ---- internals -------------------------------------------------------------------------

  private checkOpen(): void {
    if (this.closed) throw new ClientClosedError('admin client');
  }

  /**
   * Calls the active controller, following it through NOT_CONTROLLER and unreachable
   * controllers (see the file comment). `request` is built per attempt.
   */
  private async callController<M extends AdminMethod>(method: M, request: () => ClientRequest<AdminServiceClient, M>): Promise<ClientResponse<AdminServiceClient, M>> {
    return this.onController(method, (address) => this.pool.call(this.pool.admin(address), method, request()));
  }

  /** Runs `call` against the active controller's address, following it (see the file comment). */
  private async onController<T>(method: string, call: (address: string) => Promise<T>): Promise<T> {
    this.checkOpen();
    const deadline = Date.now() + this.client.metadataWaitMs;
    let lastError: unknown;
    for (let attempt = 0; ; attempt++) {
      try {
        const address = await this.metadata.controller(attempt > 0);
        return await call(address);
      } catch (e) {
        if (this.closed) throw new ClientClosedError('admin client');
        // Never reached any broker: the cluster is not running; say so at once instead of waiting.
        if (!followsController(e) || (e instanceof NoBrokerAvailableError && this.metadata.lastRefreshMs === 0)) throw e;
        lastError = e;
        const now = Date.now();
        if (now >= deadline) {
          throw new ClientTimeoutError(
            `no active controller answered ${method} within ${this.client.metadataWaitMs} ms (last: ${e instanceof Error ? e.message : String(e)}): ${START_HINT}`,
            lastError,
          );
        }
        this.client.logger.debug({ method, attempt, err: e }, 'following the controller');
        await abortableSleep(Math.min(retryDelayMs(this.client, attempt), deadline - now), this.metadata.signal).catch(() => {
          throw new ClientClosedError('admin client');
        });
      }
    }
  }
}

function checkGroupId(groupId: string): void {
  if (typeof groupId !== 'string' || groupId === '') throw new RangeError(`group id must be a non-empty string, got ${JSON.stringify(groupId)}`);
}

/** A member's assignment bytes as partitions ([] when empty or unreadable: never a crash on a foreign client's bytes). */
function decodeMemberAssignment(bytes: Buffer): TopicPartition[] {
  try {
    return flatten(decodeAssignment(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)).partitions);
  } catch {
    return [];
  }
}

/** What a group call's error means for a user. */
function groupErrorMessage(groupId: string, code: ErrorCode): string {
  switch (code) {
    case ErrorCode.NONE:
      return '';
    case ErrorCode.NON_EMPTY_GROUP:
      return `group '${groupId}' has active members: stop its consumers first`;
    case ErrorCode.GROUP_ID_NOT_FOUND:
      return `group '${groupId}' does not exist (list groups with \`tributary groups list\`)`;
    default:
      return `group '${groupId}': ${ErrorCode[code] ?? `error ${code}`}`;
  }
}

/** Whether an error means "ask the brokers who the controller is, and try again". */
function followsController(e: unknown): boolean {
  if (e instanceof TributaryError) return e.code === ErrorCode.NOT_CONTROLLER || e.retriable;
  if (e instanceof GrpcStatusError) return e.code === Status.UNAVAILABLE || e.code === Status.DEADLINE_EXCEEDED;
  return false;
}

/** Throws TopicOperationError when any per-topic outcome is an error. */
function throwTopicErrors(operation: string, outcomes: ReadonlyArray<readonly [string, TopicOutcome]>): void {
  const errors = new Map<string, TributaryError>();
  for (const [topic, o] of outcomes) if (o.errorCode !== ErrorCode.NONE) errors.set(topic, explain(o.errorCode, o.errorMessage, topic));
  if (errors.size > 0) throw new TopicOperationError(operation, errors);
}
