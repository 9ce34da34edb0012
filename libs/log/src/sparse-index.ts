/**
 * Sparse indexes of a segment: fixed-size entries, appended in key order, searched by
 * binary search. Two kinds, with Kafka's byte layouts (big-endian):
 *
 *   OffsetIndex  `.index`      relativeOffset uint32 | position uint32          (8 bytes)
 *                maps an offset (baseOffset + relativeOffset) to the byte position of the
 *                batch that STARTS at that offset in the `.log` file.
 *   TimeIndex    `.timeindex`  timestamp int64 | relativeOffset uint32          (12 bytes)
 *                "every record up to and including this offset has a timestamp ≤ this".
 *
 * Memory: only the ACTIVE segment's index lives in memory (a Buffer that grows ×2 up to
 * segment.index.bytes), mirrored to its file lazily (on flush, seal and close), the way Kafka
 * relies on mmap. A SEALED index keeps nothing in memory: each lookup opens the file and
 * binary-searches it with positional reads (≈20 reads of a few bytes, from the page cache).
 * So the heap stays bounded whatever the amount of data.
 *
 * Trust: indexes are hints. They are not checksummed: after a crash they are rebuilt from
 * the segment (recovery), and on load a sanity check rejects impossible files. Readers verify
 * what an entry points to (LogSegment) and fall back to a scan, so a damaged sealed index can
 * slow a lookup but never return wrong data.
 *
 * Concurrency: single-threaded owner (the PartitionLog); calls are synchronous.
 */
