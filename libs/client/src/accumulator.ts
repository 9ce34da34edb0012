/**
 * The producer's RecordAccumulator (Kafka's `RecordAccumulator` + `BufferPool`): collects
 * records per partition into RecordBatch v2 batches and hands each batch, once ready, to a
 * sender callback (`onReady`). No network here; the Producer's sender completes or fails
 * each batch when the broker answers.
 *
 * Life of a batch: open (one per partition; records go in with `BatchBuilder.tryAppend`) →
 * ready (full, lingered `linger.ms`, flushed, or buffer memory exhausted) → handed to
 * `onReady` → done (`complete(baseOffset)` resolves every record's promise with
 * baseOffset + index, `fail(error)` rejects them all). A batch is ready when the next record
 * does not fit `batch.size` (the record then starts the next batch) or when no record could
 * fit any more; the first record of a batch is always accepted, so a record larger than
 * `batch.size` goes alone.
 *
 * Buffer memory (`buffer.memory`) counts encoded bytes, batch headers included, of every
 * record accepted and not yet completed or failed (compressed batches count their compressed
 * size once built; the builder's spare capacity is not counted). Before a record is appended
 * it reserves an upper bound of its encoded size (the size with the largest varint deltas);
 * once written, the reservation shrinks to the bytes actually used. An append that does not
 * fit waits, FIFO with the other waiting appends (no barging: while any append waits, new ones
 * queue behind it, which also keeps per-partition order), until `complete`/`fail` frees
 * memory; it fails with `BufferExhaustedError` after `max.block.ms`. While any append waits,
 * every open batch is made ready (Kafka's "exhausted" rule), so lingering batches never hold
 * memory the waiters need. The number of waiting appends is bounded too (`maxBlockedAppends`).
 *
 * Batch memory (Kafka's `BufferPool`, by regions): each partition carves its batches back to back
 * out of its current arena, a pooled buffer of `arenaBytes` (the producer passes
 * max.request.size, up to 4 MiB), so the batches of a partition that queue up together are contiguous and
 * the sender sends them as one view instead of joining copies. An arena is reused once every
 * batch carved from it is done (rewound in place when it is still its partition's current
 * arena, back to the free list otherwise): by then the request that carried those batches was
 * serialized (copied) and answered. Arenas in all hold at most buffer.memory bytes; beyond
 * that, a batch gets a buffer of its own as before. So a batch costs no allocation and no
 * garbage, and the client's batch memory stays at most 2 × buffer.memory.
 *
 * Timers: one linger timer for the oldest open batch, one block timer for the oldest waiting
 * append. Every open batch lingers the same `linger.ms` and every waiter blocks the same
 * `max.block.ms`, so deadlines are in creation order: the oldest one is the only one that can
 * fire next. That costs one timer in all instead of one per partition or per waiter (and no
 * clearTimeout per batch); a timer that fires for a batch that already left just re-arms.
 *
 * Ordering and re-entrancy: batches that become ready are queued and delivered to `onReady`
 * after the accumulator's state is consistent, in the order they became ready (so per
 * partition, in append order). `onReady` may call `complete`/`fail` synchronously (and that
 * may serve waiting appends, making more batches ready); delivery is never re-entered. If
 * `onReady` throws, that batch fails with the error.
 *
 * Three ways to be told the outcome, per append:
 * - `append` returns a promise (per record: the promise and the RecordMetadata it resolves
 *   with, offset a bigint);
 * - `appendWithCallback` calls a callback with (error, metadata) (per record: the metadata
 *   object, created only when the batch completes);
 * - `appendSequenced` takes the caller's own sequence number and reports per RUN: records of
 *   one batch with consecutive sequence numbers and the same callback are one run, reported
 *   once with (error, topic, partition, baseOffset, firstSequence, count). Per record: nothing
 *   allocated at all (the run is a few numbers in the batch's array; one bigint per run).
 * Per batch, promise/callback records keep (index, fn, reject, timestamp) in arrays of the
 * batch, runs keep (fn, firstSequence, count, index): no closure per record.
 *
 * The callback forms never call back synchronously from the append (an error found before
 * the record was accepted is reported on process.nextTick). They return true when the record
 * was accepted into buffer memory, false when it waits for memory (or failed): like a
 * stream's write(), the caller should then `await whenNoWaiters()` before appending more.
 * A callback that throws does not stop the others of its batch; the first error is rethrown
 * once all were called (the producer's sender logs it).
 *
 * Concurrency: single-threaded; every method runs in one synchronous section.
 */
import type { CompressionCodec, RecordInput } from '@tributary/records';
import * as records from '@tributary/records';
import { BatchBuilder, ErrorCode, TributaryError, encodeBatch } from '@tributary/records';

// Read once at load: the package's CommonJS re-exports are getters, which cost ~3 % of the
// producer's CPU when read once per record.
const { RECORDS_OFFSET, recordBodySize, sizeOfVarint, CRC_OFFSET, PRODUCER_ID_OFFSET, PRODUCER_EPOCH_OFFSET, BASE_SEQUENCE_OFFSET, computeBatchCrc } = records;

/** Defaults (Kafka's producer config where Kafka has one). */
export const ACCUMULATOR_DEFAULTS = {
  /** batch.size */
  batchSizeBytes: 16384,
  /** linger.ms */
  lingerMs: 5,
  /** buffer.memory: 32 MiB */
  bufferMemoryBytes: 32 * 1024 * 1024,
  /** max.block.ms */
  maxBlockMs: 60_000,
  /** No Kafka equivalent (Java blocks threads): appends allowed to wait for buffer memory at once. */
  maxBlockedAppends: 10_000,
  /** No Kafka equivalent: bytes of one arena of pooled batch memory (see the file comment). */
  arenaBytes: 1024 * 1024,
} as const;

