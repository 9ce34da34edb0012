/**
 * LogCleaner: log compaction for logs with cleanup.policy=compact (Kafka's LogCleaner). It
 * keeps, for every key, only the record with the largest offset; records keep their offsets
 * (a compacted log has gaps).
 *
 * One clean of one log, as Kafka's Cleaner.doClean:
 *   1. The dirty section runs from the cleaner checkpoint (`firstDirtyOffset`, kept in
 *      `<log dir>/cleaner-offset-checkpoint`) to the first uncleanable offset: the active
 *      segment's base, or the first segment not wholly below the high watermark, or the
 *      first segment with a record younger than min.compaction.lag.ms.
 *   2. An OffsetMap (key hash → last offset, bounded by log.cleaner.dedupe.buffer.size) is
 *      built over the dirty section. When it fills, the clean stops where it reached (the
 *      next checkpoint lands there) and the rest waits for the next run.
 *   3. Every segment from the log start up to that point is rewritten, in groups of
 *      consecutive segments that fit one segment (segment.bytes, index size): a record is
 *      kept when the map has no later offset for its key. Batches whose records are all kept
 *      are copied byte for byte; others are re-encoded (encodeRetainedBatch: offsets,
 *      timestamps, headers, producer fields, codec kept). Tombstones (null values) are kept
 *      until their delete horizon (KIP-534): the first clean that keeps a tombstone stamps
 *      its batch with now + delete.retention.ms, and a clean after that horizon drops it.
 *      An idempotent producer's last batch stays (emptied if need be), so its sequence
 *      survives. Records without a key cannot be compacted and are dropped (Kafka's
 *      "invalid message" count); the leader refuses them for compacted topics anyway.
 *   4. Each group is written to `<base>.log.cleaned`, fsynced, and swapped in by
 *      PartitionLog.replaceSegmentsLocked (`.cleaned` → `.swap` → `.log`, old files
 *      `.deleted`; a crash at any step is completed or rolled back on load).
 *
 * Logs are chosen dirtiest first (dirty bytes / (clean + dirty) ≥ min.cleanable.dirty.ratio,
 * or a record older than max.compaction.lag.ms still dirty).
 *
 * Concurrency: runs on the broker's event loop, in slices of about `sliceBytes` (256 KiB) read, with a
 * yield to the event loop (setImmediate) between slices, and a sleep when over
 * log.cleaner.io.max.bytes.per.second. Reads and the swap are synchronous within a slice; the
 * log may change between slices (retention, truncation, roll), so each slice first checks
 * that its segments are still the log's and the log's layout version is unchanged, and
 * abandons the clean otherwise (nothing is swapped; the `.cleaned` file is deleted). A
 * worker thread would take the CPU of decoding off the event loop, but would need its own
 * file handles and a second owner of the segment list; on 2 small cores the slices (256 KiB,
 * a few ms) keep produce latency flat enough and keep one owner of every file. fsyncs of
 * the cleaned files run on libuv's thread pool.
 */
import { closeSync, existsSync, fsync, openSync, unlinkSync, writeSync } from 'node:fs';
import {
  BATCH_LENGTH_OFFSET,
  DELETE_HORIZON_MASK,
  LOG_OVERHEAD,
  batchAttributes,
  batchBaseOffset,
  batchBaseTimestamp,
  batchIsControl,
  batchLastOffset,
  batchProducerId,
  batchRecordsCount,
  encodeRetainedBatch,
  forEachRecord,
} from '@tributary/records';
import type { RetainedRecordInput } from '@tributary/records';
import { CLEANED_FILE_SUFFIX, LOG_FILE_SUFFIX, segmentFilePath } from './files';
import type { LogSegment } from './log-segment';
import type { PartitionLog, SwapStep } from './partition-log';

export const CLEANER_OFFSET_CHECKPOINT_FILE = 'cleaner-offset-checkpoint';

/** Bytes per OffsetMap entry: a 16-byte MD5 of the key and an 8-byte offset (Kafka's SkimpyOffsetMap). */
const OFFSET_MAP_ENTRY_BYTES = 24;
/** log.cleaner.io.buffer.load.factor: how full the map may get. */
const OFFSET_MAP_LOAD_FACTOR = 0.9;

