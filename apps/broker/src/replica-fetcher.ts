/**
 * Followers pull from leaders (Kafka's ReplicaFetcherManager / ReplicaFetcherThread): one
 * fetcher per leader broker, each a loop of long-polling Fetch requests marked with this
 * broker's id (`replica_id`), covering every partition this broker follows on that leader.
 * The leader reads up to its log end for replicas, learns each follower's log end offset from
 * the fetch offset, and answers with its high watermark; the follower appends the batches as
 * they are (offsets and leader epochs kept) and moves its own high watermark to
 * min(leader's HW, its log end).
 *
 * The set of followed partitions comes from the replica manager (`update()` after every
 * LeaderAndIsr / StopReplica). A partition whose leader answers an error (moved, fenced,
 * unknown — the leader may not have its own LeaderAndIsr yet) is retried after a backoff;
 * a new partition state from the controller replaces it anyway. OFFSET_OUT_OF_RANGE: the
 * follower is ahead of the leader (its tail diverged) and truncates to the leader's high
 * watermark, or it is behind the leader's log start and restarts its log there.
 */
import type { BrokerServiceClient, FetchRequest } from '@tributary/proto';
import { BrokerServiceFastClient } from '@tributary/proto';
import { ErrorCode } from '@tributary/records';
import type { Logger } from '@tributary/runtime';
import { createClient, unary } from '@tributary/runtime';
import type { HostedPartition, ReplicaManager } from './replica-manager';
import { partitionKey } from './replica-manager';
import type { ReplicationThrottle } from './throttle';

export interface ReplicaFetcherOptions {
  brokerId: number;
  replicaManager: ReplicaManager;
  /** `host:port` of a broker, from the controller's metadata; undefined when unknown. */
  addressOf(brokerId: number): string | undefined;
  logger: Logger;
  /** replica.fetch.wait.max.ms (500). */
  maxWaitMs?: number;
  /** replica.fetch.max.bytes per partition (1 MiB). */
  partitionMaxBytes?: number;
  /** replica.fetch.response.max.bytes (10 MiB). */
  maxBytes?: number;
  /** replica.fetch.backoff.ms after an error (1 s). */
  backoffMs?: number;
  /** Throttles of partitions being added by a reassignment (throttle.ts). */
  throttle?: ReplicationThrottle;
}

export class ReplicaFetcherManager {
  private readonly fetchers = new Map<number, LeaderFetcher>();
  private stopped = false;

  constructor(private readonly options: ReplicaFetcherOptions) {}

  /** Re-reads which partitions follow which leader; starts and stops fetchers to match. */
  update(): void {
    if (this.stopped) return;
    const byLeader = new Map<number, HostedPartition[]>();
    for (const hosted of this.options.replicaManager.allPartitions()) {
      if (hosted.role.kind !== 'follower' || hosted.role.leaderId < 0) continue;
      const list = byLeader.get(hosted.role.leaderId) ?? [];
      list.push(hosted);
      byLeader.set(hosted.role.leaderId, list);
    }
    for (const [leaderId, fetcher] of this.fetchers) {
      if (!byLeader.has(leaderId)) {
        fetcher.stop();
        this.fetchers.delete(leaderId);
      }
    }
    for (const [leaderId, partitions] of byLeader) {
      let fetcher = this.fetchers.get(leaderId);
      if (!fetcher) {
        fetcher = new LeaderFetcher(leaderId, this.options);
        this.fetchers.set(leaderId, fetcher);
        fetcher.start();
      }
      fetcher.setPartitions(partitions);
    }
  }

  /** Leaders being fetched from, with the number of partitions each (for metrics and tests). */
  get fetching(): Map<number, number> {
    return new Map([...this.fetchers].map(([id, f]) => [id, f.partitionCount]));
  }

  shutdown(): void {
    this.stopped = true;
    for (const f of this.fetchers.values()) f.stop();
    this.fetchers.clear();
  }
}

class LeaderFetcher {
  private partitions: HostedPartition[] = [];
  private stopped = false;
  private client: { address: string; client: BrokerServiceClient } | undefined;
  private readonly abort = new AbortController();
  /** Partitions that got an error from this leader: not fetched again before this time (epoch ms). */
  private readonly parked = new WeakMap<HostedPartition, number>();

  constructor(
    private readonly leaderId: number,
    private readonly options: ReplicaFetcherOptions,
  ) {}

  get partitionCount(): number {
    return this.partitions.length;
  }

