/**
 * Followers pull from leaders (Kafka's ReplicaFetcherManager / ReplicaFetcherThread): one
 * fetcher per leader broker, each a loop of long-polling Fetch requests marked with this
 * broker's id (`replica_id`), covering every partition this broker follows on that leader,
 * sent over one long-lived ReplicaFetch stream (or, with useStream false, as unary Fetch
 * calls: the stream saves the per-call work of gRPC, about half of a broker's CPU per
 * replication round trip at 10,000 acks=all records/s).
 * The leader reads up to its log end for replicas, learns each follower's log end offset from
 * the fetch offset, and answers with its high watermark; the follower appends the batches as
 * they are (offsets and leader epochs kept) and moves its own high watermark to
 * min(leader's HW, its log end).
 *
 * Before its first fetch from a new leader, a follower finds where its log diverges from the
 * leader's: it asks the leader for the end offset of its latest leader epoch
 * (OffsetsForLeaderEpoch) and truncates there, in more rounds when the epoch histories
 * differ (truncation.ts, KIP-101/279). Records the leader has are never dropped, so a
 * follower elected right after keeps every committed record.
 *
 * The set of followed partitions comes from the replica manager (`update()` after every
 * LeaderAndIsr / StopReplica). A partition whose leader answers an error (moved, fenced,
 * unknown — the leader may not have its own LeaderAndIsr yet) is retried after a backoff;
 * a new partition state from the controller replaces it anyway. OFFSET_OUT_OF_RANGE: the
 * follower is ahead of the leader (its tail diverged: it looks for the divergence point by
 * epochs again), or it is behind the leader's log start and restarts its log there. Every
 * change to a follower's log goes through the replica manager's `whileFollowing`, so a
 * fetcher of a former leader never touches it.
 */
import type { BrokerServiceClient, FetchRequest, FetchResponse, OffsetsForLeaderEpochRequest } from '@tributary/proto';
import { BrokerServiceFastClient } from '@tributary/proto';
import { ErrorCode } from '@tributary/records';
import type { BidiCall, Logger, ServiceClientOptions } from '@tributary/runtime';
import { bidi, createClient, unary } from '@tributary/runtime';
import type { HostedPartition, ReplicaManager } from './replica-manager';
import { partitionKey } from './replica-manager';
import type { TruncationStep } from './truncation';
import { truncationStep } from './truncation';
import type { ReplicationThrottle } from './throttle';

/**
 * HTTP/2 receive window of the channels to leaders (connection and stream), as the SDK's
 * broker channels: the default 64 KiB makes a leader stop after every 64 KiB of a fetch
 * answer until this follower's WINDOW_UPDATE comes back — a round trip per 64 KiB, which
 * TLS (decrypt before the update is sent) makes longer.
 */
export const REPLICA_FETCH_FLOW_CONTROL_WINDOW_BYTES = 16 * 1024 * 1024;

