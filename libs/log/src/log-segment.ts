/**
 * One segment of a partition log: `<base>.log` holding whole RecordBatch v2 back to back, with
 * its sparse `.index` (offset → position) and `.timeindex` (timestamp → offset).
 *
 *   <base>.log        batch | batch | batch ...           (bytes exactly as appended)
 *   <base>.index      relOffset uint32 | position uint32  (one per index.interval.bytes)
 *   <base>.timeindex  timestamp int64 | relOffset uint32  (same cadence, max timestamp so far)
 *
 * The segment trusts the batches it is given (PartitionLog validated them); it keeps
 * `size` (bytes of valid data), `nextOffset` (offset after its last batch) and the largest
 * timestamp seen. Reads walk batch headers from an index hint; every batch returned is
 * CRC-checked (`verifyOnRead`), so bit rot is reported, never served. A wrong index hint is
 * detected (the batch at the hinted position must start at the hinted offset) and answered
 * from a scan, and the indexes are rebuilt.
 *
 * Concurrency: owned by one PartitionLog. Writes are queued by the log, run on libuv's thread
 * pool one at a time per log, and become visible (`size`, indexes) only when complete
 * (`completeWrite`), in order; everything else is synchronous, so a read never sees a
 * half-done append. Buffers returned by `read` are fresh (or the caller's `into`): the caller
 * owns them and they stay valid after the segment is deleted.
 */
