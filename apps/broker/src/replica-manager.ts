/**
 * ReplicaManager: the partitions this broker hosts and the data-plane requests on them —
 * Produce, Fetch (long-poll), ListOffsets — with Kafka's per-partition error codes.
 *
 * A hosted partition has a role, a closed set of cases: `leader` (with its leader epoch and
 * in-sync replicas) or `follower` (of a leader, at an epoch). Only leaders take produce and
 * consumer fetches. A leader's high watermark is the smallest log end offset of its ISR (each
 * follower's as its last replica fetch said); consumers read below it, followers (replica
 * fetches) up to the log end. An acks=all produce waits in the produce purgatory until the
 * high watermark passes its records.
 *
 * Waiting requests live in purgatories keyed by `topic-partition` (purgatory.ts): a fetch
 * that found fewer than min_bytes is parked until an append to one of its partitions
 * completes it or max_wait_ms passes — no polling.
 *
 * Buffers: produced record bytes are the request's own buffer, handed to the log (which
 * rewrites offsets in place); fetched bytes are views the log read for this response.
 */
import type {
  FetchPartitionResponse,
  FetchRequest,
  FetchResponse,
  ListOffsetsPartitionResponse,
  ListOffsetsRequest,
  ListOffsetsResponse,
  OffsetsForLeaderEpochPartitionResult,
  OffsetsForLeaderEpochRequest,
  OffsetsForLeaderEpochResponse,
  ProducePartitionResponse,
  ProduceRequest,
  ProduceResponse,
} from '@tributary/proto';
import type { LogAppendInfo, LogConfig, LogManager, PartitionLog, TopicPartition } from '@tributary/log';
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, MAX_TIMESTAMP } from '@tributary/log';
import { ErrorCode, TributaryError } from '@tributary/records';
import { Purgatory } from './purgatory';

export type ReplicaRole =
  | {
      kind: 'leader';
      leaderEpoch: number;
      isr: readonly number[];
      /** Each follower's log end offset, as its last fetch said (its fetch offset). */
      followerLeo: Map<number, number>;
      /** Per follower: when it was last caught up, and the leader's LEO and time at its previous fetch (Kafka's lastCaughtUpTime). */
      followerFetch: Map<number, { caughtUpMs: number; prevLeo: number; prevMs: number }>;
    }
  | {
      kind: 'follower';
      leaderId: number;
      leaderEpoch: number;
      /**
       * Set while the follower must still find where its log diverges from this leader's
       * (OffsetsForLeaderEpoch, KIP-101/279) before it may fetch: the epoch to ask about next
       * (its latest epoch at first; an earlier one in a later round of KIP-279). The replica
       * fetcher clears it once the divergent tail is truncated.
       */
      truncation?: { epoch: number };
    };

export interface HostedPartition {
  topicPartition: TopicPartition;
  log: PartitionLog;
  role: ReplicaRole;
  /** min.insync.replicas of the topic. */
  minInsyncReplicas: number;
  /** Every replica of the partition (broker ids, preferred leader first), as the controller says. */
  replicas: readonly number[];
}

export interface ReplicaManagerOptions {
  brokerId: number;
  logManager: LogManager;
  /** Longest long-poll a fetch may ask for (default 30 s). */
  maxFetchWaitMs?: number;
  /** How long an acks=all produce waits for replication when the request sets no timeout (default 30 s). */
  defaultProduceTimeoutMs?: number;
  /**
   * Whether the cluster metadata knows the partition (hosted elsewhere): a request for it
   * here is then NOT_LEADER_OR_FOLLOWER (refresh metadata), not UNKNOWN_TOPIC_OR_PARTITION.
   */
  partitionExists?(topic: string, partition: number): boolean;
  /** A leader partition whose ISR may grow (a follower outside it caught up). */
  onIsrCandidate?(hosted: HostedPartition): void;
  /** Called after each successful leader append (metrics). */
  onAppend?(topic: string, info: LogAppendInfo): void;
  /** Called when an idempotent producer's retried batch was already in the log (metrics). */
  onDuplicate?(topic: string): void;
}

