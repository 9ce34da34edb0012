/**
 * The active controller's channels to brokers (Kafka's ControllerChannelManager): how
 * LeaderAndIsr, UpdateMetadata and StopReplica reach every live broker.
 *
 * Full state, coalesced: any change to cluster metadata calls `kick()`, which bumps a version.
 * Each broker channel has a pump that, while the broker has not received the latest version,
 * reads ONE snapshot of the cluster state (shared by every channel wanting that version or
 * older) and sends the broker: UpdateMetadata (every broker and partition), LeaderAndIsr with
 * `full` set (exactly the partitions it holds a replica of, with their topic's config
 * overrides), and StopReplica(delete) for pending topic deletions that name it. A burst of
 * changes costs one send per broker, not one per change; a failed send is retried with
 * backoff until it succeeds or the broker goes away. A broker that registers again (new
 * incarnation) gets a fresh channel and therefore its full state: Kafka's "resend everything
 * to a restarted broker".
 *
 * Every request carries the controller epoch; brokers refuse older epochs.
 */
import type { BrokerNode, LeaderAndIsrTopic, StopReplicaPartition, TopicMetadata } from '@tributary/proto';
import { BrokerControlServiceClient } from '@tributary/proto';
import { ErrorCode } from '@tributary/records';
import type { Logger } from '@tributary/runtime';
import { createClient, unary, type CreateClientOptions } from '@tributary/runtime';
import type { PartitionState } from './store';

/** One topic as the controller holds it. */
export interface TopicState {
  name: string;
  /** Config overrides (only keys set on the topic). */
  configs: Record<string, string>;
  partitions: {
    index: number;
    replicas: number[];
    state: PartitionState | undefined;
    /** A reassignment in progress (reassignment.ts): replicas being added / removed, and the adding replicas' throttle (bytes/s, 0: none). */
    reassignment?: { adding: number[]; removing: number[]; throttleBytesPerSecond: number };
  }[];
}

/** A topic being deleted: brokers that still have to confirm deleting its data. */
export interface PendingDeletion {
  name: string;
  /** Partition indexes the topic had. */
  partitions: number[];
  /** Brokers that have not confirmed yet. */
  brokers: number[];
}

export interface ClusterState {
  clusterId: string;
  brokers: { id: number; host: string; port: number; rack?: string }[];
  topics: TopicState[];
  deletions: PendingDeletion[];
  /** Replicas a reassignment removed that still have to delete their data (StopReplica with delete). */
  replicaDeletions?: { topic: string; partition: number; brokers: number[] }[];
}

export interface ChannelBroker {
  id: number;
  host: string;
  port: number;
  rack?: string;
  /** Changes each time the broker registers (a restart or a lost lease). */
  incarnation?: string;
}

export interface BrokerChannelsOptions {
  controllerId: number;
  controllerEpoch: bigint;
  controllerHost: string;
  controllerPort: number;
  logger: Logger;
  /** Reads the current cluster state from the coordination store. */
  readState(): Promise<ClusterState>;
  /** Called when a broker confirmed the deletion of a topic's data. */
  onDeleted(topic: string, brokerId: number): Promise<void>;
  /** Called when a broker confirmed deleting its copy of a partition a reassignment removed from it. */
  onReplicaDeleted?(topic: string, partition: number, brokerId: number): Promise<void>;
  /** Deadline of each request to a broker (default 30 s). */
  requestTimeoutMs?: number;
  /** TLS and the controller's identity on these calls (its service principal). */
  clientOptions?: Pick<CreateClientOptions, 'tls' | 'authToken' | 'onTokenRejected'>;
}

interface Channel {
  broker: ChannelBroker;
  client: BrokerControlServiceClient;
  /** Version of the state this broker has received (-1: nothing yet). */
  sent: number;
  pumping: boolean;
  failures: number;
  closed: boolean;
}

const identity = (b: ChannelBroker): string => `${b.host}:${b.port}/${b.incarnation ?? ''}`;

