/**
 * The controller's metadata core: election (the term is the controller epoch), topics,
 * replica assignment, partition state and topic configs in the coordination store, and the
 * Admin API handlers.
 *
 * Only the active controller serves the Admin API. A standby (or a controller that finds
 * itself fenced) answers every call with `TributaryError(NOT_CONTROLLER)`, which the gRPC
 * server maps to UNAVAILABLE with `tributary-error-code: 41`; the message names the active
 * controller when known (observed through the `controller` election).
 *
 * Fencing: every write is a coordination Multi that starts with a check that
 * `/controller_epoch` is still at the version this controller wrote when it took office. A
 * newer controller rewrites that node first, so a deposed one cannot write anything.
 * Every write that depends on a read carries the versions it read (CAS); a conflict
 * re-reads and retries.
 */
import { randomBytes } from 'node:crypto';
import type { CoordinationClient, LeaseKeeper } from '@tributary/coordination-client';
import { CoordinationClientError, Election } from '@tributary/coordination-client';
import type {
  AdminServiceService,
  AlterPartitionPartition,
  AlterPartitionPartitionResult,
  BrokerToControllerServiceService,
  AlterConfigsResult,
  AlterTopicConfigs,
  BrokerDescription,
  CreatableTopic,
  CreatePartitionsResult,
  CreatePartitionsTopic,
  CreateTopicResult,
  DeleteTopicResult,
  Op,
  PartitionDescription,
  TopicConfigs,
  TopicDescription,
} from '@tributary/proto';
import { AlterConfigOp_OpType, WatchEvent_Type } from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import type { Logger, ServiceHandlers } from '@tributary/runtime';
import { filterAllowed, refusalsOf } from '@tributary/runtime';
import { assignReplicas } from './assignment';
import { createTopicsRefusals } from './authorization';
import { ShuttingDownBrokers, controlledShutdown } from './controlled-shutdown';
import { electLeaders } from './elect-leaders';
import type { ElectionKind, LeadershipContext } from './elections';
import { partitionHealth, readPartitions } from './elections';
import type { AutoRebalanceOptions } from './rebalance';
import { AutoRebalancer } from './rebalance';
import { Reassignments, pendingReplicaDeletions, reassignmentView } from './reassignment';
import type { BrokerChannelsOptions, ClusterState, PendingDeletion, TopicState } from './broker-channels';
import { BrokerChannels } from './broker-channels';
import { describeTopicConfigs, validateTopicConfigs } from './topic-configs';
import { collidingTopic, validateTopicName } from './topic-names';
import { ProducerIdAllocator } from './producer-ids';
import {
  BROKER_IDS_PATH,
  CLUSTER_ID_PATH,
  CONTROLLER_EPOCH_PATH,
  CONTROLLER_PATH,
  CONTROLLER_ROOTS,
  DELETE_TOPICS_PATH,
  TOPICS_PATH,
  deleteMarkerPath,
  json,
  ops,
  parseJson,
  partitionPath,
  partitionStatePath,
  partitionsPath,
  topicConfigPath,
  topicPath,
} from './store';
import type { BrokerRegistration, ControllerInfo, DeletionMarker, PartitionState, TopicAssignment } from './store';

export const CONTROLLER_ELECTION = 'controller';
const CAS_ATTEMPTS = 10;
/** Partition-state writes per Multi: under the service's 1000 ops and well under its 1 MB. */
const MULTI_MAX_OPS = 500;
const MULTI_MAX_BYTES = 512 * 1024;

export interface ControllerOptions {
  client: CoordinationClient;
  self: ControllerInfo;
  leaseTtlMs: number;
  logger: Logger;
  /** TLS and the controller's identity on its calls to brokers (ServiceSecurity.clientOptions). */
  clientOptions?: BrokerChannelsOptions['clientOptions'];
  /** Called whenever the controller becomes active or stops being active. */
  onStateChange?(active: boolean, epoch: bigint | undefined): void;
  /**
   * Called with the number of partition leaders elected (> 0): clean/unclean by a liveness
   * pass or an UNCLEAN ElectLeaders (unclean: from outside the ISR), preferred by ElectLeaders
   * or the automatic rebalance, controlled_shutdown when a stopping broker hands over.
   */
  onLeaderElections?(count: number, kind: ElectionKind): void;
  /** Automatic preferred-leader rebalance (default: off). */
  autoRebalance?: AutoRebalanceOptions;
  /** Called after changes of leadership with the partitions without a leader and those not led by their preferred replica. */
  onPartitionHealth?(health: { offline: number; preferredImbalance: number }): void;
  /** Called after each liveness pass with the number of partitions without a leader (0 when not active). */
  onOfflinePartitions?(count: number): void;
  /** Called when the number of partitions being reassigned changes (0 when not active). */
  onReassigningPartitions?(count: number): void;
  /** num.partitions and default.replication.factor: what CreateTopics' -1 means (KIP-464; default 1 and 1, Kafka's). */
  topicDefaults?: { numPartitions: number; replicationFactor: number };
}

/** A registered broker, as read from /brokers/ids. */
export interface LiveBroker extends BrokerRegistration {
  id: number;
}

const conflictCodes = new Set(['BAD_VERSION', 'NODE_EXISTS', 'NO_NODE', 'NOT_EMPTY']);
const isConflict = (e: unknown): boolean => e instanceof CoordinationClientError && conflictCodes.has(e.code);

function fail(code: ErrorCode, message: string): never {
  throw new TributaryError(code, message);
}

/** Per-item error fields; NOT_CONTROLLER and non-Kafka errors fail the whole call. */
function errorFields(e: unknown): { errorCode: ErrorCode; errorMessage: string } {
  if (e instanceof TributaryError && e.code !== ErrorCode.NOT_CONTROLLER) return { errorCode: e.code, errorMessage: e.message };
  throw e;
}