import { readSafeInt64 as readInt64, writeSafeInt64 } from '@tributary/records';
import { closeSync, existsSync, fstatSync, ftruncateSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';

export class CorruptIndexError extends Error {
  constructor(path: string, detail: string) {
    super(`index ${path} is corrupt: ${detail}`);
    this.name = 'CorruptIndexError';
  }
}

abstract class SparseIndex {
  /** In-memory entries (active index), or null once sealed. */
  protected mem: Buffer | null = null;
  protected count = 0;
  /** Entries already written to the file (the mutable index writes lazily). */
  private persisted = 0;
  private readonly scratch: Buffer;
  readonly maxEntries: number;

  protected constructor(
    public path: string,
    readonly baseOffset: number,
    readonly entrySize: number,
    maxIndexBytes: number,
  ) {
    this.maxEntries = Math.max(1, Math.floor(maxIndexBytes / entrySize));
    this.scratch = Buffer.alloc(entrySize);
  }

  /** Loads the file: into memory when `mutable`, else only counts its entries. */
  protected load(mutable: boolean): void {
    if (!existsSync(this.path)) {
      closeSync(openSync(this.path, 'w'));
    }
    const fd = openSync(this.path, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size % this.entrySize !== 0) {
        throw new CorruptIndexError(this.path, `size ${size} is not a multiple of ${this.entrySize}`);
      }
      this.count = size / this.entrySize;
      this.persisted = this.count;
      if (mutable) {
        this.mem = Buffer.alloc(Math.max(this.entrySize * 64, nextPow2(size)));
        if (size > 0) readSync(fd, this.mem, 0, size, 0);
      }
    } finally {
      closeSync(fd);
    }
  }

  get entries(): number {
    return this.count;
  }

  get isFull(): boolean {
    return this.count >= this.maxEntries;
  }

  get isSealed(): boolean {
    return this.mem === null;
  }

  /** Size of the index in bytes (what its file holds once flushed). */
  get sizeInBytes(): number {
    return this.count * this.entrySize;
  }

  /** Appends one entry (already encoded by the subclass into `entry`). */
  protected appendEntry(entry: Buffer): void {
    if (!this.mem) throw new Error(`index ${this.path} is sealed`);
    if (this.isFull) throw new Error(`index ${this.path} is full`);
    const at = this.count * this.entrySize;
    if (at + this.entrySize > this.mem.length) {
      const grown = Buffer.alloc(Math.min(this.mem.length * 2, this.maxEntries * this.entrySize));
      this.mem.copy(grown, 0, 0, at);
      this.mem = grown;
    }
    entry.copy(this.mem, at);
    this.count++;
  }

  /**
   * Calls `visit(read)` with a reader of entry i (a view valid until the next read).
   * Sealed indexes read from the file, opened for the duration of the call.
   */
  protected withEntries<T>(visit: (read: (i: number) => Buffer) => T): T {
    const mem = this.mem;
    if (mem) {
      return visit((i) => mem.subarray(i * this.entrySize, (i + 1) * this.entrySize));
    }
    const fd = openSync(this.path, 'r');
    try {
      const scratch = this.scratch;
      return visit((i) => {
        const n = readSync(fd, scratch, 0, this.entrySize, i * this.entrySize);
        if (n !== this.entrySize) throw new CorruptIndexError(this.path, `entry ${i} is missing`);
        return scratch;
      });
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Binary search: index of the last entry whose key is `< target` (strict) or `<= target`,
   * or -1 when there is none. `key` reads the sort key from an entry.
   */
  protected searchLast(target: number, strict: boolean, key: (entry: Buffer) => number): number {
    return this.withEntries((read) => {
      let lo = 0;
      let hi = this.count - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const k = key(read(mid));
        if (strict ? k < target : k <= target) {
          found = mid;
          lo = mid + 1;
        } else {
          hi = mid - 1;
        }
      }
      return found;
    });
  }

  /** Keeps the first `entries` entries. */
  protected truncateToEntries(entries: number): void {
    if (entries >= this.count) return;
    this.count = entries;
    if (this.persisted > entries) {
      const fd = openSync(this.path, 'r+');
      try {
        ftruncateSync(fd, entries * this.entrySize);
      } finally {
        closeSync(fd);
      }
      this.persisted = entries;
    }
  }

  /** Removes every entry (emptying the file) and makes the index mutable. */
  reset(): void {
    closeSync(openSync(this.path, 'w'));
    this.count = 0;
    this.persisted = 0;
    this.mem ??= Buffer.alloc(this.entrySize * 64);
  }

  /** Writes pending entries to the file; fsyncs it when `sync`. */
  flush(sync: boolean): void {
    if (!this.mem || (this.persisted === this.count && !sync)) return;
    const fd = openSync(this.path, 'r+');
    try {
      if (this.persisted < this.count) {
        const from = this.persisted * this.entrySize;
        const to = this.count * this.entrySize;
        writeSync(fd, this.mem, from, to - from, from);
        this.persisted = this.count;
      }
      if (sync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Flushes (with fsync) and drops the in-memory copy: the segment stopped being active. */
  seal(): void {
    this.flush(true);
    this.mem = null;
  }

  /** Makes a sealed index mutable again (after truncation made its segment active). */
  unseal(): void {
    if (this.mem) return;
    this.load(true);
  }

  renameTo(path: string): void {
    if (existsSync(this.path)) renameSync(this.path, path);
    this.path = path;
  }

  deleteFile(): void {
    if (existsSync(this.path)) unlinkSync(this.path);
  }
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export interface OffsetPosition {
  offset: number;
  position: number;
}

/** `.index`: offset → byte position of the batch starting at that offset. */
export class OffsetIndex extends SparseIndex {
  private readonly entry = Buffer.alloc(8);

  constructor(path: string, baseOffset: number, maxIndexBytes: number, mutable: boolean) {
    super(path, baseOffset, 8, maxIndexBytes);
    this.load(mutable);
  }

  /** Largest indexed offset, or baseOffset when empty. */
  get lastOffset(): number {
    if (this.count === 0) return this.baseOffset;
    return this.withEntries((read) => this.baseOffset + read(this.count - 1).readUInt32BE(0));
  }

  /** Last entry, or undefined. */
  lastEntry(): OffsetPosition | undefined {
    if (this.count === 0) return undefined;
    return this.withEntries((read) => this.decode(read(this.count - 1)));
  }

  /** Appends (offset, position); both must exceed the last entry's. */
  append(offset: number, position: number): void {
    const rel = offset - this.baseOffset;
    this.entry.writeUInt32BE(rel, 0);
    this.entry.writeUInt32BE(position, 4);
    this.appendEntry(this.entry);
  }

  /** The last entry with offset ≤ target, or the segment start (baseOffset, 0). */
  lookup(targetOffset: number): OffsetPosition {
    const rel = targetOffset - this.baseOffset;
    const i = this.searchLast(rel, false, (e) => e.readUInt32BE(0));
    if (i < 0) return { offset: this.baseOffset, position: 0 };
    return this.withEntries((read) => this.decode(read(i)));
  }

  /** Drops entries for offsets ≥ offset. */
  truncateTo(offset: number): void {
    const i = this.searchLast(offset - this.baseOffset, true, (e) => e.readUInt32BE(0));
    this.truncateToEntries(i + 1);
  }

  /** Drops entries pointing at positions ≥ position. */
  truncateToPosition(position: number): void {
    const i = this.searchLast(position, true, (e) => e.readUInt32BE(4));
    this.truncateToEntries(i + 1);
  }

  /** Checks entries are strictly increasing and inside a `.log` of `segmentSize` bytes. */
  sanityCheck(segmentSize: number): void {
    this.withEntries((read) => {
      let lastRel = -1;
      let lastPos = -1;
      const first = this.mem ? 0 : Math.max(0, this.count - 1); // sealed: check the last only
      for (let i = first; i < this.count; i++) {
        const e = read(i);
        const rel = e.readUInt32BE(0);
        const pos = e.readUInt32BE(4);
        if (rel <= lastRel || pos <= lastPos || pos >= Math.max(segmentSize, 1)) {
          throw new CorruptIndexError(this.path, `entry ${i} (${rel}, ${pos}) is out of order or beyond the segment`);
        }
        lastRel = rel;
        lastPos = pos;
      }
    });
  }

  private decode(e: Buffer): OffsetPosition {
    return { offset: this.baseOffset + e.readUInt32BE(0), position: e.readUInt32BE(4) };
  }
}

export interface TimestampOffset {
  timestamp: number;
  offset: number;
}

/** `.timeindex`: (max timestamp so far, offset of the record that has it). */
export class TimeIndex extends SparseIndex {
  private readonly entry = Buffer.alloc(12);

  constructor(path: string, baseOffset: number, maxIndexBytes: number, mutable: boolean) {
    super(path, baseOffset, 12, maxIndexBytes);
    this.load(mutable);
  }

  lastEntry(): TimestampOffset | undefined {
    if (this.count === 0) return undefined;
    return this.withEntries((read) => this.decode(read(this.count - 1)));
  }

  /** Appends (timestamp, offset) if the timestamp is larger than the last entry's. */
  maybeAppend(timestamp: number, offset: number): void {
    const last = this.lastEntry();
    if (last && timestamp <= last.timestamp) return;
    writeSafeInt64(this.entry, timestamp, 0);
    this.entry.writeUInt32BE(offset - this.baseOffset, 8);
    this.appendEntry(this.entry);
  }

  /**
   * The last entry whose timestamp is strictly below `timestamp`: every record up to its
   * offset is older than the target, so a search may start there. Undefined if none.
   */
  lookupBefore(timestamp: number): TimestampOffset | undefined {
    const i = this.searchLast(timestamp, true, (e) => readInt64(e, 0));
    if (i < 0) return undefined;
    return this.withEntries((read) => this.decode(read(i)));
  }

  /** Drops entries for offsets ≥ offset (entries are in offset order too). */
  truncateTo(offset: number): void {
    const i = this.searchLast(offset - this.baseOffset, true, (e) => e.readUInt32BE(8));
    this.truncateToEntries(i + 1);
  }

  sanityCheck(): void {
    this.withEntries((read) => {
      let lastTs = -Infinity;
      let lastRel = -1;
      const first = this.mem ? 0 : Math.max(0, this.count - 1);
      for (let i = first; i < this.count; i++) {
        const e = read(i);
        const ts = readInt64(e, 0);
        const rel = e.readUInt32BE(8);
        if (ts <= lastTs || rel < lastRel) {
          throw new CorruptIndexError(this.path, `entry ${i} (${ts}, ${rel}) is out of order`);
        }
        lastTs = ts;
        lastRel = rel;
      }
    });
  }

  private decode(e: Buffer): TimestampOffset {
    return { timestamp: readInt64(e, 0), offset: this.baseOffset + e.readUInt32BE(8) };
  }
}
