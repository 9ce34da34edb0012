/**
 * The Consumer: reads assigned partitions, or the partitions of subscribed topics, from their
 * leaders. The fetching itself — positions, prefetch, resets, skipping — is the Fetcher's
 * (fetcher.ts); group membership and committed offsets are the ConsumerCoordinator's
 * (consumer-coordinator.ts); this file is the API: assignment and subscription, poll, the
 * async iterator, seeks, commits.
 *
 * Subscription without a group: `subscribe(['orders'])` assigns every partition of `orders`
 * that metadata knows, and follows partition count growth as metadata is refreshed (every
 * metadata.max.age.ms, or sooner on errors). A new partition starts per autoOffsetReset.
 *
 * Subscription with a group (`groupId`): the first poll joins the group; the group's members
 * share the partitions (the leader member's assignor decides) and the assignment follows
 * members joining and leaving, topics matching a pattern being created, and partition counts.
 * A newly assigned partition starts at the group's committed offset, else per autoOffsetReset.
 */
import { ErrorCode } from '@tributary/records';
import { CooperativeStickyAssignor } from './assignors/cooperative-sticky';
import { RangeAssignor } from './assignors/range';
import type { PartitionAssignor } from './assignors/types';
import type { ResolvedClientOptions } from './config';
import { resolveClientOptions } from './config';
import { ConnectionPool } from './connections';
import { ConsumerCoordinator } from './consumer-coordinator';
import type {
  CommitOffset,
  CommittedOffset,
  ConsumerOptions,
  ConsumerRecord,
  FetchedBatch,
  GroupMetadata,
  RebalanceListener,
  TopicPartition,
} from './consumer-options';
import { CONSUMER_DEFAULTS } from './consumer-options';
import { ClientClosedError, InvalidGroupIdError, UnknownTopicError } from './errors';
import { Fetcher } from './fetcher';
import { GroupCoordinators } from './group-coordinators';
import { Metadata } from './metadata';
import { tpKey } from './offsets';
import { listOffsets } from './offsets';

