/**
 * Replication throttle of reassigned partitions (Kafka's follower.replication.throttled.rate
 * with follower.replication.throttled.replicas), applied by the follower fetcher.
 *
 * The controller sends, in LeaderAndIsr, a throttle in bytes per second for each partition
 * being reassigned with one (`replication_throttle_bytes_per_second`); the broker throttles
 * only partitions it is ADDING (in `adding_replicas`): the moving replicas, not the ones
 * already in sync. Each throttled partition has its own token bucket (Kafka shares one quota
 * per broker among its throttled replicas; here the rate is per moving partition, which is
 * the same for one partition per broker and simpler to reason about). The fetcher asks
 * `admits` before putting the partition in a fetch (no tokens: left out of this round, so its
 * next fetch is delayed), caps its `partition_max_bytes` with `maxBytes`, and reports the
 * bytes it got with `record`. The leader still returns at least one whole batch, so a bucket
 * may go below zero: that debt delays the next fetch, keeping the average at the rate. The
 * throttle of a partition goes when a LeaderAndIsr no longer carries one (reassignment
 * completed or cancelled).
 *
 * Concurrency: single-threaded (Node); `now` is injectable for tests.
 */

/** A token bucket in bytes: refills at `rateBytesPerSecond`, holds at most one second's worth. */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  constructor(
    private rate: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(rate > 0)) throw new RangeError(`a token bucket needs a positive rate, not ${rate}`);
    this.tokens = rate;
    this.lastMs = now();
  }

  get rateBytesPerSecond(): number {
    return this.rate;
  }

  /** Changes the rate (refilled at the old one up to now; capacity follows the new one). */
  setRate(rate: number): void {
    if (!(rate > 0)) throw new RangeError(`a token bucket needs a positive rate, not ${rate}`);
    this.refill();
    this.rate = rate;
    this.tokens = Math.min(this.tokens, rate);
  }

  /** Bytes that may be taken now (negative while in debt). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /** Takes `bytes` (may go into debt). */
  take(bytes: number): void {
    this.refill();
    this.tokens -= bytes;
  }

  /** Milliseconds until at least one byte is available (0 when some is now). */
  delayMs(): number {
    const tokens = this.available();
    return tokens > 0 ? 0 : Math.ceil(((1 - tokens) * 1000) / this.rate);
  }

  private refill(): void {
    const now = this.now();
    const elapsedMs = Math.max(0, now - this.lastMs);
    this.lastMs = now;
    this.tokens = Math.min(this.rate, this.tokens + (elapsedMs * this.rate) / 1000);
  }
}

/** Where a partition is: `topic` and `partition`, as the log's TopicPartition. */
export interface ThrottledPartition {
  topic: string;
  partition: number;
}

const keyOf = (tp: ThrottledPartition): string => `${tp.topic}-${tp.partition}`;

/** The follower-side throttles of this broker, by partition. */
export class ReplicationThrottle {
  private readonly buckets = new Map<string, TokenBucket>();
  /** Bytes fetched for throttled partitions (for the metric). */
  throttledBytes = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Throttles `tp` to `rateBytesPerSecond` (0 or less: not throttled). */
  set(tp: ThrottledPartition, rateBytesPerSecond: number): void {
    const key = keyOf(tp);
    if (!(rateBytesPerSecond > 0)) {
      this.buckets.delete(key);
      return;
    }
    const bucket = this.buckets.get(key);
    if (bucket) {
      if (bucket.rateBytesPerSecond !== rateBytesPerSecond) bucket.setRate(rateBytesPerSecond);
    } else {
      this.buckets.set(key, new TokenBucket(rateBytesPerSecond, this.now));
    }
  }

  /** Removes the throttle of every partition not in `keep` (`topic-partition` keys). */
  retainOnly(keep: ReadonlySet<string>): void {
    for (const key of this.buckets.keys()) if (!keep.has(key)) this.buckets.delete(key);
  }

  /** The throttle of `tp` in bytes/s, or 0 when none. */
  rateOf(tp: ThrottledPartition): number {
    return this.buckets.get(keyOf(tp))?.rateBytesPerSecond ?? 0;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Whether `tp` may be fetched now (always, when not throttled). */
  admits(tp: ThrottledPartition): boolean {
    const bucket = this.buckets.get(keyOf(tp));
    return !bucket || bucket.available() > 0;
  }

  /** The partition_max_bytes to ask for `tp`: `maxBytes`, capped by its tokens when throttled. */
  maxBytes(tp: ThrottledPartition, maxBytes: number): number {
    const bucket = this.buckets.get(keyOf(tp));
    return bucket ? Math.max(1, Math.min(maxBytes, Math.floor(bucket.available()))) : maxBytes;
  }

  /** `bytes` were fetched for `tp`. */
  record(tp: ThrottledPartition, bytes: number): void {
    const bucket = this.buckets.get(keyOf(tp));
    if (!bucket || bytes <= 0) return;
    bucket.take(bytes);
    this.throttledBytes += bytes;
  }
}
