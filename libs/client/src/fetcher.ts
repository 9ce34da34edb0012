/**
 * The consumer's Fetcher (Kafka's `Fetcher` + `SubscriptionState`): per assigned partition a
 * position (the next offset to return), a fetch position (the next offset to fetch: past
 * the data already fetched), and a prefetch loop that keeps ONE Fetch request in flight per
 * broker, covering every partition that broker leads with room for another answer.
 *
 * Pipelining: a partition is fetched again, from its fetch position, as soon as its previous
 * answer ARRIVED, while that answer is still buffered and being handed out — so the next
 * range is on its way while the application works through the previous one, instead of one
 * round trip per answer. (Kafka's fetcher does the same: it sends the next fetch of a
 * partition whose completed fetch is buffered but not yet consumed.)
 *
 * Bounded prefetch: at most `MAX_BUFFERED_ANSWERS_PER_PARTITION` (2) answers of a partition
 * are buffered — one being handed out, one ahead — each at most max.partition.fetch.bytes
 * (except a first batch larger than that); no fetch starts while the buffered bytes of all
 * partitions reach `maxBufferedBytes`. A seek or reset drops what was buffered and fetched
 * ahead (the generation changes) and fetching restarts from the new position.
 *
 * Positions: a partition with no position (new, or after `seekToBeginning/End`, or after
 * OFFSET_OUT_OF_RANGE with autoOffsetReset earliest/latest) gets one from ListOffsets at its
 * leader before it is fetched. `seek` bumps the partition's generation: answers to fetches
 * sent before it are dropped on arrival, buffered data of it is dropped.
 *
 * Handing out records: the broker returns whole batches, possibly starting before the fetch
 * offset (a batch is never split); records below the position are skipped, control batches
 * (transaction markers) are skipped, a trailing partial batch is ignored (fetched again).
 * `takeRecords` builds one object per record (the Consumer's poll); `takeBatches` hands the
 * raw bytes out with a cheap visitor (no per-record objects) for tools.
 *
 * Errors: leadership errors and unreachable brokers refresh metadata and retry the partition
 * after retry.backoff.ms; anything else is kept on the partition and thrown by the next poll.
 *
 * Concurrency: single-threaded; `pump()` (re)starts whatever can start and is called after
 * every change.
 */
import type { FetchRequest, FetchResponse } from '@tributary/proto';
import {
  ErrorCode,
  RECORDS_OFFSET,
  TributaryError,
  batchBaseOffset,
  batchIsControl,
  batchLastOffsetDelta,
  batchSize,
  forEachRecord,
  isRetriable,
  validateBatchAt,
} from '@tributary/records';
import type { RecordView } from '@tributary/records';
import type { ResolvedClientOptions } from './config';
import { retryDelayMs } from './config';
import type { ConnectionPool } from './connections';
import type { AutoOffsetReset, ConsumerRecord, FetchedBatch, TopicPartition } from './consumer-options';
import { OffsetOutOfRangeError, explain } from './errors';
import type { Metadata } from './metadata';
import { invalidatesMetadata } from './metadata';
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, listOffsets, tpKey } from './offsets';
import { WakeupTimer } from './wakeup-timer';

/** What the fetcher needs. */
export interface FetcherOptions extends Pick<ResolvedClientOptions, 'requestTimeoutMs' | 'retryBackoffMs' | 'retryBackoffMaxMs' | 'logger'> {
  autoOffsetReset: AutoOffsetReset;
  fetchMinBytes: number;
  fetchMaxWaitMs: number;
  fetchMaxBytes: number;
  maxPartitionFetchBytes: number;
  maxBufferedBytes: number;
  checkCrcs: boolean;
}

