/**
 * PartitionLog: one replica of one partition on local disk — an ordered list of segments in
 * `<log dir>/<topic>-<partition>/`, plus its offsets:
 *
 *   logStartOffset ≤ highWatermark ≤ logEndOffset
 *   logStartOffset  first offset still readable (retention moves it forward)
 *   highWatermark   set by replication; consumers read below it (`read(..., { maxOffset })`)
 *   logEndOffset    offset after the last written batch (LEO)
 *   recoveryPoint   everything below it is fsynced; only later segments are scanned on an
 *                   unclean restart
 *
 * Appends take encoded RecordBatch v2 bytes. As leader, batches are validated (header, CRC,
 * record framing, size) and then offsets are assigned by rewriting baseOffset and
 * partitionLeaderEpoch IN PLACE in the caller's buffer (the CRC does not cover them): no
 * re-encoding, no per-record objects. As follower, the leader's offsets are kept. The bytes
 * are then queued for writing; reads return them unchanged.
 *
 * Idempotent producers (producer-state.ts): every append, as leader or follower, updates the
 * per-producer state from the batch headers; a leader append is checked against it first
 * (epoch, sequence) and a retried batch is answered with the original's offsets
 * (`LogAppendInfo.duplicate`) without writing. The state is rebuilt on load and truncation from
 * the `<offset>.snapshot` written at each roll and at a clean close, plus the headers after it.
 *
 * Offsets are plain numbers inside the engine: appends refuse to go past 2^53 - 1
 * (Number.MAX_SAFE_INTEGER), which at a million records a second is 285 years away; API
 * edges convert to bigint.
 *
 * Concurrency ("the partition lock"): validation and offset assignment run synchronously in
 * the append call, so offsets follow call order. Writes then run on libuv's thread pool (two
 * in flight, each coalescing whatever queued meanwhile) while the event loop validates the
 * next appends; they become visible to reads, and their promises resolve, strictly in order
 * and only once in the page cache. logEndOffset is the end of WRITTEN data; offsets being
 * written are in range but not yet readable. Reads, truncation and retention are synchronous
 * (truncation and close first wait for queued writes).
 *
 * Failure: an I/O error during a write makes the log fail permanently (sticky, as NATS' mb.werr
 * and Kafka's offline log dirs): queued and later appends are rejected with
 * KafkaStorageError and `onIoError` tells the owner (LogManager marks the directory offline).
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, readdirSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  ATTRIBUTES_OFFSET,
  CRC_OFFSET,
  CorruptRecordError,
  MAX_BATCH_SIZE_LIMIT,
  MAX_TIMESTAMP_OFFSET,
  TIMESTAMP_TYPE_MASK,
  TributaryError,
  batchLastOffsetDelta,
  batchPartitionLeaderEpoch,
  batchRecordsCount,
  batchBaseOffset,
  batchLastOffset,
  batchMaxTimestamp,
  computeBatchCrc,
  setBatchBaseOffset,
  setBatchPartitionLeaderEpoch,
  validateBatchAt,
  validateRecords,
  writeSafeInt64,
  forEachRecord,
} from '@tributary/records';
import { LeaderEpochCheckpointFile } from './checkpoint';
import type { LogConfig } from './config';
import { InvalidRecordError, KafkaStorageError, OffsetOutOfRangeError, RecordTooLargeError, UnexpectedAppendOffsetError } from './errors';
import type { TopicPartition } from './files';
import {
  CLEANED_FILE_SUFFIX,
  DELETED_FILE_SUFFIX,
  INDEX_FILE_SUFFIX,
  LOG_FILE_SUFFIX,
  SWAP_FILE_SUFFIX,
  TIME_INDEX_FILE_SUFFIX,
  baseOffsetFromFileName,
  fsyncDir,
  partitionDirName,
  segmentFilePath,
} from './files';
import { LeaderEpochCache } from './leader-epoch-cache';
import type { EpochEndOffset } from './leader-epoch-cache';
import { LogSegment } from './log-segment';
import type { SegmentOptions } from './log-segment';
import { ProducerStateManager } from './producer-state';

export const LEADER_EPOCH_CHECKPOINT_FILE = 'leader-epoch-checkpoint';

/** ListOffsets special timestamps (Kafka's). */
export const EARLIEST_TIMESTAMP = -2;
export const LATEST_TIMESTAMP = -1;
export const MAX_TIMESTAMP = -3;

export interface PartitionLogOptions {
  /** The log directory that holds this partition's directory. */
  logDir: string;
  topicPartition: TopicPartition;
  config: LogConfig;
  /** Offsets below this are known to be on disk (from recovery-point-offset-checkpoint). */
  recoveryPoint?: number;
  /** True when the last shutdown was clean: nothing is scanned. */
  hadCleanShutdown?: boolean;
  /** From log-start-offset-checkpoint. */
  logStartOffset?: number;
  /** From replication-offset-checkpoint. */
  highWatermark?: number;
  /** Wall clock in ms (injectable for tests). */
  now?: () => number;
  /** Called once when the log fails with an I/O error. */
  onIoError?: (error: Error) => void;
  /** Called after each flush with its duration in seconds: flush() (fsync of the segments past the recovery point) and the background flush of a segment rolled away. */
  onFlush?: (seconds: number) => void;
  /** producer.id.expiration.ms: producers silent this long are forgotten (default 1 day, Kafka's). */
  producerIdExpirationMs?: number;
  /**
   * The log is (or was) compacted — it has an entry in cleaner-offset-checkpoint — so its
   * offsets may have gaps: recovery must not require them dense. Also implied by
   * cleanup.policy=compact in `config`.
   */
  compacted?: boolean;
  /** From cleaner-offset-checkpoint: offsets below it are already compacted. */
  cleanerCheckpoint?: number;
}

export const DEFAULT_PRODUCER_ID_EXPIRATION_MS = 24 * 60 * 60 * 1000;

export interface LogAppendInfo {
  firstOffset: number;
  lastOffset: number;
  /** Largest batch maxTimestamp appended (-1 if none), and the offset that carries it. */
  maxTimestamp: number;
  offsetOfMaxTimestamp: number;
  /** Broker time used for LogAppendTime topics, else -1. */
  logAppendTimeMs: number;
  /** Records appended (sum of the batches' recordsCount). */
  recordCount: number;
  /**
   * True when an idempotent producer's batch was already in the log (a retry): nothing was
   * written, and firstOffset/lastOffset are the original batch's.
   */
  duplicate?: boolean;
  batchCount: number;
  bytes: number;
}

