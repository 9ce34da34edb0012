/**
 * The broker's side of the controller's commands (BrokerControlService: LeaderAndIsr,
 * UpdateMetadata, StopReplica), and the metadata cache that Metadata requests are answered
 * from.
 *
 * Fencing: the broker remembers the highest controller epoch it has obeyed; a request from an
 * older epoch is refused with STALE_CONTROLLER_EPOCH (a deposed controller that has not yet
 * noticed cannot move leadership). Within an epoch a partition's leader epoch only moves
 * forward: an older one is ignored (reported per partition), the same one refreshes the ISR,
 * replicas and config, a newer one makes this broker leader or follower.
 *
 * Requests are applied one at a time, in arrival order (a chain of promises): a StopReplica
 * that deletes data and a LeaderAndIsr for the same partition never interleave.
 */
import type { LogConfig } from '@tributary/log';
import { logConfigFromProperties } from '@tributary/log';
import type {
  BrokerControlServiceService,
  BrokerNode,
  GroupCoordinatorNode,
  ControlPartitionError,
  LeaderAndIsrRequest,
  LeaderAndIsrResponse,
  MetadataRequest,
  MetadataResponse,
  StopReplicaRequest,
  StopReplicaResponse,
  TopicMetadata,
  UpdateMetadataRequest,
  UpdateMetadataResponse,
} from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import type { Logger, ServiceHandlers } from '@tributary/runtime';
import type { ReplicaManager } from './replica-manager';
import type { ReplicationThrottle } from './throttle';

/** Internal topics (Kafka's): flagged in Metadata; with an authorizer, only services write them. */
export const INTERNAL_TOPICS: ReadonlySet<string> = new Set(['__consumer_offsets', '__transaction_state']);

export interface BrokerControlOptions {
  brokerId: number;
  replicaManager: ReplicaManager;
  /** The broker-wide log config (message.max.bytes etc.) that topic overrides apply on. */
  baseLogConfig: LogConfig;
  logger: Logger;
  /** Replication throttles of partitions this broker adds in a reassignment (set from LeaderAndIsr). */
  throttle?: ReplicationThrottle;
  /** The group coordinator instances to list in Metadata answers (group-coordinators.ts). */
  groupCoordinators?(): GroupCoordinatorNode[];
  /** Called after each applied request (metrics, readiness). */
  onApplied?(kind: 'leaderAndIsr' | 'updateMetadata' | 'stopReplica'): void;
}

interface CachedMetadata {
  controllerId: number;
  controllerHost: string;
  controllerPort: number;
  clusterId: string;
  brokers: BrokerNode[];
  topics: Map<string, TopicMetadata>;
}

export class BrokerControl {
  /** Highest controller epoch obeyed (-1: none yet). */
  private controllerEpoch = -1n;
  private metadata: CachedMetadata | undefined;
  private leaderAndIsrSeen = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly logger: Logger;

  constructor(private readonly options: BrokerControlOptions) {
    this.logger = options.logger;
  }

  /** Ready to serve clients: the controller has sent this broker its state and the cluster's metadata. */
  get hasState(): boolean {
    return this.leaderAndIsrSeen && this.metadata !== undefined;
  }

  get knownControllerEpoch(): bigint {
    return this.controllerEpoch;
  }

  /** Runs `task` after every earlier control request. */
  private serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Refuses an older controller epoch; adopts a newer one. */
  private fence(epoch: bigint, controllerId: number): { errorCode: ErrorCode; errorMessage: string } | undefined {
    if (epoch < this.controllerEpoch) {
      this.logger.warn({ epoch: epoch.toString(), known: this.controllerEpoch.toString(), controllerId }, 'refused a request from a stale controller');
      return {
        errorCode: ErrorCode.STALE_CONTROLLER_EPOCH,
        errorMessage: `controller epoch ${epoch} (controller ${controllerId}) is older than ${this.controllerEpoch}, which this broker already obeys`,
      };
    }
    if (epoch > this.controllerEpoch) {
      this.logger.info({ epoch: epoch.toString(), controllerId }, 'following a new controller epoch');
      this.controllerEpoch = epoch;
    }
    return undefined;
  }