export interface LogCleanerOptions {
  /** log.cleaner.dedupe.buffer.size: memory for the offset map, in bytes (default 128 MiB). */
  dedupeBufferSize?: number;
  /** log.cleaner.io.max.bytes.per.second: read + write throttle (default unlimited). */
  ioMaxBytesPerSecond?: number;
  /** log.cleaner.backoff.ms: sleep when no log needs cleaning (default 15 s). */
  backoffMs?: number;
  /** Bytes read between two yields to the event loop (default 256 KiB). */
  sliceBytes?: number;
  now?: () => number;
  /** How the throttle waits (tests inject one that moves their clock). */
  sleep?: (ms: number) => Promise<void>;
  /** Tests: called after each swap step; may throw InjectedCrash. */
  onSwapStep?: (step: SwapStep) => void;
}

export interface CleanerStats {
  /** Cleans completed. */
  runs: number;
  /** Cleans abandoned because the log changed under them. */
  aborted: number;
  bytesRead: number;
  bytesWritten: number;
  /** Records dropped (superseded, expired tombstones, keyless). */
  recordsRemoved: number;
  /** Time the throttle made the cleaner wait, in ms. */
  throttledMs: number;
  /** Compacted logs skipped since a clean failed on them (until restart). */
  uncleanableLogs: number;
  /** Largest dirty ratio among compacted logs at the last selection. */
  maxDirtyRatio: number;
  /** Wall time of the last clean, in ms. */
  lastCleanMs: number;
}

/** What a log's dirty section looks like now. */
export interface CleanableLog {
  log: PartitionLog;
  firstDirtyOffset: number;
  /** Segments at or above this offset are not cleaned this time (segment boundary). */
  firstUncleanableOffset: number;
  cleanBytes: number;
  dirtyBytes: number;
  dirtyRatio: number;
  /** A dirty record is older than max.compaction.lag.ms: clean whatever the ratio. */
  overdue: boolean;
}

export interface CleanResult {
  /** false when the clean was abandoned (the log changed meanwhile). */
  completed: boolean;
  /** The new cleaner checkpoint. */
  endOffset: number;
  bytesRead: number;
  bytesWritten: number;
  recordsRemoved: number;
}

/**
 * Kafka's SkimpyOffsetMap: open addressing over 128-bit key hashes, bounded memory; a key is
 * never stored, only its hash. Kafka hashes with MD5; Node's crypto costs ~3 µs a call for a
 * short key (the call, not the digest), which was 90% of a clean, so the hash here is four
 * MurmurHash3 (x86, 32-bit) lanes with distinct seeds over the key bytes, ~0.1 µs. Like
 * Kafka's MD5, it is not meant to resist keys crafted to collide; for keys that are not, a
 * collision (two keys merged) is as unlikely as with MD5's 128 bits.
 */
export class OffsetMap {
  readonly slots: number;
  /** Entries the map accepts (slots × load factor). */
  readonly capacity: number;
  private readonly hashes: Buffer;
  private readonly offsets: Float64Array;
  size = 0;
  /** Largest offset put (-1 if none). */
  latestOffset = -1;

  constructor(memoryBytes: number) {
    this.slots = Math.max(2, Math.floor(memoryBytes / OFFSET_MAP_ENTRY_BYTES));
    this.capacity = Math.max(1, Math.floor(this.slots * OFFSET_MAP_LOAD_FACTOR));
    this.hashes = Buffer.alloc(this.slots * 16);
    this.words = new Uint32Array(this.hashes.buffer, this.hashes.byteOffset, this.slots * 4);
    this.offsets = new Float64Array(this.slots).fill(-1);
  }

  /** The hash of the last key looked at (four 32-bit lanes). */
  private readonly h = new Uint32Array(4);
  private readonly words: Uint32Array;

  /** Hashes `buf[start, start + length)` (a key) into `this.h`. */
  private hashKey(buf: Buffer, start: number, length: number): void {
    this.h[0] = murmur3(buf, start, length, 0x9747b28c);
    this.h[1] = murmur3(buf, start, length, 0x5bd1e995);
    this.h[2] = murmur3(buf, start, length, 0x1b873593);
    this.h[3] = murmur3(buf, start, length, 0xcc9e2d51 ^ length);
  }

  /** The slot holding the hash in `this.h`, or the empty slot where it would go. */
  private slotOfHash(): number {
    const h = this.h;
    const w = this.words;
    let slot = h[0]! % this.slots;
    for (;;) {
      if (this.offsets[slot]! < 0) return slot;
      const at = slot * 4;
      if (w[at] === h[0] && w[at + 1] === h[1] && w[at + 2] === h[2] && w[at + 3] === h[3]) return slot;
      slot = slot + 1 === this.slots ? 0 : slot + 1;
    }
  }