export class Controller {
  private readonly client: CoordinationClient;
  private readonly logger: Logger;
  private election: Election | undefined;
  private observer: { cancel(): void } | undefined;
  /** Term of the current candidacy win (set at election, before taking office). */
  private term: bigint | undefined;
  /** Set once in office: the epoch and the version of /controller_epoch that fences writes. */
  private office: { epoch: bigint; epochVersion: number; lease: LeaseKeeper } | undefined;
  /** The active controller as last observed through the election. */
  private known: (ControllerInfo & { epoch: bigint }) | undefined;
  private stopped = false;
  /** While in office: the /brokers/ids watch and the live broker ids it last reported. */
  private brokerWatch: { cancel(): void } | undefined;
  private live: Set<number> | undefined;
  /** Liveness passes run one at a time; a change during a pass asks for another. */
  private passRunning = false;
  private passWanted = false;
  /** While in office: the channels that push state to brokers. */
  private channels: BrokerChannels | undefined;
  /** Brokers in controlled shutdown (never elected while they are); forgotten on leaving office. */
  readonly shuttingDown = new ShuttingDownBrokers();
  /** What elections.ts, controlled-shutdown.ts and rebalance.ts use of this controller. */
  private readonly leadership: LeadershipContext;
  private readonly rebalancer: AutoRebalancer;
  /** Partition-health reads started (see reportHealth). */
  private healthReads = 0;
  /** Partition reassignments (KIP-455), reassignment.ts. */
  private readonly reassignments: Reassignments;

  constructor(private readonly options: ControllerOptions) {
    this.client = options.client;
    this.logger = options.logger;
    this.leadership = {
      client: this.client,
      logger: this.logger,
      controllerEpoch: () => Number(this.requireActive().epoch),
      fencedMulti: (writes) => this.fencedMulti(writes),
      retrying: (step) => this.retrying(step),
      liveBrokers: () => this.liveBrokers(),
      shuttingDown: this.shuttingDown,
      changed: () => {
        this.channels?.kick();
        void this.reportHealth();
      },
      onElections: (count, kind) => this.options.onLeaderElections?.(count, kind),
    };
    this.rebalancer = new AutoRebalancer(this.leadership, options.autoRebalance ?? { enabled: false, percentage: 10, intervalSeconds: 300 });
    this.reassignments = new Reassignments({
      client: this.client,
      logger: this.logger.child({ component: 'reassignment' }),
      fencedMulti: (writes) => this.fencedMulti(writes),
      retrying: (step) => this.retrying(step),
      liveBrokerIds: async () => new Set((await this.liveBrokers()).map((b) => b.id)),
      controllerEpoch: () => Number(this.requireActive().epoch),
      kick: () => this.channels?.kick(),
      onReassigningPartitions: (count) => options.onReassigningPartitions?.(count),
    });
  }

  /** The Admin API's port as listened on (set before `start()` when port 0 was asked for). */
  set advertisedPort(port: number) {
    this.options.self.port = port;
  }

  get isActive(): boolean {
    return this.office !== undefined;
  }

  get epoch(): bigint | undefined {
    return this.office?.epoch;
  }

  start(): void {
    this.observer = this.client.observe(CONTROLLER_ELECTION, (event) => {
      if (event.leader.length === 0) {
        this.known = undefined;
        return;
      }
      try {
        this.known = { ...parseJson<ControllerInfo>(event.leader), epoch: event.term };
      } catch {
        this.known = undefined;
      }
    });
    this.election = new Election(this.client, {
      name: CONTROLLER_ELECTION,
      candidate: json(this.options.self),
      ttlMs: this.options.leaseTtlMs,
      onElected: (term) => {
        this.term = term;
        this.logger.info({ term: term.toString() }, 'elected controller; taking office');
        void this.takeOffice(term);
      },
      onLost: (reason) => {
        this.logger.warn({ reason }, 'controller leadership lost');
        this.term = undefined;
        this.leaveOffice();
      },
    });
    this.election.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.observer?.cancel();
    const office = this.office;
    this.leaveOffice();
    await this.election?.stop();
    if (office) await office.lease.revoke().catch(() => undefined);
  }

  // ---------------------------------------------------------------------------------------
  // Office