export class BrokerChannels {
  private version = 0;
  private snapshot: { version: number; promise: Promise<ClusterState> } | undefined;
  private readonly channels = new Map<number, Channel>();
  private stopped = false;
  private readonly logger: Logger;

  constructor(private readonly options: BrokerChannelsOptions) {
    this.logger = options.logger;
  }

  /** Cluster metadata changed: every broker gets the new state (coalesced). */
  kick(): void {
    if (this.stopped) return;
    this.version++;
    for (const channel of this.channels.values()) void this.pump(channel);
  }

  /** The live brokers: opens channels to new (or re-registered) ones, closes the rest. */
  setBrokers(brokers: readonly ChannelBroker[]): void {
    if (this.stopped) return;
    const ids = new Set(brokers.map((b) => b.id));
    for (const [id, channel] of this.channels) {
      if (!ids.has(id)) this.close(id, channel, 'broker is gone');
    }
    let opened = false;
    for (const broker of brokers) {
      const existing = this.channels.get(broker.id);
      if (existing && identity(existing.broker) === identity(broker)) continue;
      if (existing) this.close(broker.id, existing, 'broker registered again');
      const channel: Channel = {
        broker,
        client: createClient(BrokerControlServiceClient, `${broker.host}:${broker.port}`, { ...this.options.clientOptions, settings: { keepalivePermitWithoutCalls: false } }),
        sent: -1,
        pumping: false,
        failures: 0,
        closed: false,
      };
      this.channels.set(broker.id, channel);
      opened = true;
    }
    // New channels need a state at least as new as now; existing ones are unaffected.
    if (opened) this.kick();
  }

  stop(): void {
    this.stopped = true;
    for (const [id, channel] of this.channels) this.close(id, channel, 'controller left office');
  }

  /** Brokers that have received the latest state (for tests and readiness). */
  get upToDate(): number[] {
    return [...this.channels.values()].filter((c) => c.sent === this.version).map((c) => c.broker.id);
  }

  private close(id: number, channel: Channel, reason: string): void {
    channel.closed = true;
    channel.client.close();
    if (this.channels.get(id) === channel) this.channels.delete(id);
    this.logger.debug({ broker: id, reason }, 'broker channel closed');
  }

  private stateAt(version: number): Promise<ClusterState> {
    if (this.snapshot && this.snapshot.version >= version) return this.snapshot.promise;
    const snapshot = { version: this.version, promise: this.options.readState() };
    // A failed read must not be reused by later pumps.
    snapshot.promise.catch(() => {
      if (this.snapshot === snapshot) this.snapshot = undefined;
    });
    this.snapshot = snapshot;
    return snapshot.promise;
  }

  private async pump(channel: Channel): Promise<void> {
    if (channel.pumping) return;
    channel.pumping = true;
    try {
      while (!this.stopped && !channel.closed && channel.sent < this.version) {
        const target = this.version;
        try {
          const state = await this.stateAt(target);
          if (channel.closed) return;
          await this.send(channel, state);
          channel.sent = target;
          channel.failures = 0;
        } catch (e) {
          if (channel.closed || this.stopped) return;
          const delay = Math.min(5000, 100 * 2 ** Math.min(channel.failures++, 6));
          this.logger.warn({ broker: channel.broker.id, err: e instanceof Error ? e.message : String(e), retryInMs: delay }, 'sending state to a broker failed; retrying');
          await new Promise((r) => setTimeout(r, delay).unref());
        }
      }
    } finally {
      channel.pumping = false;
    }
  }