  get isFull(): boolean {
    return this.size >= this.capacity;
  }

  /** Records `offset` as the latest for the key `buf[start, start + length)` (offsets only grow). */
  put(buf: Buffer, start: number, length: number, offset: number): void {
    this.hashKey(buf, start, length);
    const slot = this.slotOfHash();
    if (this.offsets[slot]! < 0) {
      if (this.isFull) throw new Error('offset map is full');
      this.words.set(this.h, slot * 4);
      this.size++;
    }
    this.offsets[slot] = offset;
    if (offset > this.latestOffset) this.latestOffset = offset;
  }

  /** The latest offset of the key `buf[start, start + length)`, or -1. */
  get(buf: Buffer, start: number, length: number): number {
    this.hashKey(buf, start, length);
    return this.offsets[this.slotOfHash()]!;
  }

  /** The map's memory, as bytes (to touch its pages ahead of use). */
  memory(): Buffer[] {
    return [this.hashes, Buffer.from(this.offsets.buffer, this.offsets.byteOffset, this.offsets.byteLength)];
  }

  clear(): void {
    this.offsets.fill(-1);
    this.size = 0;
    this.latestOffset = -1;
  }
}

/** The clean was overtaken by a change to the log. */
class CleanAbandoned extends Error {}

export class LogCleaner {
  readonly stats: CleanerStats = { runs: 0, aborted: 0, uncleanableLogs: 0, throttledMs: 0, bytesRead: 0, bytesWritten: 0, recordsRemoved: 0, maxDirtyRatio: 0, lastCleanMs: 0 };
  /** Allocated at the first clean (a broker without compacted logs never pays for it). */
  private mapInstance: OffsetMap | undefined;
  private readonly now: () => number;
  private readonly sliceBytes: number;
  private readonly ioMaxBytesPerSecond: number;
  private readonly backoffMs: number;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  /**
   * Logs a clean failed on (e.g. a corrupt batch): skipped from then on, as Kafka marks a
   * partition uncleanable, instead of failing again every backoff.
   */
  private readonly uncleanable = new WeakSet<PartitionLog>();
  /** Throttle window: bytes since `windowStartMs`. */
  private windowStartMs = 0;
  private windowBytes = 0;

  constructor(
    private readonly options: LogCleanerOptions,
    /** The logs to consider (LogManager's online logs). */
    private readonly logs: () => PartitionLog[],
    /** Called after a log's checkpoint moved (LogManager writes cleaner-offset-checkpoint). */
    private readonly onCheckpoint: (log: PartitionLog) => void = () => {},
    private readonly onError: (log: PartitionLog, error: unknown) => void = () => {},
  ) {
    this.now = options.now ?? Date.now;
    this.sliceBytes = options.sliceBytes ?? 256 * 1024;
    this.ioMaxBytesPerSecond = options.ioMaxBytesPerSecond ?? Infinity;
    this.backoffMs = options.backoffMs ?? 15_000;
  }

  private get map(): OffsetMap {
    if (!this.mapInstance) throw new Error('the offset map is not allocated yet');
    return this.mapInstance;
  }