export interface ReadOptions {
  /** Never return a batch containing offsets ≥ this (consumers pass the high watermark). */
  maxOffset?: number;
  /** Return the first batch even when it exceeds maxBytes (default true: no stalls). */
  minOneBatch?: boolean;
  /** Read into this buffer when it is large enough (the result is a view of it). */
  into?: Buffer;
}

export interface FetchDataInfo {
  /** Whole stored batches, unchanged; the first may start before the fetch offset. */
  records: Buffer;
  /** Offset after the last batch returned (the fetch offset when nothing is returned). */
  nextOffset: number;
}

export interface TimestampAndOffset {
  timestamp: number;
  offset: number;
  leaderEpoch: number;
}

/** At most this many buffers or bytes go out in one coalesced writev. */
const MAX_WRITEV_BUFFERS = 512;
const MAX_WRITEV_BYTES = 1024 * 1024;

interface PendingWrite {
  kind: 'write';
  segment: LogSegment;
  position: number;
  records: Buffer;
  info: LogAppendInfo;
  resolve: (info: LogAppendInfo) => void;
  reject: (error: unknown) => void;
}

/** The write queue: writes, and the sealing of a rolled segment once its writes are done. */
type QueueItem = PendingWrite | { kind: 'seal'; segment: LogSegment; nextBase: number };

/** Writes handed to the kernel and not yet applied, in queue order. */
interface WriteInFlight {
  group: PendingWrite[];
  state: 'writing' | 'done' | 'failed';
}

/** Two: the next write waits in libuv while the kernel does the current one. */
const MAX_WRITES_IN_FLIGHT = 2;
/**
 * An append of at most this many bytes, when no other write is queued or in flight, is
 * written synchronously (a write into the page cache takes microseconds) instead of through
 * the thread pool: at low and moderate rates that saves two thread wake-ups per produce
 * request, which on a small (virtual) machine is most of the append's latency. Larger or
 * overlapping writes keep the pipelined thread-pool path, so a slow disk never stalls the
 * event loop for long.
 */
const SYNC_WRITE_MAX_BYTES = 64 * 1024;

export class PartitionLog {
  readonly dir: string;
  readonly topicPartition: TopicPartition;
  private segments: LogSegment[] = [];
  private readonly epochCache: LeaderEpochCache;
  private readonly producerState: ProducerStateManager;
  private readonly now: () => number;
  private readonly segmentOptions: SegmentOptions;
  private config: LogConfig;
  private _logStartOffset = 0;
  private _highWatermark = 0;
  private _recoveryPoint = 0;
  private unflushedMessages = 0;
  private lastFlushMs: number;
  private failure: Error | undefined;
  private closed = false;
  private filesClosed = false;
  /** Next offset to assign (≥ writtenEnd while writes are queued). */
  private assignedEnd = 0;
  /** Offset after the last batch whose write completed: the log end offset. */
  private writtenEnd = 0;
  private readonly writeQueue: QueueItem[] = [];
  private readonly inFlight: WriteInFlight[] = [];
  private readonly drainWaiters: (() => void)[] = [];
  private readonly pendingDeletes = new Set<NodeJS.Timeout>();
  /** Offsets may have gaps (compacted now or before): sticky once set. */
  private mayHaveGaps: boolean;
  /** The cleaner's checkpoint: offsets below it are compacted (Kafka's firstDirtyOffset). */
  private _cleanerCheckpoint: number;
  /**
   * Bumped by every change the cleaner cannot see coming between two of its slices
   * (truncation, a restart from an offset): a clean that started before it is abandoned.
   */
  private _layoutVersion = 0;

  private constructor(private readonly options: PartitionLogOptions) {
    this.topicPartition = options.topicPartition;
    this.dir = join(options.logDir, partitionDirName(options.topicPartition));
    this.config = options.config;
    this.now = options.now ?? Date.now;
    this.lastFlushMs = this.now();
    this.mayHaveGaps = (options.compacted ?? false) || options.config.cleanupCompact;
    this._cleanerCheckpoint = options.cleanerCheckpoint ?? 0;
    this.segmentOptions = this.makeSegmentOptions(options.config);
    this.epochCache = new LeaderEpochCache(new LeaderEpochCheckpointFile(join(this.dir, LEADER_EPOCH_CHECKPOINT_FILE)));
    this.producerState = new ProducerStateManager(this.dir, partitionDirName(options.topicPartition));
  }

  /** Opens (creating if needed) the partition's directory and recovers it. */
  static open(options: PartitionLogOptions): PartitionLog {
    const dir = join(options.logDir, partitionDirName(options.topicPartition));
    mkdirSync(dir, { recursive: true });
    const log = new PartitionLog(options);
    log.load();
    return log;
  }

  private makeSegmentOptions(config: LogConfig): SegmentOptions {
    return {
      indexIntervalBytes: config.indexIntervalBytes,
      segmentIndexBytes: config.segmentIndexBytes,
      maxBatchBytes: Math.max(config.maxMessageBytes, MAX_BATCH_SIZE_LIMIT),
      denseOffsets: !(this.mayHaveGaps || config.cleanupCompact), // compacted logs have gaps
      now: () => this.now(),
    };
  }

  private get where(): string {
    return partitionDirName(this.topicPartition);
  }

  // ---------------------------------------------------------------------------------------
  // Loading and recovery