  setPartitions(partitions: HostedPartition[]): void {
    this.partitions = partitions;
  }

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort(new Error('replica fetcher stopped'));
    this.client?.client.close();
  }

  private async run(): Promise<void> {
    const o = this.options;
    const backoffMs = o.backoffMs ?? 1000;
    while (!this.stopped) {
      const address = o.addressOf(this.leaderId);
      if (!address) {
        await sleep(backoffMs);
        continue;
      }
      if (this.client?.address !== address) {
        this.client?.client.close();
        this.client = { address, client: createClient(BrokerServiceFastClient, address) };
      }
      // Only partitions whose truncation is done and that are not parked on an error.
      const active: HostedPartition[] = [];
      const now = Date.now();
      for (const hosted of this.partitions) {
        if ((this.parked.get(hosted) ?? 0) > now || o.throttle?.admits(hosted.topicPartition) === false) continue;
        await hosted.ready;
        if (this.stopped) return;
        active.push(hosted);
      }
      if (active.length === 0) {
        await sleep(Math.min(backoffMs, 200));
        continue;
      }
      const request = this.buildRequest(active);
      let response;
      try {
        response = await unary(this.client.client, 'fetch', request, { deadlineMs: (o.maxWaitMs ?? 500) + 30_000, signal: this.abort.signal });
      } catch (e) {
        if (this.stopped) return;
        o.logger.warn({ leader: this.leaderId, address, err: e instanceof Error ? e.message : String(e) }, 'replica fetch failed; retrying');
        await sleep(backoffMs);
        continue;
      }
      const byKey = new Map(active.map((h) => [partitionKey(h.topicPartition.topic, h.topicPartition.partition), h]));
      for (const t of response.topics) {
        for (const p of t.partitions) {
          const hosted = byKey.get(partitionKey(t.name, p.index));
          // Still following this leader at the same epoch (a LeaderAndIsr may have come meanwhile)?
          if (!hosted || this.options.replicaManager.getPartition(t.name, p.index) !== hosted) continue;
          o.throttle?.record(hosted.topicPartition, p.records.length);
          await this.apply(hosted, p.errorCode, p.records, Number(p.highWatermark), Number(p.logStartOffset), p.errorMessage);
        }
      }
    }
  }

  private buildRequest(active: HostedPartition[]): FetchRequest {
    const o = this.options;
    const topics = new Map<string, FetchRequest['topics'][number]>();
    for (const hosted of active) {
      const { topic, partition } = hosted.topicPartition;
      let t = topics.get(topic);
      if (!t) {
        t = { name: topic, partitions: [] };
        topics.set(topic, t);
      }
      t.partitions.push({
        index: partition,
        currentLeaderEpoch: hosted.role.leaderEpoch,
        fetchOffset: BigInt(hosted.log.logEndOffset),
        logStartOffset: BigInt(hosted.log.logStartOffset),
        partitionMaxBytes: o.throttle?.maxBytes(hosted.topicPartition, o.partitionMaxBytes ?? 1024 * 1024) ?? o.partitionMaxBytes ?? 1024 * 1024,
      });
    }
    return { replicaId: o.brokerId, maxWaitMs: o.maxWaitMs ?? 500, minBytes: 1, maxBytes: o.maxBytes ?? 10 * 1024 * 1024, topics: [...topics.values()] };
  }

  private async apply(hosted: HostedPartition, errorCode: ErrorCode, records: Buffer, leaderHw: number, leaderLogStart: number, message: string): Promise<void> {
    const log = hosted.log;
    const where = `${hosted.topicPartition.topic}-${hosted.topicPartition.partition}`;
    try {
      switch (errorCode) {
        case ErrorCode.NONE:
          if (records.length > 0) await log.appendAsFollower(records);
          if (leaderHw >= 0) log.maybeAdvanceHighWatermark(Math.min(leaderHw, log.logEndOffset));
          return;
        case ErrorCode.OFFSET_OUT_OF_RANGE:
          if (leaderLogStart >= 0 && log.logEndOffset < leaderLogStart) {
            this.options.logger.warn({ partition: where, leo: log.logEndOffset, leaderLogStart }, 'follower behind the leader\'s log start: restarting the log there');
            await log.truncateFullyAndStartAt(leaderLogStart);
          } else if (leaderHw >= 0 && log.logEndOffset > leaderHw) {
            this.options.logger.warn({ partition: where, leo: log.logEndOffset, leaderHw }, 'follower ahead of the leader: truncating its divergent tail');
            await log.truncateTo(leaderHw);
          }
          return;
        default:
          // Moved, fenced, not hosted there (yet: the leader may not have its LeaderAndIsr
          // yet): back off; a new partition state replaces `hosted` anyway.
          this.parked.set(hosted, Date.now() + (this.options.backoffMs ?? 1000));
          this.options.logger.info({ partition: where, leader: this.leaderId, code: ErrorCode[errorCode], message }, 'leader refused the replica fetch; waiting for new partition state');
      }
    } catch (e) {
      this.parked.set(hosted, Date.now() + (this.options.backoffMs ?? 1000));
      this.options.logger.error({ partition: where, err: e }, 'applying replicated records failed');
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());