  /**
   * Allocates the offset map and touches its pages a few MiB at a time, yielding between
   * them: first writes to fresh pages cost page faults, which would otherwise land, all at
   * once and scattered by hashing, in the first slice of the first clean.
   */
  private async allocateMap(): Promise<void> {
    if (this.mapInstance) return;
    const map = new OffsetMap(this.options.dedupeBufferSize ?? 128 * 1024 * 1024);
    for (const view of map.memory()) {
      for (let at = 0; at < view.length; at += 4 * 1024 * 1024) {
        view.fill(0, at, Math.min(view.length, at + 4 * 1024 * 1024));
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    this.mapInstance ??= map;
  }

  /** Starts the background loop: clean the dirtiest log, or sleep log.cleaner.backoff.ms. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        let cleaned = false;
        try {
          cleaned = await this.cleanDirtiest();
        } catch {
          cleaned = false; // reported through onError; back off
        }
        if (!cleaned && this.running) await this.sleep(this.backoffMs);
      }
    })();
  }

  /** Stops the loop after the current slice (an unfinished clean is abandoned, nothing swapped). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.wake?.();
    await this.loop;
    this.loop = undefined;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.sleepTimer = setTimeout(resolve, ms);
      this.sleepTimer.unref();
    });
  }

  /** Every compacted log's dirty section, dirtiest first (those that qualify first). */
  cleanableLogs(): CleanableLog[] {
    const out: CleanableLog[] = [];
    let maxRatio = 0;
    for (const log of this.logs()) {
      if (!log.isCompacted || log.isClosed || log.isFailed || this.uncleanable.has(log)) continue;
      const info = this.cleanableInfo(log);
      maxRatio = Math.max(maxRatio, info.dirtyRatio);
      out.push(info);
    }
    this.stats.maxDirtyRatio = maxRatio;
    return out.sort((a, b) => b.dirtyRatio - a.dirtyRatio);
  }

  /** Where a log's dirty section is and how dirty it is (Kafka's LogCleanerManager.cleanableOffsets). */
  cleanableInfo(log: PartitionLog): CleanableLog {
    const config = log.currentConfig;
    const now = this.now();
    const segments = log.segmentsSnapshot();
    const firstDirtyOffset = Math.max(log.cleanerCheckpoint, log.logStartOffset);
    let firstUncleanableOffset = segments.at(-1)!.baseOffset;
    let cleanBytes = 0;
    let dirtyBytes = 0;
    let overdue = false;
    for (let i = 0; i < segments.length - 1; i++) {
      const segment = segments[i]!;
      const nextBase = segments[i + 1]!.baseOffset;
      if (nextBase <= firstDirtyOffset) {
        cleanBytes += segment.size;
        continue;
      }
      const tooYoung = config.minCompactionLagMs > 0 && now - segment.largestTimestamp < config.minCompactionLagMs;
      if (nextBase > log.highWatermark || tooYoung) {
        firstUncleanableOffset = segment.baseOffset;
        break;
      }
      dirtyBytes += segment.size;
      if (Number.isFinite(config.maxCompactionLagMs) && now - segment.rollingBasedTimestamp > config.maxCompactionLagMs) overdue = true;
    }
    if (firstUncleanableOffset < firstDirtyOffset) firstUncleanableOffset = firstDirtyOffset;
    const total = cleanBytes + dirtyBytes;
    return { log, firstDirtyOffset, firstUncleanableOffset, cleanBytes, dirtyBytes, dirtyRatio: total > 0 ? dirtyBytes / total : 0, overdue };
  }

  /** Cleans the dirtiest log that qualifies; false when none does. */
  async cleanDirtiest(): Promise<boolean> {
    const candidate = this.cleanableLogs().find(
      (c) => c.dirtyBytes > 0 && (c.overdue || c.dirtyRatio >= c.log.currentConfig.minCleanableDirtyRatio),
    );
    if (!candidate) return false;
    try {
      const result = await this.clean(candidate.log);
      return result.completed;
    } catch (e) {
      this.uncleanable.add(candidate.log);
      this.stats.uncleanableLogs++;
      this.onError(candidate.log, e);
      throw e;
    }
  }

  /** Cleans one log now, whatever its dirty ratio (the dirty section must not be empty to do anything). */
  async clean(log: PartitionLog): Promise<CleanResult> {
    const started = this.now();
    const info = this.cleanableInfo(log);
    const result: CleanResult = { completed: false, endOffset: info.firstDirtyOffset, bytesRead: 0, bytesWritten: 0, recordsRemoved: 0 };
    if (info.firstUncleanableOffset <= info.firstDirtyOffset) return { ...result, completed: true };
    const version = log.layoutVersion;
    const segments = log.segmentsSnapshot();
    const check = (segment: LogSegment): void => {
      if (!this.running && this.loop !== undefined) throw new CleanAbandoned('cleaner stopped');
      if (log.layoutVersion !== version || log.isClosed || log.isFailed || !log.hasSegment(segment)) {
        throw new CleanAbandoned(`${log.topicPartition.topic}-${log.topicPartition.partition} changed during the clean`);
      }
    };
    try {
      // 2. The offset map over the dirty section.
      await this.allocateMap();
      check(segments[0]!);
      this.map.clear();
      let endOffset = info.firstUncleanableOffset;
      build: for (const segment of segments) {
        if (segment.baseOffset >= info.firstUncleanableOffset) break;
        if (segment.nextOffset <= info.firstDirtyOffset) continue;
        let position = segment.translateOffset(info.firstDirtyOffset)?.position ?? 0;
        while (position < segment.size) {
          check(segment);
          const { records } = segment.read(position, this.sliceBytes, Infinity, true);
          if (records.length === 0) break;
          for (let pos = 0; pos < records.length; ) {
            const size = LOG_OVERHEAD + records.readInt32BE(pos + BATCH_LENGTH_OFFSET);
            if (!batchIsControl(records, pos) && batchLastOffset(records, pos) >= info.firstDirtyOffset) {
              if (this.map.size + batchRecordsCount(records, pos) > this.map.capacity) {
                endOffset = batchBaseOffset(records, pos);
                if (endOffset <= info.firstDirtyOffset) {
                  throw new Error(`log.cleaner.dedupe.buffer.size is too small for one batch of ${batchRecordsCount(records, pos)} records`);
                }
                break build;
              }
              forEachRecord(records, pos, (record) => {
                if (record.offset >= info.firstDirtyOffset && record.keyLength >= 0) {
                  this.map.put(record.buffer, record.keyStart, record.keyLength, record.offset);
                }
              });
            }
            pos += size;
          }
          position += records.length;
          result.bytesRead += records.length;
          await this.throttle(records.length);
        }
      }
      // 3–4. Rewrite the segments below endOffset, group by group.
      const cleanable = segments.filter((s, i) => i < segments.length - 1 && s.baseOffset < endOffset);
      const config = log.currentConfig;
      const now = this.now();
      for (const group of groupSegments(cleanable, config.segmentBytes)) {
        await this.cleanGroup(log, group, now, check, result);
      }
      result.endOffset = endOffset;
      result.completed = true;
      log.updateCleanerCheckpoint(endOffset);
      this.onCheckpoint(log);
      this.stats.runs++;
      this.stats.lastCleanMs = this.now() - started;
    } catch (e) {
      if (!(e instanceof CleanAbandoned)) throw e;
      this.stats.aborted++;
    } finally {
      this.stats.bytesRead += result.bytesRead;
      this.stats.bytesWritten += result.bytesWritten;
      this.stats.recordsRemoved += result.recordsRemoved;
    }
    return result;
  }

  /** Writes the retained batches of `group` to `<base>.log.cleaned` and swaps it in. */
  private async cleanGroup(log: PartitionLog, group: LogSegment[], now: number, check: (s: LogSegment) => void, result: CleanResult): Promise<void> {
    const base = group[0]!.baseOffset;
    const cleanedPath = segmentFilePath(log.dir, base, LOG_FILE_SUFFIX + CLEANED_FILE_SUFFIX);
    if (existsSync(cleanedPath)) unlinkSync(cleanedPath);
    const fd = openSync(cleanedPath, 'wx');
    let closed = false;
    const { deleteRetentionMs } = log.currentConfig;
    const producers = log.producerStateManager;
    try {
      for (const segment of group) {
        let position = 0;
        while (position < segment.size) {
          check(segment);
          const { records } = segment.read(position, this.sliceBytes, Infinity, true);
          if (records.length === 0) break;
          const out: Buffer[] = [];
          for (let pos = 0; pos < records.length; ) {
            const size = LOG_OVERHEAD + records.readInt32BE(pos + BATCH_LENGTH_OFFSET);
            const kept = this.filterBatch(records, pos, size, now, deleteRetentionMs, producers.lastEntry(Number(batchProducerId(records, pos)))?.batches.at(-1)?.lastOffset);
            if (kept) out.push(kept);
            result.recordsRemoved += batchRecordsCount(records, pos) - (kept ? batchRecordsCount(kept, 0) : 0);
            pos += size;
          }
          let written = 0;
          for (const b of out) written += writeFully(fd, b);
          position += records.length;
          result.bytesRead += records.length;
          result.bytesWritten += written;
          await this.throttle(records.length + written);
        }
      }
      // On the thread pool: a whole segment's worth of dirty pages must not stall the event loop.
      await new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
      closeSync(fd);
      closed = true;
      for (const s of group) check(s);
      if (!log.replaceSegmentsLocked(group, cleanedPath, this.options.onSwapStep)) throw new CleanAbandoned('segments changed before the swap');
    } finally {
      if (!closed) {
        closeSync(fd);
        if (existsSync(cleanedPath)) unlinkSync(cleanedPath);
      }
    }
  }

  /**
   * The batch at records[pos] as it should be after cleaning: the same bytes when every record
   * stays (and no tombstone needs a delete horizon), a re-encoded batch, or undefined when
   * nothing stays. `producerLastOffset` is the last offset of the batch's producer's latest
   * batch, if the producer is known.
   */
  private filterBatch(records: Buffer, pos: number, size: number, now: number, deleteRetentionMs: number, producerLastOffset: number | undefined): Buffer | undefined {
    const batch = records.subarray(pos, pos + size);
    if (batchIsControl(batch, 0)) return batch;
    const horizon = (batchAttributes(batch, 0) & DELETE_HORIZON_MASK) !== 0 ? batchBaseTimestamp(batch, 0) : undefined;
    const dropTombstones = horizon !== undefined && now >= horizon;
    const kept: RetainedRecordInput[] = [];
    let all = true;
    let tombstones = false;
    forEachRecord(batch, 0, (record) => {
      let keep = false;
      if (record.keyLength >= 0) {
        const latest = this.map.get(record.buffer, record.keyStart, record.keyLength);
        const isTombstone = record.valueLength < 0;
        keep = record.offset >= latest && !(isTombstone && dropTombstones);
        if (keep && isTombstone) tombstones = true;
      }
      if (keep) {
        kept.push({ offsetDelta: record.offsetDelta, timestamp: record.timestamp, key: record.key(), value: record.value(), headers: record.headers() });
      } else {
        all = false;
      }
    });
    const needsHorizon = tombstones && horizon === undefined;
    if (all && !needsHorizon) return batch;
    const isProducersLast = batchProducerId(batch, 0) >= 0n && producerLastOffset === batchLastOffset(batch, 0);
    if (kept.length === 0 && !isProducersLast) return undefined;
    return encodeRetainedBatch(batch, 0, kept, tombstones ? (horizon ?? Math.min(now + deleteRetentionMs, Number.MAX_SAFE_INTEGER)) : undefined);
  }

  /**
   * Sleeps as long as log.cleaner.io.max.bytes.per.second requires (Kafka's Throttler: the
   * bytes since the window started, at the allowed rate, must not take less time than has
   * passed), and yields to the event loop.
   */
  private async throttle(bytes: number): Promise<void> {
    if (Number.isFinite(this.ioMaxBytesPerSecond) && this.ioMaxBytesPerSecond > 0) {
      const nowMs = this.now();
      if (this.windowBytes === 0 || nowMs - this.windowStartMs > 1000) {
        this.windowStartMs = nowMs;
        this.windowBytes = 0;
      }
      this.windowBytes += bytes;
      const aheadMs = (this.windowBytes / this.ioMaxBytesPerSecond) * 1000 - (nowMs - this.windowStartMs);
      if (aheadMs > 0) {
        this.stats.throttledMs += aheadMs;
        await (this.options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))))(aheadMs);
        this.windowBytes = 0; // the window's bytes are paid for
        return;
      }
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * Consecutive segments grouped so that each group's output fits one segment: at most
 * segment.bytes, relative offsets within uint32, index entries within segment.index.bytes
 * (Kafka's groupSegmentsBySize).
 */
export function groupSegments(segments: LogSegment[], segmentBytes: number): LogSegment[][] {
  const groups: LogSegment[][] = [];
  let current: LogSegment[] = [];
  let bytes = 0;
  let entries = 0;
  for (const segment of segments) {
    const first = current[0];
    const fits =
      first !== undefined &&
      bytes + segment.size <= segmentBytes &&
      segment.lastOffset - first.baseOffset <= 0xffff_ffff &&
      entries + segment.offsetIndex.entries + 1 <= first.offsetIndex.maxEntries;
    if (first !== undefined && !fits) {
      groups.push(current);
      current = [];
      bytes = 0;
      entries = 0;
    }
    current.push(segment);
    bytes += segment.size;
    entries += segment.offsetIndex.entries + 1;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** MurmurHash3 x86 32-bit of `buf[start, start + length)` with `seed` (Appleby's reference). */
export function murmur3(buf: Buffer, start: number, length: number, seed: number): number {
  let h = seed >>> 0;
  const end = start + length;
  const blocksEnd = start + (length & ~3);
  let i = start;
  for (; i < blocksEnd; i += 4) {
    let k = buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = end - i;
  if (rest > 0) {
    let k = buf[i]!;
    if (rest >= 2) k ^= buf[i + 1]! << 8;
    if (rest >= 3) k ^= buf[i + 2]! << 16;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function writeFully(fd: number, buf: Buffer): number {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done);
  return buf.length;
}