export interface ReplicaFetcherOptions {
  brokerId: number;
  /** TLS and this broker's identity on its calls (ServiceSecurity.clientOptions). */
  clientOptions?: ServiceClientOptions;
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
  /** After each partition's fetch answer is applied: bytes replicated, and how far (records) it still is below the leader's high watermark. */
  onFetched?(topic: string, partition: number, bytes: number, lag: number): void;
  /** Fetch over one ReplicaFetch stream per leader (default) instead of a unary Fetch per round trip. */
  useStream?: boolean;
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
  /** The ReplicaFetch stream to this leader, on `client`. */
  private stream: { client: BrokerServiceClient; call: BidiCall<FetchRequest, FetchResponse> } | undefined;
  private readonly abort = new AbortController();
  /** Partitions that got an error from this leader: not fetched again before this time (epoch ms). */
  private readonly parked = new WeakMap<HostedPartition, number>();
  /** OffsetsForLeaderEpoch rounds taken per partition state. */
  private readonly rounds = new WeakMap<HostedPartition, number>();

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
        this.client = {
          address,
          client: createClient(BrokerServiceFastClient, address, {
            ...o.clientOptions,
            channelOptions: { 'grpc-node.flow_control_window': REPLICA_FETCH_FLOW_CONTROL_WINDOW_BYTES },
          }),
        };
      }
      // Partitions not parked on an error: those still looking for their divergence point
      // ask the leader about epochs first; the others fetch.
      const truncating: HostedPartition[] = [];
      const fetching: HostedPartition[] = [];
      const now = Date.now();
      for (const hosted of this.partitions) {
        if ((this.parked.get(hosted) ?? 0) > now || hosted.role.kind !== 'follower') continue;
        if (hosted.role.truncation) truncating.push(hosted);
        // A partition a reassignment is adding waits for its throttle's budget (throttle.ts).
        else if (o.throttle?.admits(hosted.topicPartition) !== false) fetching.push(hosted);
      }
      try {
        if (truncating.length > 0) {
          await this.truncate(this.client.client, truncating);
          continue;
        }
        if (fetching.length === 0) {
          await sleep(Math.min(backoffMs, 200));
          continue;
        }
        await this.fetch(this.client.client, fetching);
      } catch (e) {
        if (this.stopped) return;
        o.logger.warn({ leader: this.leaderId, address, err: e instanceof Error ? e.message : String(e) }, 'replica fetch failed; retrying');
        await sleep(backoffMs);
      }
    }
  }

  /**
   * One round of OffsetsForLeaderEpoch for the partitions that must find where they diverge
   * from this leader (KIP-101/279), then the truncation each answer calls for.
   */
  private async truncate(client: BrokerServiceClient, partitions: HostedPartition[]): Promise<void> {
    const o = this.options;
    const topics = new Map<string, OffsetsForLeaderEpochRequest['topics'][number]>();
    const byKey = new Map<string, HostedPartition>();
    for (const hosted of partitions) {
      const role = hosted.role;
      if (role.kind !== 'follower' || !role.truncation) continue;
      const { topic, partition } = hosted.topicPartition;
      // No epoch in this log (empty, or written before epochs): nothing to compare with the
      // leader's; what is above the high watermark may diverge, so it goes (Kafka's fallback).
      if (role.truncation.epoch < 0) {
        await this.truncateAt(hosted, { offset: Math.min(hosted.log.highWatermark, hosted.log.logEndOffset), done: true });
        continue;
      }
      let t = topics.get(topic);
      if (!t) {
        t = { name: topic, partitions: [] };
        topics.set(topic, t);
      }
      t.partitions.push({ index: partition, currentLeaderEpoch: role.leaderEpoch, leaderEpoch: role.truncation.epoch });
      byKey.set(partitionKey(topic, partition), hosted);
    }
    if (topics.size === 0) return;
    const response = await unary(client, 'offsetsForLeaderEpoch', { replicaId: o.brokerId, topics: [...topics.values()] }, { deadlineMs: 30_000, signal: this.abort.signal });
    for (const t of response.topics) {
      for (const p of t.partitions) {
        const hosted = byKey.get(partitionKey(t.name, p.index));
        if (!hosted) continue;
        if (p.errorCode !== ErrorCode.NONE) {
          this.park(hosted, p.errorCode, p.errorMessage);
          continue;
        }
        await this.truncateAt(hosted, truncationStep({ leaderEpoch: p.leaderEpoch, endOffset: Number(p.endOffset) }, hosted.log));
      }
    }
  }

  /** Applies one truncation step to a follower's log (if it still follows this leader). */
  private async truncateAt(hosted: HostedPartition, step: TruncationStep): Promise<void> {
    const log = hosted.log;
    const where = `${hosted.topicPartition.topic}-${hosted.topicPartition.partition}`;
    try {
      await this.options.replicaManager.whileFollowing(hosted, async () => {
        const role = hosted.role;
        if (role.kind !== 'follower' || !role.truncation) return;
        if (step.offset < log.logEndOffset) {
          this.options.logger.info({ partition: where, leader: this.leaderId, leaderEpoch: role.leaderEpoch, from: log.logEndOffset, to: step.offset, final: step.done }, 'truncating the records that diverge from the leader');
          await log.truncateTo(step.offset);
        }
        const rounds = (this.rounds.get(hosted) ?? 0) + 1;
        this.rounds.set(hosted, rounds);
        if (step.done || step.nextEpoch === undefined) {
          role.truncation = undefined;
        } else if (rounds >= MAX_TRUNCATION_ROUNDS) {
          // Epoch histories this tangled should not happen; the high watermark is safe.
          await log.truncateTo(Math.min(log.highWatermark, log.logEndOffset));
          role.truncation = undefined;
        } else {
          role.truncation = { epoch: step.nextEpoch };
        }
      });
    } catch (e) {
      this.parked.set(hosted, Date.now() + (this.options.backoffMs ?? 1000));
      this.options.logger.error({ partition: where, err: e }, 'truncating a follower log failed');
    }
  }

  private async fetch(client: BrokerServiceClient, partitions: HostedPartition[]): Promise<void> {
    const o = this.options;
    const request = this.buildRequest(partitions);
    const response = o.useStream === false ? await unary(client, 'fetch', request, { deadlineMs: (o.maxWaitMs ?? 500) + 30_000, signal: this.abort.signal }) : await this.streamFetch(client, request);
    const byKey = new Map(partitions.map((h) => [partitionKey(h.topicPartition.topic, h.topicPartition.partition), h]));
    for (const t of response.topics) {
      for (const p of t.partitions) {
        const hosted = byKey.get(partitionKey(t.name, p.index));
        if (!hosted) continue;
        o.throttle?.record(hosted.topicPartition, p.records.length);
        await this.apply(hosted, p.errorCode, p.records, Number(p.highWatermark), Number(p.logStartOffset), p.errorMessage);
      }
    }
  }

  /**
   * One round trip on the ReplicaFetch stream to this leader (opened on first use, and again
   * after any failure or a change of address). A leader that does not answer within
   * max_wait_ms + 30 s (gone without closing the connection, e.g. cut off) costs the stream.
   */
  private async streamFetch(client: BrokerServiceClient, request: FetchRequest): Promise<FetchResponse> {
    if (this.stream?.client !== client) {
      this.stream?.call.cancel();
      this.stream = { client, call: bidi(client, 'replicaFetch', { signal: this.abort.signal }) };
    }
    const { call } = this.stream;
    const timer = setTimeout(() => call.cancel(), (this.options.maxWaitMs ?? 500) + 30_000);
    try {
      await call.write(request);
      const next = await call.next();
      if (next.done === true) throw new Error('the leader ended the replica fetch stream');
      return next.value;
    } catch (e) {
      call.cancel();
      if (this.stream?.call === call) this.stream = undefined;
      throw e;
    } finally {
      clearTimeout(timer);
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
    const { topic, partition } = hosted.topicPartition;
    const where = `${topic}-${partition}`;
    if (errorCode !== ErrorCode.NONE && errorCode !== ErrorCode.OFFSET_OUT_OF_RANGE) {
      // Moved, fenced, not hosted there (yet: the leader may not have its LeaderAndIsr
      // yet): back off; a new partition state replaces `hosted` anyway.
      this.park(hosted, errorCode, message);
      return;
    }
    try {
      await this.options.replicaManager.whileFollowing(hosted, async () => {
        const role = hosted.role;
        if (role.kind !== 'follower' || role.truncation) return;
        if (errorCode === ErrorCode.NONE) {
          if (records.length > 0) await log.appendAsFollower(records);
          if (leaderHw >= 0) log.maybeAdvanceHighWatermark(Math.min(leaderHw, log.logEndOffset));
          this.options.onFetched?.(topic, partition, records.length, leaderHw >= 0 ? Math.max(0, leaderHw - log.logEndOffset) : 0);
        } else if (leaderLogStart >= 0 && log.logEndOffset < leaderLogStart) {
          this.options.logger.warn({ partition: where, leo: log.logEndOffset, leaderLogStart }, 'follower behind the leader\'s log start: restarting the log there');
          await log.truncateFullyAndStartAt(leaderLogStart);
        } else {
          // Ahead of the leader's log end: the tail diverged; find where by epochs again.
          this.options.logger.warn({ partition: where, leo: log.logEndOffset, leaderHw }, 'follower ahead of the leader: looking for the divergence point');
          role.truncation = { epoch: log.latestEpoch };
          this.rounds.delete(hosted);
        }
      });
    } catch (e) {
      this.parked.set(hosted, Date.now() + (this.options.backoffMs ?? 1000));
      this.options.logger.error({ partition: where, err: e }, 'applying replicated records failed');
    }
  }

  private park(hosted: HostedPartition, errorCode: ErrorCode, message: string): void {
    const where = `${hosted.topicPartition.topic}-${hosted.topicPartition.partition}`;
    this.parked.set(hosted, Date.now() + (this.options.backoffMs ?? 1000));
    this.options.logger.info({ partition: where, leader: this.leaderId, code: ErrorCode[errorCode], message }, 'leader refused the replica request; waiting for new partition state');
  }
}

/** KIP-279 rounds before falling back to the high watermark (each round goes one epoch back). */
const MAX_TRUNCATION_ROUNDS = 32;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());
