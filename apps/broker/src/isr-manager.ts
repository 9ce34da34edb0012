/**
 * The leader's side of ISR membership (Kafka's Partition.maybeShrinkIsr / maybeExpandIsr):
 * a follower that has not been caught up for replica.lag.time.max.ms leaves the ISR; one
 * outside it that reached the high watermark joins it. The leader does not change the ISR by
 * itself: it asks the active controller (AlterPartition), which checks it still leads at its
 * epoch, writes the new state and pushes it to every broker; on success the leader applies
 * the answered ISR at once. One request per partition at a time; a failed one is retried at
 * the next check.
 */
import type { AlterPartitionPartitionResult } from '@tributary/proto';
import { BrokerToControllerServiceClient } from '@tributary/proto';
import { ErrorCode } from '@tributary/records';
import type { Logger, ServiceClientOptions } from '@tributary/runtime';
import { createClient, unary } from '@tributary/runtime';
import type { HostedPartition, ReplicaManager } from './replica-manager';
import { partitionKey } from './replica-manager';

export interface IsrManagerOptions {
  brokerId: number;
  /** TLS and this broker's identity on its calls (ServiceSecurity.clientOptions). */
  clientOptions?: ServiceClientOptions;
  replicaManager: ReplicaManager;
  /** `host:port` of the active controller, undefined while unknown. */
  controllerAddress(): string | undefined;
  /** replica.lag.time.max.ms */
  lagTimeMaxMs: number;
  logger: Logger;
  /**
   * Whether a broker is registered (in the controller's last metadata): only live followers
   * may join the ISR (Kafka's KIP-841 eligibility) — a dead one's last fetch offset must not
   * make the controller refuse the ISR a live one would join.
   */
  isAlive?(brokerId: number): boolean;
  onChange?(kind: 'shrink' | 'expand', partitions: number): void;
}

export class IsrManager {
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<string>();
  private client: { address: string; client: BrokerToControllerServiceClient } | undefined;

  constructor(private readonly options: IsrManagerOptions) {}

  start(): void {
    this.timer = setInterval(() => this.checkLaggards(), Math.max(100, Math.floor(this.options.lagTimeMaxMs / 2)));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.client?.client.close();
  }

  /** Shrinks the ISR of every led partition with followers not caught up for too long. */
  checkLaggards(now = Date.now()): void {
    const self = this.options.brokerId;
    for (const hosted of this.options.replicaManager.allPartitions()) {
      const role = hosted.role;
      if (role.kind !== 'leader') continue;
      const lagging = role.isr.filter((id) => id !== self && now - (role.followerFetch.get(id)?.caughtUpMs ?? 0) > this.options.lagTimeMaxMs);
      if (lagging.length === 0) continue;
      this.options.logger.warn({ topic: hosted.topicPartition.topic, partition: hosted.topicPartition.partition, lagging, lagTimeMaxMs: this.options.lagTimeMaxMs }, 'followers out of sync: shrinking the ISR');
      this.propose(hosted, role.isr.filter((id) => !lagging.includes(id)), 'shrink');
    }
  }

  /** A follower outside the ISR fetched at or past the HW: propose the ISR with every such replica. */
  maybeExpand(hosted: HostedPartition): void {
    const role = hosted.role;
    if (role.kind !== 'leader') return;
    const hw = hosted.log.highWatermark;
    const joining = hosted.replicas.filter((id) => !role.isr.includes(id) && (role.followerLeo.get(id) ?? -1) >= hw && this.options.isAlive?.(id) !== false);
    if (joining.length === 0) return;
    this.propose(hosted, [...role.isr, ...joining], 'expand');
  }

  /**
   * The channel to the active controller's BrokerToControllerService (one, replaced when the
   * controller moves); undefined while the controller is unknown. Controlled shutdown uses it too.
   */
  controllerClient(): BrokerToControllerServiceClient | undefined {
    const address = this.options.controllerAddress();
    if (!address) return undefined;
    if (this.client?.address !== address) {
      this.client?.client.close();
      this.client = { address, client: createClient(BrokerToControllerServiceClient, address, this.options.clientOptions) };
    }
    return this.client.client;
  }

  private propose(hosted: HostedPartition, newIsr: number[], kind: 'shrink' | 'expand'): void {
    const { topic, partition } = hosted.topicPartition;
    const key = partitionKey(topic, partition);
    if (this.inFlight.has(key) || hosted.role.kind !== 'leader') return;
    const client = this.controllerClient();
    if (!client) return;
    this.inFlight.add(key);
    const leaderEpoch = hosted.role.leaderEpoch;
    unary(client, 'alterPartition', { brokerId: this.options.brokerId, topics: [{ name: topic, partitions: [{ index: partition, leaderEpoch, newIsr }] }] }, { deadlineMs: 10_000 })
      .then((res) => this.apply(hosted, leaderEpoch, res.topics[0]?.partitions[0], kind))
      .catch((e: unknown) => this.options.logger.warn({ topic, partition, err: e instanceof Error ? e.message : String(e) }, 'AlterPartition failed; retrying at the next check'))
      .finally(() => this.inFlight.delete(key));
  }

  private apply(hosted: HostedPartition, leaderEpoch: number, result: AlterPartitionPartitionResult | undefined, kind: 'shrink' | 'expand'): void {
    const { topic, partition } = hosted.topicPartition;
    if (!result) return;
    if (result.errorCode !== ErrorCode.NONE) {
      this.options.logger.warn({ topic, partition, code: ErrorCode[result.errorCode], message: result.errorMessage }, 'the controller refused the ISR change');
      return;
    }
    const rm = this.options.replicaManager;
    // Still leading at the same epoch: apply now (the controller's push brings the same).
    if (rm.getPartition(topic, partition) !== hosted || hosted.role.kind !== 'leader' || hosted.role.leaderEpoch !== leaderEpoch || result.leaderEpoch !== leaderEpoch) return;
    rm.refresh(hosted, { isr: result.isr, minInsyncReplicas: hosted.minInsyncReplicas });
    this.options.logger.info({ topic, partition, isr: result.isr }, kind === 'shrink' ? 'ISR shrunk' : 'ISR expanded');
    this.options.onChange?.(kind, 1);
  }
}