export interface AccumulatorOptions {
  /** batch.size (default 16384): a batch is ready when the next record would not fit. */
  batchSizeBytes?: number;
  /** linger.ms (default 5): a non-full batch is ready this long after its first record. */
  lingerMs?: number;
  /** buffer.memory (default 32 MiB): encoded bytes of records accepted but not yet completed or failed. */
  bufferMemoryBytes?: number;
  /**
   * Bytes of one arena of pooled batch memory (default 1 MiB; the producer passes
   * max.request.size): a partition's batches queued together are contiguous up to this many
   * bytes. Below batch.size, batches get buffers of their own (no pooling).
   */
  arenaBytes?: number;
  /** max.block.ms (default 60000): how long an append waits for buffer memory before failing; 0 fails at once. */
  maxBlockMs?: number;
  /** Appends that may wait for buffer memory at once (default 10000); beyond, append fails at once. */
  maxBlockedAppends?: number;
  /** compression.type (default none). */
  compression?: CompressionCodec;
  /** compression.level (codec default if absent). */
  compressionLevel?: number;
  /**
   * Idempotence: with a producerId >= 0, every batch carries it, `producerEpoch`, and a
   * baseSequence that runs on per partition (wrapping at 2^31 as Kafka does), assigned when
   * the batch is sealed (built), so they are covered by its CRC. Default -1n (not
   * idempotent: baseSequence -1). The producer sets them later with setProducerIdAndEpoch.
   */
  producerId?: bigint;
  /** Default -1. */
  producerEpoch?: number;
  /** Called with each batch when it is ready to send, in ready order; see the file comment. */
  onReady: (batch: ReadyBatch) => void;
  /**
   * Clock in epoch milliseconds: record timestamps, linger and block deadlines. Default: the
   * wall clock, read for record timestamps at most once per 64 appends within one synchronous
   * section and again after every event-loop turn (see `recordTimeMs`). A given clock is read
   * at every append.
   */
  now?: () => number;
}

/** What an append resolves with once its batch is acknowledged. */
export interface RecordMetadata {
  topic: string;
  partition: number;
  offset: bigint;
  /** The record's CreateTime, or the broker's LogAppendTime when it returned one. */
  timestamp: number;
}

/** A batch handed to the sender. */
export interface ReadyBatch {
  readonly topic: string;
  readonly partition: number;
  /**
   * One encoded RecordBatch v2 (baseOffset 0, the leader assigns offsets). Owned by the
   * batch: the sender may keep it until it calls complete/fail (and resend it on retry), not
   * after — it is usually a region of pooled memory that later batches reuse. Consecutive
   * batches of a partition are often adjacent views of one buffer (see the file comment).
   */
  readonly records: Buffer;
  readonly recordCount: number;
  /** records.length; the buffer memory this batch holds until complete/fail. */
  readonly sizeBytes: number;
  /** now() when its first record was appended. */
  readonly createdMs: number;
  /** Sequence of the first record, -1 when not idempotent (see RecordAccumulator.restamp). */
  readonly baseSequence: number;
  /** Producer epoch in its header, -1 when not idempotent. */
  readonly producerEpoch: number;
  /**
   * Resolves each record's promise with offset = baseOffset + index, or -1 for every record
   * when baseOffset is negative (acks=0: unknown) (timestamp =
   * logAppendTimeMs when given) and frees the buffer memory. Returns false, doing nothing,
   * if the batch was already completed or failed.
   */
  complete(baseOffset: bigint, logAppendTimeMs?: bigint): boolean;
  /** Rejects every record's promise with `error` and frees the buffer memory; false if already done. */
  fail(error: Error): boolean;
}

/** A record can never be sent: larger than buffer.memory (MESSAGE_TOO_LARGE, not retriable). */
export class RecordTooLargeError extends TributaryError {
  constructor(message: string) {
    super(ErrorCode.MESSAGE_TOO_LARGE, message, { retriable: false });
    this.name = 'RecordTooLargeError';
  }
}

/** An append found no buffer memory within max.block.ms, or too many appends were waiting (retriable: Kafka's BufferExhaustedException). */
export class BufferExhaustedError extends TributaryError {
  constructor(message: string) {
    super(ErrorCode.REQUEST_TIMED_OUT, message, { retriable: true });
    this.name = 'BufferExhaustedError';
  }
}

/** An append after close(). */
export class AccumulatorClosedError extends TributaryError {
  constructor() {
    super(ErrorCode.UNKNOWN_SERVER_ERROR, 'the producer is closed: records cannot be appended after close()', { retriable: false });
    this.name = 'AccumulatorClosedError';
  }
}

type Resolve = (metadata: RecordMetadata) => void;
type Reject = (error: Error) => void;

/** Per-record callback of {@link RecordAccumulator.appendWithCallback}: (error, undefined) or (null, metadata). */
export type RecordCallback = (error: Error | null, metadata: RecordMetadata | undefined) => void;

/**
 * Per-run callback of {@link RecordAccumulator.appendSequenced}: `count` records with caller
 * sequence numbers `firstSequence .. firstSequence + count - 1`, at offsets `baseOffset ..
 * baseOffset + count - 1` of `topic`/`partition` (baseOffset -1n with acks=0). On failure
 * `error` is set and baseOffset is -1n.
 */
export type DeliveryRunCallback = (error: Error | null, topic: string, partition: number, baseOffset: bigint, firstSequence: number, count: number) => void;