  private load(): void {
    const clean = this.options.hadCleanShutdown ?? false;
    const recoveryPoint = this.options.recoveryPoint ?? 0;
    const swapped = this.completeInterruptedSwapsLocked();
    const bases: number[] = [];
    for (const name of readdirSync(this.dir)) {
      if (name.endsWith(DELETED_FILE_SUFFIX) || name.endsWith('.tmp')) {
        unlinkSync(join(this.dir, name)); // leftovers of a deletion or write cut short
        continue;
      }
      const base = baseOffsetFromFileName(name, LOG_FILE_SUFFIX);
      if (base !== undefined) bases.push(base);
    }
    // Index files without their .log are orphans.
    for (const name of readdirSync(this.dir)) {
      for (const suffix of [INDEX_FILE_SUFFIX, TIME_INDEX_FILE_SUFFIX]) {
        const base = baseOffsetFromFileName(name, suffix);
        if (base !== undefined && !bases.includes(base)) unlinkSync(join(this.dir, name));
      }
    }
    bases.sort((a, b) => a - b);

    const assignEpoch = (epoch: number, offset: number): void => this.epochCache.assign(epoch, offset);
    for (let i = 0; i < bases.length; i++) {
      const base = bases[i]!;
      const nextBase = bases[i + 1];
      const isLast = nextBase === undefined;
      const previous = this.segments.at(-1);
      if (previous && base < previous.nextOffset) {
        // Overlaps the previous segment: only possible after a crash mid-roll. Drop it and
        // everything after it.
        this.deleteSegmentFiles(bases.slice(i));
        break;
      }
      const recover = !clean && (isLast || nextBase > recoveryPoint);
      const rebuild = swapped.has(base) && !recover; // a swapped-in cleaned segment has no indexes yet
      const segment = LogSegment.open(this.dir, base, this.segmentOptions, recover, isLast || rebuild, recover ? assignEpoch : undefined);
      if (rebuild) {
        segment.rebuildIndexes();
        if (!isLast) segment.sealIndexes();
      }
      this.segments.push(segment);
      if (recover && !isLast && segment.truncatedOnRecovery > 0) {
        // Recovery truncated this segment: later segments cannot be trusted to follow it.
        this.deleteSegmentFiles(bases.slice(i + 1));
        break;
      }
    }
    const active = this.segments.at(-1);
    if (!active) {
      const start = Math.max(this.options.logStartOffset ?? 0, 0);
      this.segments.push(LogSegment.create(this.dir, start, this.segmentOptions));
    } else if (active.offsetIndex.isSealed) {
      active.offsetIndex.unseal();
      active.timeIndex.unseal();
    }
    this.writtenEnd = this.activeSegment.nextOffset;
    this.assignedEnd = this.writtenEnd;
    const first = this.segments[0]!;
    this._logStartOffset = Math.min(Math.max(this.options.logStartOffset ?? first.baseOffset, first.baseOffset), this.logEndOffset);
    this.epochCache.truncateFromEnd(this.logEndOffset);
    this.epochCache.truncateFromStart(this._logStartOffset);
    this._recoveryPoint = Math.min(clean ? this.logEndOffset : recoveryPoint, this.logEndOffset);
    this._highWatermark = clamp(this.options.highWatermark ?? 0, this._logStartOffset, this.logEndOffset);
    this.rebuildProducerStateLocked();
    this.producerState.removeExpiredProducers(this.now(), this.producerIdExpirationMs);
  }

  /**
   * Finishes or rolls back a compaction cut short by a crash (Kafka's recovery of cleaner
   * files): a `.cleaned` file was not complete, so it is deleted; a `.swap` file was complete
   * and fsynced before it got that name, so it replaces every segment whose base offset lies
   * in [its base, its next offset) — those it was made from — and becomes `<base>.log`.
   * Returns the base offsets of the segments swapped in (their indexes must be rebuilt).
   */
  private completeInterruptedSwapsLocked(): Set<number> {
    const swapped = new Set<number>();
    const names = readdirSync(this.dir);
    for (const name of names) {
      if (name.endsWith(CLEANED_FILE_SUFFIX)) unlinkSync(join(this.dir, name));
    }
    for (const name of names) {
      const base = baseOffsetFromFileName(name.endsWith(SWAP_FILE_SUFFIX) ? name.slice(0, -SWAP_FILE_SUFFIX.length) : '', LOG_FILE_SUFFIX);
      if (base === undefined) continue;
      const swapPath = join(this.dir, name);
      const next = nextOffsetOfLogFile(swapPath, base);
      for (const other of readdirSync(this.dir)) {
        const otherBase = baseOffsetFromFileName(other, LOG_FILE_SUFFIX);
        if (otherBase !== undefined && otherBase >= base && otherBase < Math.max(next, base + 1)) this.deleteSegmentFiles([otherBase]);
      }
      this.deleteSegmentFiles([base]);
      renameSync(swapPath, segmentFilePath(this.dir, base, LOG_FILE_SUFFIX));
      fsyncDir(this.dir);
      swapped.add(base);
    }
    return swapped;
  }

  /**
   * Rebuilds the producer state for the log as it is now: from the newest producer snapshot
   * at or below the log end offset (those above it describe records that are gone), then
   * the batch headers after it — only headers are read. Without a snapshot the scan starts
   * at the first segment.
   */
  private rebuildProducerStateLocked(): void {
    const leo = this.logEndOffset;
    this.producerState.deleteSnapshots({ above: leo });
    const from = this.producerState.loadLatestSnapshot(leo) ?? -1;
    if (from >= leo) return; // the snapshot of a clean close: nothing after it
    const first = from < 0 ? 0 : this.floorSegmentIndex(from);
    for (let i = first; i < this.segments.length; i++) {
      const segment = this.segments[i]!;
      // The index finds where `from` starts in its segment; later segments are read whole.
      const start = i === first && from > 0 ? (segment.translateOffset(from)?.position ?? segment.size) : 0;
      segment.walkBatches(start, (batch, header, at) => {
        if (batch.lastOffset >= from) this.producerState.updateLocked(header, at);
        return true;
      });
    }
  }

  private get producerIdExpirationMs(): number {
    return this.options.producerIdExpirationMs ?? DEFAULT_PRODUCER_ID_EXPIRATION_MS;
  }

  /** The idempotent-producer state of this partition (read only for callers). */
  get producerStateManager(): ProducerStateManager {
    return this.producerState;
  }