const CONSUMER_REPLICA_ID = -1;
/** Kafka's DEBUGGING_REPLICA_ID: ListOffsets answered by any replica (followers too), from its log end. */
const DEBUGGING_REPLICA_ID = -2;

export function partitionKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/** The per-partition error of a failure, keeping Kafka codes and saying what happened. */
function errorOf(e: unknown): { errorCode: ErrorCode; errorMessage: string } {
  const error = TributaryError.from(e);
  return { errorCode: error.code, errorMessage: error.message };
}

export class ReplicaManager {
  private readonly partitions = new Map<string, HostedPartition>();
  /** The tail of each follower partition's chain of log steps (see whileFollowing). */
  private readonly followerSteps = new Map<string, Promise<void>>();
  readonly fetchPurgatory = new Purgatory('fetch');
  /** acks=all produces waiting for the high watermark to pass their records. */
  readonly producePurgatory = new Purgatory('produce');
  private readonly maxFetchWaitMs: number;
  private readonly defaultProduceTimeoutMs: number;

  constructor(private readonly options: ReplicaManagerOptions) {
    this.maxFetchWaitMs = options.maxFetchWaitMs ?? 30_000;
    this.defaultProduceTimeoutMs = options.defaultProduceTimeoutMs ?? 30_000;
  }

  get brokerId(): number {
    return this.options.brokerId;
  }

  /** Hosts `tp` as leader at `leaderEpoch` (creating its log if needed). */
  becomeLeader(
    tp: TopicPartition,
    leaderEpoch: number,
    options: { minInsyncReplicas?: number; isr?: readonly number[]; replicas?: readonly number[]; config?: LogConfig } = {},
  ): HostedPartition {
    const log = this.options.logManager.getOrCreateLog(tp, options.config);
    const key = partitionKey(tp.topic, tp.partition);
    // The new epoch starts at the current log end, written to leader-epoch-checkpoint now (as
    // Kafka's Partition.makeLeader does), so OffsetsForLeaderEpoch answers for older epochs
    // end where this leader's log ended, even before it appends anything.
    log.leaderEpochCache.assign(leaderEpoch, log.logEndOffset);
    const hosted: HostedPartition = {
      topicPartition: tp,
      log,
      role: { kind: 'leader', leaderEpoch, isr: options.isr ?? [this.options.brokerId], followerLeo: new Map(), followerFetch: new Map() },
      minInsyncReplicas: options.minInsyncReplicas ?? 1,
      replicas: options.replicas ?? options.isr ?? [this.options.brokerId],
    };
    // Followers in the ISR get a full replica.lag.time.max.ms from now before they count as lagging.
    const now = Date.now();
    for (const id of hosted.role.kind === 'leader' ? hosted.role.isr : []) {
      if (id !== this.options.brokerId && hosted.role.kind === 'leader') hosted.role.followerFetch.set(id, { caughtUpMs: now, prevLeo: log.logEndOffset, prevMs: now });
    }
    this.partitions.set(key, hosted);
    // Alone in the ISR, everything written is committed; otherwise the HW moves as the
    // followers report their log end offsets.
    this.maybeAdvanceHighWatermark(hosted);
    // Parked fetches and produces answer now (with the new state).
    this.fetchPurgatory.checkAndComplete(key);
    this.producePurgatory.checkAndComplete(key);
    return hosted;
  }

