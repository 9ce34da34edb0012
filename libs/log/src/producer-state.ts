/**
 * ProducerStateManager: the idempotent-producer state of one partition replica (Kafka's
 * ProducerStateManager, KIP-98), i.e. for each producer id that wrote to it:
 *
 *   producerId → { producerEpoch, last ≤ 5 batches: firstSeq, lastSeq, firstOffset, lastOffset, timestamp }
 *
 * Everything is read from the batch header at fixed offsets (RecordBatch v2):
 *
 *   producerId int64 @43 | producerEpoch int16 @51 | baseSequence int32 @53
 *   lastOffsetDelta int32 @23 | baseOffset int64 @0 | maxTimestamp int64 @35
 *
 * — no record is decoded and nothing is allocated per record. Batches without a producer id
 * (-1) are ignored.
 *
 * Leader appends are checked first (`checkLeaderBatchesLocked`, Kafka's
 * ProducerAppendInfo.checkProducerEpoch / checkSequence / findDuplicateBatch); every append —
 * leader, follower (replication keeps the same state on every replica, so a new leader knows
 * what the old one wrote), and the header scan when the log loads or is truncated — then goes
 * through `updateLocked` without checks, as Kafka's REPLICATION origin does.
 *
 * Producer ids are int64 on the wire; here they are numbers (ids come from the controller's
 * blocks, far below 2^53).
 *
 * Snapshot file `<20-digit offset>.snapshot` (the state built from every batch below that
 * offset, written when a segment rolls, as Kafka does; bounds the scan on load and after
 * truncation):
 *
 *   magic "TPS1"(4) | crc32c(4) over the rest | count int32 |
 *   per producer: producerId int64 | epoch int16 | batchCount int8 |
 *                 per batch: firstSeq int32 | lastSeq int32 | firstOffset int64 | lastOffset int64 | timestamp int64
 *
 * Concurrency: owned by one PartitionLog, used only inside its synchronous append, truncate
 * and load sections.
 */
import { readFileSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  ErrorCode,
  LAST_OFFSET_DELTA_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  TributaryError,
  crc32c,
} from '@tributary/records';

/** Batches remembered per producer for duplicate detection (Kafka's NUM_BATCHES_TO_RETAIN; the client keeps ≤ 5 in flight). */
export const NUM_BATCHES_TO_RETAIN = 5;
export const PRODUCER_SNAPSHOT_FILE_SUFFIX = '.snapshot';
const SNAPSHOT_MAGIC = 0x54505331; // "TPS1"
const INT32_MAX = 0x7fff_ffff;

export interface ProducerBatchMetadata {
  firstSeq: number;
  lastSeq: number;
  firstOffset: number;
  lastOffset: number;
  /** The batch's maxTimestamp. */
  timestamp: number;
}

export interface ProducerStateEntry {
  producerId: number;
  producerEpoch: number;
  /** Oldest first, at most NUM_BATCHES_TO_RETAIN. */
  batches: ProducerBatchMetadata[];
  /** Largest batch timestamp seen (drives producer.id.expiration.ms). */
  lastTimestamp: number;
}

/** A batch whose producer epoch is older than the one the partition knows (INVALID_PRODUCER_EPOCH, KIP-588). */
export class InvalidProducerEpochError extends TributaryError {
  constructor(message: string) {
    super(ErrorCode.INVALID_PRODUCER_EPOCH, message, { retriable: false });
    this.name = 'InvalidProducerEpochError';
  }
}

/** A batch whose first sequence does not follow the producer's last one (OUT_OF_ORDER_SEQUENCE_NUMBER). */
export class OutOfOrderSequenceError extends TributaryError {
  constructor(message: string) {
    super(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message, { retriable: false });
    this.name = 'OutOfOrderSequenceError';
  }
}

/** A producer this partition has no state for sent a sequence other than 0 (UNKNOWN_PRODUCER_ID, KIP-360). */
export class UnknownProducerIdError extends TributaryError {
  constructor(message: string) {
    super(ErrorCode.UNKNOWN_PRODUCER_ID, message, { retriable: false });
    this.name = 'UnknownProducerIdError';
  }
}

/** The int64 producer id at `pos` as a number (-1 when absent); no bigint allocated. */
export function readProducerId(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos + PRODUCER_ID_OFFSET) * 4294967296 + buf.readUInt32BE(pos + PRODUCER_ID_OFFSET + 4);
}