/** One assigned partition. */
export class PartitionState {
  /** Next offset to hand out; undefined while a reset is pending. */
  position: bigint | undefined;
  /** How to get a position when it has none. */
  reset: 'earliest' | 'latest' | undefined;
  /** Bumped by every seek: data fetched for an older generation is dropped. */
  generation = 0;
  paused = false;
  fetchInFlight = false;
  resetInFlight = false;
  /** Fetched answers of it still buffered. */
  buffered = 0;
  /**
   * Next offset to fetch (past the data fetched so far) when `fetchGeneration` is the current
   * generation; otherwise the fetch starts at `position`.
   */
  fetchPosition = -1n;
  fetchGeneration = -1;
  retryAtMs = 0;
  retryAttempts = 0;
  /** Thrown by the next poll, then cleared. */
  error: Error | undefined;
  highWatermark = -1n;
  assigned = true;

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}
}

/** A fetch answer for one partition, buffered until handed out. */
interface CompletedFetch {
  readonly state: PartitionState;
  readonly generation: number;
  readonly records: Buffer;
  /** Byte position of the next batch to hand out. */
  pos: number;
  readonly highWatermark: bigint;
}

/** A batch header must be complete before its size can be read. */
const HEADER_BYTES = RECORDS_OFFSET;

/** Answers of one partition buffered at most: one being handed out, one fetched ahead (see the file comment). */
export const MAX_BUFFERED_ANSWERS_PER_PARTITION = 2;