  /** Hosts `tp` as a follower of `leaderId` at `leaderEpoch` (creating its log if needed). */
  becomeFollower(
    tp: TopicPartition,
    leaderId: number,
    leaderEpoch: number,
    options: { minInsyncReplicas?: number; replicas?: readonly number[]; config?: LogConfig } = {},
  ): HostedPartition {
    const log = this.options.logManager.getOrCreateLog(tp, options.config);
    const key = partitionKey(tp.topic, tp.partition);
    // Records past the point where this log diverges from the new leader's must go before
    // fetching from it: the replica fetcher asks the leader for the end offset of this log's
    // latest epoch (OffsetsForLeaderEpoch) and truncates there (KIP-101/279). Unlike
    // truncating to the high watermark, this never drops records the leader has, so a
    // follower that becomes leader right after keeps every committed record. No leader (-1,
    // the partition is offline): nothing to follow, nothing to truncate — this replica may be
    // the one that leads again, with every record it has.
    const hosted: HostedPartition = {
      topicPartition: tp,
      log,
      role: { kind: 'follower', leaderId, leaderEpoch, ...(leaderId >= 0 ? { truncation: { epoch: log.latestEpoch } } : {}) },
      minInsyncReplicas: options.minInsyncReplicas ?? 1,
      replicas: options.replicas ?? [],
    };
    this.partitions.set(key, hosted);
    // Consumers and produces parked on this partition learn at once that it moved.
    this.fetchPurgatory.checkAndComplete(key);
    this.producePurgatory.checkAndComplete(key);
    return hosted;
  }

  /** Refreshes a hosted partition's ISR, min.insync.replicas and log config at the same epoch. */
  refresh(hosted: HostedPartition, update: { isr?: readonly number[]; replicas?: readonly number[]; minInsyncReplicas: number; config?: LogConfig }): void {
    if (hosted.role.kind === 'leader' && update.isr) hosted.role = { ...hosted.role, isr: update.isr };
    if (update.replicas) hosted.replicas = update.replicas;
    hosted.minInsyncReplicas = update.minInsyncReplicas;
    if (update.config) hosted.log.updateConfig(update.config);
    if (hosted.role.kind === 'leader') {
      // A smaller ISR may let the HW move, or leave waiting acks=all produces short of replicas.
      this.maybeAdvanceHighWatermark(hosted);
      this.producePurgatory.checkAndComplete(partitionKey(hosted.topicPartition.topic, hosted.topicPartition.partition));
    }
  }

  /**
   * The leader's high watermark: the smallest log end offset among the in-sync replicas (its
   * own, and each follower's as its last fetch reported; a follower that has not fetched yet
   * holds it back). Moves forward only; when it moves, parked consumer fetches and acks=all
   * produces are retried.
   */
  private maybeAdvanceHighWatermark(hosted: HostedPartition): void {
    const role = hosted.role;
    if (role.kind !== 'leader') return;
    let hw = hosted.log.logEndOffset;
    for (const id of role.isr) {
      if (id === this.options.brokerId) continue;
      const leo = role.followerLeo.get(id);
      if (leo === undefined) return;
      if (leo < hw) hw = leo;
    }
    if (hosted.log.maybeAdvanceHighWatermark(hw)) {
      const key = partitionKey(hosted.topicPartition.topic, hosted.topicPartition.partition);
      this.fetchPurgatory.checkAndComplete(key);
      this.producePurgatory.checkAndComplete(key);
    }
  }

  /**
   * Stops hosting `tp` (parked fetches answer UNKNOWN_TOPIC_OR_PARTITION); with `deleteData`
   * also removes its directory. Returns whether data was deleted. A partition this broker does
   * not host is already stopped (and its data, if a log remains on disk, still deleted).
   */
  async stopReplica(tp: TopicPartition, deleteData: boolean): Promise<boolean> {
    const key = partitionKey(tp.topic, tp.partition);
    this.partitions.delete(key);
    this.fetchPurgatory.checkAndComplete(key);
    this.producePurgatory.checkAndComplete(key);
    return deleteData ? this.options.logManager.deleteLog(tp) : false;
  }

  getPartition(topic: string, partition: number): HostedPartition | undefined {
    return this.partitions.get(partitionKey(topic, partition));
  }

  allPartitions(): HostedPartition[] {
    return [...this.partitions.values()];
  }

  // ---------------------------------------------------------------------------------------
  // Produce