  private configFor(topic: string, overrides: Record<string, string>): { config: LogConfig; minInsyncReplicas: number } {
    let config = this.options.baseLogConfig;
    try {
      config = logConfigFromProperties(overrides, this.options.baseLogConfig);
    } catch (e) {
      // The controller validated these; a value this broker cannot parse keeps the defaults.
      this.logger.warn({ topic, err: e }, 'topic config overrides not understood; using broker defaults');
    }
    const raw = overrides['min.insync.replicas'];
    const min = raw !== undefined && /^\d+$/.test(raw) ? Math.max(1, Number(raw)) : 1;
    return { config, minInsyncReplicas: min };
  }

  async leaderAndIsr(req: LeaderAndIsrRequest): Promise<LeaderAndIsrResponse> {
    return this.serialized(async () => {
      const refused = this.fence(req.controllerEpoch, req.controllerId);
      if (refused) return { ...refused, errors: [] };
      const rm = this.options.replicaManager;
      const self = this.options.brokerId;
      const errors: ControlPartitionError[] = [];
      const listed = new Set<string>();
      let became = 0;
      for (const topic of req.topics) {
        const { config, minInsyncReplicas } = this.configFor(topic.name, topic.configs);
        for (const p of topic.partitions) {
          listed.add(`${topic.name}-${p.index}`);
          const tp = { topic: topic.name, partition: p.index };
          // Only a replica being added fetches throttled (Kafka's throttled.replicas of a reassignment).
          this.options.throttle?.set(tp, p.addingReplicas.includes(self) ? Number(p.replicationThrottleBytesPerSecond) : 0);
          const hosted = rm.getPartition(topic.name, p.index);
          const heldEpoch = hosted?.role.leaderEpoch ?? -1;
          try {
            if (hosted && p.leaderEpoch < heldEpoch) {
              errors.push({ topic: topic.name, index: p.index, errorCode: ErrorCode.STALE_CONTROLLER_EPOCH, errorMessage: `leader epoch ${p.leaderEpoch} is older than ${heldEpoch}` });
            } else if (hosted && p.leaderEpoch === heldEpoch && (hosted.role.kind === 'leader') === (p.leader === self)) {
              rm.refresh(hosted, { isr: p.isr, replicas: p.replicas, minInsyncReplicas, config });
            } else if (p.leader === self) {
              rm.becomeLeader(tp, p.leaderEpoch, { isr: p.isr, replicas: p.replicas, minInsyncReplicas, config });
              became++;
              this.logger.info({ topic: topic.name, partition: p.index, leaderEpoch: p.leaderEpoch, isr: p.isr }, 'became leader');
            } else {
              rm.becomeFollower(tp, p.leader, p.leaderEpoch, { replicas: p.replicas, minInsyncReplicas, config });
              became++;
              this.logger.info({ topic: topic.name, partition: p.index, leader: p.leader, leaderEpoch: p.leaderEpoch }, 'became follower');
            }
          } catch (e) {
            const error = TributaryError.from(e);
            errors.push({ topic: topic.name, index: p.index, errorCode: error.code, errorMessage: error.message });
            this.logger.error({ err: e, topic: topic.name, partition: p.index }, 'could not take up a partition');
          }
        }
      }
      if (req.full) {
        this.options.throttle?.retainOnly(listed);
        for (const hosted of rm.allPartitions()) {
          const { topic, partition } = hosted.topicPartition;
          if (listed.has(`${topic}-${partition}`)) continue;
          await rm.stopReplica(hosted.topicPartition, false);
          this.logger.info({ topic, partition }, 'no longer assigned here; stopped hosting (data kept)');
        }
      }
      this.leaderAndIsrSeen = true;
      if (became > 0 || errors.length > 0) this.logger.debug({ became, errors: errors.length }, 'LeaderAndIsr applied');
      this.options.onApplied?.('leaderAndIsr');
      return { errorCode: ErrorCode.NONE, errorMessage: '', errors };
    });
  }