/** How an append wants its outcome: `a`/`b` of appendLocked mean resolve/reject, callback/undefined, onRun/sequence. */
const enum Sink {
  Promise = 0,
  Callback = 1,
  Run = 2,
}

/** The most bytes writing a record can take beyond its size with zero deltas (varlong 10 vs 1, varint 5 vs 1, length varint 5 vs ≥1). */
const MAX_DELTA_EXTRA_BYTES = 9 + 4 + 4;
/** Appends that may reuse one reading of the default clock within a synchronous section. */
const CLOCK_REUSES = 64;
/** Smallest encoded record (empty key/value, no headers, length varint). */
const MIN_RECORD_BYTES = 7;
const INT32_MAX = 0x7fff_ffff;

type BatchState = 'open' | 'ready' | 'done';

/** Pooled batch memory: a partition carves its batches from it back to back (see the file comment). */
class Arena {
  /** Bytes taken by built batches; the partition's open batch writes from here. */
  used = 0;
  /** Batches carved from it that are open or not yet done. */
  live = 0;
  /** Whether it is a partition's current arena (else it goes back to the pool once `live` is 0). */
  current = false;

  constructor(readonly buf: Buffer) {}
}

/** One batch through its whole life; it is the ReadyBatch handed to the sender. */
class ProducerBatch implements ReadyBatch {
  state: BatchState = 'open';
  records: Buffer = EMPTY;
  baseSequence = -1;
  producerEpoch = -1;
  /** The arena its buffer was carved from, until the batch is done. */
  arena: Arena | undefined;
  recordCount = 0;
  /** Buffer memory held: bytes written so far (header included), then the built size. */
  sizeBytes = RECORDS_OFFSET;
  readonly deadlineMs: number;
  /** Promise/callback records: index in the batch, resolve or callback, reject (undefined for a callback), timestamp. */
  readonly recIndexes: number[] = [];
  readonly recFns: Array<Resolve | RecordCallback> = [];
  readonly recRejects: Array<Reject | undefined> = [];
  readonly recTimestamps: number[] = [];
  /** Sequenced runs: callback, and (firstSequence, count, index in batch) triples. */
  readonly runFns: DeliveryRunCallback[] = [];
  readonly runData: number[] = [];

  constructor(
    private readonly owner: RecordAccumulator,
    readonly topic: string,
    readonly partition: number,
    readonly builder: BatchBuilder,
    /** The builder's own options object; `now` is set per record (see appendLocked), the producer fields when sealed. */
    readonly builderOptions: { now?: number; producerId: bigint; producerEpoch: number; baseSequence: number },
    readonly createdMs: number,
    lingerMs: number,
  ) {
    this.deadlineMs = createdMs + lingerMs;
  }

  complete(baseOffset: bigint, logAppendTimeMs?: bigint): boolean {
    if (this.state === 'done') return false;
    if (this.state === 'open') throw new Error('ReadyBatch.complete() on a batch that was never handed to the sender');
    this.state = 'done';
    const { topic, partition, recIndexes, recFns, recRejects, recTimestamps, runFns, runData } = this;
    const logAppendTime = logAppendTimeMs === undefined ? undefined : Number(logAppendTimeMs);
    this.owner.releaseBatch(this);
    const unknown = baseOffset < 0n; // acks=0: offsets are not known
    let thrown: unknown;
    for (let i = 0; i < recFns.length; i++) {
      const index = recIndexes[i]!;
      const metadata: RecordMetadata = { topic, partition, offset: unknown ? -1n : index === 0 ? baseOffset : baseOffset + BigInt(index), timestamp: logAppendTime ?? recTimestamps[i]! };
      if (recRejects[i] !== undefined) {
        (recFns[i] as Resolve)(metadata);
      } else {
        try {
          (recFns[i] as RecordCallback)(null, metadata);
        } catch (e) {
          thrown ??= e;
        }
      }
    }
    for (let r = 0, j = 0; r < runFns.length; r++, j += 3) {
      const index = runData[j + 2]!;
      try {
        runFns[r]!(null, topic, partition, unknown ? -1n : index === 0 ? baseOffset : baseOffset + BigInt(index), runData[j]!, runData[j + 1]!);
      } catch (e) {
        thrown ??= e;
      }
    }
    this.clear();
    this.owner.afterRelease();
    if (thrown !== undefined) throw thrown;
    return true;
  }

  fail(error: Error): boolean {
    if (this.state === 'done') return false;
    if (this.state === 'open') throw new Error('ReadyBatch.fail() on a batch that was never handed to the sender');
    this.state = 'done';
    this.owner.releaseBatch(this);
    try {
      this.rejectAll(error);
    } finally {
      this.owner.afterRelease();
    }
    return true;
  }

  rejectAll(error: Error): void {
    const { topic, partition, recFns, recRejects, runFns, runData } = this;
    let thrown: unknown;
    for (let i = 0; i < recFns.length; i++) {
      const reject = recRejects[i];
      if (reject !== undefined) {
        reject(error);
      } else {
        try {
          (recFns[i] as RecordCallback)(error, undefined);
        } catch (e) {
          thrown ??= e;
        }
      }
    }
    for (let r = 0, j = 0; r < runFns.length; r++, j += 3) {
      try {
        runFns[r]!(error, topic, partition, -1n, runData[j]!, runData[j + 1]!);
      } catch (e) {
        thrown ??= e;
      }
    }
    this.clear();
    if (thrown !== undefined) throw thrown;
  }