  async produce(req: ProduceRequest): Promise<ProduceResponse> {
    const acksValid = req.acks === 0 || req.acks === 1 || req.acks === -1;
    const topics = await Promise.all(
      req.topics.map(async (topic) => ({
        name: topic.name,
        partitions: await Promise.all(
          topic.partitions.map(async (p): Promise<ProducePartitionResponse> => {
            const base = { index: p.index, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n };
            if (!acksValid) {
              return { ...base, errorCode: ErrorCode.INVALID_REQUIRED_ACKS, errorMessage: `acks must be -1 (all), 0 or 1, not ${req.acks}` };
            }
            const hosted = this.getPartition(topic.name, p.index);
            const refusal = this.leaderRefusal(topic.name, p.index, hosted);
            if (refusal || !hosted) return { ...base, ...refusal! };
            const role = hosted.role as Extract<ReplicaRole, { kind: 'leader' }>;
            if (req.acks === -1 && role.isr.length < hosted.minInsyncReplicas) {
              return {
                ...base,
                errorCode: ErrorCode.NOT_ENOUGH_REPLICAS,
                errorMessage: `${topic.name}-${p.index} has ${role.isr.length} in-sync replicas, min.insync.replicas is ${hosted.minInsyncReplicas}`,
              };
            }
            const segmentBytes = hosted.log.currentConfig.segmentBytes;
            if (p.records.length > segmentBytes) {
              return {
                ...base,
                errorCode: ErrorCode.RECORD_LIST_TOO_LARGE,
                errorMessage: `${p.records.length} bytes of records for ${topic.name}-${p.index} exceed segment.bytes ${segmentBytes}`,
              };
            }
            try {
              // Idempotent producers' epoch and sequence are checked by the log (INVALID_PRODUCER_EPOCH,
              // OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID); a retried batch comes back as
              // `duplicate` with its original offsets and is answered NONE, as Kafka does.
              const info = await hosted.log.appendAsLeader(p.records, role.leaderEpoch);
              if (!info.duplicate) {
                this.onLeaderAppend(hosted);
                this.options.onAppend?.(topic.name, info);
              } else {
                this.options.onDuplicate?.(topic.name);
              }
              const done = {
                index: p.index,
                errorCode: ErrorCode.NONE,
                errorMessage: '',
                baseOffset: BigInt(info.firstOffset),
                logAppendTimeMs: BigInt(info.logAppendTimeMs),
                logStartOffset: BigInt(hosted.log.logStartOffset),
              };
              if (req.acks !== -1) return done;
              const waited = await this.awaitReplication(hosted, info.lastOffset + 1, req.timeoutMs > 0 ? req.timeoutMs : this.defaultProduceTimeoutMs);
              return waited ? { ...done, ...waited, baseOffset: -1n } : done;
            } catch (e) {
              return { ...base, ...errorOf(e) };
            }
          }),
        ),
      })),
    );
    return { topics, throttleTimeMs: 0 };
  }

  /**
   * acks=all: waits (in the produce purgatory, woken by HW moves and role changes) until the
   * high watermark passes `requiredOffset`. Resolves undefined once it has; else the error:
   * NOT_LEADER_OR_FOLLOWER (leadership moved), NOT_ENOUGH_REPLICAS_AFTER_APPEND (the ISR
   * shrank below min.insync.replicas meanwhile), REQUEST_TIMED_OUT.
   */
  private awaitReplication(hosted: HostedPartition, requiredOffset: number, timeoutMs: number): Promise<{ errorCode: ErrorCode; errorMessage: string } | undefined> {
    const { topic, partition } = hosted.topicPartition;
    const where = `${topic}-${partition}`;
    return new Promise((resolve) => {
      this.producePurgatory.watch(
        {
          tryComplete: () => {
            if (this.getPartition(topic, partition) !== hosted || hosted.role.kind !== 'leader') {
              resolve({ errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, errorMessage: `leadership of ${where} moved while waiting for replication; the records may or may not be committed` });
              return true;
            }
            if (hosted.log.highWatermark < requiredOffset) return false;
            // Committed by the ISR there is now (Kafka's DelayedProduce): enough of it?
            if (hosted.role.isr.length < hosted.minInsyncReplicas) {
              resolve({
                errorCode: ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
                errorMessage: `${where}: the ISR shrank to ${hosted.role.isr.length}, below min.insync.replicas ${hosted.minInsyncReplicas}, after the append`,
              });
            } else {
              resolve(undefined);
            }
            return true;
          },
          onExpire: () =>
            resolve({ errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: `${where}: the in-sync replicas did not confirm the records within ${timeoutMs} ms` }),
        },
        [partitionKey(topic, partition)],
        timeoutMs,
      );
    });
  }