  /** Persists the epoch (CAS), creates the roots, publishes /controller, resumes deletions. */
  private async takeOffice(term: bigint): Promise<void> {
    for (let attempt = 0; this.term === term && !this.stopped; attempt++) {
      try {
        const stat = await this.client.cas(CONTROLLER_EPOCH_PATH, (current) => {
          const stored = current && current.data.length > 0 ? BigInt(current.data.toString()) : -1n;
          // Equal: this candidacy's own earlier attempt wrote it (terms are unique per win) and a
          // later step failed, e.g. racing the old controller's /controller node vanishing.
          if (stored > term) throw new Error(`/controller_epoch holds ${stored}, above the new term ${term}`);
          return Buffer.from(term.toString());
        });
        if (!stat) throw new Error('/controller_epoch was not written');
        for (const root of CONTROLLER_ROOTS) await this.client.ensurePath(root);
        const lease = await this.client.grantLease(this.options.leaseTtlMs);
        const previous = await this.client.tryGet(CONTROLLER_PATH);
        await this.client.multi([
          ops.check(CONTROLLER_EPOCH_PATH, stat.version),
          ...(previous ? [ops.delete(CONTROLLER_PATH, previous.stat.version)] : []),
          ops.create(CONTROLLER_PATH, json(this.options.self), lease.id),
        ]);
        if (this.term !== term) {
          await lease.revoke().catch(() => undefined);
          return;
        }
        await this.ensureClusterId();
        this.office = { epoch: term, epochVersion: stat.version, lease };
        this.known = { ...this.options.self, epoch: term };
        this.channels = new BrokerChannels({
          controllerId: this.options.self.id,
          controllerEpoch: term,
          controllerHost: this.options.self.host,
          controllerPort: this.options.self.port,
          logger: this.logger.child({ component: 'broker-channels' }),
          readState: () => this.readClusterState(),
          onDeleted: (topic, brokerId) => this.deletionConfirmed(topic, brokerId),
          onReplicaDeleted: (topic, partition, brokerId) => this.reassignments.replicaDeleted(topic, partition, brokerId),
          ...(this.options.clientOptions ? { clientOptions: this.options.clientOptions } : {}),
        });
        this.logger.info({ epoch: term.toString() }, 'active controller');
        this.options.onStateChange?.(true, term);
        this.rebalancer.start();
        await this.resumeDeletions();
        // The first event carries the current registrations: that pass is the failover
        // reconciliation (every partition whose leader is not live is handled).
        this.watchBrokers();
        return;
      } catch (e) {
        this.logger.warn({ err: e, attempt }, 'taking office failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** Math.min(attempt, 5))));
      }
    }
  }

  private leaveOffice(): void {
    const office = this.office;
    if (!office) return;
    this.office = undefined;
    office.lease.stop();
    this.channels?.stop();
    this.channels = undefined;
    this.brokerWatch?.cancel();
    this.brokerWatch = undefined;
    this.live = undefined;
    this.rebalancer.stop();
    this.shuttingDown.clear();
    this.options.onStateChange?.(false, undefined);
    this.options.onOfflinePartitions?.(0);
    this.options.onPartitionHealth?.({ offline: 0, preferredImbalance: 0 });
    this.reassignments.clear();
  }

  private notController(): TributaryError {
    const k = this.known;
    const who =
      k && k.id !== this.options.self.id
        ? `the active controller is ${k.id} at ${k.host}:${k.port} (epoch ${k.epoch})`
        : 'no controller is active at the moment; retry shortly';
    return new TributaryError(ErrorCode.NOT_CONTROLLER, `controller ${this.options.self.id} is not the active controller: ${who}`);
  }

  private requireActive(): { epoch: bigint; epochVersion: number } {
    if (!this.office) throw this.notController();
    return this.office;
  }

  /**
   * A write fenced by the controller epoch. On a conflict, tells a fenced controller (the
   * epoch node moved: it steps down and answers NOT_CONTROLLER) from an ordinary CAS
   * conflict (rethrown for the caller to re-read and retry).
   */
  private async fencedMulti(writes: Op[]): Promise<void> {
    const office = this.requireActive();
    try {
      await this.client.multi([ops.check(CONTROLLER_EPOCH_PATH, office.epochVersion), ...writes]);
    } catch (e) {
      if (!isConflict(e)) throw e;
      const current = await this.client.tryGet(CONTROLLER_EPOCH_PATH);
      if (!current || current.stat.version !== office.epochVersion) {
        this.logger.warn({ epoch: office.epoch.toString() }, 'fenced: /controller_epoch moved on; stepping down');
        this.leaveOffice();
        throw this.notController();
      }
      throw e;
    }
  }

  /** Runs a read-then-write step again while its CAS conflicts. */
  private async retrying<T>(step: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await step();
      } catch (e) {
        if (!isConflict(e) || attempt >= CAS_ATTEMPTS) throw e;
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Broker liveness and partition leadership

  /** Follows /brokers/ids (resumable watch) while in office; each change runs a liveness pass. */
  private watchBrokers(): void {
    if (!this.office || this.brokerWatch) return;
    this.brokerWatch = this.client.watch(BROKER_IDS_PATH, {
      children: true,
      onEvent: (event) => {
        if (!this.office) return;
        const names = event.type === WatchEvent_Type.TYPE_CHILDREN_CHANGED ? event.children : [];
        if (event.type !== WatchEvent_Type.TYPE_CHILDREN_CHANGED && event.type !== WatchEvent_Type.TYPE_NODE_DELETED) return;
        const live = new Set(names.filter((n) => /^\d+$/.test(n)).map(Number));
        const before = this.live;
        this.live = live;
        if (before) {
          const gone = [...before].filter((id) => !live.has(id));
          const back = [...live].filter((id) => !before.has(id));
          if (gone.length === 0 && back.length === 0) return;
          this.logger.info({ gone, back }, 'broker registrations changed');
        } else {
          this.logger.info({ live: [...live].sort((a, b) => a - b) }, 'live brokers; reconciling partition leadership');
        }
        this.requestPass();
      },
      onError: (e) => this.logger.error({ err: e }, 'watching /brokers/ids failed'),
    });
  }

  private requestPass(): void {
    this.passWanted = true;
    if (this.passRunning) return;
    this.passRunning = true;
    void (async () => {
      try {
        for (let failures = 0; this.passWanted && this.office && !this.stopped; ) {
          this.passWanted = false;
          try {
            await this.retrying(() => this.livenessPass());
            // Also how a new controller resumes reassignments in flight (first pass after failover).
            await this.reassignments.checkAll();
            await this.refreshChannels();
            void this.reportHealth();
            failures = 0;
          } catch (e) {
            this.logger.warn({ err: e }, 'partition leadership pass failed; retrying');
            if (!this.office) break;
            this.passWanted = true;
            await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** Math.min(failures++, 5))));
          }
        }
      } finally {
        this.passRunning = false;
      }
    })();
  }

  /**
   * One pass over every partition state against the live broker set: dead brokers leave the
   * ISR (never the last member), a partition whose leader is not live gets the first live ISR
   * replica in assignment order (leader -1 when there is none), each write CAS on the state
   * node's version, in fenced Multis of bounded size. A conflict rethrows (the pass re-reads).
   */
  private async livenessPass(): Promise<void> {
    const office = this.requireActive();
    const live = this.live;
    if (!live) return;
    const epoch = Number(office.epoch);
    if (this.shuttingDown.size > 0) this.shuttingDown.prune(await this.liveBrokers());
    const ineligible = this.shuttingDown.ids();
    const { children: topics } = await this.client.children(TOPICS_PATH);
    const writes: { op: Op; bytes: number; elected: 'clean' | 'unclean' | undefined }[] = [];
    let offline = 0;
    for (const topic of [...topics].sort()) {
      const [read, overrides] = await Promise.all([this.readAssignment(topic), this.readOverrides(topic)]);
      if (!read) continue;
      const unclean = overrides?.overrides['unclean.leader.election.enable'] === 'true';
      const partitions = Object.entries(read.assignment.partitions);
      const nodes = await Promise.all(partitions.map(([p]) => this.client.tryGet(partitionStatePath(topic, p))));
      partitions.forEach(([p, replicas], i) => {
        const node = nodes[i];
        if (!node) return;
        const state = parseJson<PartitionState>(node.data);
        const next = nextPartitionState(state, replicas, live, epoch, { unclean, ineligible });
        if (next.leader === -1) offline++;
        if (next === state) return;
        const data = json(next);
        const elected = next.leader === -1 || next.leader === state.leader ? undefined : state.isr.includes(next.leader) ? 'clean' : 'unclean';
        writes.push({ op: ops.set(partitionStatePath(topic, p), data, node.stat.version), bytes: data.length + partitionStatePath(topic, p).length + 32, elected });
        if (elected === 'unclean') {
          this.logger.warn({ topic, partition: Number(p), from: state, to: next }, 'UNCLEAN leader election: a replica outside the ISR leads; records acknowledged only by the lost ISR may be gone');
        } else {
          this.logger.info({ topic, partition: Number(p), from: state, to: next }, next.leader === -1 ? 'partition offline: no live in-sync replica' : 'partition leadership/ISR changed');
        }
      });
    }
    for (let i = 0; i < writes.length; ) {
      let bytes = 0;
      const chunk: typeof writes = [];
      while (i < writes.length && chunk.length < MULTI_MAX_OPS && (chunk.length === 0 || bytes + writes[i]!.bytes <= MULTI_MAX_BYTES)) {
        bytes += writes[i]!.bytes;
        chunk.push(writes[i++]!);
      }
      await this.fencedMulti(chunk.map((w) => w.op));
      for (const kind of ['clean', 'unclean'] as const) {
        const elected = chunk.filter((w) => w.elected === kind).length;
        if (elected > 0) this.options.onLeaderElections?.(elected, kind);
      }
    }
    this.options.onOfflinePartitions?.(offline);
  }

  /**
   * Reads every partition state and reports offline and preferred-imbalance counts (while
   * active). Reads may overlap: only the one started last reports, so an older read never
   * overwrites a newer one.
   */
  private async reportHealth(): Promise<void> {
    if (!this.office || !this.options.onPartitionHealth) return;
    const read = ++this.healthReads;
    try {
      const health = partitionHealth((await readPartitions(this.client)).partitions);
      if (this.office && read === this.healthReads) this.options.onPartitionHealth(health);
    } catch (e) {
      this.logger.debug({ err: e }, 'reading partition health failed');
    }
  }

  // ---------------------------------------------------------------------------------------
  // Brokers' view of the state

  /** Creates /cluster/id (a random id, Kafka's base64 UUID form) unless it exists. */
  private async ensureClusterId(): Promise<void> {
    if (await this.client.tryGet(CLUSTER_ID_PATH)) return;
    await this.client.ensurePath('/cluster');
    const id = randomBytes(16).toString('base64url').slice(0, 22);
    await this.client.create(CLUSTER_ID_PATH, Buffer.from(id)).catch((e: unknown) => {
      if (!(e instanceof CoordinationClientError && e.code === 'NODE_EXISTS')) throw e;
    });
  }

  /** The live brokers to the channels (new registrations get their full state), then a push to all. */
  private async refreshChannels(): Promise<void> {
    const channels = this.channels;
    if (!channels) return;
    const brokers = await this.liveBrokers();
    channels.setBrokers(brokers);
    channels.kick();
  }

  /** Everything brokers are told: brokers, topics with configs and partition states, pending deletions. */
  private async readClusterState(): Promise<ClusterState> {
    const [clusterId, brokers, { children: names }, { children: deleting }] = await Promise.all([
      this.client.tryGet(CLUSTER_ID_PATH),
      this.liveBrokers(),
      this.client.children(TOPICS_PATH),
      this.client.children(DELETE_TOPICS_PATH),
    ]);
    const replicaDeletions: NonNullable<ClusterState['replicaDeletions']> = [];
    const topics = await Promise.all(
      [...names].sort().map(async (name): Promise<TopicState | undefined> => {
        const [read, overrides] = await Promise.all([this.readAssignment(name), this.readOverrides(name)]);
        if (!read) return undefined;
        replicaDeletions.push(...pendingReplicaDeletions(name, read.assignment));
        const indexes = Object.keys(read.assignment.partitions)
          .map(Number)
          .sort((a, b) => a - b);
        const states = await Promise.all(indexes.map((p) => this.client.tryGet(partitionStatePath(name, p))));
        return {
          name,
          configs: overrides?.overrides ?? {},
          partitions: indexes.map((index, i) => ({
            index,
            replicas: read.assignment.partitions[String(index)] ?? [],
            state: states[i] ? parseJson<PartitionState>(states[i]!.data) : undefined,
            reassignment: reassignmentView(read.assignment, index),
          })),
        };
      }),
    );
    const deletions = await Promise.all(
      deleting.map(async (name): Promise<PendingDeletion | undefined> => {
        const node = await this.client.tryGet(deleteMarkerPath(name));
        if (!node) return undefined;
        const marker = parseMarker(node.data);
        return { name, partitions: marker.partitions ?? [], brokers: marker.brokers ?? [] };
      }),
    );
    return {
      clusterId: clusterId?.data.toString() ?? '',
      brokers,
      topics: topics.filter((t): t is TopicState => t !== undefined),
      replicaDeletions,
      deletions: deletions.filter((d): d is PendingDeletion => d !== undefined && d.brokers.length > 0),
    };
  }

  // ---------------------------------------------------------------------------------------
  // Reads

  async liveBrokers(): Promise<LiveBroker[]> {
    const { children } = await this.client.children(BROKER_IDS_PATH);
    const brokers = await Promise.all(
      children.map(async (name) => {
        const node = await this.client.tryGet(`${BROKER_IDS_PATH}/${name}`);
        if (!node || !/^\d+$/.test(name)) return undefined;
        try {
          return { ...parseJson<BrokerRegistration>(node.data), id: Number(name) };
        } catch {
          this.logger.warn({ broker: name }, 'unreadable broker registration ignored');
          return undefined;
        }
      }),
    );
    return brokers.filter((b): b is LiveBroker => b !== undefined).sort((a, b) => a.id - b.id);
  }

  private async readAssignment(topic: string): Promise<{ assignment: TopicAssignment; version: number } | undefined> {
    const node = await this.client.tryGet(topicPath(topic));
    return node && { assignment: parseJson<TopicAssignment>(node.data), version: node.stat.version };
  }

  private async readOverrides(topic: string): Promise<{ overrides: Record<string, string>; version: number } | undefined> {
    const node = await this.client.tryGet(topicConfigPath(topic));
    return node && { overrides: node.data.length ? parseJson<Record<string, string>>(node.data) : {}, version: node.stat.version };
  }

  // ---------------------------------------------------------------------------------------
  // Topics

  private async createTopic(asked: CreatableTopic, validateOnly: boolean): Promise<CreateTopicResult> {
    // KIP-464: -1 asks for the cluster's num.partitions / default.replication.factor.
    const defaults = this.options.topicDefaults ?? { numPartitions: 1, replicationFactor: 1 };
    const topic: CreatableTopic = {
      ...asked,
      numPartitions: asked.numPartitions === -1 ? defaults.numPartitions : asked.numPartitions,
      replicationFactor: asked.replicationFactor === -1 ? defaults.replicationFactor : asked.replicationFactor,
    };
    const result = { name: topic.name, numPartitions: topic.numPartitions, replicationFactor: topic.replicationFactor, errorCode: ErrorCode.NONE, errorMessage: '' };
    try {
      validateTopicName(topic.name);
      if (!Number.isInteger(topic.numPartitions) || topic.numPartitions < 1) fail(ErrorCode.INVALID_PARTITIONS, `the number of partitions must be at least 1 (or -1: the cluster default), not ${topic.numPartitions}`);
      if (topic.replicationFactor < 1) fail(ErrorCode.INVALID_REPLICATION_FACTOR, `the replication factor must be at least 1 (or -1: the cluster default), not ${topic.replicationFactor}`);
      const overrides = validateTopicConfigs(topic.configs);
      await this.retrying(async () => {
        const existing = await this.client.children(TOPICS_PATH);
        if (existing.children.includes(topic.name)) fail(ErrorCode.TOPIC_ALREADY_EXISTS, `topic '${topic.name}' already exists`);
        const colliding = collidingTopic(topic.name, existing.children);
        if (colliding) fail(ErrorCode.INVALID_TOPIC_EXCEPTION, `topic '${topic.name}' collides with existing topic '${colliding}' ('.' and '_' are the same in metric names)`);
        if (await this.client.tryGet(deleteMarkerPath(topic.name))) fail(ErrorCode.TOPIC_ALREADY_EXISTS, `topic '${topic.name}' is marked for deletion; retry once it is gone`);
        const brokers = await this.liveBrokers();
        const allRacks = brokers.every((b) => b.rack);
        const replicas = assignReplicas(
          brokers.map((b) => ({ id: b.id, rack: allRacks ? b.rack : undefined })),
          topic.numPartitions,
          topic.replicationFactor,
        );
        if (validateOnly) return;
        const epoch = Number(this.requireActive().epoch);
        const assignment: TopicAssignment = { partitions: Object.fromEntries(replicas.map((r, p) => [String(p), r])) };
        const writes: Op[] = [
          // Bumping the parent's version makes the existence/collision check above a CAS.
          ops.set(TOPICS_PATH, Buffer.alloc(0), existing.stat.version),
          ops.create(topicPath(topic.name), json(assignment)),
          ops.create(partitionsPath(topic.name)),
        ];
        replicas.forEach((r, p) => {
          const state: PartitionState = { leader: r[0]!, leader_epoch: 0, isr: [...r], controller_epoch: epoch };
          writes.push(ops.create(partitionPath(topic.name, p)), ops.create(partitionStatePath(topic.name, p), json(state)));
        });
        writes.push(ops.create(topicConfigPath(topic.name), json(overrides)));
        await this.fencedMulti(writes);
        this.logger.info({ topic: topic.name, partitions: topic.numPartitions, replicationFactor: topic.replicationFactor }, 'topic created');
      });
      if (!validateOnly) this.channels?.kick();
      return result;
    } catch (e) {
      return { ...result, ...errorFields(e) };
    }
  }

  /**
   * Grows a topic to `count` partitions: new partitions get replicas by the same assignment
   * (continuing the partition numbering) with the topic's replication factor, a leader (the
   * first replica, all of them live) and the full ISR; the assignment update is a CAS on the
   * topic node, in one fenced Multi with the new partition nodes.
   */
  private async createPartitions(topic: CreatePartitionsTopic, validateOnly: boolean): Promise<CreatePartitionsResult> {
    try {
      await this.retrying(async () => {
        const read = await this.readAssignment(topic.name);
        if (!read) fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topic.name}' does not exist`);
        if (await this.client.tryGet(deleteMarkerPath(topic.name))) fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topic.name}' is being deleted`);
        if (read.assignment.adding_replicas || read.assignment.removing_replicas) {
          fail(ErrorCode.REASSIGNMENT_IN_PROGRESS, `a partition reassignment is in progress for topic '${topic.name}'; add partitions once it completes (\`tributary partitions reassign --list\`)`);
        }
        const current = Object.keys(read.assignment.partitions).length;
        if (!Number.isInteger(topic.count) || topic.count <= current) {
          fail(ErrorCode.INVALID_PARTITIONS, `topic '${topic.name}' has ${current} partitions; the new count must be greater (partitions are never removed), not ${topic.count}`);
        }
        const replicationFactor = read.assignment.partitions['0']?.length ?? 1;
        const brokers = await this.liveBrokers();
        const allRacks = brokers.every((b) => b.rack);
        const replicas = assignReplicas(
          brokers.map((b) => ({ id: b.id, rack: allRacks ? b.rack : undefined })),
          topic.count - current,
          replicationFactor,
          { firstPartition: current },
        );
        if (validateOnly) return;
        const epoch = Number(this.requireActive().epoch);
        const partitions = { ...read.assignment.partitions };
        const writes: Op[] = [];
        replicas.forEach((r, i) => {
          const p = current + i;
          partitions[String(p)] = r;
          const state: PartitionState = { leader: r[0]!, leader_epoch: 0, isr: [...r], controller_epoch: epoch };
          writes.push(ops.create(partitionPath(topic.name, p)), ops.create(partitionStatePath(topic.name, p), json(state)));
        });
        await this.fencedMulti([ops.set(topicPath(topic.name), json({ ...read.assignment, partitions }), read.version), ...writes]);
        this.logger.info({ topic: topic.name, from: current, to: topic.count }, 'partitions created');
      });
      if (!validateOnly) this.channels?.kick();
      return { name: topic.name, errorCode: ErrorCode.NONE, errorMessage: '' };
    } catch (e) {
      return { name: topic.name, ...errorFields(e) };
    }
  }

  /**
   * Marks the topic under /admin/delete_topics and removes its nodes in one fenced Multi,
   * then completes the deletion by removing the marker. When brokers host data (the broker
   * work), the marker stays until every replica has confirmed StopReplica(delete) and
   * removed the partition's files; a new controller resumes pending deletions.
   */
  private async deleteTopic(name: string): Promise<DeleteTopicResult> {
    try {
      await this.retrying(async () => {
        const existing = await this.client.children(TOPICS_PATH);
        if (!existing.children.includes(name)) fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${name}' does not exist`);
        await this.fencedMulti([ops.set(TOPICS_PATH, Buffer.alloc(0), existing.stat.version), ...(await this.topicRemoval(name))]);
      });
      await this.completeDeletion(name);
      this.logger.info({ topic: name }, 'topic deleted');
      return { name, errorCode: ErrorCode.NONE, errorMessage: '' };
    } catch (e) {
      return { name, ...errorFields(e) };
    }
  }

  /**
   * Ops that mark `name` for deletion (naming the brokers that hold its replicas, which must
   * delete their data) and delete its nodes, deepest first, at the versions read.
   */
  private async topicRemoval(name: string): Promise<Op[]> {
    const writes: Op[] = [];
    const topicNode = await this.client.tryGet(topicPath(name));
    if (!(await this.client.tryGet(deleteMarkerPath(name)))) {
      const assignment = topicNode ? parseJson<TopicAssignment>(topicNode.data) : { partitions: {} };
      const marker: DeletionMarker = {
        requested: Date.now(),
        partitions: Object.keys(assignment.partitions).map(Number).sort((a, b) => a - b),
        // Replicas a reassignment removed that have not deleted their copy yet delete it too.
        brokers: [...new Set([...Object.values(assignment.partitions).flat(), ...Object.values(assignment.removed_replicas ?? {}).flat()])].sort((a, b) => a - b),
      };
      writes.push(ops.create(deleteMarkerPath(name), json(marker)));
    }
    if (!topicNode) return writes;
    const partitions = await this.client.tryGet(partitionsPath(name));
    if (partitions) {
      const { children } = await this.client.children(partitionsPath(name));
      for (const p of children) {
        const [node, state] = await Promise.all([this.client.tryGet(partitionPath(name, p)), this.client.tryGet(partitionStatePath(name, p))]);
        if (state) writes.push(ops.delete(partitionStatePath(name, p), state.stat.version));
        if (node) writes.push(ops.delete(partitionPath(name, p), node.stat.version));
      }
      writes.push(ops.delete(partitionsPath(name), partitions.stat.version));
    }
    writes.push(ops.delete(topicPath(name), topicNode.stat.version));
    const config = await this.client.tryGet(topicConfigPath(name));
    if (config) writes.push(ops.delete(topicConfigPath(name), config.stat.version));
    return writes;
  }

  /**
   * After the metadata is gone: brokers are told (StopReplica with delete, by the channels,
   * now for live brokers and when it registers again for one that is down); the marker goes
   * once no broker is left to confirm.
   */
  private async completeDeletion(name: string): Promise<void> {
    await this.retrying(async () => {
      const marker = await this.client.tryGet(deleteMarkerPath(name));
      if (!marker) return;
      const pending = parseMarker(marker.data).brokers ?? [];
      if (pending.length === 0) await this.fencedMulti([ops.delete(deleteMarkerPath(name), marker.stat.version)]);
    });
    this.channels?.kick();
  }

  /** A broker deleted its data of a deleted topic: it leaves the marker; the last one removes it. */
  private async deletionConfirmed(name: string, brokerId: number): Promise<void> {
    await this.retrying(async () => {
      const node = await this.client.tryGet(deleteMarkerPath(name));
      if (!node) return;
      const marker = parseMarker(node.data);
      const brokers = (marker.brokers ?? []).filter((b) => b !== brokerId);
      if (brokers.length === (marker.brokers ?? []).length) return;
      if (brokers.length === 0) {
        await this.fencedMulti([ops.delete(deleteMarkerPath(name), node.stat.version)]);
        this.logger.info({ topic: name }, 'topic deletion complete: every replica deleted its data');
      } else {
        await this.fencedMulti([ops.set(deleteMarkerPath(name), json({ ...marker, brokers }), node.stat.version)]);
      }
    });
  }

  /** Finishes deletions a previous controller started. */
  private async resumeDeletions(): Promise<void> {
    const { children } = await this.client.children(DELETE_TOPICS_PATH);
    for (const name of children) {
      try {
        await this.retrying(async () => {
          const writes = await this.topicRemoval(name);
          if (writes.length > 0) await this.fencedMulti(writes);
        });
        await this.completeDeletion(name);
        this.logger.info({ topic: name }, 'pending topic deletion completed');
      } catch (e) {
        this.logger.warn({ err: e, topic: name }, 'pending topic deletion failed');
      }
    }
  }

  private async describeTopic(name: string): Promise<TopicDescription> {
    const read = await this.readAssignment(name);
    if (!read) return { name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `topic '${name}' does not exist`, partitions: [] };
    const ids = Object.keys(read.assignment.partitions)
      .map(Number)
      .sort((a, b) => a - b);
    const partitions = await Promise.all(
      ids.map(async (p): Promise<PartitionDescription> => {
        const replicas = read.assignment.partitions[String(p)] ?? [];
        const node = await this.client.tryGet(partitionStatePath(name, p));
        const state = node ? parseJson<PartitionState>(node.data) : undefined;
        return { partition: p, leader: state?.leader ?? -1, leaderEpoch: state?.leader_epoch ?? -1, replicas, isr: state?.isr ?? [] };
      }),
    );
    return { name, errorCode: ErrorCode.NONE, errorMessage: '', partitions };
  }

  private async describeConfigs(topic: string): Promise<TopicConfigs> {
    if (!(await this.client.tryGet(topicPath(topic)))) {
      return { topic, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `topic '${topic}' does not exist`, entries: [] };
    }
    const overrides = (await this.readOverrides(topic))?.overrides ?? {};
    const entries = describeTopicConfigs(overrides)
      .map((c) => ({ name: c.name, value: c.value, isDefault: c.isDefault, documentation: c.doc }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { topic, errorCode: ErrorCode.NONE, errorMessage: '', entries };
  }

  private async alterConfigs(change: AlterTopicConfigs, validateOnly: boolean): Promise<AlterConfigsResult> {
    const topic = change.topic;
    try {
      for (const op of change.ops) {
        if (op.op !== AlterConfigOp_OpType.OP_TYPE_SET && op.op !== AlterConfigOp_OpType.OP_TYPE_DELETE) {
          fail(ErrorCode.INVALID_REQUEST, `config '${op.name}': the operation must be OP_TYPE_SET or OP_TYPE_DELETE`);
        }
      }
      await this.retrying(async () => {
        const topicNode = await this.client.tryGet(topicPath(topic));
        if (!topicNode) fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topic}' does not exist`);
        const current = await this.readOverrides(topic);
        const next: Record<string, string> = { ...(current?.overrides ?? {}) };
        for (const op of change.ops) {
          if (op.op === AlterConfigOp_OpType.OP_TYPE_SET) next[op.name] = op.value;
          else delete next[op.name];
        }
        // Validates the keys being deleted too (an unknown key is an error either way).
        validateTopicConfigs(Object.fromEntries(change.ops.map((op) => [op.name, next[op.name] ?? describeDefault(op.name)])));
        if (validateOnly) return;
        await this.fencedMulti([
          ops.check(topicPath(topic), topicNode.stat.version),
          current ? ops.set(topicConfigPath(topic), json(next), current.version) : ops.create(topicConfigPath(topic), json(next)),
        ]);
        this.logger.info({ topic, overrides: next }, 'topic configs altered');
      });
      if (!validateOnly) this.channels?.kick();
      return { topic, errorCode: ErrorCode.NONE, errorMessage: '' };
    } catch (e) {
      return { topic, ...errorFields(e) };
    }
  }

  // ---------------------------------------------------------------------------------------
  // AlterPartition (leaders change their ISR)

  /**
   * A leader's proposed ISR for one partition: applied when the requester leads it at that
   * leader epoch and the ISR is valid (contains the leader, only replicas, only registered
   * brokers); CAS on the state node inside a fenced Multi. Unchanged ISR: answered with the
   * current state, nothing written.
   */
  private async alterPartition(brokerId: number, topic: string, p: AlterPartitionPartition, live: ReadonlySet<number>): Promise<AlterPartitionPartitionResult> {
    const result = (state: PartitionState | undefined, errorCode = ErrorCode.NONE, errorMessage = ''): AlterPartitionPartitionResult => ({
      index: p.index,
      errorCode,
      errorMessage,
      leader: state?.leader ?? -1,
      leaderEpoch: state?.leader_epoch ?? -1,
      isr: state?.isr ?? [],
    });
    try {
      return await this.retrying(async () => {
        const read = await this.readAssignment(topic);
        const replicas = read?.assignment.partitions[String(p.index)];
        const node = replicas ? await this.client.tryGet(partitionStatePath(topic, p.index)) : undefined;
        if (!replicas || !node) return result(undefined, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${topic}-${p.index} does not exist`);
        const state = parseJson<PartitionState>(node.data);
        if (state.leader !== brokerId) return result(state, ErrorCode.NOT_LEADER_OR_FOLLOWER, `broker ${brokerId} does not lead ${topic}-${p.index} (leader ${state.leader})`);
        if (p.leaderEpoch !== state.leader_epoch) {
          return result(state, ErrorCode.FENCED_LEADER_EPOCH, `leader epoch ${p.leaderEpoch} is not the current ${state.leader_epoch} of ${topic}-${p.index}`);
        }
        const isr = [...new Set(p.newIsr)];
        const outsider = isr.find((id) => !replicas.includes(id));
        const unregistered = isr.find((id) => id !== brokerId && !live.has(id));
        if (!isr.includes(brokerId)) return result(state, ErrorCode.INVALID_REQUEST, `the ISR must contain the leader ${brokerId}`);
        if (outsider !== undefined) return result(state, ErrorCode.INVALID_REQUEST, `broker ${outsider} is not a replica of ${topic}-${p.index} (${replicas.join(',')})`);
        if (unregistered !== undefined) return result(state, ErrorCode.INVALID_REQUEST, `broker ${unregistered} is not registered`);
        const stopping = isr.find((id) => !state.isr.includes(id) && this.shuttingDown.has(id));
        if (stopping !== undefined) return result(state, ErrorCode.INVALID_REQUEST, `broker ${stopping} is shutting down: it cannot join the ISR`);
        const ordered = replicas.filter((id) => isr.includes(id));
        if (ordered.length === state.isr.length && ordered.every((id) => state.isr.includes(id))) return result(state);
        const next: PartitionState = { ...state, isr: ordered, controller_epoch: Number(this.requireActive().epoch) };
        await this.fencedMulti([ops.set(partitionStatePath(topic, p.index), json(next), node.stat.version)]);
        this.logger.info({ topic, partition: p.index, from: state.isr, to: ordered, leader: brokerId }, 'ISR changed by the leader');
        return result(next);
      });
    } catch (e) {
      const { errorCode, errorMessage } = errorFields(e);
      return result(undefined, errorCode, errorMessage);
    }
  }

  /** AllocateProducerIds (producer-ids.ts), made on first use. */
  private producerIds: ProducerIdAllocator | undefined;

  readonly brokerHandlers: ServiceHandlers<typeof BrokerToControllerServiceService> = {
    allocateProducerIds: async (request) => {
      this.requireActive();
      this.producerIds ??= new ProducerIdAllocator({
        client: this.client,
        logger: this.logger,
        fencedMulti: (writes) => this.fencedMulti(writes),
        retrying: (step) => this.retrying(step),
        isRegistered: async (id) => (await this.liveBrokers()).some((b) => b.id === id),
      });
      return this.producerIds.allocate(request.brokerId);
    },
    alterPartition: async (request) => {
      this.requireActive();
      const registered = await this.liveBrokers();
      this.shuttingDown.prune(registered);
      const live = new Set(registered.map((b) => b.id));
      const topics = [];
      for (const t of request.topics) {
        const partitions: AlterPartitionPartitionResult[] = [];
        for (const p of t.partitions) partitions.push(await this.alterPartition(request.brokerId, t.name, p, live));
        topics.push({ name: t.name, partitions });
      }
      if (topics.some((t) => t.partitions.some((p) => p.errorCode === ErrorCode.NONE))) this.channels?.kick();
      // An ISR change may let a reassignment complete (its target replicas all in sync).
      for (const t of topics) for (const p of t.partitions) if (p.errorCode === ErrorCode.NONE) void this.reassignments.maybeComplete(t.name, p.index, live).catch((e: unknown) => this.logger.warn({ err: e, topic: t.name, partition: p.index }, 'reassignment completion check failed; the next liveness pass retries'));
      return { topics };
    },
    controlledShutdown: async (request) => {
      this.requireActive();
      return controlledShutdown(this.leadership, request.brokerId, request.incarnation);
    },
  };

  // ---------------------------------------------------------------------------------------
  // Admin API

  readonly handlers: ServiceHandlers<typeof AdminServiceService> = {
    createTopics: async (request, ctx) => {
      this.requireActive();
      const counts = new Map<string, number>();
      for (const t of request.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
      const refusal = createTopicsRefusals(ctx, [...counts.keys()]);
      const results: CreateTopicResult[] = [];
      for (const topic of request.topics) {
        const refused = refusal(topic.name);
        if ((counts.get(topic.name) ?? 0) > 1) {
          results.push({
            name: topic.name,
            numPartitions: topic.numPartitions,
            replicationFactor: topic.replicationFactor,
            errorCode: ErrorCode.INVALID_REQUEST,
            errorMessage: `topic '${topic.name}' appears more than once in the request`,
          });
        } else if (refused) {
          results.push({ name: topic.name, numPartitions: topic.numPartitions, replicationFactor: topic.replicationFactor, ...refused });
        } else {
          results.push(await this.createTopic(topic, request.validateOnly));
        }
      }
      return { results };
    },
    deleteTopics: async (request, ctx) => {
      this.requireActive();
      const refusal = refusalsOf(ctx, 'Delete', 'Topic', request.names);
      const results: DeleteTopicResult[] = [];
      for (const name of request.names) {
        const refused = refusal(name);
        results.push(refused ? { name, ...refused } : await this.deleteTopic(name));
      }
      return { results };
    },
    createPartitions: async (request, ctx) => {
      this.requireActive();
      const counts = new Map<string, number>();
      for (const t of request.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
      const refusal = refusalsOf(ctx, 'Alter', 'Topic', counts.keys());
      const results: CreatePartitionsResult[] = [];
      for (const topic of request.topics) {
        const refused = refusal(topic.name);
        if ((counts.get(topic.name) ?? 0) > 1) {
          results.push({ name: topic.name, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `topic '${topic.name}' appears more than once in the request` });
        } else if (refused) {
          results.push({ name: topic.name, ...refused });
        } else {
          results.push(await this.createPartitions(topic, request.validateOnly));
        }
      }
      return { results };
    },
    listTopics: async (_request, ctx) => {
      this.requireActive();
      const { children } = await this.client.children(TOPICS_PATH);
      return { names: filterAllowed(ctx, 'Describe', 'Topic', [...children].sort()) };
    },
    describeTopics: async (request, ctx) => {
      this.requireActive();
      if (request.names.length === 0) {
        const all = filterAllowed(ctx, 'Describe', 'Topic', [...(await this.client.children(TOPICS_PATH)).children].sort());
        return { topics: await Promise.all(all.map((n) => this.describeTopic(n))) };
      }
      const refusal = refusalsOf(ctx, 'Describe', 'Topic', request.names);
      return {
        topics: await Promise.all(
          request.names.map((name) => {
            const refused = refusal(name);
            return refused ? { name, ...refused, partitions: [] } : this.describeTopic(name);
          }),
        ),
      };
    },
    describeConfigs: async (request, ctx) => {
      this.requireActive();
      const refusal = refusalsOf(ctx, 'DescribeConfigs', 'Topic', request.topics);
      return {
        results: await Promise.all(
          request.topics.map((topic) => {
            const refused = refusal(topic);
            return refused ? { topic, ...refused, entries: [] } : this.describeConfigs(topic);
          }),
        ),
      };
    },
    alterConfigs: async (request, ctx) => {
      this.requireActive();
      const refusal = refusalsOf(ctx, 'AlterConfigs', 'Topic', request.topics.map((t) => t.topic));
      const results: AlterConfigsResult[] = [];
      for (const change of request.topics) {
        const refused = refusal(change.topic);
        results.push(refused ? { topic: change.topic, ...refused } : await this.alterConfigs(change, request.validateOnly));
      }
      return { results };
    },
    describeCluster: async () => {
      const office = this.requireActive();
      const brokers: BrokerDescription[] = (await this.liveBrokers()).map((b) => ({ id: b.id, host: b.host, port: b.port, rack: b.rack ?? '' }));
      const self = this.options.self;
      const clusterId = (await this.client.tryGet(CLUSTER_ID_PATH))?.data.toString() ?? '';
      return { brokers, controllerId: self.id, controllerEpoch: office.epoch, controllerHost: self.host, controllerPort: self.port, clusterId };
    },
    electLeaders: async (request) => {
      this.requireActive();
      return { topics: await electLeaders(this.leadership, request.electionType, request.topics) };
    },
    alterPartitionReassignments: (request) => this.reassignments.alter(request),
    listPartitionReassignments: (request) => this.reassignments.list(request),
  };
}

function parseMarker(data: Buffer): DeletionMarker {
  try {
    return data.length > 0 ? parseJson<DeletionMarker>(data) : { requested: 0 };
  } catch {
    return { requested: 0 };
  }
}

/** A placeholder value that passes validation for a deleted key (only the key is checked). */
function describeDefault(name: string): string {
  return describeTopicConfigs({}).find((c) => c.name === name)?.value ?? '';
}

/**
 * A partition's state after applying broker liveness (Kafka's controller semantics):
 * - a dead broker leaves the ISR unless it is the last member (Kafka keeps the last one so
 *   that it can lead again when it comes back without losing acknowledged data);
 * - a leader that is not live is replaced by the first live ISR member in assignment order,
 *   or by -1 (offline) when none is live; an offline partition gets a leader again as soon
 *   as a member of its ISR is live (re-registration);
 * - a leader change bumps leader_epoch; every change records the controller epoch.
 * - unclean leader election (`unclean: true`, the topic's `unclean.leader.election.enable`):
 *   when no ISR member is live, the first live replica in assignment order leads, alone in
 *   the ISR (availability over durability: what only the old ISR had is lost).
 * - brokers in `ineligible` (in controlled shutdown) are never chosen as leader.
 * Returns `state` itself when nothing changes.
 */
export function nextPartitionState(
  state: PartitionState,
  replicas: readonly number[],
  live: ReadonlySet<number>,
  controllerEpoch: number,
  options: { unclean?: boolean; ineligible?: ReadonlySet<number> } = {},
): PartitionState {
  const canLead = (id: number): boolean => live.has(id) && !options.ineligible?.has(id);
  let isr = [...state.isr];
  for (const dead of state.isr.filter((id) => !live.has(id)).sort((a, b) => a - b)) {
    if (isr.length > 1) isr = isr.filter((id) => id !== dead);
  }
  let leader = state.leader;
  if (leader === -1 || !live.has(leader)) {
    leader = [...replicas, ...isr].find((id) => isr.includes(id) && canLead(id)) ?? -1;
    if (leader === -1 && options.unclean) {
      leader = replicas.find((id) => canLead(id)) ?? -1;
      if (leader !== -1) isr = [leader];
    }
  }
  const isrChanged = isr.length !== state.isr.length || isr.some((id, i) => id !== state.isr[i]);
  if (leader === state.leader && !isrChanged) return state;
  return { leader, leader_epoch: leader === state.leader ? state.leader_epoch : state.leader_epoch + 1, isr, controller_epoch: controllerEpoch };
}