  /** Records `index` of the batch: as a promise/callback record, or into the run it continues. */
  addSink(index: number, sink: Sink, a: unknown, b: unknown, timestampMs: number): void {
    if (sink === Sink.Run) {
      const fn = a as DeliveryRunCallback;
      const sequence = b as number;
      const last = this.runFns.length - 1;
      const j = last * 3;
      if (last >= 0 && this.runFns[last] === fn && this.runData[j]! + this.runData[j + 1]! === sequence) {
        this.runData[j + 1]!++;
      } else {
        this.runFns.push(fn);
        this.runData.push(sequence, 1, index);
      }
      return;
    }
    this.recIndexes.push(index);
    this.recFns.push(a as Resolve | RecordCallback);
    this.recRejects.push(sink === Sink.Promise ? (b as Reject) : undefined);
    this.recTimestamps.push(timestampMs);
  }

  private clear(): void {
    this.recIndexes.length = 0;
    this.recFns.length = 0;
    this.recRejects.length = 0;
    this.recTimestamps.length = 0;
    this.runFns.length = 0;
    this.runData.length = 0;
  }
}

const EMPTY = Buffer.alloc(0);

/** An append waiting for buffer memory. */
interface Waiter {
  topic: string;
  partition: number;
  record: RecordInput;
  timestampMs: number;
  reserveBytes: number;
  deadlineMs: number;
  sink: Sink;
  a: unknown;
  b: unknown;
}

/** Tells one append's sink that it failed before it was accepted (callbacks: on the next tick, never synchronously). */
function failSink(sink: Sink, a: unknown, b: unknown, error: Error, topic: string, partition: number): void {
  if (sink === Sink.Promise) (b as Reject)(error);
  else if (sink === Sink.Callback) process.nextTick(a as RecordCallback, error, undefined);
  else process.nextTick(a as DeliveryRunCallback, error, topic, partition, -1n, b as number, 1);
}

interface PartitionState {
  open: ProducerBatch | undefined;
  /** Where its next batch is carved from. */
  arena: Arena | undefined;
  /** Sequence of the next batch's first record (idempotent producers). */
  nextSequence: number;
}