function checkInt(name: string, key: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${key} (${name}) must be an integer >= ${min}, got ${value}`);
  return value;
}

/** Largest value of an int32 wire field (session and rebalance timeouts). */
const INT32_MAX = 2_147_483_647;

/** Validates the group options (RangeError naming the Kafka key); undefined without groupId. */
function groupOptions(options: ConsumerOptions) {
  const d = CONSUMER_DEFAULTS;
  if (options.groupId === undefined) {
    if (options.groupInstanceId !== undefined) throw new RangeError('group.instance.id (groupInstanceId) needs a group.id (groupId)');
    if (options.enableAutoCommit === true) throw new RangeError('enable.auto.commit (enableAutoCommit) needs a group.id (groupId): without a group there is nowhere to commit');
    return undefined;
  }
  if (typeof options.groupId !== 'string' || options.groupId === '') throw new RangeError(`group.id (groupId) must be a non-empty string, got ${JSON.stringify(options.groupId)}`);
  if (options.groupInstanceId !== undefined && (typeof options.groupInstanceId !== 'string' || options.groupInstanceId === '')) {
    throw new RangeError(`group.instance.id (groupInstanceId) must be a non-empty string, got ${JSON.stringify(options.groupInstanceId)}`);
  }
  const sessionTimeoutMs = checkInt('sessionTimeoutMs', 'session.timeout.ms', options.sessionTimeoutMs ?? d.sessionTimeoutMs, 1);
  const heartbeatIntervalMs = checkInt('heartbeatIntervalMs', 'heartbeat.interval.ms', options.heartbeatIntervalMs ?? d.heartbeatIntervalMs, 1);
  const maxPollIntervalMs = checkInt('maxPollIntervalMs', 'max.poll.interval.ms', options.maxPollIntervalMs ?? d.maxPollIntervalMs, 1);
  if (sessionTimeoutMs > INT32_MAX) throw new RangeError(`session.timeout.ms (sessionTimeoutMs) must be at most ${INT32_MAX}, got ${sessionTimeoutMs}`);
  if (maxPollIntervalMs > INT32_MAX) throw new RangeError(`max.poll.interval.ms (maxPollIntervalMs) must be at most ${INT32_MAX}, got ${maxPollIntervalMs}`);
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    throw new RangeError(`heartbeat.interval.ms (heartbeatIntervalMs) must be below session.timeout.ms (sessionTimeoutMs), got ${heartbeatIntervalMs} >= ${sessionTimeoutMs}`);
  }
  const assignors: PartitionAssignor[] = options.partitionAssignors ?? [new RangeAssignor(), new CooperativeStickyAssignor()];
  if (!Array.isArray(assignors) || assignors.length === 0) throw new RangeError('partition.assignment.strategy (partitionAssignors) must list at least one assignor');
  const names = new Set<string>();
  for (const a of assignors) {
    if (typeof a?.name !== 'string' || a.name === '' || typeof a.assign !== 'function' || !Array.isArray(a.supportedProtocols)) {
      throw new RangeError('partition.assignment.strategy (partitionAssignors) entries must be PartitionAssignor objects (name, supportedProtocols, assign)');
    }
    if (names.has(a.name)) throw new RangeError(`partition.assignment.strategy (partitionAssignors) lists '${a.name}' twice`);
    names.add(a.name);
  }
  const enableAutoCommit = options.enableAutoCommit ?? true;
  if (typeof enableAutoCommit !== 'boolean') throw new RangeError(`enable.auto.commit (enableAutoCommit) must be true or false, got ${String(enableAutoCommit)}`);
  return {
    groupId: options.groupId,
    groupInstanceId: options.groupInstanceId,
    sessionTimeoutMs,
    heartbeatIntervalMs,
    maxPollIntervalMs,
    assignors,
    enableAutoCommit,
    autoCommitIntervalMs: checkInt('autoCommitIntervalMs', 'auto.commit.interval.ms', options.autoCommitIntervalMs ?? d.autoCommitIntervalMs, 1),
  };
}

/** Default wait of poll(). */
const DEFAULT_POLL_TIMEOUT_MS = 1000;

/**
 * Reads records from partitions it is given (`assign`) or from every partition of topics
 * (`subscribe`, following new partitions) — or, with a `groupId`, from the partitions its
 * consumer group assigns it (see the README's "Consumer groups"):
 *
 * ```ts
 * const consumer = new Consumer({ bootstrap: ['127.0.0.1:7200'], groupId: 'billing' });
 * consumer.subscribe(['orders'], { onPartitionsRevoked: () => consumer.commit() });
 * for await (const record of consumer) handle(record); // positions auto-committed every 5 s
 * ```
 *
 * ```ts
 * const consumer = new Consumer({ bootstrap: ['127.0.0.1:7200'], autoOffsetReset: 'earliest' });
 * consumer.subscribe(['orders']);
 * for await (const record of consumer) {
 *   console.log(record.partition, record.offset, record.value?.toString());
 * }
 * ```
 *
 * Records' key, value and header values are views of the fetched bytes (no copy): keeping one
 * keeps its fetch answer (up to maxPartitionFetchBytes) in memory; copy what you keep long.
 * Offsets are `bigint`.
 */
export class Consumer implements AsyncIterable<ConsumerRecord> {
  private readonly client: ResolvedClientOptions;
  private readonly pool: ConnectionPool;
  private readonly metadata: Metadata;
  private readonly fetcher: Fetcher;
  private readonly maxPollRecords: number;
  /** Subscribed topics without a group, or undefined when the assignment is manual (or a group's). */
  private subscription: Set<string> | undefined;
  /** The group's subscription: a topic list or a pattern (group mode only). */
  private groupSubscription: { topics: Set<string> } | { pattern: RegExp } | undefined;
  /** The group side, when `groupId` is set. */
  private readonly group: ConsumerCoordinator | undefined;
  /** Topics the brokers do not know, since when (epoch ms). */
  private readonly unknownSince = new Map<string, number>();
  private closed = false;
  /** True while close() leaves the group: the rebalance listener may still commit. */
  private leavingGroup = false;

  /** Creates a consumer; nothing connects until the first poll. Throws RangeError on a bad option. */
  constructor(options: ConsumerOptions = {}) {
    const d = CONSUMER_DEFAULTS;
    this.client = resolveClientOptions(options);
    const autoOffsetReset = options.autoOffsetReset ?? d.autoOffsetReset;
    if (autoOffsetReset !== 'earliest' && autoOffsetReset !== 'latest' && autoOffsetReset !== 'none') {
      throw new RangeError(`auto.offset.reset (autoOffsetReset) must be 'earliest', 'latest' or 'none', got ${String(autoOffsetReset)}`);
    }
    this.maxPollRecords = checkInt('maxPollRecords', 'max.poll.records', options.maxPollRecords ?? d.maxPollRecords, 1);
    const group = groupOptions(options);
    this.pool = new ConnectionPool(this.client);
    this.metadata = new Metadata(this.client, this.pool);
    this.fetcher = new Fetcher(
      {
        requestTimeoutMs: this.client.requestTimeoutMs,
        retryBackoffMs: this.client.retryBackoffMs,
        retryBackoffMaxMs: this.client.retryBackoffMaxMs,
        logger: this.client.logger,
        autoOffsetReset,
        fetchMinBytes: checkInt('fetchMinBytes', 'fetch.min.bytes', options.fetchMinBytes ?? d.fetchMinBytes, 0),
        fetchMaxWaitMs: checkInt('fetchMaxWaitMs', 'fetch.max.wait.ms', options.fetchMaxWaitMs ?? d.fetchMaxWaitMs, 0),
        fetchMaxBytes: checkInt('fetchMaxBytes', 'fetch.max.bytes', options.fetchMaxBytes ?? d.fetchMaxBytes, 1),
        maxPartitionFetchBytes: checkInt('maxPartitionFetchBytes', 'max.partition.fetch.bytes', options.maxPartitionFetchBytes ?? d.maxPartitionFetchBytes, 1),
        maxBufferedBytes: checkInt('maxBufferedBytes', 'maxBufferedBytes', options.maxBufferedBytes ?? d.maxBufferedBytes, 1),
        checkCrcs: options.checkCrcs ?? d.checkCrcs,
      },
      this.metadata,
      this.pool,
    );
    if (group !== undefined) {
      const coordinators = new GroupCoordinators(this.client, this.metadata, this.pool);
      this.group = new ConsumerCoordinator({ ...this.client, ...group }, this.metadata, coordinators, this.fetcher);
    }
    this.metadata.onUpdate(() => this.onMetadata());
  }

  /** Gauge: fetched bytes not yet returned by poll. */
  get bufferedBytes(): number {
    return this.fetcher.bufferedBytes;
  }

  /** Reads exactly these partitions (replaces any assignment or subscription). Positions of partitions kept are kept. */
  assign(partitions: readonly TopicPartition[]): void {
    this.checkOpen();
    if (this.group?.active === true) throw new RangeError('cannot assign() while subscribed to a group: unsubscribe() first');
    for (const tp of partitions) {
      if (typeof tp.topic !== 'string' || tp.topic === '' || !Number.isInteger(tp.partition) || tp.partition < 0) {
        throw new RangeError(`cannot assign ${String(tp.topic)}-${String(tp.partition)}: a topic name and a partition >= 0 are needed`);
      }
    }
    this.subscription = undefined;
    this.metadata.addTopics(partitions.map((tp) => tp.topic));
    this.fetcher.setAssignment(partitions);
    this.metadata.requestUpdate();
  }

  /**
   * Without a group: reads every partition of these topics, including partitions added later
   * (replaces any assignment). With a group (`groupId`): joins the group at the next poll
   * and reads the partitions the group assigns to this member; `topics` may be a RegExp
   * (matched against whole topic names, following topics created later; internal topics
   * starting with `__` are left out). `listener` hears of partitions assigned, revoked and
   * lost (see RebalanceListener). Subscribing again replaces the subscription (a rejoin).
   */
  subscribe(topics: readonly string[] | RegExp, listener?: RebalanceListener): void {
    this.checkOpen();
    if (topics instanceof RegExp) {
      if (this.group === undefined) throw new RangeError('pattern subscription needs a consumer group (groupId): without one, subscribe to a list of topics');
    } else {
      for (const t of topics) if (typeof t !== 'string' || t === '') throw new RangeError(`cannot subscribe to ${String(t)}: topic names are non-empty strings`);
    }
    if (this.group !== undefined) {
      if (!this.group.active) this.fetcher.setAssignment([]);
      this.groupSubscription = topics instanceof RegExp ? { pattern: new RegExp(`^(?:${topics.source})$`, topics.flags.replace(/[gy]/g, '')) } : { topics: new Set(topics) };
      this.metadata.allTopics = topics instanceof RegExp;
      if (!(topics instanceof RegExp)) this.metadata.addTopics(topics);
      this.group.subscribe(listener);
      this.onMetadata();
      this.metadata.requestUpdate();
      return;
    }
    this.subscription = new Set(topics as readonly string[]);
    this.metadata.addTopics(topics as readonly string[]);
    this.onMetadata();
    this.metadata.requestUpdate();
  }

  /**
   * Stops reading everything. In a group: commits (with auto-commit), revokes the partitions
   * through the listener and leaves the group (a static member stays until its session ends).
   */
  async unsubscribe(): Promise<void> {
    this.subscription = undefined;
    this.fetcher.setAssignment([]);
    if (this.group?.active === true) {
      this.groupSubscription = undefined;
      this.metadata.allTopics = false;
      await this.group.stop(false);
    }
  }

  /**
   * Commits offsets to the group and waits (Kafka's commitSync): `offsets`, or by default the
   * position (next record to read) of every partition assigned. Retries retriable errors up
   * to metadataWaitMs. Throws CommitFailedError when the group rebalanced meanwhile (this
   * member's generation is gone: the partitions may be another member's now), InvalidGroupIdError
   * without a groupId.
   */
  async commit(offsets?: readonly CommitOffset[]): Promise<void> {
    if (!this.leavingGroup) this.checkOpen();
    if (this.group === undefined) throw new InvalidGroupIdError('commit()');
    await this.group.commit(offsets ?? this.positions());
  }

  /**
   * Commits without waiting (Kafka's commitAsync): `callback` gets the outcome (undefined on
   * success), else failures are logged. Commits are sent in call order.
   */
  commitAsync(offsets?: readonly CommitOffset[], callback?: (err?: Error) => void): void {
    const done = (err?: Error): void => {
      if (callback !== undefined) callback(err);
      else if (err !== undefined) this.client.logger.warn({ err }, 'commitAsync failed');
    };
    this.commit(offsets).then(
      () => done(),
      (e: unknown) => done(e instanceof Error ? e : new Error(String(e))),
    );
  }

  /**
   * The group's committed offsets of `partitions`, one entry per partition in the same order:
   * `null` where the group has committed nothing.
   */
  async committed(partitions: readonly TopicPartition[]): Promise<Array<CommittedOffset | null>> {
    this.checkOpen();
    if (this.group === undefined) throw new InvalidGroupIdError('committed()');
    return this.group.committed(partitions);
  }

  /** Who this consumer is in its group (Kafka's groupMetadata()). InvalidGroupIdError without a groupId. */
  groupMetadata(): GroupMetadata {
    if (this.group === undefined) throw new InvalidGroupIdError('groupMetadata()');
    return this.group.groupMetadata();
  }

  /** The partitions currently read (for a subscription: those known from metadata so far). */
  assignment(): TopicPartition[] {
    return this.fetcher.assignment();
  }

  /**
   * Returns the records available now, or waits up to `timeoutMs` (default 1000) for some;
   * `[]` when none came (or the consumer was closed). At most `maxPollRecords`. Advances the
   * positions past them. Throws what a partition ran into: OffsetOutOfRangeError with
   * autoOffsetReset 'none', UnknownTopicError for an assigned topic that does not exist,
   * NoBrokerAvailableError when no bootstrap broker ever answered, CorruptRecordError,
   * GroupMembershipError when the group refused this member for good (FENCED_INSTANCE_ID...).
   * In a group, each poll also tells the group the application is alive (max.poll.interval.ms).
   */
  async poll(timeoutMs = DEFAULT_POLL_TIMEOUT_MS): Promise<ConsumerRecord[]> {
    return this.pollWith(timeoutMs, () => this.fetcher.takeRecords(this.maxPollRecords));
  }

  /**
   * Like poll, but hands out whole fetched batches (no per-record objects): the fast path for
   * tools. Each FetchedBatch has the raw RecordBatch bytes, its record count (from headers)
   * and `forEach` over reused record views. Advances the positions past every returned batch.
   */
  async pollBatches(timeoutMs = DEFAULT_POLL_TIMEOUT_MS): Promise<FetchedBatch[]> {
    return this.pollWith(timeoutMs, () => this.fetcher.takeBatches());
  }

  /** Iterates records until `close()` (or `break`, which does not close the consumer). */
  async *[Symbol.asyncIterator](): AsyncIterator<ConsumerRecord> {
    while (!this.closed) {
      const records = await this.poll(DEFAULT_POLL_TIMEOUT_MS);
      for (const r of records) yield r;
    }
  }

  /** Next fetch of `tp` starts at `offset`. Prefetched records of it are dropped. */
  seek(tp: TopicPartition, offset: bigint | number): void {
    this.checkOpen();
    if (typeof offset === 'number' && !Number.isSafeInteger(offset)) throw new RangeError(`offset ${offset} must be an integer`);
    this.fetcher.seek(tp, BigInt(offset));
  }

  /** Moves the partitions (default: all assigned) to their log start. Applied lazily, at the next fetch. */
  seekToBeginning(partitions?: readonly TopicPartition[]): void {
    this.checkOpen();
    for (const tp of partitions ?? this.assignment()) this.fetcher.requestReset(tp, 'earliest');
  }

  /** Moves the partitions (default: all assigned) to their end (high watermark). Applied lazily. */
  seekToEnd(partitions?: readonly TopicPartition[]): void {
    this.checkOpen();
    for (const tp of partitions ?? this.assignment()) this.fetcher.requestReset(tp, 'latest');
  }

  /**
   * Moves the partitions (default: all assigned) to the first offset whose timestamp is at or
   * after `timestampMs` (to the end when there is none). For a subscription, waits for the
   * topics' partitions to be known first.
   */
  async seekToTimestamp(timestampMs: number, partitions?: readonly TopicPartition[]): Promise<void> {
    this.checkOpen();
    if (partitions === undefined) await this.awaitSubscription();
    const tps = partitions ?? this.assignment();
    await Promise.all(tps.map((tp) => this.metadata.waitForTopic(tp.topic, this.client.metadataWaitMs)));
    const answers = await listOffsets(
      tps.map((tp) => ({ topic: tp.topic, partition: tp.partition, timestamp: BigInt(timestampMs) })),
      this.metadata,
      this.pool,
      this.client,
      Date.now() + this.client.metadataWaitMs,
      this.metadata.signal,
    );
    for (const tp of tps) {
      const a = answers.get(tpKey(tp.topic, tp.partition));
      if (a === undefined || a.offset < 0n) this.fetcher.requestReset(tp, 'latest');
      else this.fetcher.seek(tp, a.offset);
    }
  }

  /** The offset of the next record to be returned for `tp` (resolving a pending reset first). */
  async position(tp: TopicPartition): Promise<bigint> {
    this.checkOpen();
    const deadline = Date.now() + this.client.metadataWaitMs;
    for (;;) {
      const s = this.fetcher.state(tp);
      if (s === undefined) throw new RangeError(`${tp.topic}-${tp.partition} is not assigned to this consumer`);
      if (s.position !== undefined) return s.position;
      this.fetcher.throwPartitionError();
      if (this.closed) throw new ClientClosedError('consumer');
      if (Date.now() >= deadline) throw new UnknownTopicError(tp.topic);
      await this.ensureMetadata();
      this.fetcher.pump();
      await new Promise((r) => setTimeout(r, Math.min(this.client.retryBackoffMs, 50)));
    }
  }

  /** Stops fetching these partitions (positions kept) until `resume`. */
  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.fetcher.setPaused(tp, true);
  }

  /** Resumes fetching paused partitions. */
  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.fetcher.setPaused(tp, false);
  }

  /** The paused partitions. */
  paused(): TopicPartition[] {
    return this.fetcher.paused();
  }

  /**
   * Stops fetching and closes the connections. A pending poll resolves with `[]`. In a group,
   * first commits the positions (with auto-commit), revokes the partitions through the
   * listener and leaves the group, so that the others take them over at once (a static
   * member does not leave: it keeps its partitions for sessionTimeoutMs). Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fetcher.wakeup();
    if (this.group !== undefined) {
      this.leavingGroup = true;
      try {
        await this.group.maybeAutoCommitAssigned(() => this.positions(), true);
        await this.group.stop(true);
      } catch (e) {
        this.client.logger.warn({ err: e }, 'leaving the group failed');
      } finally {
        this.leavingGroup = false;
      }
    }
    this.fetcher.close();
    this.metadata.close();
    this.pool.close();
  }

  // ---- internals -------------------------------------------------------------------------

  private checkOpen(): void {
    if (this.closed) throw new ClientClosedError('consumer');
  }

  /** The positions of every assigned partition that has one. */
  private positions(): CommitOffset[] {
    const out: CommitOffset[] = [];
    for (const tp of this.fetcher.assignment()) {
      const position = this.fetcher.state(tp)?.position;
      if (position !== undefined) out.push({ topic: tp.topic, partition: tp.partition, offset: position });
    }
    return out;
  }

  private async pollWith<T>(timeoutMs: number, take: () => T[]): Promise<T[]> {
    if (this.closed) return [];
    this.group?.onPoll();
    if (this.group !== undefined && !this.group.active) void this.group.maybeAutoCommitAssigned(() => this.positions());
    const deadline = Date.now() + Math.max(0, timeoutMs);
    await this.ensureMetadata();
    for (;;) {
      this.fetcher.throwPartitionError();
      this.throwUnknownTopics();
      if (this.fetcher.hasCompleted()) {
        const out = take();
        if (out.length > 0) return out;
      }
      this.fetcher.pump();
      const now = Date.now();
      if (this.closed || now >= deadline) return [];
      await this.fetcher.waitForData(Math.min(deadline - now, this.client.retryBackoffMs * 10));
    }
  }

  /** Fetches metadata once if none was ever fetched: a cluster that is not running is reported at once. */
  private async ensureMetadata(): Promise<void> {
    if (this.metadata.lastRefreshMs === 0 && (this.subscription !== undefined || this.group?.active === true || this.fetcher.assignment().length > 0)) await this.metadata.refresh();
  }

  private async awaitSubscription(): Promise<void> {
    if (this.subscription === undefined) return;
    for (const topic of this.subscription) await this.metadata.waitForTopic(topic, this.client.metadataWaitMs);
    this.onMetadata();
  }

  /** After each metadata answer: follow the subscribed topics' partitions; track unknown topics. */
  private onMetadata(): void {
    if (this.closed) return;
    if (this.group !== undefined && this.groupSubscription !== undefined) {
      // Group mode: the group assigns; report the resolved subscription (a pattern's matches).
      const sub = this.groupSubscription;
      const topics = 'pattern' in sub ? this.metadata.knownTopics().filter((t) => !t.startsWith('__') && sub.pattern.test(t)) : [...sub.topics];
      this.group.setTopics(topics);
      this.group.onMetadata();
      this.fetcher.pump();
      return;
    }
    const topics = this.subscription ?? new Set(this.fetcher.assignment().map((tp) => tp.topic));
    const now = Date.now();
    for (const topic of topics) {
      const t = this.metadata.topic(topic);
      if (t !== undefined && t.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) {
        if (!this.unknownSince.has(topic)) this.unknownSince.set(topic, now);
      } else if (t !== undefined) {
        this.unknownSince.delete(topic);
      }
    }
    if (this.subscription !== undefined) {
      const tps: TopicPartition[] = [];
      for (const topic of this.subscription) {
        const t = this.metadata.topic(topic);
        if (t !== undefined && t.errorCode === ErrorCode.NONE) for (const p of t.partitions) tps.push({ topic, partition: p.partition });
      }
      const current = this.fetcher.assignment();
      const same = current.length === tps.length && tps.every((tp) => this.fetcher.state(tp) !== undefined);
      if (!same) this.fetcher.setAssignment(tps);
    }
    this.fetcher.pump();
  }

  /** An assigned or subscribed topic unknown to the brokers for metadataWaitMs is an error. */
  private throwUnknownTopics(): void {
    const now = Date.now();
    for (const [topic, since] of this.unknownSince) {
      if (now - since >= this.client.metadataWaitMs) {
        this.unknownSince.delete(topic);
        throw new UnknownTopicError(topic);
      }
    }
    if (this.unknownSince.size > 0) this.metadata.requestUpdate();
  }
}