  private async send(channel: Channel, state: ClusterState): Promise<void> {
    const o = this.options;
    const id = channel.broker.id;
    const call = { deadlineMs: o.requestTimeoutMs ?? 30_000 };
    const header = { controllerId: o.controllerId, controllerEpoch: o.controllerEpoch };
    const live = new Set(state.brokers.map((b) => b.id));

    const metadataTopics: TopicMetadata[] = state.topics.map((t) => ({
      name: t.name,
      errorCode: ErrorCode.NONE,
      isInternal: false,
      partitions: t.partitions.map((p) => {
        const leader = p.state?.leader ?? -1;
        return {
          index: p.index,
          errorCode: leader === -1 ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE,
          leaderId: leader,
          leaderEpoch: p.state?.leader_epoch ?? -1,
          replicaNodes: p.replicas,
          isrNodes: p.state?.isr ?? [],
          offlineReplicas: p.replicas.filter((r) => !live.has(r)),
        };
      }),
    }));
    const brokers: BrokerNode[] = state.brokers.map((b) => ({ nodeId: b.id, host: b.host, port: b.port, rack: b.rack ?? '' }));
    const metadata = await unary(
      channel.client,
      'updateMetadata',
      { ...header, controllerHost: o.controllerHost, controllerPort: o.controllerPort, clusterId: state.clusterId, brokers, topics: metadataTopics },
      call,
    );
    if (metadata.errorCode !== ErrorCode.NONE) throw new Error(`UpdateMetadata refused: ${metadata.errorMessage}`);

    const topics: LeaderAndIsrTopic[] = [];
    for (const t of state.topics) {
      const partitions = t.partitions
        .filter((p) => p.replicas.includes(id) && p.state)
        .map((p) => ({
          index: p.index,
          leader: p.state!.leader,
          leaderEpoch: p.state!.leader_epoch,
          isr: p.state!.isr,
          replicas: p.replicas,
          addingReplicas: p.reassignment?.adding ?? [],
          removingReplicas: p.reassignment?.removing ?? [],
          replicationThrottleBytesPerSecond: BigInt(p.reassignment?.throttleBytesPerSecond ?? 0),
        }));
      if (partitions.length > 0) topics.push({ name: t.name, configs: t.configs, partitions });
    }
    const leaderAndIsr = await unary(channel.client, 'leaderAndIsr', { ...header, full: true, topics }, call);
    if (leaderAndIsr.errorCode !== ErrorCode.NONE) throw new Error(`LeaderAndIsr refused: ${leaderAndIsr.errorMessage}`);
    for (const e of leaderAndIsr.errors) {
      this.logger.warn({ broker: id, topic: e.topic, partition: e.index, code: ErrorCode[e.errorCode], message: e.errorMessage }, 'broker could not apply a partition state');
    }

    for (const deletion of state.deletions.filter((d) => d.brokers.includes(id))) {
      const partitions: StopReplicaPartition[] = deletion.partitions.map((index) => ({ topic: deletion.name, index, delete: true }));
      const stopped = await unary(channel.client, 'stopReplica', { ...header, partitions }, call);
      if (stopped.errorCode !== ErrorCode.NONE) throw new Error(`StopReplica refused: ${stopped.errorMessage}`);
      if (stopped.errors.length > 0) {
        throw new Error(`broker ${id} could not delete ${stopped.errors.map((e) => `${e.topic}-${e.index}: ${e.errorMessage}`).join('; ')}`);
      }
      await o.onDeleted(deletion.name, id);
    }

    // After the LeaderAndIsr that no longer lists them: replicas a reassignment removed.
    const removed = (state.replicaDeletions ?? []).filter((d) => d.brokers.includes(id));
    if (removed.length > 0) {
      const partitions: StopReplicaPartition[] = removed.map((d) => ({ topic: d.topic, index: d.partition, delete: true }));
      const stopped = await unary(channel.client, 'stopReplica', { ...header, partitions }, call);
      if (stopped.errorCode !== ErrorCode.NONE) throw new Error(`StopReplica refused: ${stopped.errorMessage}`);
      const failed = new Set(stopped.errors.map((e) => `${e.topic}-${e.index}`));
      for (const d of removed) if (!failed.has(`${d.topic}-${d.partition}`)) await o.onReplicaDeleted?.(d.topic, d.partition, id);
      if (failed.size > 0) throw new Error(`broker ${id} could not delete ${stopped.errors.map((e) => `${e.topic}-${e.index}: ${e.errorMessage}`).join('; ')}`);
    }
  }
}