import { closeSync, existsSync, fdatasync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readSync, renameSync, unlinkSync, writev, writevSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import {
  BATCH_LENGTH_OFFSET,
  CorruptRecordError,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAX_TIMESTAMP_OFFSET,
  MIN_BATCH_LENGTH,
  RECORDS_OFFSET,
  batchBaseOffset,
  batchLastOffset,
  batchMaxTimestamp,
  batchPartitionLeaderEpoch,
  readSafeInt64,
  validateBatchAt,
} from '@tributary/records';
import { DELETED_FILE_SUFFIX, INDEX_FILE_SUFFIX, LOG_FILE_SUFFIX, TIME_INDEX_FILE_SUFFIX, segmentFilePath } from './files';
import { CorruptIndexError, OffsetIndex, TimeIndex } from './sparse-index';

/** Bytes read at a time when walking batch headers or recovering. */
const SCAN_CHUNK_BYTES = 256 * 1024;
/** Relative offsets in the index are uint32. */
const MAX_RELATIVE_OFFSET = 0xffff_ffff;

export interface SegmentOptions {
  indexIntervalBytes: number;
  segmentIndexBytes: number;
  /** Largest batch the log accepts: bounds what recovery believes a batchLength can be. */
  maxBatchBytes: number;
  /**
   * Offsets are dense (every batch starts right after the previous one), as in any log that
   * is not compacted. Recovery then also rejects a batch whose baseOffset — a field the CRC
   * does not cover — was damaged. Compacted logs have gaps and turn this off.
   */
  denseOffsets: boolean;
  /** Wall clock, in ms (injectable for tests). */
  now: () => number;
}

/** What a header walk reports for each batch. */
export interface BatchLocation {
  position: number;
  baseOffset: number;
  lastOffset: number;
  size: number;
  maxTimestamp: number;
}

export interface SegmentReadResult {
  /** Whole batches, a view of a fresh buffer (or of `into`). */
  records: Buffer;
  /** Offset after the last batch returned. */
  nextOffset: number;
}

export class LogSegment {
  private fd: number;
  private readonly header = Buffer.alloc(RECORDS_OFFSET);
  private bytesSinceLastIndexEntry = 0;
  /** Bytes of valid data written to the .log file (what reads see). */
  size: number;
  /** Bytes written plus bytes reserved by queued writes (what appends and rolls see). */
  reservedSize: number;
  /** Batches reserved and not yet written (each may add an index entry). */
  private reservedBatches = 0;
  /** Offset following the last batch (baseOffset when empty). */
  nextOffset: number;
  /** Largest batch maxTimestamp in the segment (-1 if none) and the offset that has it. */
  maxTimestampSoFar = -1;
  offsetOfMaxTimestampSoFar = -1;
  /** maxTimestamp of the first batch (what Kafka measures segment.ms from). */
  private firstBatchTimestamp = -1;
  /** Wall-clock ms of the first append made by this process, if any. */
  private firstAppendMs = -1;
  /** Wall-clock ms of the last change: the .log file's mtime when loaded. */
  private lastModifiedMs: number;
  /** Bytes that recovery cut from the end of the .log when the segment was opened. */
  truncatedOnRecovery = 0;
  /** Set when a lookup found an index entry that does not match the log. */
  private indexSuspect = false;
  /** Background writes and fsyncs in flight; the fd stays open until they finish. */
  private pendingIo = 0;
  private closeWhenSynced = false;
  /** markDeleted renamed the files. */
  private markedDeleted = false;

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    public offsetIndex: OffsetIndex,
    public timeIndex: TimeIndex,
    fd: number,
    size: number,
    private readonly options: SegmentOptions,
  ) {
    this.fd = fd;
    this.size = size;
    this.reservedSize = size;
    this.nextOffset = baseOffset;
    this.lastModifiedMs = size > 0 ? fstatSync(fd).mtimeMs : options.now();
  }

  /** Creates a new empty segment (files are created, an existing .log is an error). */
  static create(dir: string, baseOffset: number, options: SegmentOptions): LogSegment {
    const fd = openSync(segmentFilePath(dir, baseOffset, LOG_FILE_SUFFIX), 'wx+');
    for (const suffix of [INDEX_FILE_SUFFIX, TIME_INDEX_FILE_SUFFIX]) {
      const p = segmentFilePath(dir, baseOffset, suffix);
      if (existsSync(p)) unlinkSync(p);
    }
    const offsetIndex = new OffsetIndex(segmentFilePath(dir, baseOffset, INDEX_FILE_SUFFIX), baseOffset, options.segmentIndexBytes, true);
    const timeIndex = new TimeIndex(segmentFilePath(dir, baseOffset, TIME_INDEX_FILE_SUFFIX), baseOffset, options.segmentIndexBytes, true);
    return new LogSegment(dir, baseOffset, offsetIndex, timeIndex, fd, 0, options);
  }

  /**
   * Opens an existing segment. When `recover` is false the files are trusted (clean shutdown,
   * or below the recovery point) except for a sanity check of the indexes, which are rebuilt
   * if it fails. `active` keeps the indexes in memory for appends.
   */
  static open(
    dir: string,
    baseOffset: number,
    options: SegmentOptions,
    recover: boolean,
    active: boolean,
    onRecoveredBatch?: (leaderEpoch: number, baseOffset: number) => void,
  ): LogSegment {
    const fd = openSync(segmentFilePath(dir, baseOffset, LOG_FILE_SUFFIX), 'r+');
    const size = fstatSync(fd).size;
    const indexPath = segmentFilePath(dir, baseOffset, INDEX_FILE_SUFFIX);
    const timeIndexPath = segmentFilePath(dir, baseOffset, TIME_INDEX_FILE_SUFFIX);
    let offsetIndex: OffsetIndex;
    let timeIndex: TimeIndex;
    let needsRebuild = recover;
    try {
      offsetIndex = new OffsetIndex(indexPath, baseOffset, options.segmentIndexBytes, active);
      timeIndex = new TimeIndex(timeIndexPath, baseOffset, options.segmentIndexBytes, active);
      offsetIndex.sanityCheck(size);
      timeIndex.sanityCheck();
    } catch (e) {
      if (!(e instanceof CorruptIndexError)) throw e;
      for (const p of [indexPath, timeIndexPath]) if (existsSync(p)) unlinkSync(p);
      offsetIndex = new OffsetIndex(indexPath, baseOffset, options.segmentIndexBytes, true);
      timeIndex = new TimeIndex(timeIndexPath, baseOffset, options.segmentIndexBytes, true);
      needsRebuild = true;
    }
    const segment = new LogSegment(dir, baseOffset, offsetIndex, timeIndex, fd, size, options);
    if (recover) {
      segment.truncatedOnRecovery = segment.recover(onRecoveredBatch);
    } else {
      try {
        if (needsRebuild) segment.rebuildIndexes();
        else segment.loadTail();
      } catch (e) {
        if (!(e instanceof CorruptIndexError || e instanceof CorruptRecordError)) throw e;
        try {
          segment.rebuildIndexes(); // the index lied; the .log may still be fine
        } catch (again) {
          if (!(again instanceof CorruptRecordError)) throw again;
          segment.truncatedOnRecovery = segment.recover(onRecoveredBatch); // the .log itself is damaged
        }
      }
    }
    if (!active) segment.sealIndexes();
    return segment;
  }

  /** No data written and none queued. */
  get isEmpty(): boolean {
    return this.reservedSize === 0;
  }

  /** Last offset in the segment, or baseOffset - 1 when empty. */
  get lastOffset(): number {
    return this.nextOffset - 1;
  }

  /**
   * When this segment started, for segment.ms: the wall clock of its first append in this
   * process; for a segment loaded from disk, its first batch's timestamp (Kafka's rule), else
   * the file's mtime. Using the wall clock where known keeps producers with skewed clocks
   * from forcing a roll on every append.
   */
  get rollingBasedTimestamp(): number {
    if (this.firstAppendMs >= 0) return this.firstAppendMs;
    return this.firstBatchTimestamp >= 0 ? this.firstBatchTimestamp : this.lastModifiedMs;
  }

  /** Largest record timestamp, else the last modification time (what retention.ms compares). */
  get largestTimestamp(): number {
    return this.maxTimestampSoFar >= 0 ? this.maxTimestampSoFar : this.lastModifiedMs;
  }

  /** Whether `bytes` more and offsets up to `lastOffset` still fit this segment. */
  canFit(bytes: number, batches: number, lastOffset: number, segmentBytes: number): boolean {
    if (this.reservedSize > 0 && this.reservedSize + bytes > segmentBytes) return false;
    if (this.reservedSize + bytes > 0xffff_ffff) return false; // positions are uint32 in the index
    if (lastOffset - this.baseOffset > MAX_RELATIVE_OFFSET) return false;
    // Each batch adds at most one entry to each index, when its write completes.
    const entries = this.reservedBatches + batches;
    return (
      this.offsetIndex.entries + entries <= this.offsetIndex.maxEntries && this.timeIndex.entries + entries <= this.timeIndex.maxEntries
    );
  }

  /** Reserves `bytes` at the end for a queued write; returns the position to write at. */
  reserve(bytes: number, batches: number): number {
    const position = this.reservedSize;
    this.reservedSize += bytes;
    this.reservedBatches += batches;
    return position;
  }

  /**
   * Writes `buffers` at `position` (reserved with `reserve`) on libuv's thread pool, so the
   * event loop validates the next batches meanwhile. Resolves when every byte is in the page
   * cache (it then survives the process being killed). Rejects on I/O error; the caller
   * makes that sticky. The file stays open until the write is done.
   */
  async write(buffers: Buffer[], position: number): Promise<void> {
    this.pendingIo++;
    try {
      let pending = buffers;
      let at = position;
      while (pending.length > 0) {
        const written = await new Promise<number>((resolve, reject) =>
          writev(this.fd, pending, at, (err, n) => (err ? reject(err) : resolve(n))),
        );
        if (written <= 0) throw new Error(`write to ${this.logPath} made no progress`);
        at += written;
        pending = skipBytes(pending, written);
      }
    } finally {
      this.pendingIo--;
      if (this.pendingIo === 0 && this.closeWhenSynced) this.closeNow();
    }
  }

  /**
   * Writes `buffers` at `position` (reserved with `reserve`) on the calling thread: for a
   * small append with nothing else in flight, cheaper and quicker to acknowledge than a trip
   * through the thread pool (two thread wake-ups). Throws on I/O error.
   */
  writeSync(buffers: Buffer[], position: number): void {
    let pending = buffers;
    let at = position;
    while (pending.length > 0) {
      const written = writevSync(this.fd, pending, at);
      if (written <= 0) throw new Error(`write to ${this.logPath} made no progress`);
      at += written;
      pending = skipBytes(pending, written);
    }
  }

  /**
   * Makes written batches visible: `buf` (whole batches, offsets assigned, in order) was
   * written at `position`, which must be the current end of written data. Maintains the
   * indexes and advances `size` and `nextOffset`.
   */
  completeWrite(buf: Buffer, position: number): void {
    if (position !== this.size) throw new Error(`out-of-order write completion at ${position}, size ${this.size}`);
    this.lastModifiedMs = this.options.now();
    if (this.firstAppendMs < 0 && position === 0) this.firstAppendMs = this.lastModifiedMs;
    for (let pos = 0; pos < buf.length; ) {
      const size = LOG_OVERHEAD + buf.readInt32BE(pos + BATCH_LENGTH_OFFSET);
      const base = batchBaseOffset(buf, pos);
      const last = base + buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
      this.trackBatchLocked(base, last, batchMaxTimestamp(buf, pos), position + pos, size);
      this.reservedBatches--;
      pos += size;
    }
    this.size += buf.length;
  }

  /** Index and timestamp bookkeeping for one batch at `position` (before or after writing). */
  private trackBatchLocked(baseOffset: number, lastOffset: number, maxTimestamp: number, position: number, size: number): void {
    if (this.firstBatchTimestamp < 0 && position === 0) this.firstBatchTimestamp = maxTimestamp;
    if (maxTimestamp > this.maxTimestampSoFar) {
      this.maxTimestampSoFar = maxTimestamp;
      this.offsetOfMaxTimestampSoFar = lastOffset;
    }
    if (this.bytesSinceLastIndexEntry > this.options.indexIntervalBytes) {
      this.offsetIndex.append(baseOffset, position);
      if (this.maxTimestampSoFar >= 0) this.timeIndex.maybeAppend(this.maxTimestampSoFar, this.offsetOfMaxTimestampSoFar);
      this.bytesSinceLastIndexEntry = 0;
    }
    this.bytesSinceLastIndexEntry += size;
    this.nextOffset = lastOffset + 1;
  }

  /**
   * Walks batch headers from `position` (which must be a batch boundary), calling `visit`
   * for each until it returns false or the segment ends. Reads headers in chunks; checks
   * only that sizes are sane (full validation is `read`'s and `recover`'s job). `visit` also
   * gets the batch's header bytes (`header` at `headerPos`, RECORDS_OFFSET of them), valid
   * only during the call.
   */
  walkBatches(position: number, visit: (batch: BatchLocation, header: Buffer, headerPos: number) => boolean): void {
    const chunk = Buffer.allocUnsafe(Math.min(SCAN_CHUNK_BYTES, Math.max(this.size - position, RECORDS_OFFSET)));
    let chunkStart = position;
    let chunkLen = 0;
    let pos = position;
    while (pos + RECORDS_OFFSET <= this.size) {
      if (pos + RECORDS_OFFSET > chunkStart + chunkLen) {
        chunkStart = pos;
        chunkLen = readFully(this.fd, chunk, 0, Math.min(chunk.length, this.size - pos), pos);
        if (chunkLen < RECORDS_OFFSET) return;
      }
      const at = pos - chunkStart;
      const batchLength = chunk.readInt32BE(at + BATCH_LENGTH_OFFSET);
      if (batchLength < MIN_BATCH_LENGTH) {
        throw new CorruptRecordError('bad-batch-length', `batch at position ${pos} of ${this.logPath} has batchLength ${batchLength}`, pos);
      }
      const size = LOG_OVERHEAD + batchLength;
      const location: BatchLocation = {
        position: pos,
        baseOffset: batchBaseOffset(chunk, at),
        lastOffset: batchLastOffset(chunk, at),
        size,
        maxTimestamp: readSafeInt64(chunk, at + MAX_TIMESTAMP_OFFSET),
      };
      if (pos + size > this.size) {
        throw new CorruptRecordError('truncated', `batch at position ${pos} of ${this.logPath} runs past the segment end`, pos);
      }
      if (!visit(location, chunk, at)) return;
      pos += size;
    }
  }

  /**
   * Position of the first batch whose last offset is ≥ `offset`, or undefined if the segment
   * has none. Uses the offset index as a hint and verifies it.
   */
  translateOffset(offset: number): BatchLocation | undefined {
    if (offset >= this.nextOffset) return undefined;
    const hint = this.offsetIndex.lookup(offset);
    if (hint.position > 0 && !this.hintMatches(hint.position, hint.offset)) {
      this.indexSuspect = true;
      return this.findFrom(0, offset);
    }
    return this.findFrom(hint.position, offset);
  }

  private findFrom(position: number, offset: number): BatchLocation | undefined {
    let found: BatchLocation | undefined;
    this.walkBatches(position, (b) => {
      if (b.lastOffset >= offset) {
        found = b;
        return false;
      }
      return true;
    });
    return found;
  }

  private hintMatches(position: number, offset: number): boolean {
    if (position + RECORDS_OFFSET > this.size) return false;
    readFully(this.fd, this.header, 0, RECORDS_OFFSET, position);
    return batchBaseOffset(this.header, 0) === offset && this.header.readInt32BE(BATCH_LENGTH_OFFSET) >= MIN_BATCH_LENGTH;
  }

  /** True after a lookup found a wrong index entry; the owner should call rebuildIndexes. */
  get needsIndexRebuild(): boolean {
    return this.indexSuspect;
  }

  /**
   * Reads whole batches starting at `position` (a batch boundary), up to `maxBytes`, never a
   * batch with lastOffset ≥ `maxOffset`. When the first batch alone exceeds maxBytes and
   * `minOneBatch`, it is returned whole. Every batch is CRC-checked: a corrupt first batch
   * throws CorruptRecordError, a corrupt later one ends the result before it.
   */
  read(position: number, maxBytes: number, maxOffset: number, minOneBatch: boolean, into?: Buffer): SegmentReadResult {
    const available = this.size - position;
    if (available <= 0) return { records: Buffer.alloc(0), nextOffset: this.nextOffset };
    let want = Math.min(Math.max(maxBytes, 0), available);
    if (want < RECORDS_OFFSET && minOneBatch) want = Math.min(RECORDS_OFFSET, available);
    let buf = into && into.length >= want ? into : Buffer.allocUnsafe(want);
    let len = readFully(this.fd, buf, 0, want, position);
    let pos = 0;
    let nextOffset = -1;
    for (;;) {
      if (len - pos < RECORDS_OFFSET) break;
      const size = LOG_OVERHEAD + buf.readInt32BE(pos + BATCH_LENGTH_OFFSET);
      if (size < RECORDS_OFFSET || size > available - pos) {
        if (pos === 0) throw new CorruptRecordError('bad-batch-length', `batch at position ${position} of ${this.logPath} has an impossible size ${size}`, position);
        break;
      }
      if (batchLastOffset(buf, pos) >= maxOffset) break;
      if (pos + size > len) {
        if (pos > 0 || !minOneBatch) break;
        // The first batch is larger than maxBytes: return it whole.
        const bigger = into && into.length >= size ? into : Buffer.allocUnsafe(size);
        if (bigger !== buf) buf.copy(bigger, 0, 0, len);
        buf = bigger;
        len += readFully(this.fd, buf, len, size - len, position + len);
        if (len < size) break;
      }
      try {
        validateBatchAt(buf.subarray(0, len), pos, size);
      } catch (e) {
        if (pos === 0 && e instanceof CorruptRecordError) {
          throw new CorruptRecordError(e.reason, `stored batch at position ${position} of ${this.logPath} is corrupt: ${e.message}`, position);
        }
        break;
      }
      nextOffset = batchLastOffset(buf, pos) + 1;
      pos += size;
    }
    return { records: buf.subarray(0, pos), nextOffset: nextOffset < 0 ? -1 : nextOffset };
  }

  /**
   * The first batch at or after `startOffset` whose maxTimestamp is ≥ `timestamp`, using the
   * time index to skip older parts.
   */
  findBatchByTimestamp(timestamp: number, startOffset: number): BatchLocation | undefined {
    const hint = this.timeIndex.lookupBefore(timestamp);
    const from = Math.max(startOffset, hint ? hint.offset : this.baseOffset);
    const start = this.translateOffset(from);
    if (!start) return undefined;
    let found: BatchLocation | undefined;
    this.walkBatches(start.position, (b) => {
      if (b.maxTimestamp >= timestamp && b.lastOffset >= startOffset) {
        found = b;
        return false;
      }
      return true;
    });
    return found;
  }

  /** Reads exactly the batch at `location` into a fresh buffer. */
  readBatch(location: BatchLocation): Buffer {
    const buf = Buffer.allocUnsafe(location.size);
    readFully(this.fd, buf, 0, location.size, location.position);
    return buf;
  }

  /**
   * Scans the whole .log, validating every batch (sizes, magic, CRC, increasing offsets);
   * truncates at the first invalid byte and rebuilds both indexes. Reports each valid
   * batch's leader epoch (to rebuild the epoch cache). Returns the bytes truncated.
   */
  recover(onBatch?: (leaderEpoch: number, baseOffset: number) => void): number {
    this.resetIndexState();
    const fileSize = fstatSync(this.fd).size;
    let chunk = Buffer.allocUnsafe(Math.min(1024 * 1024, Math.max(fileSize, RECORDS_OFFSET)));
    let chunkStart = 0;
    let chunkLen = 0;
    let pos = 0;
    let expectedNext = this.baseOffset;
    while (pos < fileSize) {
      const inChunk = pos - chunkStart;
      // Make sure the header is in the chunk.
      if (pos + RECORDS_OFFSET > chunkStart + chunkLen) {
        if (pos + RECORDS_OFFSET > fileSize) break;
        chunkStart = pos;
        chunkLen = readFully(this.fd, chunk, 0, Math.min(chunk.length, fileSize - pos), pos);
        continue;
      }
      const batchLength = chunk.readInt32BE(inChunk + BATCH_LENGTH_OFFSET);
      const size = LOG_OVERHEAD + batchLength;
      if (batchLength < MIN_BATCH_LENGTH || size > this.options.maxBatchBytes || pos + size > fileSize) break;
      if (pos + size > chunkStart + chunkLen) {
        if (size > chunk.length) chunk = Buffer.allocUnsafe(size);
        chunkStart = pos;
        chunkLen = readFully(this.fd, chunk, 0, Math.min(chunk.length, fileSize - pos), pos);
        continue;
      }
      try {
        validateBatchAt(chunk.subarray(0, chunkLen), inChunk, size);
      } catch (e) {
        if (e instanceof CorruptRecordError) break;
        throw e;
      }
      const base = batchBaseOffset(chunk, inChunk);
      const last = batchLastOffset(chunk, inChunk);
      const misplaced = this.options.denseOffsets ? base !== expectedNext : base < expectedNext;
      if (misplaced || last - this.baseOffset > MAX_RELATIVE_OFFSET) break;
      this.trackBatchLocked(base, last, batchMaxTimestamp(chunk, inChunk), pos, size);
      onBatch?.(batchPartitionLeaderEpoch(chunk, inChunk), base);
      expectedNext = last + 1;
      pos += size;
    }
    const truncated = fileSize - pos;
    if (truncated > 0) ftruncateSync(this.fd, pos);
    this.size = pos;
    this.reservedSize = pos;
    return truncated;
  }

  /** Rebuilds both indexes from the .log headers (trusting its content). */
  rebuildIndexes(): void {
    const wasSealed = this.offsetIndex.isSealed;
    this.resetIndexState();
    this.walkBatches(0, (b) => {
      this.trackBatchLocked(b.baseOffset, b.lastOffset, b.maxTimestamp, b.position, b.size);
      return true;
    });
    this.indexSuspect = false;
    if (wasSealed) this.sealIndexes();
  }

  private resetIndexState(): void {
    this.offsetIndex.reset();
    this.timeIndex.reset();
    this.bytesSinceLastIndexEntry = 0;
    this.maxTimestampSoFar = -1;
    this.offsetOfMaxTimestampSoFar = -1;
    this.firstBatchTimestamp = -1;
    this.nextOffset = this.baseOffset;
  }

  /** After a trusted open: find nextOffset and max timestamp from the last indexed position. */
  private loadTail(): void {
    const lastEntry = this.offsetIndex.lastEntry();
    const lastTime = this.timeIndex.lastEntry();
    if (lastEntry && !this.hintMatches(lastEntry.position, lastEntry.offset)) {
      throw new CorruptIndexError(this.offsetIndex.path, `last entry (${lastEntry.offset}, ${lastEntry.position}) does not match the log`);
    }
    if (lastTime) {
      this.maxTimestampSoFar = lastTime.timestamp;
      this.offsetOfMaxTimestampSoFar = lastTime.offset;
    }
    if (this.size >= RECORDS_OFFSET) {
      readFully(this.fd, this.header, 0, RECORDS_OFFSET, 0);
      this.firstBatchTimestamp = batchMaxTimestamp(this.header, 0);
    }
    const start = lastEntry ? lastEntry.position : 0;
    let bytesAfterEntry = 0;
    this.walkBatches(start, (b) => {
      this.nextOffset = b.lastOffset + 1;
      if (b.maxTimestamp > this.maxTimestampSoFar) {
        this.maxTimestampSoFar = b.maxTimestamp;
        this.offsetOfMaxTimestampSoFar = b.lastOffset;
      }
      bytesAfterEntry += b.size;
      return true;
    });
    this.bytesSinceLastIndexEntry = bytesAfterEntry;
    if (lastTime) {
      // The entry names the last offset of the batch that had the max timestamp: check it.
      const batch = lastTime.offset < this.nextOffset ? this.translateOffset(lastTime.offset) : undefined;
      if (!batch || batch.lastOffset !== lastTime.offset || batch.maxTimestamp !== lastTime.timestamp) {
        throw new CorruptIndexError(this.timeIndex.path, `last entry (${lastTime.timestamp}, ${lastTime.offset}) does not match the log`);
      }
    }
  }

  /**
   * Removes every batch whose last offset is ≥ `offset` (a batch containing `offset` goes
   * whole). Returns the bytes removed.
   */
  truncateTo(offset: number): number {
    const from = this.translateOffset(offset);
    if (!from) return 0;
    const removed = this.size - from.position;
    ftruncateSync(this.fd, from.position);
    this.size = from.position;
    this.reservedSize = from.position;
    if (this.offsetIndex.isSealed) {
      this.offsetIndex.unseal();
      this.timeIndex.unseal();
    }
    // Rebuilding is simplest and exact: indexes are small and truncation is rare.
    this.rebuildIndexes();
    return removed;
  }

  /** Writes index entries and fsyncs the .log and indexes (blocking). */
  flush(): void {
    fdatasyncSync(this.fd);
    this.offsetIndex.flush(true);
    this.timeIndex.flush(true);
  }

  /**
   * Same as flush, but the fsyncs run on libuv's thread pool so the event loop keeps
   * serving (Kafka flushes a rolled segment in the background the same way). The segment
   * defers closing its file until the sync is done.
   */
  async flushAsync(): Promise<void> {
    this.offsetIndex.flush(false);
    this.timeIndex.flush(false);
    this.pendingIo++;
    try {
      await new Promise<void>((resolve, reject) => fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
      for (const path of [this.offsetIndex.path, this.timeIndex.path]) {
        const handle = await fsp.open(path, 'r').catch(() => undefined); // renamed by a deletion meanwhile
        if (handle) {
          try {
            await handle.sync();
          } finally {
            await handle.close();
          }
        }
      }
    } finally {
      this.pendingIo--;
      if (this.pendingIo === 0 && this.closeWhenSynced) this.closeNow();
    }
  }

  /** The segment stops being active: final time index entry, indexes to disk, off the heap. */
  sealIndexes(): void {
    if (!this.offsetIndex.isSealed && this.maxTimestampSoFar >= 0) {
      const last = this.timeIndex.lastEntry();
      if (!last || (last.timestamp < this.maxTimestampSoFar && !this.timeIndex.isFull)) {
        this.timeIndex.maybeAppend(this.maxTimestampSoFar, this.offsetOfMaxTimestampSoFar);
      }
    }
    this.offsetIndex.seal();
    this.timeIndex.seal();
  }

  get logPath(): string {
    return segmentFilePath(this.dir, this.baseOffset, LOG_FILE_SUFFIX);
  }

  /** Renames the files with the `.deleted` suffix (they stay readable until deleteFiles). */
  markDeleted(): void {
    renameSync(this.logPath, this.logPath + DELETED_FILE_SUFFIX);
    this.markedDeleted = true;
    this.offsetIndex.renameTo(this.offsetIndex.path + DELETED_FILE_SUFFIX);
    this.timeIndex.renameTo(this.timeIndex.path + DELETED_FILE_SUFFIX);
  }

  /** Writes pending index entries and closes the file (after any background sync). */
  close(): void {
    if (this.fd < 0 || this.closeWhenSynced) return;
    if (!this.offsetIndex.isSealed) {
      this.offsetIndex.flush(false);
      this.timeIndex.flush(false);
    }
    if (this.pendingIo > 0) this.closeWhenSynced = true;
    else this.closeNow();
  }

  /** Releases the file without writing anything (what a crash leaves behind; for tests). */
  abandon(): void {
    this.closeNow();
  }

  private closeNow(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }

  /** Closes and removes the files (whatever their current names). */
  deleteFiles(): void {
    // Once renamed, `<base>.log` may already be a new segment (a compacted one swapped in).
    const logPath = this.markedDeleted ? this.logPath + DELETED_FILE_SUFFIX : this.logPath;
    this.close();
    if (existsSync(logPath)) unlinkSync(logPath);
    this.offsetIndex.deleteFile();
    this.timeIndex.deleteFile();
  }
}

/** The buffers left after the first `bytes` bytes (a partial writev). */
function skipBytes(buffers: Buffer[], bytes: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = bytes;
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
    } else {
      out.push(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
  }
  return out;
}

function readFully(fd: number, buf: Buffer, offset: number, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, offset + done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}