  private deleteSegmentFiles(bases: number[]): void {
    for (const base of bases) {
      for (const suffix of [LOG_FILE_SUFFIX, INDEX_FILE_SUFFIX, TIME_INDEX_FILE_SUFFIX]) {
        const path = join(this.dir, `${String(base).padStart(20, '0')}${suffix}`);
        if (existsSync(path)) unlinkSync(path);
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Offsets

  get logStartOffset(): number {
    return this._logStartOffset;
  }

  /** Offset after the last written (readable) batch. */
  get logEndOffset(): number {
    return this.writtenEnd;
  }

  get highWatermark(): number {
    return this._highWatermark;
  }

  get recoveryPoint(): number {
    return this._recoveryPoint;
  }

  get activeSegment(): LogSegment {
    return this.segments[this.segments.length - 1]!;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Base offsets of the segments, oldest first. */
  get segmentBaseOffsets(): number[] {
    return this.segments.map((s) => s.baseOffset);
  }

  /** Bytes of data in all segments. */
  get size(): number {
    let total = 0;
    for (const s of this.segments) total += s.size;
    return total;
  }

  get leaderEpochCache(): LeaderEpochCache {
    return this.epochCache;
  }

  get latestEpoch(): number {
    return this.epochCache.latestEpoch;
  }

  /** OffsetsForLeaderEpoch: the end offset of `epoch` on this replica. */
  endOffsetForEpoch(epoch: number): EpochEndOffset {
    return this.epochCache.endOffsetFor(epoch, this.logEndOffset);
  }

  /** Sets the high watermark (clamped to [logStartOffset, logEndOffset]). */
  updateHighWatermark(offset: number): number {
    this._highWatermark = clamp(offset, this._logStartOffset, this.logEndOffset);
    return this._highWatermark;
  }

  /** Moves the high watermark forward only; returns true if it moved. */
  maybeAdvanceHighWatermark(offset: number): boolean {
    const next = clamp(offset, this._logStartOffset, this.logEndOffset);
    if (next <= this._highWatermark) return false;
    this._highWatermark = next;
    return true;
  }

  get isFailed(): boolean {
    return this.failure !== undefined;
  }

  /** Takes the log offline because its directory failed elsewhere (LogManager). */
  markOffline(error: Error): void {
    this.failure ??= error;
  }

  get currentConfig(): LogConfig {
    return this.config;
  }

  /** Applies a new topic configuration (takes effect for the next append, roll and retention run). */
  updateConfig(config: LogConfig): void {
    this.config = config;
    if (config.cleanupCompact) this.mayHaveGaps = true;
    Object.assign(this.segmentOptions, this.makeSegmentOptions(config));
  }

  // ---------------------------------------------------------------------------------------
  // Compaction hooks (log-cleaner.ts). The cleaner reads sealed segments between its slices
  // and swaps its output in synchronously; everything here runs inside one synchronous section.

  /** cleanup.policy includes compact. */
  get isCompacted(): boolean {
    return this.config.cleanupCompact;
  }

  /** Offsets may have gaps (the log is or was compacted). */
  get mayHaveOffsetGaps(): boolean {
    return this.mayHaveGaps;
  }

  /** Kafka's cleaner checkpoint: offsets below it are compacted (firstDirtyOffset). */
  get cleanerCheckpoint(): number {
    return this._cleanerCheckpoint;
  }

  updateCleanerCheckpoint(offset: number): void {
    this._cleanerCheckpoint = offset;
  }

  /** Changes when truncation rewrites the log: a clean begun before must be abandoned. */
  get layoutVersion(): number {
    return this._layoutVersion;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The segments, oldest first; the last is the active one (a snapshot, for the cleaner). */
  segmentsSnapshot(): LogSegment[] {
    return [...this.segments];
  }

  /** Whether `segment` is still one of this log's segments (not deleted or replaced). */
  hasSegment(segment: LogSegment): boolean {
    return this.segments.includes(segment);
  }

  /**
   * Swaps a cleaned segment in for `old` (consecutive segments of this log, none active),
   * crash-safely, as Kafka's replaceSegments does: the complete, fsynced `cleanedPath`
   * (`<base>.log.cleaned`) is renamed `<base>.log.swap` — from here a crash completes the
   * swap on load — the old segments are renamed `.deleted`, the swap file becomes
   * `<base>.log` and its indexes are rebuilt. The old files are removed after
   * file.delete.delay.ms. `onStep` (tests) is called after each step and may throw to stop
   * there as a crash would. Returns false (and deletes the cleaned file) if the log changed
   * meanwhile so that `old` is no longer a run of its sealed segments.
   */
  replaceSegmentsLocked(old: LogSegment[], cleanedPath: string, onStep?: (step: SwapStep) => void): boolean {
    const first = this.segments.indexOf(old[0]!);
    const intact = first >= 0 && first + old.length < this.segments.length && old.every((s, i) => this.segments[first + i] === s);
    if (!intact || this.closed || this.failure) {
      if (existsSync(cleanedPath)) unlinkSync(cleanedPath);
      return false;
    }
    const base = old[0]!.baseOffset;
    const logPath = segmentFilePath(this.dir, base, LOG_FILE_SUFFIX);
    const swapPath = logPath + SWAP_FILE_SUFFIX;
    let segment: LogSegment;
    try {
      onStep?.('cleaned');
      renameSync(cleanedPath, swapPath);
      fsyncDir(this.dir);
      onStep?.('swap');
      for (const s of old) s.markDeleted();
      onStep?.('old-deleted');
      renameSync(swapPath, logPath);
      fsyncDir(this.dir);
      onStep?.('renamed');
      segment = LogSegment.open(this.dir, base, this.segmentOptions, false, true);
      segment.rebuildIndexes();
      segment.sealIndexes();
    } catch (e) {
      if (e instanceof InjectedCrash) throw e;
      throw this.fail(e);
    }
    this.segments.splice(first, old.length, segment);
    for (const s of old) this.scheduleDelete(s, true);
    return true;
  }

  // ---------------------------------------------------------------------------------------
  // Appends

  /**
   * Validates `records` (one or more RecordBatch v2) and appends them with offsets from
   * the end of the log, stamping `leaderEpoch`. Offsets are assigned before this returns
   * its promise (calls are ordered as made); the promise resolves once the bytes are written
   * (in the page cache: they survive a kill -9) and readable.
   *
   * Rewrites the batches' headers in place: the caller hands `records` over and must not
   * touch it until the promise settles. All or nothing: an invalid batch rejects the call
   * (CorruptRecordError / RecordTooLargeError) and leaves the log unchanged.
   */
  async appendAsLeader(records: Buffer, leaderEpoch: number): Promise<LogAppendInfo> {
    this.ensureWritable();
    const count = this.validateForLeaderLocked(records);
    // Idempotent producers: an old epoch or a sequence gap throws; a retry of a batch
    // already here is answered with the original's offsets, and nothing is written.
    const duplicate = this.producerState.checkLeaderBatchesLocked(records);
    if (duplicate) {
      if (duplicate.lastOffset >= this.writtenEnd) await this.drain();
      this.ensureWritable();
      return {
        firstOffset: duplicate.firstOffset,
        lastOffset: duplicate.lastOffset,
        maxTimestamp: -1,
        offsetOfMaxTimestamp: -1,
        logAppendTimeMs: -1,
        recordCount: 0,
        batchCount: 0,
        bytes: 0,
        duplicate: true,
      };
    }
    const appendTimeMs = this.config.messageTimestampType === 'LogAppendTime' ? this.now() : -1;
    let next = this.assignedEnd;
    if (next + count > Number.MAX_SAFE_INTEGER) {
      throw new KafkaStorageError(`${this.where} has reached the largest offset this engine supports (2^53 - 1)`);
    }
    if (leaderEpoch >= 0 && leaderEpoch > this.epochCache.latestEpoch) this.epochCache.assign(leaderEpoch, next);
    for (let pos = 0; pos < records.length; ) {
      const size = 12 + records.readInt32BE(pos + 8);
      setBatchBaseOffset(records, pos, next);
      setBatchPartitionLeaderEpoch(records, pos, leaderEpoch);
      if (appendTimeMs >= 0) stampLogAppendTime(records, pos, size, appendTimeMs);
      next += batchLastOffsetDelta(records, pos) + 1;
      pos += size;
    }
    const written = this.enqueueWriteLocked(records, appendTimeMs);
    // After the (possible) roll: the new segment's producer snapshot holds only earlier batches.
    this.producerState.updateAllLocked(records);
    return written;
  }

  /**
   * Appends batches replicated from the leader, keeping their offsets and epochs. Batches
   * are checked (header, CRC) and must start at or after the end of the log, in order.
   * Same promise and ownership contract as appendAsLeader.
   */
  async appendAsFollower(records: Buffer): Promise<LogAppendInfo> {
    this.ensureWritable();
    let expected = this.assignedEnd;
    for (let pos = 0; pos < records.length; ) {
      const size = validateBatchAt(records, pos, MAX_BATCH_SIZE_LIMIT);
      const base = batchBaseOffset(records, pos);
      if (base < expected) {
        throw new UnexpectedAppendOffsetError(
          `${this.where}: replicated batch at offset ${base} does not follow the log end offset ${expected}`,
        );
      }
      expected = batchLastOffset(records, pos) + 1;
      pos += size;
    }
    if (expected > Number.MAX_SAFE_INTEGER) {
      throw new KafkaStorageError(`${this.where} has reached the largest offset this engine supports (2^53 - 1)`);
    }
    for (let pos = 0; pos < records.length; ) {
      this.epochCache.assign(batchPartitionLeaderEpoch(records, pos), batchBaseOffset(records, pos));
      pos += 12 + records.readInt32BE(pos + 8);
    }
    const written = this.enqueueWriteLocked(records, -1);
    this.producerState.updateAllLocked(records); // the same state as the leader's, for when this replica leads
    return written;
  }

  /** Validates every batch for a leader append; returns the number of records. */
  private validateForLeaderLocked(records: Buffer): number {
    if (records.length === 0) {
      throw new CorruptRecordError('truncated', `empty record set for ${this.where}`, 0);
    }
    let count = 0;
    for (let pos = 0; pos < records.length; ) {
      const size = validateBatchAt(records, pos, MAX_BATCH_SIZE_LIMIT);
      if (size > this.config.maxMessageBytes) throw new RecordTooLargeError(size, this.config.maxMessageBytes, this.where);
      const summary = validateRecords(records, pos); // framing of every record; recordsCount = lastOffsetDelta + 1
      if (summary.nullKeyCount > 0 && this.config.cleanupCompact) {
        throw new InvalidRecordError(`${this.where} is compacted (cleanup.policy=compact): every record needs a key, ${summary.nullKeyCount} have none`);
      }
      count += batchRecordsCount(records, pos);
      pos += size;
    }
    return count;
  }

  /** Summarises the (offset-assigned) batches, reserves their place and queues the write. */
  private enqueueWriteLocked(records: Buffer, appendTimeMs: number): Promise<LogAppendInfo> {
    const info: LogAppendInfo = {
      firstOffset: -1,
      lastOffset: -1,
      maxTimestamp: -1,
      offsetOfMaxTimestamp: -1,
      logAppendTimeMs: appendTimeMs,
      recordCount: 0,
      batchCount: 0,
      bytes: records.length,
    };
    if (records.length === 0) return Promise.resolve(info);
    for (let pos = 0; pos < records.length; ) {
      const size = 12 + records.readInt32BE(pos + 8);
      if (info.firstOffset < 0) info.firstOffset = batchBaseOffset(records, pos);
      info.lastOffset = batchLastOffset(records, pos);
      const ts = batchMaxTimestamp(records, pos);
      if (ts > info.maxTimestamp) {
        info.maxTimestamp = ts;
        info.offsetOfMaxTimestamp = info.lastOffset;
      }
      info.recordCount += batchRecordsCount(records, pos);
      info.batchCount++;
      pos += size;
    }
    let segment: LogSegment;
    try {
      segment = this.maybeRollLocked(records.length, info.batchCount, info.lastOffset);
    } catch (e) {
      throw this.fail(e);
    }
    const position = segment.reserve(records.length, info.batchCount);
    this.assignedEnd = info.lastOffset + 1;
    if (records.length <= SYNC_WRITE_MAX_BYTES && this.writeQueue.length === 0 && this.inFlight.length === 0) {
      // Nothing ahead of it and small: write it now, on this thread (see SYNC_WRITE_MAX_BYTES).
      try {
        segment.writeSync([records], position);
        segment.completeWrite(records, position);
      } catch (e) {
        return Promise.reject(this.fail(e));
      }
      this.writtenEnd = info.lastOffset + 1;
      this.unflushedMessages += info.recordCount;
      if (this.unflushedMessages >= this.config.flushMessages) {
        try {
          this.flush();
        } catch (e) {
          return Promise.reject(this.fail(e));
        }
      }
      return Promise.resolve(info);
    }
    return new Promise<LogAppendInfo>((resolve, reject) => {
      this.writeQueue.push({ kind: 'write', segment, position, records, info, resolve, reject });
      this.pumpWrites();
    });
  }

  /**
   * Runs the write queue. Up to MAX_WRITES_IN_FLIGHT writes (each a single writev of
   * everything queued meanwhile for the same segment, coalescing small appends as NATS'
   * flush loop does) are handed to libuv at once, so the next one is already waiting when
   * the kernel finishes the previous one, instead of idling until the event loop (busy
   * validating) notices. Writes land at reserved, disjoint positions; completions are
   * applied strictly in queue order (a later write never becomes visible, or acknowledged,
   * before an earlier one). A segment is sealed only once no write is in flight.
   */
  private pumpWrites(): void {
    while (this.inFlight.length < MAX_WRITES_IN_FLIGHT) {
      const head = this.writeQueue[0];
      if (!head) break;
      if (head.kind === 'seal') {
        if (this.inFlight.length > 0) break; // its segment's writes are still landing
        this.writeQueue.shift();
        this.sealRolledSegmentLocked(head.segment, head.nextBase);
        continue;
      }
      this.issueWriteLocked();
    }
    if (this.inFlight.length === 0 && this.writeQueue.length === 0) {
      for (const waiter of this.drainWaiters.splice(0)) waiter();
    }
  }

  private issueWriteLocked(): void {
    const group: PendingWrite[] = [];
    let bytes = 0;
    let expectedPosition = -1;
    while (group.length < MAX_WRITEV_BUFFERS && bytes < MAX_WRITEV_BYTES) {
      const next = this.writeQueue[0];
      if (!next || next.kind !== 'write') break;
      if (group.length > 0 && (next.segment !== group[0]!.segment || next.position !== expectedPosition)) break;
      this.writeQueue.shift();
      group.push(next);
      bytes += next.records.length;
      expectedPosition = next.position + next.records.length;
    }
    const flight: WriteInFlight = { group, state: 'writing' };
    this.inFlight.push(flight);
    const first = group[0]!;
    first.segment.write(group.map((w) => w.records), first.position).then(
      () => {
        flight.state = 'done';
        this.completeWritesLocked();
      },
      (e: unknown) => {
        flight.state = 'failed';
        this.fail(e);
        this.completeWritesLocked();
      },
    );
  }

  /** Applies finished writes in order; after a failure, rejects everything pending. */
  private completeWritesLocked(): void {
    while (this.inFlight[0] && this.inFlight[0].state !== 'writing') {
      const { group, state } = this.inFlight.shift()!;
      if (state === 'failed' || this.failure) {
        const error = this.storageError();
        for (const w of group) w.reject(error);
        continue;
      }
      try {
        for (const w of group) {
          w.segment.completeWrite(w.records, w.position);
          this.writtenEnd = w.info.lastOffset + 1;
          this.unflushedMessages += w.info.recordCount;
        }
        if (this.unflushedMessages >= this.config.flushMessages) this.flush();
        for (const w of group) w.resolve(w.info);
      } catch (e) {
        const error = this.fail(e);
        for (const w of group) w.reject(error);
      }
    }
    if (this.failure) {
      const error = this.storageError();
      for (const w of this.writeQueue.splice(0)) if (w.kind === 'write') w.reject(error);
    }
    this.pumpWrites();
  }

  /** Resolves when every queued write has completed (or failed). */
  drain(): Promise<void> {
    if (this.inFlight.length === 0 && this.writeQueue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private ensureWritable(): void {
    if (this.closed) throw new KafkaStorageError(`${this.where} is closed`);
    if (this.failure) throw this.storageError();
  }

  private storageError(): KafkaStorageError {
    return new KafkaStorageError(`${this.where} is offline after an I/O error: ${this.failure?.message}`, { cause: this.failure });
  }

  /** Records a sticky I/O failure and returns the error to throw. */
  private fail(e: unknown): TributaryError {
    if (e instanceof TributaryError) return e;
    const error = e instanceof Error ? e : new Error(String(e));
    if (!this.failure) {
      this.failure = error;
      this.options.onIoError?.(error);
    }
    return new KafkaStorageError(`${this.where}: write failed, the log is now offline: ${error.message}`, { cause: error });
  }

  private maybeRollLocked(bytes: number, batches: number, lastOffset: number): LogSegment {
    const segment = this.activeSegment;
    // KIP-354: a compacted log also rolls at max.compaction.lag.ms, so the active segment
    // (which the cleaner never touches) cannot hold records longer than that.
    const { segmentMs, maxCompactionLagMs, cleanupCompact } = this.config;
    const rollMs = cleanupCompact ? Math.min(segmentMs, maxCompactionLagMs) : segmentMs;
    const expired = !segment.isEmpty && this.now() - segment.rollingBasedTimestamp > rollMs;
    if (!expired && segment.canFit(bytes, batches, lastOffset, this.config.segmentBytes)) return segment;
    return this.roll();
  }

  /**
   * Starts a new active segment at the end of the log. The old one is sealed once its queued
   * writes are done, then fsynced in the background; the recovery point follows.
   */
  roll(): LogSegment {
    const old = this.activeSegment;
    if (old.isEmpty) return old;
    const base = this.assignedEnd;
    const segment = LogSegment.create(this.dir, base, this.segmentOptions);
    this.segments.push(segment);
    // Kafka's snapshot at roll: a later load or truncation scans from here, not the log start.
    this.producerState.takeSnapshot(base);
    this.writeQueue.push({ kind: 'seal', segment: old, nextBase: base });
    this.pumpWrites();
    return segment;
  }

  private sealRolledSegmentLocked(old: LogSegment, nextBase: number): void {
    if (!this.segments.includes(old)) return; // deleted meanwhile
    try {
      old.sealIndexes();
    } catch (e) {
      this.fail(e);
      return;
    }
    const started = this.options.onFlush ? process.hrtime.bigint() : 0n;
    old.flushAsync().then(
      () => {
        if (this.options.onFlush) this.options.onFlush(Number(process.hrtime.bigint() - started) / 1e9);
        if (this._recoveryPoint < nextBase && this.segments.some((s) => s.baseOffset === nextBase)) this._recoveryPoint = nextBase;
      },
      (e: unknown) => {
        if (!this.closed && this.segments.includes(old)) this.fail(e);
      },
    );
  }

  // ---------------------------------------------------------------------------------------
  // Reads

  /**
   * Reads whole batches from `fromOffset`, about `maxBytes` of them (at least one batch when
   * `minOneBatch`, the default). The first batch returned contains fromOffset (it may start
   * before it). Throws OffsetOutOfRangeError outside [logStartOffset, logEndOffset].
   */
  read(fromOffset: number, maxBytes: number, options: ReadOptions = {}): FetchDataInfo {
    const leo = this.logEndOffset;
    // Offsets being written right now are in range; they are simply not readable yet.
    if (fromOffset < this._logStartOffset || fromOffset > this.assignedEnd) {
      throw new OffsetOutOfRangeError(fromOffset, this._logStartOffset, leo, this.where);
    }
    const maxOffset = Math.min(options.maxOffset ?? leo, leo);
    const empty = { records: Buffer.alloc(0), nextOffset: fromOffset };
    if (fromOffset >= maxOffset) return empty;
    for (let i = this.floorSegmentIndex(fromOffset); i < this.segments.length; i++) {
      const segment = this.segments[i]!;
      const location = segment.translateOffset(fromOffset);
      if (location) {
        if (location.baseOffset >= maxOffset) return empty;
        const result = segment.read(location.position, maxBytes, maxOffset, options.minOneBatch ?? true, options.into);
        if (segment.needsIndexRebuild) segment.rebuildIndexes();
        return result.records.length > 0 ? { records: result.records, nextOffset: result.nextOffset } : empty;
      }
      if (segment.needsIndexRebuild) segment.rebuildIndexes();
    }
    return empty;
  }

  /** Index of the segment whose base offset is the largest ≤ offset (0 if none). */
  private floorSegmentIndex(offset: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.segments[mid]!.baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /**
   * ListOffsets: EARLIEST_TIMESTAMP (-2) → logStartOffset; LATEST_TIMESTAMP (-1) →
   * logEndOffset; MAX_TIMESTAMP (-3) → the record with the largest timestamp; otherwise the
   * first record whose timestamp is ≥ `timestamp`, or undefined if none.
   */
  fetchOffsetByTimestamp(timestamp: number): TimestampAndOffset | undefined {
    if (timestamp === EARLIEST_TIMESTAMP) {
      return { timestamp: -1, offset: this._logStartOffset, leaderEpoch: this.epochAt(this._logStartOffset) };
    }
    if (timestamp === LATEST_TIMESTAMP) {
      return { timestamp: -1, offset: this.logEndOffset, leaderEpoch: this.epochCache.latestEpoch };
    }
    if (timestamp === MAX_TIMESTAMP) {
      let best: LogSegment | undefined;
      for (const s of this.segments) if (s.maxTimestampSoFar >= 0 && (!best || s.maxTimestampSoFar > best.maxTimestampSoFar)) best = s;
      if (!best) return undefined;
      return { timestamp: best.maxTimestampSoFar, offset: best.offsetOfMaxTimestampSoFar, leaderEpoch: this.epochAt(best.offsetOfMaxTimestampSoFar) };
    }
    for (const segment of this.segments) {
      if (segment.isEmpty || segment.largestTimestamp < timestamp) continue;
      const location = segment.findBatchByTimestamp(timestamp, this._logStartOffset);
      if (!location) continue;
      const batch = segment.readBatch(location);
      let found: TimestampAndOffset | undefined;
      forEachRecord(batch, 0, (record) => {
        if (record.timestamp >= timestamp && record.offset >= this._logStartOffset) {
          found = { timestamp: record.timestamp, offset: record.offset, leaderEpoch: batchPartitionLeaderEpoch(batch, 0) };
          return false;
        }
        return true;
      });
      if (found) return found;
    }
    return undefined;
  }

  private epochAt(offset: number): number {
    let epoch = -1;
    for (const e of this.epochCache.all) if (e.startOffset <= offset) epoch = e.epoch;
    return epoch;
  }

  // ---------------------------------------------------------------------------------------
  // Truncation, retention, log start

  /**
   * Removes every batch whose last offset is ≥ `offset` (a follower diverging from a new
   * leader). A batch that contains `offset` is removed whole, so logEndOffset ends ≤ offset.
   */
  async truncateTo(offset: number): Promise<void> {
    this.ensureWritable();
    await this.drain();
    this.ensureWritable();
    if (offset >= this.logEndOffset) return;
    this._layoutVersion++;
    this._cleanerCheckpoint = Math.min(this._cleanerCheckpoint, offset);
    if (offset <= this._logStartOffset) {
      this.truncateFullyAndStartAtLocked(offset);
      return;
    }
    try {
      while (this.segments.length > 1 && this.activeSegment.baseOffset >= offset) {
        const removed = this.segments.pop()!;
        removed.deleteFiles();
      }
      const active = this.activeSegment;
      active.truncateTo(offset);
      if (active.offsetIndex.isSealed) {
        active.offsetIndex.unseal();
        active.timeIndex.unseal();
      }
    } catch (e) {
      throw this.fail(e);
    }
    this.writtenEnd = this.activeSegment.nextOffset;
    this.assignedEnd = this.writtenEnd;
    this.epochCache.truncateFromEnd(this.logEndOffset);
    this._highWatermark = Math.min(this._highWatermark, this.logEndOffset);
    this._recoveryPoint = Math.min(this._recoveryPoint, this.logEndOffset);
    try {
      this.rebuildProducerStateLocked();
    } catch (e) {
      throw this.fail(e);
    }
  }

  /** Deletes everything and restarts the log empty at `offset`. */
  async truncateFullyAndStartAt(offset: number): Promise<void> {
    this.ensureWritable();
    await this.drain();
    this.ensureWritable();
    this.truncateFullyAndStartAtLocked(offset);
  }

  private truncateFullyAndStartAtLocked(offset: number): void {
    this._layoutVersion++;
    this._cleanerCheckpoint = offset;
    try {
      for (const s of this.segments) s.deleteFiles();
      this.segments = [LogSegment.create(this.dir, offset, this.segmentOptions)];
    } catch (e) {
      throw this.fail(e);
    }
    this.writtenEnd = offset;
    this.assignedEnd = offset;
    this.epochCache.clear();
    this.producerState.clear();
    this.producerState.deleteSnapshots({ above: -1 });
    this._logStartOffset = offset;
    this._highWatermark = offset;
    this._recoveryPoint = offset;
  }

  /**
   * Moves logStartOffset forward (DeleteRecords, or a follower following its leader's log
   * start); whole segments below it are deleted by the next retention run. Returns whether
   * it moved.
   */
  maybeIncrementLogStartOffset(offset: number): boolean {
    if (offset <= this._logStartOffset) return false;
    if (offset > this._highWatermark) {
      throw new OffsetOutOfRangeError(offset, this._logStartOffset, this._highWatermark, `${this.where} (the log start offset cannot pass the high watermark)`);
    }
    this._logStartOffset = offset;
    this.epochCache.truncateFromStart(offset);
    return true;
  }

  /**
   * Retention: deletes whole segments (never the active one) that are entirely below the log
   * start offset, older than retention.ms, or beyond retention.bytes. Files are renamed
   * `*.deleted` and removed after file.delete.delay.ms, so a read that already holds one
   * finishes. Returns the number of segments deleted.
   */
  deleteOldSegments(): number {
    if (this.closed) return 0;
    const now = this.now();
    this.producerState.removeExpiredProducers(now, this.producerIdExpirationMs); // producer.id.expiration.ms, on the retention schedule
    const { retentionMs, retentionBytes } = this.config;
    let excessBytes = retentionBytes >= 0 ? this.size - retentionBytes : 0;
    let deletable = 0;
    for (let i = 0; i < this.segments.length - 1; i++) {
      const segment = this.segments[i]!;
      const next = this.segments[i + 1]!;
      const belowStart = next.baseOffset <= this._logStartOffset;
      const { cleanupDelete } = this.config; // compact alone: no retention by time or size (Kafka's)
      const expired = cleanupDelete && retentionMs >= 0 && now - segment.largestTimestamp > retentionMs;
      const overSize = cleanupDelete && retentionBytes >= 0 && excessBytes >= segment.size;
      // Never delete what consumers may not have seen committed yet: stay below the HW.
      if (next.baseOffset > this._highWatermark && !belowStart) break;
      if (!(belowStart || expired || overSize)) break;
      excessBytes -= segment.size;
      deletable++;
    }
    if (deletable === 0) return 0;
    const doomed = this.segments.splice(0, deletable);
    this._logStartOffset = Math.max(this._logStartOffset, this.segments[0]!.baseOffset);
    this.epochCache.truncateFromStart(this._logStartOffset);
    try {
      this.producerState.deleteSnapshots({ below: this.segments[0]!.baseOffset });
    } catch (e) {
      this.fail(e);
    }
    for (const segment of doomed) this.scheduleDelete(segment);
    return deletable;
  }

  private scheduleDelete(segment: LogSegment, alreadyMarked = false): void {
    try {
      if (!alreadyMarked) segment.markDeleted();
    } catch (e) {
      this.fail(e);
      return;
    }
    if (this.config.fileDeleteDelayMs <= 0) {
      segment.deleteFiles();
      return;
    }
    const timer = setTimeout(() => {
      this.pendingDeletes.delete(timer);
      segment.deleteFiles();
    }, this.config.fileDeleteDelayMs);
    timer.unref();
    this.pendingDeletes.add(timer);
  }

  // ---------------------------------------------------------------------------------------
  // Flush and lifecycle

  /** fsyncs every segment holding offsets ≥ the recovery point; then recoveryPoint = LEO. */
  flush(): void {
    if (this.filesClosed || this.failure) return;
    const leo = this.logEndOffset;
    const started = this.options.onFlush ? process.hrtime.bigint() : 0n;
    try {
      for (let i = 0; i < this.segments.length; i++) {
        const segment = this.segments[i]!;
        const nextBase = this.segments[i + 1]?.baseOffset ?? Infinity;
        if (nextBase > this._recoveryPoint) segment.flush();
      }
    } catch (e) {
      throw this.fail(e);
    }
    this._recoveryPoint = leo;
    this.unflushedMessages = 0;
    this.lastFlushMs = this.now();
    if (this.options.onFlush) this.options.onFlush(Number(process.hrtime.bigint() - started) / 1e9);
  }

  /** Applies flush.ms: flushes when the last flush is older than it. */
  flushIfDue(): boolean {
    if (this.closed || this.unflushedMessages === 0 || this.now() - this.lastFlushMs < this.config.flushMs) return false;
    this.flush();
    return true;
  }

  /**
   * Waits for queued writes, flushes and closes the files (a clean shutdown). The log is
   * unusable afterwards.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true; // no new appends from here on
    await this.drain();
    this.closeLocked();
  }

  private closeLocked(): void {
    if (!this.failure) {
      try {
        this.flush();
        // Kafka's snapshot on close: the next (clean) load reads no batch header at all.
        this.producerState.takeSnapshot(this.logEndOffset);
      } catch {
        // a flush failure is already recorded; a snapshot that could not be written only costs a scan
      }
    }
    for (const timer of this.pendingDeletes) {
      clearTimeout(timer);
    }
    this.pendingDeletes.clear();
    for (const s of this.segments) s.close();
    this.filesClosed = true;
  }

  /**
   * Drops the log without flushing or writing anything, leaving the files as a kill -9
   * would (pending index entries are lost, nothing is fsynced). For crash tests.
   */
  abandon(): void {
    if (this.inFlight.length > 0 || this.writeQueue.length > 0) throw new Error('abandon() with writes in flight: await them first');
    this.closed = true;
    this.filesClosed = true;
    for (const timer of this.pendingDeletes) clearTimeout(timer);
    for (const s of this.segments) s.abandon();
  }

  /** Closes and removes the partition directory (topic deletion). */
  async delete(): Promise<void> {
    await this.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The steps of a segment swap, after each of which a crash leaves a loadable log. */
export type SwapStep = 'cleaned' | 'swap' | 'old-deleted' | 'renamed';

/** Thrown by a test's swap-step hook to stop a swap as a crash would (not an I/O error). */
export class InjectedCrash extends Error {
  constructor(readonly step: SwapStep) {
    super(`injected crash after step ${step}`);
    this.name = 'InjectedCrash';
  }
}

/**
 * The offset after the last whole batch of a segment file (its base offset if it has none),
 * from batch headers only: what a `.swap` file covers.
 */
function nextOffsetOfLogFile(path: string, baseOffset: number): number {
  const fd = openSync(path, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    const header = Buffer.alloc(61);
    let next = baseOffset;
    for (let pos = 0; pos + header.length <= fileSize; ) {
      if (readSync(fd, header, 0, header.length, pos) < header.length) break;
      const size = 12 + header.readInt32BE(8);
      if (size < header.length || pos + size > fileSize) break;
      next = batchLastOffset(header, 0) + 1;
      pos += size;
    }
    return next;
  } finally {
    closeSync(fd);
  }
}

function clamp(value: number, lo: number, hi: number): number {
  return Math.min(Math.max(value, lo), hi);
}

/** LogAppendTime: sets the timestamp-type bit and maxTimestamp, then re-computes the CRC. */
function stampLogAppendTime(buf: Buffer, pos: number, size: number, nowMs: number): void {
  buf.writeInt16BE(buf.readInt16BE(pos + ATTRIBUTES_OFFSET) | TIMESTAMP_TYPE_MASK, pos + ATTRIBUTES_OFFSET);
  writeSafeInt64(buf, nowMs, pos + MAX_TIMESTAMP_OFFSET);
  buf.writeUInt32BE(computeBatchCrc(buf, pos, size), pos + CRC_OFFSET);
}