export class Fetcher {
  private readonly states = new Map<string, PartitionState>();
  private readonly completed: CompletedFetch[] = [];
  private bufferedBytesTotal = 0;
  private readonly nodesInFlight = new Set<number>();
  private readonly dataWaiters = new Set<() => void>();
  private readonly retryTimer = new WakeupTimer(() => this.pump());
  private pumpScheduled = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly options: FetcherOptions,
    private readonly metadata: Metadata,
    private readonly pool: ConnectionPool,
  ) {}

  /** Gauge: fetched bytes not yet handed out. */
  get bufferedBytes(): number {
    return this.bufferedBytesTotal;
  }

  /** Gauge: Fetch requests in flight. */
  get inFlightFetches(): number {
    return this.nodesInFlight.size;
  }

  /** The assigned partitions. */
  assignment(): TopicPartition[] {
    return [...this.states.values()].map((s) => ({ topic: s.topic, partition: s.partition }));
  }

  /** The state of an assigned partition, or undefined. */
  state(tp: TopicPartition): PartitionState | undefined {
    return this.states.get(tpKey(tp.topic, tp.partition));
  }

  /**
   * Replaces the assignment; partitions kept keep their state (position, pause). With
   * `awaitPositions` (a group's assignment), new partitions wait for `initPosition` (their
   * committed offset, looked up by the caller) instead of applying autoOffsetReset at once.
   */
  setAssignment(tps: readonly TopicPartition[], awaitPositions = false): void {
    const next = new Map<string, PartitionState>();
    for (const tp of tps) {
      const key = tpKey(tp.topic, tp.partition);
      let s = this.states.get(key) ?? next.get(key);
      if (s === undefined) {
        s = new PartitionState(tp.topic, tp.partition);
        if (awaitPositions) {
          s.position = undefined;
          s.reset = undefined;
        } else {
          this.applyResetPolicy(s);
        }
      }
      next.set(key, s);
    }
    for (const [key, s] of this.states) {
      if (!next.has(key)) {
        s.assigned = false;
        s.generation++;
      }
    }
    this.states.clear();
    for (const [k, s] of next) this.states.set(k, s);
    this.dropStaleCompleted();
    this.schedulePump();
  }

  /**
   * Gives a partition waiting for its position (setAssignment with awaitPositions) its
   * committed offset, or autoOffsetReset when `offset` is undefined. A partition that got a
   * position meanwhile (seek) keeps it.
   */
  initPosition(tp: TopicPartition, offset: bigint | undefined): void {
    const s = this.state(tp);
    if (s === undefined || s.position !== undefined || s.reset !== undefined || s.error !== undefined) return;
    if (offset === undefined) this.applyResetPolicy(s);
    else s.position = offset;
    this.schedulePump();
    if (s.error !== undefined) this.wakeup();
  }

  /** Whether `tp` still waits for initPosition. */
  awaitingPosition(tp: TopicPartition): boolean {
    const s = this.state(tp);
    return s !== undefined && s.position === undefined && s.reset === undefined && s.error === undefined;
  }

  /** The paused partitions. */
  paused(): TopicPartition[] {
    return [...this.states.values()].filter((s) => s.paused).map((s) => ({ topic: s.topic, partition: s.partition }));
  }

  /** Next records of `tp` start at `offset`. */
  seek(tp: TopicPartition, offset: bigint): void {
    const s = this.required(tp, 'seek');
    if (offset < 0n) throw new RangeError(`offset ${offset} must be >= 0 (seekToBeginning/seekToEnd move to the ends)`);
    s.position = offset;
    s.reset = undefined;
    s.error = undefined;
    s.generation++;
    this.dropStaleCompleted();
    this.schedulePump();
  }

  /** `tp` gets its position from ListOffsets (earliest or latest) before its next fetch. */
  requestReset(tp: TopicPartition, strategy: 'earliest' | 'latest'): void {
    const s = this.required(tp, 'seek');
    s.position = undefined;
    s.reset = strategy;
    s.error = undefined;
    s.generation++;
    this.dropStaleCompleted();
    this.schedulePump();
  }

  /** Pauses or resumes fetching `tp`. */
  setPaused(tp: TopicPartition, paused: boolean): void {
    this.required(tp, paused ? 'pause' : 'resume').paused = paused;
    this.schedulePump();
  }

  /** Throws (and clears) the first partition error kept for poll. */
  throwPartitionError(): void {
    for (const s of this.states.values()) {
      if (s.error !== undefined) {
        const e = s.error;
        s.error = undefined;
        throw e;
      }
    }
  }

  /** Whether some buffered data can be handed out (paused partitions' data is kept, not handed out). */
  hasCompleted(): boolean {
    for (const cf of this.completed) if (!cf.state.paused) return true;
    return false;
  }

  /** Resolves when new data or an error arrives, or after `timeoutMs`, or at close. */
  waitForData(timeoutMs: number): Promise<void> {
    if (this.abort.signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.dataWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      this.dataWaiters.add(done);
    });
  }

  /** Wakes every poll waiting for data. */
  wakeup(): void {
    for (const w of [...this.dataWaiters]) w();
  }

  /** Hands out up to `max` records as objects, advancing positions (see the file comment). */
  takeRecords(max: number): ConsumerRecord[] {
    const out: ConsumerRecord[] = [];
    for (let i = 0; out.length < max && i < this.completed.length; ) {
      const cf = this.completed[i]!;
      const s = cf.state;
      if (s.paused && cf.generation === s.generation) {
        i++; // kept for resume()
        continue;
      }
      if (cf.generation === s.generation && s.assigned && s.position !== undefined) {
        const { topic, partition } = s;
        const records = cf.records;
        let position = Number(s.position);
        while (cf.pos < records.length && out.length < max) {
          const pos = cf.pos;
          const size = this.wholeBatchAt(records, pos, false);
          if (size === 0) {
            cf.pos = records.length;
            break;
          }
          const last = batchBaseOffset(records, pos) + batchLastOffsetDelta(records, pos);
          if (last < position || batchIsControl(records, pos)) {
            cf.pos += size;
            if (last >= position) position = last + 1;
            continue;
          }
          let stopped = false;
          forEachRecord(records, pos, (v: RecordView) => {
            if (v.offset < position) return true;
            if (out.length >= max) {
              stopped = true;
              return false;
            }
            out.push({ topic, partition, offset: BigInt(v.offset), timestamp: v.timestamp, key: v.key(), value: v.value(), headers: v.headers() });
            position = v.offset + 1;
            return true;
          });
          if (stopped) break;
          position = Math.max(position, last + 1);
          cf.pos += size;
        }
        s.position = BigInt(position);
      } else {
        cf.pos = cf.records.length;
      }
      if (cf.pos >= cf.records.length) this.removeCompleted(i);
      else i++;
    }
    if (out.length > 0 || this.completed.length === 0) this.schedulePump();
    return out;
  }

  /** Hands out every buffered fetch as raw batches, advancing positions past them. */
  takeBatches(): FetchedBatch[] {
    const out: FetchedBatch[] = [];
    for (let i = 0; i < this.completed.length; ) {
      const cf = this.completed[i]!;
      const s = cf.state;
      if (s.paused && cf.generation === s.generation) {
        i++; // kept for resume()
        continue;
      }
      if (cf.generation === s.generation && s.assigned && s.position !== undefined) {
        const fetchOffset = s.position;
        const from = Number(fetchOffset);
        let pos = cf.pos;
        let start = -1;
        let end = pos;
        let count = 0;
        let next = from;
        while (pos < cf.records.length) {
          const size = this.wholeBatchAt(cf.records, pos, true);
          if (size === 0) break;
          const base = batchBaseOffset(cf.records, pos);
          const last = base + batchLastOffsetDelta(cf.records, pos);
          if (last >= from) {
            if (start < 0) start = pos;
            if (!batchIsControl(cf.records, pos)) count += last - Math.max(base, from) + 1;
            next = Math.max(next, last + 1);
            end = pos + size;
          }
          pos += size;
        }
        if (start >= 0) {
          s.position = BigInt(next);
          out.push(fetchedBatch(s.topic, s.partition, cf.records.subarray(start, end), fetchOffset, s.position, count, cf.highWatermark));
        }
      }
      this.removeCompleted(i);
    }
    this.schedulePump();
    return out;
  }

  /** Starts what can start: offset resets, then one fetch per broker. */
  pump(): void {
    if (this.abort.signal.aborted) return;
    const now = Date.now();
    const resets: PartitionState[] = [];
    const byNode = new Map<number, { address: string; states: PartitionState[] }>();
    let missingLeader = false;
    const full = this.bufferedBytesTotal >= this.options.maxBufferedBytes;
    for (const s of this.states.values()) {
      if (s.error !== undefined || s.retryAtMs > now) {
        if (s.retryAtMs > now) this.retryTimer.arm(s.retryAtMs);
        continue;
      }
      if (s.position === undefined) {
        if (!s.resetInFlight && s.reset !== undefined) resets.push(s);
        continue;
      }
      if (full || s.paused || s.fetchInFlight || s.buffered >= MAX_BUFFERED_ANSWERS_PER_PARTITION) continue;
      const leader = this.metadata.leaderOf(s.topic, s.partition);
      if (leader === undefined) {
        missingLeader = true;
        continue;
      }
      if (this.nodesInFlight.has(leader.id)) continue;
      let entry = byNode.get(leader.id);
      if (entry === undefined) byNode.set(leader.id, (entry = { address: leader.address, states: [] }));
      entry.states.push(s);
    }
    if (missingLeader) {
      this.metadata.requestUpdate();
      this.retryTimer.arm(now + this.options.retryBackoffMs);
    }
    if (resets.length > 0) void this.resetPositions(resets);
    for (const [nodeId, { address, states }] of byNode) this.sendFetch(nodeId, address, states);
  }

  /** Stops: cancels fetches in flight, wakes polls. */
  close(): void {
    this.abort.abort(new Error('the consumer is closed'));
    this.retryTimer.cancel();
    this.wakeup();
  }

  // ---- internals -------------------------------------------------------------------------

  private required(tp: TopicPartition, what: string): PartitionState {
    const s = this.state(tp);
    if (s === undefined) throw new RangeError(`cannot ${what} ${tp.topic}-${tp.partition}: it is not assigned to this consumer (assign() or subscribe() first)`);
    return s;
  }

  private applyResetPolicy(s: PartitionState): void {
    s.position = undefined;
    if (this.options.autoOffsetReset === 'none') {
      s.reset = undefined;
      s.error = new OffsetOutOfRangeError(s.topic, s.partition, undefined);
    } else {
      s.reset = this.options.autoOffsetReset;
    }
  }

  /**
   * Size of the whole batch at `pos`, or 0 when only part of it is there. With `validate` and
   * checkCrcs, checks its header and CRC first (CorruptRecordError). forEachRecord validates
   * by itself, so record-by-record walks pass false.
   */
  private wholeBatchAt(records: Buffer, pos: number, validate: boolean): number {
    if (records.length - pos < HEADER_BYTES) return 0;
    const size = batchSize(records, pos);
    if (size > records.length - pos) return 0;
    if (validate && this.options.checkCrcs) validateBatchAt(records, pos);
    return size;
  }

  private removeCompleted(i: number): void {
    const cf = this.completed.splice(i, 1)[0]!;
    cf.state.buffered--;
    this.bufferedBytesTotal -= cf.records.length;
  }

  private dropStaleCompleted(): void {
    for (let i = this.completed.length - 1; i >= 0; i--) {
      const cf = this.completed[i]!;
      if (cf.generation !== cf.state.generation || !cf.state.assigned) {
        this.completed.splice(i, 1);
        cf.state.buffered--;
        this.bufferedBytesTotal -= cf.records.length;
      }
    }
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }


  private backOff(s: PartitionState): void {
    s.retryAtMs = Date.now() + retryDelayMs(this.options, s.retryAttempts++);
    this.retryTimer.arm(s.retryAtMs);
  }

  private async resetPositions(states: PartitionState[]): Promise<void> {
    const generations = states.map((s) => s.generation);
    for (const s of states) s.resetInFlight = true;
    try {
      const answers = await listOffsets(
        states.map((s) => ({ topic: s.topic, partition: s.partition, timestamp: s.reset === 'earliest' ? EARLIEST_TIMESTAMP : LATEST_TIMESTAMP })),
        this.metadata,
        this.pool,
        this.options,
        Date.now() + this.options.requestTimeoutMs,
        this.abort.signal,
      );
      states.forEach((s, i) => {
        const a = answers.get(tpKey(s.topic, s.partition));
        if (a !== undefined && s.generation === generations[i] && s.position === undefined) {
          s.position = a.offset;
          s.reset = undefined;
          s.retryAttempts = 0;
        }
      });
    } catch (e) {
      if (this.abort.signal.aborted) return;
      const retriable = !(e instanceof TributaryError) || e.retriable;
      for (const s of states) {
        if (retriable) this.backOff(s);
        else s.error = e instanceof Error ? e : new Error(String(e));
      }
      if (!retriable) this.wakeup();
      this.options.logger.debug({ err: e }, 'offset reset failed');
    } finally {
      for (const s of states) s.resetInFlight = false;
    }
    this.pump();
  }

  private sendFetch(nodeId: number, address: string, states: PartitionState[]): void {
    this.nodesInFlight.add(nodeId);
    const byTopic = new Map<string, FetchRequest['topics'][number]>();
    const sent: Array<{ s: PartitionState; generation: number; offset: bigint }> = [];
    for (const s of states) {
      s.fetchInFlight = true;
      let t = byTopic.get(s.topic);
      if (t === undefined) byTopic.set(s.topic, (t = { name: s.topic, partitions: [] }));
      const leaderEpoch = this.metadata.topic(s.topic)?.partitions[s.partition]?.leaderEpoch ?? -1;
      const offset = s.fetchGeneration === s.generation && s.fetchPosition > s.position! ? s.fetchPosition : s.position!;
      t.partitions.push({ index: s.partition, currentLeaderEpoch: leaderEpoch, fetchOffset: offset, logStartOffset: -1n, partitionMaxBytes: this.options.maxPartitionFetchBytes });
      sent.push({ s, generation: s.generation, offset });
    }
    const request: FetchRequest = {
      replicaId: -1,
      maxWaitMs: this.options.fetchMaxWaitMs,
      minBytes: this.options.fetchMinBytes,
      maxBytes: this.options.fetchMaxBytes,
      topics: [...byTopic.values()],
    };
    let client;
    try {
      client = this.pool.broker(address);
    } catch (e) {
      this.onFetchFailed(nodeId, sent, e);
      return;
    }
    this.pool.call(client, 'fetch', request, this.options.requestTimeoutMs + this.options.fetchMaxWaitMs, this.abort.signal).then(
      (response) => this.onFetchResponse(nodeId, sent, response),
      (e: unknown) => this.onFetchFailed(nodeId, sent, e),
    );
  }

  private onFetchResponse(nodeId: number, sent: Array<{ s: PartitionState; generation: number; offset: bigint }>, response: FetchResponse): void {
    this.nodesInFlight.delete(nodeId);
    const answers = new Map<string, FetchResponse['topics'][number]['partitions'][number]>();
    for (const t of response.topics) for (const p of t.partitions) answers.set(tpKey(t.name, p.index), p);
    let arrived = false;
    for (const { s, generation, offset } of sent) {
      s.fetchInFlight = false;
      const p = answers.get(tpKey(s.topic, s.partition));
      if (p === undefined || generation !== s.generation || !s.assigned) continue;
      if (p.errorCode === ErrorCode.NONE) {
        s.retryAttempts = 0;
        s.highWatermark = p.highWatermark;
        if (p.records.length > 0) {
          const next = nextFetchOffset(p.records);
          if (next > offset) {
            s.fetchPosition = next;
            s.fetchGeneration = generation;
          }
          this.completed.push({ state: s, generation, records: p.records, pos: 0, highWatermark: p.highWatermark });
          s.buffered++;
          this.bufferedBytesTotal += p.records.length;
          arrived = true;
        }
      } else if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
        if (this.options.autoOffsetReset === 'none') {
          s.error = new OffsetOutOfRangeError(s.topic, s.partition, offset);
          arrived = true;
        } else {
          this.options.logger.info({ topic: s.topic, partition: s.partition, offset: String(offset), reset: this.options.autoOffsetReset }, 'fetch offset out of range: resetting');
          s.position = undefined;
          s.reset = this.options.autoOffsetReset;
          s.fetchGeneration = -1;
        }
      } else if (invalidatesMetadata(p.errorCode) || isRetriable(p.errorCode)) {
        this.metadata.requestUpdate();
        this.backOff(s);
      } else {
        s.error = explain(p.errorCode, p.errorMessage, s.topic);
        arrived = true;
      }
    }
    if (arrived) this.wakeup();
    this.pump();
  }

  private onFetchFailed(nodeId: number, sent: Array<{ s: PartitionState }>, e: unknown): void {
    this.nodesInFlight.delete(nodeId);
    for (const { s } of sent) s.fetchInFlight = false;
    if (this.abort.signal.aborted) return;
    this.options.logger.debug({ nodeId, err: e }, 'fetch failed');
    this.metadata.requestUpdate();
    for (const { s } of sent) this.backOff(s);
    this.pump();
  }
}

/** The offset after the last whole batch of a fetch answer (-1n when none is whole). */
function nextFetchOffset(records: Buffer): bigint {
  let next = -1;
  for (let pos = 0; records.length - pos >= HEADER_BYTES; ) {
    const size = batchSize(records, pos);
    if (size > records.length - pos) break;
    next = batchBaseOffset(records, pos) + batchLastOffsetDelta(records, pos) + 1;
    pos += size;
  }
  return BigInt(next);
}

/** A FetchedBatch over `records` (whole batches) of one partition. */
function fetchedBatch(
  topic: string,
  partition: number,
  records: Buffer,
  fetchOffset: bigint,
  nextOffset: bigint,
  recordCount: number,
  highWatermark: bigint,
): FetchedBatch {
  return {
    topic,
    partition,
    records,
    fetchOffset,
    nextOffset,
    recordCount,
    highWatermark,
    forEach(visit: (record: RecordView) => void): void {
      const from = Number(fetchOffset);
      for (let pos = 0; pos < records.length; ) {
        const size = batchSize(records, pos);
        if (!batchIsControl(records, pos)) {
          forEachRecord(records, pos, (v) => {
            if (v.offset >= from) visit(v);
          });
        }
        pos += size;
      }
    },
  };
}
