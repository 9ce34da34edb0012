/**
 * The Consumer (no groups yet): reads assigned partitions, or every partition of subscribed
 * topics, from their leaders.
 */
import type { ConsumerOptions, ConsumerRecord, FetchedBatch, TopicPartition } from './consumer-options';

/**
 * Reads records from partitions it is given (`assign`) or from every partition of topics
 * (`subscribe`, following new partitions).
 *
 * ```ts
 * const consumer = new Consumer({ autoOffsetReset: 'earliest' });
 * consumer.subscribe(['orders']);
 * for await (const record of consumer) console.log(record.offset, record.value?.toString());
 * ```
 */
export class Consumer implements AsyncIterable<ConsumerRecord> {
  /** Creates a consumer; nothing connects until the first poll. Throws RangeError on a bad option. */
  constructor(options: ConsumerOptions = {}) {
    void options;
  }

  /** Reads exactly these partitions (replaces any assignment or subscription). Positions of partitions kept are kept. */
  assign(partitions: readonly TopicPartition[]): void {
    void partitions;
    throw new Error('Consumer.assign: not implemented yet');
  }

  /** Reads every partition of these topics, including partitions added later (replaces any assignment). */
  subscribe(topics: readonly string[]): void {
    void topics;
    throw new Error('Consumer.subscribe: not implemented yet');
  }

  /** Stops reading everything. */
  unsubscribe(): void {
    throw new Error('Consumer.unsubscribe: not implemented yet');
  }

  /** The partitions currently read (for a subscription: those known from metadata so far). */
  assignment(): TopicPartition[] {
    return [];
  }

  /**
   * Returns the records available now, or waits up to `timeoutMs` (default 1000) for some;
   * `[]` when none came. At most `maxPollRecords`. Advances the positions past them.
   */
  poll(timeoutMs?: number): Promise<ConsumerRecord[]> {
    void timeoutMs;
    return Promise.reject(new Error('Consumer.poll: not implemented yet'));
  }

  /**
   * Like poll, but hands out whole fetched batches (no per-record objects): the fast path.
   * Advances the positions past every returned batch.
   */
  pollBatches(timeoutMs?: number): Promise<FetchedBatch[]> {
    void timeoutMs;
    return Promise.reject(new Error('Consumer.pollBatches: not implemented yet'));
  }

  /** Iterates records forever (until `close()` or `break`). */
  [Symbol.asyncIterator](): AsyncIterator<ConsumerRecord> {
    throw new Error('Consumer iterator: not implemented yet');
  }

  /** Next fetch of `tp` starts at `offset`. Prefetched records of it are dropped. */
  seek(tp: TopicPartition, offset: bigint | number): void {
    void tp;
    void offset;
    throw new Error('Consumer.seek: not implemented yet');
  }

  /** Moves the partitions (default: all assigned) to their log start. Applied lazily, at the next fetch. */
  seekToBeginning(partitions?: readonly TopicPartition[]): void {
    void partitions;
    throw new Error('Consumer.seekToBeginning: not implemented yet');
  }

  /** Moves the partitions (default: all assigned) to their end (high watermark). Applied lazily. */
  seekToEnd(partitions?: readonly TopicPartition[]): void {
    void partitions;
    throw new Error('Consumer.seekToEnd: not implemented yet');
  }

  /**
   * Moves the partitions (default: all assigned) to the first offset whose timestamp is at or
   * after `timestampMs` (to the end when there is none).
   */
  seekToTimestamp(timestampMs: number, partitions?: readonly TopicPartition[]): Promise<void> {
    void timestampMs;
    void partitions;
    return Promise.reject(new Error('Consumer.seekToTimestamp: not implemented yet'));
  }

  /** The offset of the next record to be returned for `tp` (resolving a pending reset first). */
  position(tp: TopicPartition): Promise<bigint> {
    void tp;
    return Promise.reject(new Error('Consumer.position: not implemented yet'));
  }

  /** Stops fetching these partitions (positions kept) until `resume`. */
  pause(partitions: readonly TopicPartition[]): void {
    void partitions;
  }

  /** Resumes fetching paused partitions. */
  resume(partitions: readonly TopicPartition[]): void {
    void partitions;
  }

  /** Stops fetching and closes the connections. A pending poll resolves with `[]`. Idempotent. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