/** The sequence `increment` after `sequence`, wrapping past INT32_MAX to 0 (Kafka's DefaultRecordBatch.incrementSequence). */
export function incrementSequence(sequence: number, increment: number): number {
  if (sequence > INT32_MAX - increment) return increment - (INT32_MAX - sequence) - 1;
  return sequence + increment;
}

function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === INT32_MAX);
}

export class ProducerStateManager {
  private readonly producers = new Map<number, ProducerStateEntry>();

  constructor(
    /** The partition directory (snapshot files live beside the segments). */
    private readonly dir: string,
    private readonly where: string,
  ) {}

  get producerCount(): number {
    return this.producers.size;
  }

  /** The state of one producer (a copy is not made: read only). */
  lastEntry(producerId: number): Readonly<ProducerStateEntry> | undefined {
    return this.producers.get(producerId);
  }

  /** Every producer's state (read only). */
  get activeProducers(): ReadonlyMap<number, Readonly<ProducerStateEntry>> {
    return this.producers;
  }

  clear(): void {
    this.producers.clear();
  }

  /**
   * Checks the batches of a leader append against the state (and against the request's own
   * earlier batches). Returns the original of a duplicate batch — the append must then write
   * nothing and answer with its offsets — or undefined when the append may go ahead; throws
   * InvalidProducerEpochError, OutOfOrderSequenceError or UnknownProducerIdError otherwise.
   * Changes nothing.
   */
  checkLeaderBatchesLocked(records: Buffer): ProducerBatchMetadata | undefined {
    // Several batches of one producer in one request: each is checked against the previous.
    let pending: Map<number, { epoch: number; lastSeq: number }> | undefined;
    let duplicate: ProducerBatchMetadata | undefined;
    for (let pos = 0; pos < records.length; ) {
      const size = 12 + records.readInt32BE(pos + 8);
      const producerId = readProducerId(records, pos);
      const found = producerId >= 0 ? this.findDuplicate(records, pos, producerId) : undefined;
      if (pos === 0 && found) {
        duplicate = { ...found };
      } else if (duplicate) {
        // A retried request: every batch must be the original's next batch, else the answer's
        // offsets (first offset + record counts) would not be where the records are.
        if (!found || found.firstOffset !== duplicate.lastOffset + 1) {
          throw new OutOfOrderSequenceError(`${this.where}: a request mixes batches already written with new ones; send a retried batch on its own`);
        }
        duplicate.lastSeq = found.lastSeq;
        duplicate.lastOffset = found.lastOffset;
      } else if (found) {
        throw new OutOfOrderSequenceError(`${this.where}: a request mixes new batches with batches already written; send a retried batch on its own`);
      }
      if (producerId >= 0 && !duplicate) {
        const epoch = records.readInt16BE(pos + PRODUCER_EPOCH_OFFSET);
        const firstSeq = records.readInt32BE(pos + BASE_SEQUENCE_OFFSET);
        const lastSeq = incrementSequence(firstSeq, records.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET));
        const entry = this.producers.get(producerId);
        const before = pending?.get(producerId);
        this.checkSequence(producerId, epoch, firstSeq, before ?? (entry && { epoch: entry.producerEpoch, lastSeq: entry.batches.at(-1)?.lastSeq ?? -1 }));
        if (records.length > size) (pending ??= new Map()).set(producerId, { epoch, lastSeq });
      }
      pos += size;
    }
    return duplicate;
  }

  /** The retained batch the batch at `pos` repeats (same producer, epoch, first and last sequence), if any. */
  private findDuplicate(records: Buffer, pos: number, producerId: number): ProducerBatchMetadata | undefined {
    const entry = this.producers.get(producerId);
    if (!entry || entry.producerEpoch !== records.readInt16BE(pos + PRODUCER_EPOCH_OFFSET)) return undefined;
    const firstSeq = records.readInt32BE(pos + BASE_SEQUENCE_OFFSET);
    const lastSeq = incrementSequence(firstSeq, records.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET));
    for (const b of entry.batches) if (b.firstSeq === firstSeq && b.lastSeq === lastSeq) return b;
    return undefined;
  }

  private checkSequence(producerId: number, epoch: number, firstSeq: number, current: { epoch: number; lastSeq: number } | undefined): void {
    if (firstSeq < 0) {
      throw new OutOfOrderSequenceError(`${this.where}: batch of producer ${producerId} has producer id but no sequence (${firstSeq}); an idempotent producer numbers its batches from 0`);
    }
    if (current && epoch < current.epoch) {
      throw new InvalidProducerEpochError(
        `${this.where}: producer ${producerId} at epoch ${epoch} is fenced, the partition has seen epoch ${current.epoch} (a newer instance of this producer exists; close this one)`,
      );
    }
    if (!current || epoch !== current.epoch) {
      // A new producer, or a new epoch of a known one, starts at sequence 0.
      if (firstSeq === 0) return;
      if (current) {
        throw new OutOfOrderSequenceError(
          `${this.where}: producer ${producerId} started epoch ${epoch} at sequence ${firstSeq}, expected 0 (the producer lost track of its sequence numbers)`,
        );
      }
      throw new UnknownProducerIdError(
        `${this.where} has no state for producer ${producerId} (its records may have been removed by retention) and its batch starts at sequence ${firstSeq}, not 0`,
      );
    }
    if (!inSequence(current.lastSeq, firstSeq)) {
      throw new OutOfOrderSequenceError(
        `${this.where}: producer ${producerId} epoch ${epoch} sent sequence ${firstSeq}, expected ${incrementSequence(current.lastSeq, 1)} (a batch in between is missing)`,
      );
    }
  }

  /** Records one stored batch (offsets already assigned) at `pos`; no checks. */
  updateLocked(records: Buffer, pos: number): void {
    const producerId = readProducerId(records, pos);
    if (producerId < 0) return;
    const epoch = records.readInt16BE(pos + PRODUCER_EPOCH_OFFSET);
    const firstSeq = records.readInt32BE(pos + BASE_SEQUENCE_OFFSET);
    const delta = records.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
    const firstOffset = readInt53(records, pos + BASE_OFFSET_OFFSET);
    const timestamp = readInt53(records, pos + MAX_TIMESTAMP_OFFSET);
    this.updateEntry(producerId, epoch, {
      firstSeq,
      lastSeq: incrementSequence(firstSeq, delta),
      firstOffset,
      lastOffset: firstOffset + delta,
      timestamp,
    });
  }

  /** Records every batch of `records`. */
  updateAllLocked(records: Buffer): void {
    for (let pos = 0; pos < records.length; pos += 12 + records.readInt32BE(pos + 8)) this.updateLocked(records, pos);
  }

  private updateEntry(producerId: number, epoch: number, batch: ProducerBatchMetadata): void {
    let entry = this.producers.get(producerId);
    if (!entry) {
      entry = { producerId, producerEpoch: epoch, batches: [], lastTimestamp: -1 };
      this.producers.set(producerId, entry);
    } else if (entry.producerEpoch !== epoch) {
      // A new epoch starts a new sequence space: the old batches are no duplicates of it.
      entry.producerEpoch = epoch;
      entry.batches.length = 0;
    }
    if (entry.batches.length >= NUM_BATCHES_TO_RETAIN) entry.batches.shift();
    entry.batches.push(batch);
    if (batch.timestamp > entry.lastTimestamp) entry.lastTimestamp = batch.timestamp;
  }

  /** Drops every batch at or above `offset` (and producers left without one). The caller rescans when it needs exact state. */
  truncateFromEndLocked(offset: number): boolean {
    let lostHistory = false;
    for (const [id, entry] of this.producers) {
      const before = entry.batches.length;
      while (entry.batches.length > 0 && entry.batches.at(-1)!.lastOffset >= offset) entry.batches.pop();
      if (entry.batches.length < before && entry.batches.length === 0) {
        this.producers.delete(id);
        lostHistory = true;
      }
    }
    return lostHistory;
  }

  /** Forgets producers whose last batch is older than `expirationMs` (producer.id.expiration.ms). Returns how many. */
  removeExpiredProducers(nowMs: number, expirationMs: number): number {
    let removed = 0;
    for (const [id, entry] of this.producers) {
      if (nowMs - entry.lastTimestamp > expirationMs) {
        this.producers.delete(id);
        removed++;
      }
    }
    return removed;
  }

  // ---------------------------------------------------------------------------------------
  // Snapshots

  static snapshotFileName(offset: number): string {
    return `${String(offset).padStart(20, '0')}${PRODUCER_SNAPSHOT_FILE_SUFFIX}`;
  }

  /** Offsets of the snapshot files in the directory, ascending. */
  snapshotOffsets(): number[] {
    const offsets: number[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith(PRODUCER_SNAPSHOT_FILE_SUFFIX)) continue;
      const offset = Number(name.slice(0, -PRODUCER_SNAPSHOT_FILE_SUFFIX.length));
      if (Number.isSafeInteger(offset) && offset >= 0) offsets.push(offset);
    }
    return offsets.sort((a, b) => a - b);
  }

  /** Writes the current state as `<offset>.snapshot` (the state of every batch below `offset`), atomically. */
  takeSnapshot(offset: number): void {
    let size = 12;
    for (const e of this.producers.values()) size += 11 + e.batches.length * 32;
    const buf = Buffer.alloc(size);
    buf.writeUInt32BE(SNAPSHOT_MAGIC, 0);
    buf.writeInt32BE(this.producers.size, 8);
    let pos = 12;
    for (const e of this.producers.values()) {
      writeInt53(buf, e.producerId, pos);
      buf.writeInt16BE(e.producerEpoch, pos + 8);
      buf.writeInt8(e.batches.length, pos + 10);
      pos += 11;
      for (const b of e.batches) {
        buf.writeInt32BE(b.firstSeq, pos);
        buf.writeInt32BE(b.lastSeq, pos + 4);
        writeInt53(buf, b.firstOffset, pos + 8);
        writeInt53(buf, b.lastOffset, pos + 16);
        writeInt53(buf, b.timestamp, pos + 24);
        pos += 32;
      }
    }
    buf.writeUInt32BE(crc32c(buf.subarray(8)), 4);
    const path = join(this.dir, ProducerStateManager.snapshotFileName(offset));
    writeFileSync(`${path}.tmp`, buf);
    renameSync(`${path}.tmp`, path);
  }

  /**
   * Replaces the state with the newest valid snapshot at or below `maxOffset`; returns its
   * offset, or undefined (state cleared) when there is none. Corrupt snapshots are deleted.
   */
  loadLatestSnapshot(maxOffset: number): number | undefined {
    const offsets = this.snapshotOffsets().filter((o) => o <= maxOffset);
    for (let i = offsets.length - 1; i >= 0; i--) {
      const offset = offsets[i]!;
      const path = join(this.dir, ProducerStateManager.snapshotFileName(offset));
      if (this.readSnapshot(path)) return offset;
      unlinkSync(path);
    }
    this.producers.clear();
    return undefined;
  }

  private readSnapshot(path: string): boolean {
    this.producers.clear();
    let buf: Buffer;
    try {
      buf = readFileSync(path);
    } catch {
      return false;
    }
    if (buf.length < 12 || buf.readUInt32BE(0) !== SNAPSHOT_MAGIC || buf.readUInt32BE(4) !== crc32c(buf.subarray(8))) return false;
    const count = buf.readInt32BE(8);
    let pos = 12;
    for (let i = 0; i < count; i++) {
      if (pos + 11 > buf.length) return this.failRead();
      const producerId = readInt53(buf, pos);
      const producerEpoch = buf.readInt16BE(pos + 8);
      const n = buf.readInt8(pos + 10);
      pos += 11;
      if (n < 0 || pos + n * 32 > buf.length) return this.failRead();
      const entry: ProducerStateEntry = { producerId, producerEpoch, batches: [], lastTimestamp: -1 };
      for (let j = 0; j < n; j++) {
        const b = { firstSeq: buf.readInt32BE(pos), lastSeq: buf.readInt32BE(pos + 4), firstOffset: readInt53(buf, pos + 8), lastOffset: readInt53(buf, pos + 16), timestamp: readInt53(buf, pos + 24) };
        entry.batches.push(b);
        if (b.timestamp > entry.lastTimestamp) entry.lastTimestamp = b.timestamp;
        pos += 32;
      }
      this.producers.set(producerId, entry);
    }
    return true;
  }

  private failRead(): false {
    this.producers.clear();
    return false;
  }

  /** Deletes snapshots above `offset` (truncation) — or, with `below`, those below it (retention; the newest is kept). */
  deleteSnapshots(filter: { above?: number; below?: number }): void {
    const offsets = this.snapshotOffsets();
    const newest = offsets.at(-1);
    for (const offset of offsets) {
      const doomed = (filter.above !== undefined && offset > filter.above) || (filter.below !== undefined && offset < filter.below && offset !== newest);
      if (doomed) unlinkSync(join(this.dir, ProducerStateManager.snapshotFileName(offset)));
    }
  }
}

function readInt53(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos) * 4294967296 + buf.readUInt32BE(pos + 4);
}

function writeInt53(buf: Buffer, value: number, pos: number): void {
  const hi = Math.floor(value / 4294967296);
  buf.writeInt32BE(hi, pos);
  buf.writeUInt32BE(value - hi * 4294967296, pos + 4);
}