function checkInteger(key: string, name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${key} (${name}) must be an integer >= ${min}, got ${value}`);
}

/** Kafka's DefaultRecordBatch.incrementSequence: sequences wrap from INT32_MAX to 0. */
function incrementSequence(sequence: number, increment: number): number {
  return sequence > INT32_MAX - increment ? increment - (INT32_MAX - sequence) - 1 : sequence + increment;
}

export class RecordAccumulator {
  private readonly batchSizeBytes: number;
  private readonly lingerMs: number;
  private readonly bufferMemoryBytes: number;
  private readonly maxBlockMs: number;
  private readonly maxBlockedAppends: number;
  private readonly arenaBytes: number;
  /** Bytes of every arena allocated (at most buffer.memory), and the arenas free for reuse. */
  private arenaBytesTotal = 0;
  private readonly freeArenas: Arena[] = [];
  private readonly compression: CompressionCodec | undefined;
  private readonly compressionLevel: number | undefined;
  private producerId: bigint;
  private producerEpoch: number;
  private readonly onReady: (batch: ReadyBatch) => void;
  private readonly now: () => number;

  /** topic → states by partition. Grows with the partitions written to, no further. */
  private readonly topics = new Map<string, Array<PartitionState | undefined>>();
  private lastTopic: string | undefined;
  private lastTopicStates: Array<PartitionState | undefined> | undefined;
  /** Open batches, oldest (earliest linger deadline) first. */
  private readonly openByAge = new Set<ProducerBatch>();
  /** Batches made ready and not yet handed to onReady, in ready order. */
  private readonly readyQueue: ProducerBatch[] = [];
  private delivering = false;
  /** Waiting appends, FIFO: waiters[waitHead..] are live. */
  private waiters: (Waiter | undefined)[] = [];
  private waitHead = 0;
  /** whenNoWaiters() callers. */
  private readonly noWaiterResolves: Array<() => void> = [];
  private usedBytes = 0;
  private waitingBytesTotal = 0;
  private inFlight = 0;
  /** The default clock's cache (recordTimeMs): last reading and appends that used it. */
  private readonly defaultClock: boolean;
  private clockNowMs = 0;
  private clockUses = CLOCK_REUSES;
  private clockExpiryQueued = false;
  private readonly expireClock = (): void => {
    this.clockUses = CLOCK_REUSES;
    this.clockExpiryQueued = false;
  };
  private lingerTimer: NodeJS.Timeout | undefined;
  private blockTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private closed: Promise<void> | undefined;
  private resolveClosed: (() => void) | undefined;

  constructor(options: AccumulatorOptions) {
    this.batchSizeBytes = options.batchSizeBytes ?? ACCUMULATOR_DEFAULTS.batchSizeBytes;
    this.lingerMs = options.lingerMs ?? ACCUMULATOR_DEFAULTS.lingerMs;
    this.bufferMemoryBytes = options.bufferMemoryBytes ?? ACCUMULATOR_DEFAULTS.bufferMemoryBytes;
    this.maxBlockMs = options.maxBlockMs ?? ACCUMULATOR_DEFAULTS.maxBlockMs;
    this.maxBlockedAppends = options.maxBlockedAppends ?? ACCUMULATOR_DEFAULTS.maxBlockedAppends;
    checkInteger('batch.size', 'batchSizeBytes', this.batchSizeBytes, RECORDS_OFFSET + MIN_RECORD_BYTES);
    checkInteger('linger.ms', 'lingerMs', this.lingerMs, 0);
    checkInteger('buffer.memory', 'bufferMemoryBytes', this.bufferMemoryBytes, RECORDS_OFFSET + MIN_RECORD_BYTES);
    checkInteger('max.block.ms', 'maxBlockMs', this.maxBlockMs, 0);
    checkInteger('maxBlockedAppends', 'maxBlockedAppends', this.maxBlockedAppends, 0);
    this.arenaBytes = options.arenaBytes ?? ACCUMULATOR_DEFAULTS.arenaBytes;
    checkInteger('arenaBytes', 'arenaBytes', this.arenaBytes, 0);
    this.compression = options.compression;
    this.compressionLevel = options.compressionLevel;
    this.producerId = options.producerId ?? -1n;
    this.producerEpoch = options.producerEpoch ?? -1;
    this.onReady = options.onReady;
    this.now = options.now ?? Date.now;
    this.defaultClock = options.now === undefined;
    // Fail fast on batch options (range checks, an unavailable codec) rather than on the first batch.
    encodeBatch([{ key: null, value: null, timestamp: 0 }], this.encodeOptions(0));
  }

  /** Gauge: encoded bytes of records accepted and not yet completed or failed. */
  get bufferedBytes(): number {
    return this.usedBytes;
  }

  /** Gauge: buffer.memory not in use. */
  get availableBytes(): number {
    return this.bufferMemoryBytes - this.usedBytes;
  }

  /** Gauge: batches still accepting records. */
  get openBatches(): number {
    return this.openByAge.size;
  }

  /** Gauge: batches handed (or about to be handed) to the sender and not yet completed or failed. */
  get inFlightBatches(): number {
    return this.inFlight;
  }

  /** Back-pressure gauge: appends waiting for buffer memory. */
  get waitingAppends(): number {
    return this.waiters.length - this.waitHead;
  }

  /** Back-pressure gauge: bytes the waiting appends have asked for (upper bounds). */
  get waitingBytes(): number {
    return this.waitingBytesTotal;
  }

  /**
   * Appends a record to the open batch of topic/partition. Resolves when its batch is
   * completed, rejects when it fails. Waits (FIFO, at most max.block.ms) while buffer memory is
   * exhausted; rejects at once with RecordTooLargeError for a record that alone exceeds
   * buffer.memory, RangeError for a bad timestamp or partition, AccumulatorClosedError after close().
   */
  append(topic: string, partition: number, record: RecordInput): Promise<RecordMetadata> {
    return new Promise<RecordMetadata>((resolve, reject) => {
      this.appendSink(topic, partition, record, Sink.Promise, resolve, reject);
    });
  }

  /**
   * Like {@link append}, but calls `callback(null, metadata)` once the batch is acknowledged
   * or `callback(error, undefined)` when it fails (never synchronously). Returns true when the
   * record was accepted into buffer memory, false when it waits for memory (or failed): then
   * `await whenNoWaiters()` before appending more.
   */
  appendWithCallback(topic: string, partition: number, record: RecordInput, callback: RecordCallback): boolean {
    return this.appendSink(topic, partition, record, Sink.Callback, callback, undefined);
  }

  /**
   * Like {@link appendWithCallback}, with no per-record result: `onRun` is called once per run
   * of records of one batch whose `sequence` numbers (the caller's, any safe integer) follow
   * each other, with (error, topic, partition, baseOffset, firstSequence, count). Number the
   * records 0, 1, 2, ... to get one call per batch in the common case.
   */
  appendSequenced(topic: string, partition: number, record: RecordInput, sequence: number, onRun: DeliveryRunCallback): boolean {
    return this.appendSink(topic, partition, record, Sink.Run, onRun, sequence);
  }

  /** Resolves once no append waits for buffer memory (at once if none does). */
  whenNoWaiters(): Promise<void> {
    if (this.waitingAppends === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.noWaiterResolves.push(resolve));
  }

  /** The one append path: true when accepted into buffer memory now. */
  private appendSink(topic: string, partition: number, record: RecordInput, sink: Sink, a: unknown, b: unknown): boolean {
    if (this.closing) {
      failSink(sink, a, b, new AccumulatorClosedError(), topic, partition);
      return false;
    }
    if (!Number.isInteger(partition) || partition < 0 || partition > INT32_MAX) {
      failSink(sink, a, b, new RangeError(`partition ${partition} must be an integer in [0, 2^31)`), topic, partition);
      return false;
    }
    const timestamp = record.timestamp;
    if (timestamp !== undefined && !Number.isSafeInteger(timestamp)) {
      failSink(sink, a, b, new RangeError(`record timestamp ${timestamp} must be an integer of epoch milliseconds`), topic, partition);
      return false;
    }
    const timestampMs = timestamp ?? this.recordTimeMs();
    const body = recordBodySize(record, 0, 0);
    const aloneBytes = RECORDS_OFFSET + sizeOfVarint(body) + body;
    if (aloneBytes > this.bufferMemoryBytes) {
      failSink(
        sink,
        a,
        b,
        new RecordTooLargeError(
          `record of ${aloneBytes} bytes (as a batch of its own) is larger than buffer.memory (bufferMemoryBytes) ${this.bufferMemoryBytes}: ` +
            'raise buffer.memory or send a smaller record',
        ),
        topic,
        partition,
      );
      return false;
    }
    // Upper bound of what the record can take (in a new batch, or in the open one with large
    // deltas); never above buffer.memory, which the actual size cannot exceed either.
    const reserveBytes = Math.min(aloneBytes + MAX_DELTA_EXTRA_BYTES, this.bufferMemoryBytes);
    if (this.waitHead === this.waiters.length && this.usedBytes + reserveBytes <= this.bufferMemoryBytes) {
      this.appendLocked(topic, partition, record, timestampMs, reserveBytes, sink, a, b);
      this.deliverReady();
      return true;
    }
    this.enqueueWaiter(topic, partition, record, timestampMs, reserveBytes, sink, a, b);
    return false;
  }

  /**
   * Idempotence: the producer id and epoch of batches sealed from now on; every partition's
   * sequence starts again at 0 (a new id or epoch is a new sequence space, KIP-360). Batches
   * already sealed keep theirs unless passed to {@link restamp}.
   */
  setProducerIdAndEpoch(producerId: bigint, producerEpoch: number): void {
    this.producerId = producerId;
    this.producerEpoch = producerEpoch;
    for (const partitions of this.topics.values()) for (const state of partitions) if (state !== undefined) state.nextSequence = 0;
  }

  /**
   * Gives a sealed batch that was never sent the current producer id and epoch and its
   * partition's next sequence (after an epoch bump), rewriting its header and CRC in place.
   * Call it for a partition's unsent batches in their send order, right after
   * setProducerIdAndEpoch.
   */
  restamp(ready: ReadyBatch): void {
    const batch = ready as ProducerBatch;
    if (batch.state !== 'ready' || this.producerId < 0n) return;
    const state = this.partitionState(batch.topic, batch.partition);
    const buf = batch.records;
    buf.writeBigInt64BE(this.producerId, PRODUCER_ID_OFFSET);
    buf.writeInt16BE(this.producerEpoch, PRODUCER_EPOCH_OFFSET);
    buf.writeInt32BE(state.nextSequence, BASE_SEQUENCE_OFFSET);
    buf.writeUInt32BE(computeBatchCrc(buf, 0, buf.length), CRC_OFFSET);
    batch.producerEpoch = this.producerEpoch;
    batch.baseSequence = state.nextSequence;
    state.nextSequence = incrementSequence(state.nextSequence, batch.recordCount);
  }

  /** Makes every open batch ready now (linger ignored) and hands them to onReady. */
  flush(): void {
    this.flushLocked();
    this.deliverReady();
  }

  /**
   * Refuses further appends, flushes, and resolves once every accepted record's batch was
   * completed or failed (appends already waiting for memory are still served, and sent at once).
   */
  close(): Promise<void> {
    if (this.closed === undefined) {
      this.closing = true;
      this.closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));
      this.flush();
      this.maybeClosed();
    }
    return this.closed;
  }

  // ---- internals -------------------------------------------------------------------------

  private encodeOptions(baseSequence: number): { compression?: CompressionCodec; compressionLevel?: number; producerId: bigint; producerEpoch: number; baseSequence: number } {
    return {
      ...(this.compression === undefined ? {} : { compression: this.compression }),
      ...(this.compressionLevel === undefined ? {} : { compressionLevel: this.compressionLevel }),
      producerId: this.producerId,
      producerEpoch: this.producerEpoch,
      baseSequence,
    };
  }

  /**
   * The CreateTime of a record appended now. Reading the wall clock costs ~60-80 ns here, a
   * quarter of an append, so with the default clock one reading serves up to CLOCK_REUSES
   * appends of one synchronous section; a microtask expires it when the section ends, so a
   * record appended after any wait reads the clock afresh. A timestamp trails the wall clock
   * by at most the time the previous appends of the same synchronous section took (64 appends:
   * tens of microseconds, well under the millisecond a timestamp resolves; 8 cost ~20 ns more
   * per append).
   */
  private recordTimeMs(): number {
    if (!this.defaultClock) return this.now();
    if (++this.clockUses > CLOCK_REUSES) {
      this.clockNowMs = Date.now();
      this.clockUses = 1;
      if (!this.clockExpiryQueued) {
        this.clockExpiryQueued = true;
        queueMicrotask(this.expireClock);
      }
    }
    return this.clockNowMs;
  }

  /** Per record: the topic's states come from the last topic used when it is the same (no Map lookup). */
  private partitionState(topic: string, partition: number): PartitionState {
    let partitions = this.lastTopic === topic ? this.lastTopicStates : this.topics.get(topic);
    if (partitions === undefined) {
      partitions = [];
      this.topics.set(topic, partitions);
    }
    this.lastTopic = topic;
    this.lastTopicStates = partitions;
    let state = partitions[partition];
    if (state === undefined) {
      state = { open: undefined, arena: undefined, nextSequence: 0 };
      partitions[partition] = state;
    }
    return state;
  }

  private newBatchLocked(topic: string, partition: number, state: PartitionState, createdMs: number): ProducerBatch {
    const arena = this.arenaForNewBatchLocked(state);
    // Every field spelt out (no spread of encodeOptions): this runs once per batch.
    const builderOptions = {
      compression: this.compression,
      compressionLevel: this.compressionLevel,
      producerId: -1n, // set when sealed (closeBatchLocked)
      producerEpoch: -1,
      baseSequence: -1,
      maxBatchBytes: this.batchSizeBytes,
      now: createdMs,
      buffer: arena === undefined ? undefined : arena.buf.subarray(arena.used, arena.used + this.batchSizeBytes),
    };
    const batch = new ProducerBatch(this, topic, partition, new BatchBuilder(builderOptions), builderOptions, createdMs, this.lingerMs);
    batch.arena = arena;
    state.open = batch;
    this.openByAge.add(batch);
    this.usedBytes += RECORDS_OFFSET;
    if (this.lingerTimer === undefined) this.armLingerTimer(this.lingerMs);
    return batch;
  }

  /**
   * The arena the partition's next batch is carved from (counting that batch as live), or
   * undefined when pooled memory is used up (the batch then allocates its own buffer).
   * Synchronous section.
   */
  private arenaForNewBatchLocked(state: PartitionState): Arena | undefined {
    let arena = state.arena;
    if (arena !== undefined && arena.buf.length - arena.used < this.batchSizeBytes) {
      // Full: retire it (it returns to the pool once its batches are done).
      arena.current = false;
      if (arena.live === 0) this.freeArenas.push(arena);
      state.arena = arena = undefined;
    }
    if (arena === undefined) {
      arena = this.freeArenas.pop();
      if (arena === undefined) {
        if (this.arenaBytes < this.batchSizeBytes || this.arenaBytesTotal + this.arenaBytes > this.bufferMemoryBytes) return undefined;
        arena = new Arena(Buffer.allocUnsafeSlow(this.arenaBytes)); // its own memory, never a slice of Node's shared pool
        this.arenaBytesTotal += this.arenaBytes;
      }
      arena.used = 0;
      arena.current = true;
      state.arena = arena;
    }
    arena.live++;
    return arena;
  }

  /** Writes the record (memory already reserved: `reserveBytes`) and keeps its callbacks. Synchronous section. */
  private appendLocked(topic: string, partition: number, record: RecordInput, timestampMs: number, reserveBytes: number, sink: Sink, a: unknown, b: unknown): void {
    const state = this.partitionState(topic, partition);
    this.usedBytes += reserveBytes;
    let batch = state.open;
    // BatchBuilder stamps a record without timestamp with its options' `now`, read at each
    // tryAppend: setting it here gives the record its append-time timestamp without copying it.
    if (batch !== undefined) {
      batch.builderOptions.now = timestampMs;
      const before = batch.builder.sizeInBytes;
      if (!batch.builder.tryAppend(record)) {
        this.closeBatchLocked(batch);
        batch = undefined;
      } else {
        this.settleLocked(batch, batch.builder.sizeInBytes - before, reserveBytes);
      }
    }
    if (batch === undefined) {
      batch = this.newBatchLocked(topic, partition, state, this.now());
      batch.builderOptions.now = timestampMs;
      batch.builder.tryAppend(record); // the first record is always accepted
      this.settleLocked(batch, batch.builder.sizeInBytes - RECORDS_OFFSET, reserveBytes);
    }
    batch.addSink(batch.recordCount, sink, a, b, timestampMs);
    batch.recordCount++;
    if (this.closing || batch.builder.sizeInBytes + MIN_RECORD_BYTES > this.batchSizeBytes || batch.recordCount === INT32_MAX) {
      this.closeBatchLocked(batch);
    }
  }

  /** Shrinks a record's reservation to the bytes it took. */
  private settleLocked(batch: ProducerBatch, actualBytes: number, reserveBytes: number): void {
    batch.sizeBytes += actualBytes;
    this.usedBytes -= reserveBytes - actualBytes;
  }

  /** Open → ready: builds the batch and queues it for onReady. Synchronous section. */
  private closeBatchLocked(batch: ProducerBatch): void {
    this.openByAge.delete(batch);
    if (this.openByAge.size === 0 && this.lingerTimer !== undefined) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
    }
    const state = this.partitionState(batch.topic, batch.partition);
    if (state.open === batch) state.open = undefined;
    if (this.producerId >= 0n) {
      // Sealed: the partition's next sequence goes into the header before build() computes the CRC.
      const options = batch.builderOptions;
      options.producerId = this.producerId;
      options.producerEpoch = batch.producerEpoch = this.producerEpoch;
      options.baseSequence = batch.baseSequence = state.nextSequence;
      state.nextSequence = incrementSequence(state.nextSequence, batch.recordCount);
    }
    batch.state = 'ready';
    this.inFlight++;
    let records: Buffer;
    try {
      records = batch.builder.build();
    } catch (e) {
      // Not expected (options and timestamps are checked up front); fail its records only.
      // Waiters that the freed memory could serve are served at the next release.
      batch.state = 'done';
      this.releaseBatch(batch);
      try {
        batch.rejectAll(e instanceof Error ? e : new Error(String(e)));
      } catch {
        // a callback threw: nothing more to tell it
      }
      return;
    }
    batch.records = records;
    const arena = batch.arena;
    // Built in place (not compressed, not outgrown): the partition's next batch starts after it.
    if (arena !== undefined && records.buffer === arena.buf.buffer && records.byteOffset === arena.buf.byteOffset + arena.used) arena.used += records.length;
    this.usedBytes -= batch.sizeBytes - records.length; // compression may have shrunk it
    batch.sizeBytes = records.length;
    this.readyQueue.push(batch);
  }

  private flushLocked(): void {
    for (const batch of this.openByAge) this.closeBatchLocked(batch);
  }

  /** Hands queued ready batches to onReady, in order; never re-entered. */
  private deliverReady(): void {
    // Called after every append: return before touching the queue (setting an array's length
    // is a runtime call, ~1.5 % of the producer's CPU when done per record).
    if (this.delivering || this.readyQueue.length === 0) return;
    this.delivering = true;
    try {
      for (let i = 0; i < this.readyQueue.length; i++) {
        const batch = this.readyQueue[i]!;
        try {
          this.onReady(batch);
        } catch (e) {
          batch.fail(e instanceof Error ? e : new Error(String(e)));
        }
      }
      this.readyQueue.length = 0;
    } finally {
      this.delivering = false;
    }
  }

  /** @internal Frees a finished batch's memory (called by the batch before it settles its promises). */
  releaseBatch(batch: ProducerBatch): void {
    this.usedBytes -= batch.sizeBytes;
    this.inFlight--;
    const arena = batch.arena;
    if (arena !== undefined) {
      batch.arena = undefined;
      batch.records = EMPTY; // its bytes are the arena's again
      if (--arena.live === 0) {
        // Nothing carved from it is in use any more (an open batch counts as live).
        if (arena.current) arena.used = 0;
        else this.freeArenas.push(arena);
      }
    }
  }

  /** @internal After a batch finished: serve waiting appends, deliver what became ready, maybe finish close(). */
  afterRelease(): void {
    this.drainWaitersLocked();
    this.deliverReady();
    this.maybeClosed();
  }

  private maybeClosed(): void {
    if (this.resolveClosed !== undefined && this.inFlight === 0 && this.openByAge.size === 0 && this.waitingAppends === 0) {
      this.resolveClosed();
      this.resolveClosed = undefined;
      this.clearTimers();
    }
  }

  private enqueueWaiter(topic: string, partition: number, record: RecordInput, timestampMs: number, reserveBytes: number, sink: Sink, a: unknown, b: unknown): void {
    if (this.maxBlockMs === 0 || this.waitingAppends >= this.maxBlockedAppends) {
      failSink(
        sink,
        a,
        b,
        new BufferExhaustedError(
          this.maxBlockMs === 0
            ? `no buffer memory for a record of up to ${reserveBytes} bytes (buffer.memory ${this.bufferMemoryBytes}, ${this.usedBytes} in use) and max.block.ms is 0: ` +
                'wait for earlier appends, or raise buffer.memory or max.block.ms'
            : `${this.waitingAppends} appends are already waiting for buffer memory (maxBlockedAppends): await earlier appends before appending more`,
        ),
        topic,
        partition,
      );
      return;
    }
    this.waiters.push({ topic, partition, record, timestampMs, reserveBytes, deadlineMs: this.now() + this.maxBlockMs, sink, a, b });
    this.waitingBytesTotal += reserveBytes;
    if (this.blockTimer === undefined) this.armBlockTimer(this.maxBlockMs);
    // Kafka's "exhausted" rule: waiting appends make every open batch ready, so memory frees up.
    this.flushLocked();
    this.deliverReady();
  }

  /** Serves waiting appends FIFO while memory allows. Synchronous section. */
  private drainWaitersLocked(): void {
    while (this.waitHead < this.waiters.length) {
      const w = this.waiters[this.waitHead]!;
      if (this.usedBytes + w.reserveBytes > this.bufferMemoryBytes) break;
      this.shiftWaiter();
      this.appendLocked(w.topic, w.partition, w.record, w.timestampMs, w.reserveBytes, w.sink, w.a, w.b);
    }
    if (this.waitingAppends > 0) this.flushLocked();
  }

  private shiftWaiter(): Waiter {
    const w = this.waiters[this.waitHead]!;
    this.waiters[this.waitHead++] = undefined;
    this.waitingBytesTotal -= w.reserveBytes;
    if (this.waitHead === this.waiters.length) {
      this.waiters = [];
      this.waitHead = 0;
      if (this.blockTimer !== undefined) clearTimeout(this.blockTimer); // no 60 s timer keeping the process alive
      this.blockTimer = undefined;
      if (this.noWaiterResolves.length > 0) for (const resolve of this.noWaiterResolves.splice(0)) resolve();
    } else if (this.waitHead >= 1024 && this.waitHead * 2 >= this.waiters.length) {
      this.waiters = this.waiters.slice(this.waitHead);
      this.waitHead = 0;
    }
    return w;
  }

  private armLingerTimer(delayMs: number): void {
    this.lingerTimer = setTimeout(() => this.onLingerTimer(), Math.max(0, delayMs));
  }

  private onLingerTimer(): void {
    this.lingerTimer = undefined;
    const now = this.now();
    for (const batch of this.openByAge) {
      if (batch.deadlineMs > now) {
        this.armLingerTimer(batch.deadlineMs - now);
        break;
      }
      this.closeBatchLocked(batch);
    }
    this.deliverReady();
  }

  private armBlockTimer(delayMs: number): void {
    this.blockTimer = setTimeout(() => this.onBlockTimer(), Math.max(0, delayMs));
  }

  private onBlockTimer(): void {
    this.blockTimer = undefined;
    const now = this.now();
    while (this.waitHead < this.waiters.length) {
      const head = this.waiters[this.waitHead]!;
      if (head.deadlineMs > now) break;
      this.shiftWaiter();
      failSink(
        head.sink,
        head.a,
        head.b,
        new BufferExhaustedError(
          `failed to allocate ${head.reserveBytes} bytes of buffer memory within max.block.ms ${this.maxBlockMs} ms ` +
            `(buffer.memory ${this.bufferMemoryBytes}, ${this.usedBytes} in use): the sender is not keeping up; ` +
            'raise buffer.memory or max.block.ms, or append more slowly',
        ),
        head.topic,
        head.partition,
      );
    }
    // A smaller waiter behind the expired head may fit now.
    this.drainWaitersLocked();
    const head = this.waiters[this.waitHead];
    if (head !== undefined) this.armBlockTimer(head.deadlineMs - now);
    this.deliverReady();
    this.maybeClosed();
  }

  private clearTimers(): void {
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    if (this.blockTimer !== undefined) clearTimeout(this.blockTimer);
    this.lingerTimer = undefined;
    this.blockTimer = undefined;
  }
}