  /** After a write on a leader: move the HW (alone in the ISR) and wake waiting fetches (consumers and followers). */
  private onLeaderAppend(hosted: HostedPartition): void {
    this.maybeAdvanceHighWatermark(hosted);
    this.fetchPurgatory.checkAndComplete(partitionKey(hosted.topicPartition.topic, hosted.topicPartition.partition));
  }

  /** Why a partition cannot serve as leader here, or undefined if it can. */
  private leaderRefusal(topic: string, partition: number, hosted: HostedPartition | undefined, currentLeaderEpoch = -1): { errorCode: ErrorCode; errorMessage: string } | undefined {
    if (!hosted) {
      if (this.options.partitionExists?.(topic, partition)) {
        return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, errorMessage: `broker ${this.options.brokerId} is not the leader of ${topic}-${partition} (refresh metadata)` };
      }
      return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `this broker does not host ${topic}-${partition} (refresh metadata)` };
    }
    if (hosted.role.kind !== 'leader') {
      return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, errorMessage: `broker ${this.options.brokerId} is not the leader of ${topic}-${partition} (refresh metadata)` };
    }
    if (currentLeaderEpoch >= 0 && currentLeaderEpoch < hosted.role.leaderEpoch) {
      return { errorCode: ErrorCode.FENCED_LEADER_EPOCH, errorMessage: `leader epoch ${currentLeaderEpoch} is older than ${hosted.role.leaderEpoch}` };
    }
    if (currentLeaderEpoch > hosted.role.leaderEpoch) {
      return { errorCode: ErrorCode.UNKNOWN_LEADER_EPOCH, errorMessage: `leader epoch ${currentLeaderEpoch} is newer than ${hosted.role.leaderEpoch}` };
    }
    return undefined;
  }

  // ---------------------------------------------------------------------------------------
  // Fetch

  /**
   * Answers at once when min_bytes are available (or on any error, or max_wait_ms 0);
   * otherwise waits in the purgatory until an append brings enough bytes or max_wait_ms
   * passes. At least one whole batch is returned for the first partition with data, even
   * above max_bytes, so a consumer never stalls.
   */
  fetch(req: FetchRequest): Promise<FetchResponse> {
    if (req.maxWaitMs < 0 || req.minBytes < 0 || req.maxBytes < 0) {
      return Promise.resolve(this.fetchError(req, ErrorCode.INVALID_FETCH_SIZE, 'max_wait_ms, min_bytes and max_bytes must not be negative'));
    }
    if (req.replicaId >= 0) this.recordFollowerFetch(req);
    const maxWaitMs = Math.min(req.maxWaitMs, this.maxFetchWaitMs);
    return new Promise((resolve) => {
      let latest: { response: FetchResponse; bytes: number; errors: boolean } | undefined;
      const attempt = (): boolean => {
        latest = this.readForFetch(req);
        return latest.errors || latest.bytes >= Math.max(1, req.minBytes) || maxWaitMs === 0;
      };
      const keys = req.topics.flatMap((t) => t.partitions.map((p) => partitionKey(t.name, p.index)));
      this.fetchPurgatory.watch(
        {
          tryComplete: () => {
            if (!attempt()) return false;
            resolve(latest!.response);
            return true;
          },
          onExpire: () => {
            attempt();
            resolve(latest!.response);
          },
        },
        keys,
        maxWaitMs,
      );
    });
  }

  /** A follower's fetch offset is its log end offset: the leader may move the HW. */
  private recordFollowerFetch(req: FetchRequest): void {
    for (const t of req.topics) {
      for (const p of t.partitions) {
        const hosted = this.getPartition(t.name, p.index);
        if (!hosted || hosted.role.kind !== 'leader') continue;
        const offset = Number(p.fetchOffset);
        if (!Number.isSafeInteger(offset) || offset < 0) continue;
        const leo = hosted.log.logEndOffset;
        const now = Date.now();
        hosted.role.followerLeo.set(req.replicaId, Math.min(offset, leo));
        // Caught up now if it asks from our end; caught up at its previous fetch if it asks from
        // where our end was then (Kafka's lastCaughtUpTimeMs).
        const seen = hosted.role.followerFetch.get(req.replicaId);
        const caughtUpMs = offset >= leo ? now : seen && offset >= seen.prevLeo ? Math.max(seen.caughtUpMs, seen.prevMs) : (seen?.caughtUpMs ?? 0);
        hosted.role.followerFetch.set(req.replicaId, { caughtUpMs, prevLeo: leo, prevMs: now });
        this.maybeAdvanceHighWatermark(hosted);
        // A follower outside the ISR that reached the HW may join it.
        if (!hosted.role.isr.includes(req.replicaId) && offset >= hosted.log.highWatermark) this.options.onIsrCandidate?.(hosted);
      }
    }
  }

  private readForFetch(req: FetchRequest): { response: FetchResponse; bytes: number; errors: boolean } {
    const isConsumer = req.replicaId === CONSUMER_REPLICA_ID;
    let budget = req.maxBytes > 0 ? req.maxBytes : Number.MAX_SAFE_INTEGER;
    let bytes = 0;
    let errors = false;
    let firstWithData = true;
    const topics = req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p): FetchPartitionResponse => {
        const hosted = this.getPartition(t.name, p.index);
        const empty = { index: p.index, highWatermark: -1n, logStartOffset: -1n, records: Buffer.alloc(0) };
        const refusal = this.leaderRefusal(t.name, p.index, hosted, p.currentLeaderEpoch);
        if (refusal || !hosted) {
          errors = true;
          return { ...empty, ...refusal! };
        }
        const log = hosted.log;
        const hw = log.highWatermark;
        const meta = { index: p.index, highWatermark: BigInt(hw), logStartOffset: BigInt(log.logStartOffset) };
        const offset = Number(p.fetchOffset);
        if (!Number.isSafeInteger(offset) || offset < 0) {
          errors = true;
          return { ...meta, records: Buffer.alloc(0), errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, errorMessage: `fetch offset ${p.fetchOffset} is not valid` };
        }
        const limit = Math.min(p.partitionMaxBytes > 0 ? p.partitionMaxBytes : budget, budget);
        try {
          const { records } = log.read(offset, limit, { maxOffset: isConsumer ? hw : log.logEndOffset, minOneBatch: firstWithData });
          if (records.length > 0) {
            firstWithData = false;
            budget = Math.max(0, budget - records.length);
            bytes += records.length;
          }
          return { ...meta, records, errorCode: ErrorCode.NONE, errorMessage: '' };
        } catch (e) {
          errors = true;
          return { ...meta, records: Buffer.alloc(0), ...errorOf(e) };
        }
      }),
    }));
    return { response: { topics, throttleTimeMs: 0 }, bytes, errors };
  }

  private fetchError(req: FetchRequest, errorCode: ErrorCode, errorMessage: string): FetchResponse {
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ index: p.index, errorCode, errorMessage, highWatermark: -1n, logStartOffset: -1n, records: Buffer.alloc(0) })),
      })),
    };
  }

  // ---------------------------------------------------------------------------------------
  // ListOffsets

  listOffsets(req: ListOffsetsRequest): ListOffsetsResponse {
    const isConsumer = req.replicaId === CONSUMER_REPLICA_ID;
    return {
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p): ListOffsetsPartitionResponse => {
          const none = { index: p.index, timestamp: -1n, offset: -1n, leaderEpoch: -1 };
          const hosted = this.getPartition(t.name, p.index);
          const refusal = req.replicaId === DEBUGGING_REPLICA_ID && hosted ? undefined : this.leaderRefusal(t.name, p.index, hosted, p.currentLeaderEpoch);
          if (refusal || !hosted) return { ...none, ...refusal! };
          const log = hosted.log;
          const visibleEnd = isConsumer ? log.highWatermark : log.logEndOffset;
          // KIP-207: a new leader's high watermark lags until its followers fetch again; below
          // the start of its own epoch it could answer an offset older than ones already
          // acknowledged. Refuse (retriable) until it has caught up.
          if (isConsumer && hosted.role.kind === 'leader') {
            const epochStart = log.leaderEpochCache.all.find((e) => e.epoch === hosted.role.leaderEpoch)?.startOffset;
            if (epochStart !== undefined && log.highWatermark < epochStart) {
              return {
                ...none,
                errorCode: ErrorCode.OFFSET_NOT_AVAILABLE,
                errorMessage: `the high watermark of ${t.name}-${p.index} (${log.highWatermark}) has not reached the start of leader epoch ${hosted.role.leaderEpoch} (${epochStart}) yet: retry`,
              };
            }
          }
          const ts = Number(p.timestamp);
          if (!Number.isSafeInteger(ts) || ts < MAX_TIMESTAMP) {
            return { ...none, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `timestamp ${p.timestamp} is not valid (-1 latest, -2 earliest, -3 max, or ms ≥ 0)` };
          }
          if (ts === LATEST_TIMESTAMP) {
            return { ...none, offset: BigInt(visibleEnd), leaderEpoch: log.latestEpoch, errorCode: ErrorCode.NONE, errorMessage: '' };
          }
          if (ts === EARLIEST_TIMESTAMP) {
            return { ...none, offset: BigInt(log.logStartOffset), leaderEpoch: log.leaderEpochCache.all[0]?.epoch ?? -1, errorCode: ErrorCode.NONE, errorMessage: '' };
          }
          try {
            const found = log.fetchOffsetByTimestamp(ts);
            if (!found || found.offset >= visibleEnd) return { ...none, errorCode: ErrorCode.NONE, errorMessage: '' };
            return { index: p.index, timestamp: BigInt(found.timestamp), offset: BigInt(found.offset), leaderEpoch: found.leaderEpoch, errorCode: ErrorCode.NONE, errorMessage: '' };
          } catch (e) {
            return { ...none, ...errorOf(e) };
          }
        }),
      })),
    };
  }

  /**
   * OffsetsForLeaderEpoch on the leader: per partition, the end offset of the largest epoch
   * at or below the requested one in this log (its log end for the latest epoch).
   */
  offsetsForLeaderEpoch(req: OffsetsForLeaderEpochRequest): OffsetsForLeaderEpochResponse {
    return {
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p): OffsetsForLeaderEpochPartitionResult => {
          const none = { index: p.index, leaderEpoch: -1, endOffset: -1n };
          const hosted = this.getPartition(t.name, p.index);
          const refusal = this.leaderRefusal(t.name, p.index, hosted, p.currentLeaderEpoch);
          if (refusal || !hosted) return { ...none, ...refusal! };
          const found = hosted.log.endOffsetForEpoch(p.leaderEpoch);
          return { index: p.index, leaderEpoch: found.leaderEpoch, endOffset: BigInt(found.endOffset), errorCode: ErrorCode.NONE, errorMessage: '' };
        }),
      })),
    };
  }

  /**
   * Runs `step` for a follower partition's log after every earlier step for the same
   * partition (by any fetcher: a leader change starts a new fetcher while the old one may be
   * mid-append), and only if `hosted` is still the hosted state — so a stale fetcher never
   * appends to, or truncates, a log that now follows someone else.
   */
  async whileFollowing(hosted: HostedPartition, step: () => Promise<void>): Promise<boolean> {
    const key = partitionKey(hosted.topicPartition.topic, hosted.topicPartition.partition);
    const previous = this.followerSteps.get(key) ?? Promise.resolve();
    let ran = false;
    const next = previous.then(async () => {
      if (this.partitions.get(key) !== hosted || hosted.role.kind !== 'follower') return;
      ran = true;
      await step();
    });
    const settled = next.catch(() => undefined);
    this.followerSteps.set(key, settled);
    try {
      await next;
    } finally {
      if (this.followerSteps.get(key) === settled) this.followerSteps.delete(key);
    }
    return ran;
  }

  /** Answers every parked request (shutdown). */
  shutdown(): void {
    this.fetchPurgatory.expireAll();
    this.producePurgatory.expireAll();
  }
}