  async updateMetadata(req: UpdateMetadataRequest): Promise<UpdateMetadataResponse> {
    return this.serialized(async () => {
      const refused = this.fence(req.controllerEpoch, req.controllerId);
      if (refused) return refused;
      this.metadata = {
        controllerId: req.controllerId,
        controllerHost: req.controllerHost,
        controllerPort: req.controllerPort,
        clusterId: req.clusterId,
        brokers: req.brokers,
        topics: new Map(req.topics.map((t) => [t.name, t])),
      };
      this.options.onApplied?.('updateMetadata');
      return { errorCode: ErrorCode.NONE, errorMessage: '' };
    });
  }

  async stopReplica(req: StopReplicaRequest): Promise<StopReplicaResponse> {
    return this.serialized(async () => {
      const refused = this.fence(req.controllerEpoch, req.controllerId);
      if (refused) return { ...refused, errors: [] };
      const errors: ControlPartitionError[] = [];
      for (const p of req.partitions) {
        try {
          const deleted = await this.options.replicaManager.stopReplica({ topic: p.topic, partition: p.index }, p.delete);
          this.logger.info({ topic: p.topic, partition: p.index, delete: p.delete, deleted }, 'replica stopped');
        } catch (e) {
          const error = TributaryError.from(e);
          errors.push({ topic: p.topic, index: p.index, errorCode: error.code === ErrorCode.UNKNOWN_SERVER_ERROR ? ErrorCode.KAFKA_STORAGE_ERROR : error.code, errorMessage: error.message });
          this.logger.error({ err: e, topic: p.topic, partition: p.index }, 'stopping a replica failed');
        }
      }
      this.options.onApplied?.('stopReplica');
      return { errorCode: ErrorCode.NONE, errorMessage: '', errors };
    });
  }

  /** `host:port` of the active controller, from the last UpdateMetadata. */
  get controllerAddress(): string | undefined {
    const m = this.metadata;
    return m && m.controllerHost ? `${m.controllerHost}:${m.controllerPort}` : undefined;
  }

  /** `host:port` of a live broker, from the last UpdateMetadata. */
  brokerAddress(id: number): string | undefined {
    const b = this.metadata?.brokers.find((n) => n.nodeId === id);
    return b ? `${b.host}:${b.port}` : undefined;
  }

  /** Whether the last UpdateMetadata lists this partition. */
  partitionExists(topic: string, partition: number): boolean {
    return this.metadata?.topics.get(topic)?.partitions.some((p) => p.index === partition) ?? false;
  }

  /** Answers a client's Metadata request from the last UpdateMetadata. */
  describe(req: MetadataRequest): MetadataResponse {
    const m = this.metadata;
    if (!m) {
      throw new TributaryError(ErrorCode.LEADER_NOT_AVAILABLE, `broker ${this.options.brokerId} has not received the cluster metadata from a controller yet; retry shortly`);
    }
    const names = req.topics.length > 0 ? req.topics : [...m.topics.keys()].sort();
    const topics: TopicMetadata[] = names.map((name) => {
      const known = m.topics.get(name);
      if (known) return { ...known, isInternal: INTERNAL_TOPICS.has(name) };
      return { name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, isInternal: false, partitions: [] };
    });
    return {
      brokers: m.brokers,
      clusterId: m.clusterId,
      controllerId: m.controllerId,
      controllerHost: m.controllerHost,
      controllerPort: m.controllerPort,
      topics,
      groupCoordinators: this.options.groupCoordinators?.() ?? [],
    };
  }

  readonly handlers: ServiceHandlers<typeof BrokerControlServiceService> = {
    leaderAndIsr: (request) => this.leaderAndIsr(request),
    updateMetadata: (request) => this.updateMetadata(request),
    stopReplica: (request) => this.stopReplica(request),
  };
}
