/**
 * The Consumer (no groups yet): reads assigned partitions, or every partition of subscribed
 * topics, from their leaders. The fetching itself — positions, prefetch, resets, skipping —
 * is the Fetcher's (fetcher.ts); this file is the API: assignment and subscription, poll,
 * the async iterator, seeks.
 *
 * Subscription without groups: `subscribe(['orders'])` assigns every partition of `orders`
 * that metadata knows, and follows partition count growth as metadata is refreshed (every
 * metadata.max.age.ms, or sooner on errors). A new partition starts per autoOffsetReset.
 */
import { ErrorCode } from '@tributary/records';
import type { ResolvedClientOptions } from './config';
import { resolveClientOptions } from './config';
import { ConnectionPool } from './connections';
import type { ConsumerOptions, ConsumerRecord, FetchedBatch, TopicPartition } from './consumer-options';
import { CONSUMER_DEFAULTS } from './consumer-options';
import { ClientClosedError, UnknownTopicError } from './errors';
import { Fetcher } from './fetcher';
import { Metadata } from './metadata';
import { tpKey } from './offsets';
import { listOffsets } from './offsets';

function checkInt(name: string, key: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${key} (${name}) must be an integer >= ${min}, got ${value}`);
  return value;
}

/** Default wait of poll(). */
const DEFAULT_POLL_TIMEOUT_MS = 1000;

/**
 * Reads records from partitions it is given (`assign`) or from every partition of topics
 * (`subscribe`, following new partitions).
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
  /** Subscribed topics, or undefined when the assignment is manual. */
  private subscription: Set<string> | undefined;
  /** Topics the brokers do not know, since when (epoch ms). */
  private readonly unknownSince = new Map<string, number>();
  private closed = false;

  /** Creates a consumer; nothing connects until the first poll. Throws RangeError on a bad option. */
  constructor(options: ConsumerOptions = {}) {
    const d = CONSUMER_DEFAULTS;
    this.client = resolveClientOptions(options);
    const autoOffsetReset = options.autoOffsetReset ?? d.autoOffsetReset;
    if (autoOffsetReset !== 'earliest' && autoOffsetReset !== 'latest' && autoOffsetReset !== 'none') {
      throw new RangeError(`auto.offset.reset (autoOffsetReset) must be 'earliest', 'latest' or 'none', got ${String(autoOffsetReset)}`);
    }
    this.maxPollRecords = checkInt('maxPollRecords', 'max.poll.records', options.maxPollRecords ?? d.maxPollRecords, 1);
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
    this.metadata.onUpdate(() => this.onMetadata());
  }

  /** Gauge: fetched bytes not yet returned by poll. */
  get bufferedBytes(): number {
    return this.fetcher.bufferedBytes;
  }

  /** Reads exactly these partitions (replaces any assignment or subscription). Positions of partitions kept are kept. */
  assign(partitions: readonly TopicPartition[]): void {
    this.checkOpen();
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

  /** Reads every partition of these topics, including partitions added later (replaces any assignment). */
  subscribe(topics: readonly string[]): void {
    this.checkOpen();
    for (const t of topics) if (typeof t !== 'string' || t === '') throw new RangeError(`cannot subscribe to ${String(t)}: topic names are non-empty strings`);
    this.subscription = new Set(topics);
    this.metadata.addTopics(topics);
    this.onMetadata();
    this.metadata.requestUpdate();
  }

  /** Stops reading everything. */
  unsubscribe(): void {
    this.subscription = undefined;
    this.fetcher.setAssignment([]);
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
   * NoBrokerAvailableError when no bootstrap broker ever answered, CorruptRecordError.
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

  /** Stops fetching and closes the connections. A pending poll resolves with `[]`. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fetcher.close();
    this.metadata.close();
    this.pool.close();
  }

  // ---- internals -------------------------------------------------------------------------

  private checkOpen(): void {
    if (this.closed) throw new ClientClosedError('consumer');
  }

  private async pollWith<T>(timeoutMs: number, take: () => T[]): Promise<T[]> {
    if (this.closed) return [];
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
    if (this.metadata.lastRefreshMs === 0 && (this.subscription !== undefined || this.fetcher.assignment().length > 0)) await this.metadata.refresh();
  }

  private async awaitSubscription(): Promise<void> {
    if (this.subscription === undefined) return;
    for (const topic of this.subscription) await this.metadata.waitForTopic(topic, this.client.metadataWaitMs);
    this.onMetadata();
  }

  /** After each metadata answer: follow the subscribed topics' partitions; track unknown topics. */
  private onMetadata(): void {
    if (this.closed) return;
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
