import { existsSync, readdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CorruptRecordError,
  ErrorCode,
  TimestampType,
  batchMaxTimestamp,
  batchPartitionLeaderEpoch,
  decodeBatch,
  validateBatchAt,
} from '@tributary/records';
import type { LogConfig } from './config';
import { DEFAULT_LOG_CONFIG } from './config';
import { KafkaStorageError, OffsetOutOfRangeError, RecordTooLargeError, UnexpectedAppendOffsetError } from './errors';
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, MAX_TIMESTAMP, PartitionLog } from './partition-log';
import type { PartitionLogOptions } from './partition-log';
import { batchesIn, makeBatch, prng, tempDir } from './test-helpers';

const TP = { topic: 'orders', partition: 0 };

/** Storage specs run over several layouts (NATS' testFileStoreAllPermutations). */
const PERMUTATIONS: [string, Partial<LogConfig>][] = [
  ['defaults', {}],
  ['small segments, index every batch', { segmentBytes: 4096, indexIntervalBytes: 0 }],
  ['tiny index forces rolls', { segmentBytes: 64 * 1024, indexIntervalBytes: 256, segmentIndexBytes: 64 }],
];

describe.each(PERMUTATIONS)('PartitionLog (%s)', (_name, overrides) => {
  let dir: ReturnType<typeof tempDir>;
  let log: PartitionLog;
  const config: LogConfig = { ...DEFAULT_LOG_CONFIG, ...overrides };
  const open = (extra: Partial<PartitionLogOptions> = {}): PartitionLog =>
    PartitionLog.open({ logDir: dir.path, topicPartition: TP, config, ...extra });

  beforeEach(() => {
    dir = tempDir();
    log = open();
  });
  afterEach(async () => {
    await log.close();
    dir.remove();
  });

  /** Appends `n` batches of 1..maxRecords records; returns copies of the stored bytes. */
  async function appendMany(n: number, seed = 1, maxRecords = 12): Promise<Buffer[]> {
    const random = prng(seed);
    const stored: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      const batch = makeBatch(1 + Math.floor(random() * maxRecords), { valueBytes: 20 + Math.floor(random() * 200), timestamp: 1_000 + i });
      await log.appendAsLeader(batch, 3);
      stored.push(Buffer.from(batch));
    }
    return stored;
  }

  function readAll(from = 0, maxBytes = 1 << 20): Buffer[] {
    const out: Buffer[] = [];
    let offset = from;
    while (offset < log.logEndOffset) {
      const { records, nextOffset } = log.read(offset, maxBytes);
      expect(records.length).toBeGreaterThan(0);
      for (let pos = 0; pos < records.length; ) {
        const size = validateBatchAt(records, pos);
        out.push(Buffer.from(records.subarray(pos, pos + size)));
        pos += size;
      }
      offset = nextOffset;
    }
    return out;
  }

  it('assigns offsets by rewriting headers in place and reads back the same bytes', async () => {
    const a = makeBatch(5);
    const b = makeBatch(3);
    const infoA = await log.appendAsLeader(a, 7);
    const infoB = await log.appendAsLeader(b, 7);
    expect([infoA.firstOffset, infoA.lastOffset, infoA.recordCount]).toEqual([0, 4, 5]);
    expect([infoB.firstOffset, infoB.lastOffset]).toEqual([5, 7]);
    expect(batchesIn(b)[0]!.baseOffset).toBe(5); // rewritten in the caller's buffer
    expect(batchPartitionLeaderEpoch(b, 0)).toBe(7);
    expect(log.logEndOffset).toBe(8);
    const all = readAll();
    expect(all).toEqual([a, b]);
    const decoded = decodeBatch(all[1]!);
    expect(decoded.records.map((r) => r.offset)).toEqual([5, 6, 7]);
  });

  it('appends many batches across rolls and reads every offset from its batch', async () => {
    const stored = await appendMany(150);
    expect(readAll()).toEqual(stored);
    const random = prng(99);
    for (let i = 0; i < 100; i++) {
      const offset = Math.floor(random() * log.logEndOffset);
      const { records } = log.read(offset, 1 + Math.floor(random() * 3000));
      const first = batchesIn(records)[0]!;
      expect(first.baseOffset).toBeLessThanOrEqual(offset);
      expect(first.lastOffset).toBeGreaterThanOrEqual(offset);
    }
    if (config.segmentBytes < 100_000) expect(log.segmentCount).toBeGreaterThan(1);
  });

  it('pipelined appends get offsets in call order and complete in that order', async () => {
    // The first append is larger than the synchronous-write limit (64 KiB), so it goes
    // through the thread pool and every later one queues behind it.
    const batches = Array.from({ length: 120 }, (_, i) => makeBatch(1 + (i % 7), { valueBytes: i === 0 ? 70_000 : 10 + ((i * 37) % 500) }));
    const copies: Buffer[] = [];
    const completed: number[] = [];
    const pending = batches.map((b, i) =>
      log.appendAsLeader(b, 2).then((info) => {
        completed.push(i);
        return info;
      }),
    );
    expect(log.logEndOffset).toBe(0); // nothing written yet: offsets are assigned, not readable
    const infos = await Promise.all(pending);
    for (const b of batches) copies.push(Buffer.from(b));
    expect(completed).toEqual(batches.map((_, i) => i));
    let expected = 0;
    for (const info of infos) {
      expect(info.firstOffset).toBe(expected);
      expected = info.lastOffset + 1;
    }
    expect(log.logEndOffset).toBe(expected);
    expect(readAll()).toEqual(copies);
  });

  it('writes a small append with nothing in flight at once (readable when the call returns)', async () => {
    const before = log.logEndOffset;
    const pending = log.appendAsLeader(makeBatch(3), 2);
    expect(log.logEndOffset).toBe(before + 3);
    expect((await pending).firstOffset).toBe(before);
  });

  it('returns one whole batch when it is larger than maxBytes, and only whole batches', async () => {
    await log.appendAsLeader(makeBatch(20, { valueBytes: 100 }), 0);
    await log.appendAsLeader(makeBatch(2), 0);
    const { records, nextOffset } = log.read(0, 10);
    expect(batchesIn(records)).toHaveLength(1);
    expect(nextOffset).toBe(20);
    expect(log.read(0, 10, { minOneBatch: false }).records.length).toBe(0);
    const both = log.read(0, records.length + 10);
    expect(batchesIn(both.records)).toHaveLength(1); // the second does not fit whole
  });

  it('never returns a batch at or beyond maxOffset (the high watermark)', async () => {
    await log.appendAsLeader(makeBatch(4), 0);
    await log.appendAsLeader(makeBatch(4), 0);
    expect(batchesIn(log.read(0, 1 << 20, { maxOffset: 4 }).records)).toHaveLength(1);
    expect(log.read(4, 1 << 20, { maxOffset: 4 }).records.length).toBe(0);
    expect(batchesIn(log.read(0, 1 << 20, { maxOffset: 8 }).records)).toHaveLength(2);
  });

  it('answers out-of-range offsets with OFFSET_OUT_OF_RANGE and the end with nothing', async () => {
    await log.appendAsLeader(makeBatch(3), 0);
    expect(() => log.read(4, 100)).toThrow(OffsetOutOfRangeError);
    expect(() => log.read(-1, 100)).toThrow(OffsetOutOfRangeError);
    try {
      log.read(99, 100);
    } catch (e) {
      expect((e as OffsetOutOfRangeError).code).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    }
    expect(log.read(3, 100)).toEqual({ records: Buffer.alloc(0), nextOffset: 3 });
  });

  it('rejects a corrupt batch with CORRUPT_MESSAGE and leaves the log unchanged', async () => {
    await log.appendAsLeader(makeBatch(2), 0);
    const before = { leo: log.logEndOffset, size: log.size };
    const good = makeBatch(3);
    const bad = makeBatch(3);
    bad[bad.length - 5]! ^= 0xff; // flips a value byte: the CRC no longer matches
    const set = Buffer.concat([good, bad]);
    await expect(log.appendAsLeader(set, 0)).rejects.toThrow(CorruptRecordError);
    await expect(log.appendAsLeader(Buffer.from('not a batch at all, not even close to one, really not it'), 0)).rejects.toThrow(CorruptRecordError);
    await expect(log.appendAsLeader(Buffer.alloc(0), 0)).rejects.toThrow(CorruptRecordError);
    expect({ leo: log.logEndOffset, size: log.size }).toEqual(before);
    expect(batchesIn(set.subarray(0, good.length))[0]!.baseOffset).toBe(0); // not rewritten
    expect(readAll()).toHaveLength(1);
  });

  it('rejects a batch above max.message.bytes with MESSAGE_TOO_LARGE', async () => {
    log.updateConfig({ ...config, maxMessageBytes: 500 });
    const err = await log.appendAsLeader(makeBatch(10, { valueBytes: 100 }), 0).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RecordTooLargeError);
    expect((err as RecordTooLargeError).code).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    expect(log.logEndOffset).toBe(0);
  });

  it('keeps everything across a clean close and reopen', async () => {
    const stored = await appendMany(60, 5);
    const leo = log.logEndOffset;
    await log.close();
    log = open({ hadCleanShutdown: true, recoveryPoint: leo });
    expect(log.logEndOffset).toBe(leo);
    expect(readAll()).toEqual(stored);
    expect((await log.appendAsLeader(makeBatch(1), 4)).firstOffset).toBe(leo);
  });

  it('recovers everything after an unclean stop (files never closed)', async () => {
    const stored = await appendMany(60, 6);
    const leo = log.logEndOffset;
    // No close(): the old object is abandoned as a crashed process would leave it.
    const crashed = log;
    log = open({ hadCleanShutdown: false, recoveryPoint: 0 });
    expect(log.logEndOffset).toBe(leo);
    expect(readAll()).toEqual(stored);
    expect(log.latestEpoch).toBe(3); // rebuilt from the batches
    crashed.close();
  });

  it('appendAsFollower keeps the leader offsets and epochs, and refuses going backwards', async () => {
    const b1 = makeBatch(3, { baseOffset: 0, partitionLeaderEpoch: 1 });
    const b2 = makeBatch(2, { baseOffset: 3, partitionLeaderEpoch: 2 });
    await log.appendAsFollower(Buffer.concat([b1, b2]));
    expect(log.logEndOffset).toBe(5);
    expect(log.leaderEpochCache.all).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 3 },
    ]);
    await expect(log.appendAsFollower(makeBatch(1, { baseOffset: 2, partitionLeaderEpoch: 2 }))).rejects.toThrow(UnexpectedAppendOffsetError);
    const corrupt = makeBatch(1, { baseOffset: 5 });
    corrupt[corrupt.length - 1]! ^= 1;
    await expect(log.appendAsFollower(corrupt)).rejects.toThrow(CorruptRecordError);
    expect(log.logEndOffset).toBe(5);
    expect(log.endOffsetForEpoch(1)).toEqual({ leaderEpoch: 1, endOffset: 3 });
    expect(log.endOffsetForEpoch(2)).toEqual({ leaderEpoch: 2, endOffset: 5 });
  });

  it('truncateTo removes whole batches from the offset and the epochs after it', async () => {
    await log.appendAsFollower(makeBatch(3, { baseOffset: 0, partitionLeaderEpoch: 1 }));
    for (let i = 0; i < 30; i++) {
      await log.appendAsFollower(makeBatch(4, { baseOffset: log.logEndOffset, partitionLeaderEpoch: 2 }));
    }
    log.updateHighWatermark(log.logEndOffset);
    await log.truncateTo(5); // inside the batch 3..6: it goes whole
    expect(log.logEndOffset).toBe(3);
    expect(log.highWatermark).toBe(3);
    expect(log.leaderEpochCache.all).toEqual([{ epoch: 1, startOffset: 0 }]);
    expect(readAll()).toHaveLength(1);
    await log.appendAsLeader(makeBatch(2), 4);
    expect(log.logEndOffset).toBe(5);
    expect(log.leaderEpochCache.all.at(-1)).toEqual({ epoch: 4, startOffset: 3 });
    await log.close();
    log = open({ hadCleanShutdown: false });
    expect(log.logEndOffset).toBe(5);
    expect(readAll()).toHaveLength(2);
  });

  it('finds offsets by timestamp, earliest, latest and max', async () => {
    for (let i = 0; i < 40; i++) await log.appendAsLeader(makeBatch(5, { timestamp: 10_000 + i * 10 }), 0);
    // Records of batch i carry timestamp 10_000 + 10 i; offsets 5i .. 5i+4.
    expect(log.fetchOffsetByTimestamp(10_000)?.offset).toBe(0);
    expect(log.fetchOffsetByTimestamp(10_001)?.offset).toBe(5);
    expect(log.fetchOffsetByTimestamp(10_250)?.offset).toBe(125);
    expect(log.fetchOffsetByTimestamp(10_391)).toBeUndefined();
    expect(log.fetchOffsetByTimestamp(EARLIEST_TIMESTAMP)?.offset).toBe(0);
    expect(log.fetchOffsetByTimestamp(LATEST_TIMESTAMP)?.offset).toBe(200);
    expect(log.fetchOffsetByTimestamp(MAX_TIMESTAMP)).toEqual({ timestamp: 10_390, offset: 199, leaderEpoch: 0 });
  });

  it('stamps LogAppendTime with the broker clock and keeps the CRC valid', async () => {
    await log.close();
    log = open({ config: { ...config, messageTimestampType: 'LogAppendTime' }, now: () => 77_777 });
    await log.appendAsLeader(makeBatch(3, { timestamp: 5 }), 0);
    const [stored] = readAll();
    expect(batchMaxTimestamp(stored!)).toBe(77_777);
    const decoded = decodeBatch(stored!);
    expect(decoded.timestampType).toBe(TimestampType.LogAppendTime);
    expect(decoded.records.map((r) => r.timestamp)).toEqual([77_777, 77_777, 77_777]);
  });
});

describe('PartitionLog retention, rolling and flushing', () => {
  let dir: ReturnType<typeof tempDir>;
  let log: PartitionLog;
  let clock = 1_000_000;
  const open = (config: Partial<LogConfig>): PartitionLog =>
    PartitionLog.open({ logDir: dir.path, topicPartition: TP, config: { ...DEFAULT_LOG_CONFIG, ...config }, now: () => clock });

  beforeEach(() => {
    dir = tempDir();
    clock = 1_000_000;
  });
  afterEach(async () => {
    await log.close();
    dir.remove();
  });

  const segmentFiles = (): string[] => readdirSync(join(dir.path, 'orders-0')).filter((f) => f.endsWith('.log')).sort();

  it('rolls on segment.bytes and names files by base offset', async () => {
    log = open({ segmentBytes: 3000 });
    for (let i = 0; i < 10; i++) await log.appendAsLeader(makeBatch(10, { valueBytes: 100 }), 0); // ≈1.3 KB each
    expect(log.segmentCount).toBeGreaterThanOrEqual(4);
    expect(segmentFiles()[0]).toBe('00000000000000000000.log');
    expect(segmentFiles()).toContain(`${String(log.activeSegment.baseOffset).padStart(20, '0')}.log`);
  });

  it('rolls on segment.ms, measured from the first append', async () => {
    log = open({ segmentMs: 1000 });
    await log.appendAsLeader(makeBatch(1), 0);
    clock += 500;
    await log.appendAsLeader(makeBatch(1), 0);
    expect(log.segmentCount).toBe(1);
    clock += 600;
    await log.appendAsLeader(makeBatch(1), 0);
    expect(log.segmentBaseOffsets).toEqual([0, 2]);
  });

  it('retention.bytes deletes the oldest whole segments, never the active one, below the HW', async () => {
    log = open({ segmentBytes: 2000, retentionBytes: 5000, fileDeleteDelayMs: 0 });
    for (let i = 0; i < 20; i++) await log.appendAsLeader(makeBatch(5, { valueBytes: 100 }), 0);
    expect(log.deleteOldSegments()).toBe(0); // HW still 0: nothing is deletable
    log.updateHighWatermark(log.logEndOffset);
    const deleted = log.deleteOldSegments();
    expect(deleted).toBeGreaterThan(0);
    // Kafka's rule: delete a segment only if the log stays ≥ retention.bytes without it.
    expect(log.size).toBeGreaterThanOrEqual(5000);
    expect(log.size).toBeLessThan(5000 + 2000);
    expect(log.logStartOffset).toBe(log.segmentBaseOffsets[0]);
    expect(() => log.read(0, 100)).toThrow(OffsetOutOfRangeError);
    expect(log.read(log.logStartOffset, 100).records.length).toBeGreaterThan(0);
    expect(segmentFiles()).toHaveLength(log.segmentCount);
  });

  it('retention.ms deletes segments whose newest record is too old', async () => {
    log = open({ segmentBytes: 1500, retentionMs: 60_000, fileDeleteDelayMs: 0 });
    for (let i = 0; i < 6; i++) await log.appendAsLeader(makeBatch(5, { valueBytes: 100, timestamp: clock }), 0);
    clock += 120_000;
    for (let i = 0; i < 3; i++) await log.appendAsLeader(makeBatch(5, { valueBytes: 100, timestamp: clock }), 0);
    log.updateHighWatermark(log.logEndOffset);
    expect(log.deleteOldSegments()).toBeGreaterThan(0);
    expect(log.logStartOffset).toBeGreaterThanOrEqual(30);
    expect(log.activeSegment.isEmpty || log.activeSegment.maxTimestampSoFar === clock).toBe(true);
  });

  it('keeps deleted files readable until file.delete.delay.ms, and reads already made stay intact', async () => {
    log = open({ segmentBytes: 1500, retentionBytes: 0, fileDeleteDelayMs: 60_000 });
    for (let i = 0; i < 6; i++) await log.appendAsLeader(makeBatch(5, { valueBytes: 100 }), 0);
    const held = log.read(0, 1 << 20).records;
    const copy = Buffer.from(held);
    log.updateHighWatermark(log.logEndOffset);
    expect(log.deleteOldSegments()).toBeGreaterThan(0);
    const files = readdirSync(join(dir.path, 'orders-0'));
    expect(files.some((f) => f.endsWith('.log.deleted'))).toBe(true);
    expect(held.equals(copy)).toBe(true);
    await log.close();
    log = open({});
    expect(readdirSync(join(dir.path, 'orders-0')).some((f) => f.endsWith('.deleted'))).toBe(false);
  });

  it('maybeIncrementLogStartOffset moves the start, bounded by the high watermark', async () => {
    log = open({ segmentBytes: 1500, fileDeleteDelayMs: 0 });
    for (let i = 0; i < 10; i++) await log.appendAsLeader(makeBatch(5, { valueBytes: 100 }), 0);
    expect(() => log.maybeIncrementLogStartOffset(20)).toThrow(OffsetOutOfRangeError);
    log.updateHighWatermark(50);
    expect(log.maybeIncrementLogStartOffset(22)).toBe(true);
    expect(log.logStartOffset).toBe(22);
    expect(() => log.read(21, 100)).toThrow(OffsetOutOfRangeError);
    log.deleteOldSegments();
    expect(log.segmentBaseOffsets[0]).toBeLessThanOrEqual(22);
    expect(log.segmentBaseOffsets[1] ?? Infinity).toBeGreaterThan(22);
  });

  it('flush.messages fsyncs and advances the recovery point', async () => {
    log = open({ flushMessages: 10 });
    await log.appendAsLeader(makeBatch(4), 0);
    expect(log.recoveryPoint).toBe(0);
    await log.appendAsLeader(makeBatch(6), 0);
    expect(log.recoveryPoint).toBe(10);
  });

  it('reports each flush, and the background flush of a rolled segment, to onFlush', async () => {
    const flushes: number[] = [];
    log = PartitionLog.open({ logDir: dir.path, topicPartition: TP, config: { ...DEFAULT_LOG_CONFIG, flushMessages: 10, segmentBytes: 1000 }, now: () => clock, onFlush: (s) => flushes.push(s) });
    await log.appendAsLeader(makeBatch(4), 0);
    expect(flushes).toHaveLength(0);
    await log.appendAsLeader(makeBatch(6), 0);
    expect(flushes).toHaveLength(1);
    for (let i = 0; i < 5; i++) await log.appendAsLeader(makeBatch(3, { valueBytes: 300 }), 0); // rolls
    expect(log.segmentCount).toBeGreaterThan(1);
    // The first flush.messages flush, then one per rolled segment (their fsyncs finish in the background).
    const expected = 1 + (log.segmentCount - 1);
    for (let i = 0; i < 250 && flushes.length < expected; i++) await new Promise((r) => setTimeout(r, 20));
    expect(flushes.length).toBeGreaterThanOrEqual(expected);
    for (const s of flushes) expect(s).toBeGreaterThanOrEqual(0);
  });

  it('flush.ms flushes when the last flush is old enough', async () => {
    log = open({ flushMs: 1000 });
    await log.appendAsLeader(makeBatch(4), 0);
    expect(log.flushIfDue()).toBe(false);
    clock += 1500;
    expect(log.flushIfDue()).toBe(true);
    expect(log.recoveryPoint).toBe(4);
  });

  it('advances the recovery point after a roll once the old segment is synced', async () => {
    log = open({ segmentBytes: 1000 });
    for (let i = 0; i < 5; i++) await log.appendAsLeader(makeBatch(5, { valueBytes: 100 }), 0);
    expect(log.segmentCount).toBeGreaterThan(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(log.recoveryPoint).toBe(log.activeSegment.baseOffset);
  });
});

describe('PartitionLog under concurrent reads and appends', () => {
  it('readers interleaved with appends always see whole, contiguous, valid batches', async () => {
    const dir = tempDir();
    const log = PartitionLog.open({
      logDir: dir.path,
      topicPartition: TP,
      config: { ...DEFAULT_LOG_CONFIG, segmentBytes: 8192, indexIntervalBytes: 512 },
    });
    let writing = true;
    const writer = (async () => {
      const random = prng(7);
      for (let i = 0; i < 400; i++) {
        await log.appendAsLeader(makeBatch(1 + Math.floor(random() * 8), { valueBytes: 50 }), 0);
        if (i % 5 === 0) await new Promise((r) => setImmediate(r));
      }
      writing = false;
    })();
    const reader = async (seed: number): Promise<number> => {
      const random = prng(seed);
      let offset = 0;
      let reads = 0;
      while (writing || offset < log.logEndOffset) {
        const { records, nextOffset } = log.read(offset, 200 + Math.floor(random() * 4000));
        if (records.length > 0) {
          let expected = -1;
          for (let pos = 0; pos < records.length; ) {
            const size = validateBatchAt(records, pos);
            const batch = decodeBatch(records, pos);
            if (expected >= 0) expect(Number(batch.baseOffset)).toBe(expected);
            expect(Number(batch.baseOffset)).toBeLessThanOrEqual(Math.max(offset, Number(batch.baseOffset)));
            expected = batch.records.at(-1)!.offset + 1;
            pos += size;
          }
          expect(nextOffset).toBe(expected);
          offset = nextOffset;
          reads++;
        }
        await new Promise((r) => setImmediate(r));
      }
      return reads;
    };
    const [reads1, reads2] = await Promise.all([reader(1), reader(2), writer]);
    expect(reads1).toBeGreaterThan(0);
    expect(reads2).toBeGreaterThan(0);
    await log.close();
    dir.remove();
  });
});

describe('PartitionLog I/O failure', () => {
  it('is sticky: after a failed write every append is refused with KAFKA_STORAGE_ERROR', async () => {
    const dir = tempDir();
    const config = { ...DEFAULT_LOG_CONFIG, segmentBytes: 1000 };
    let log = PartitionLog.open({ logDir: dir.path, topicPartition: TP, config });
    for (let i = 0; i < 3; i++) await log.appendAsLeader(makeBatch(5, { valueBytes: 100 }), 0);
    log.roll();
    const activePath = join(log.dir, `${String(log.activeSegment.baseOffset).padStart(20, '0')}.log`);
    await log.close();
    // The next segment's file becomes /dev/full: every write to it fails with ENOSPC.
    unlinkSync(activePath);
    symlinkSync('/dev/full', activePath);
    const failures: Error[] = [];
    log = PartitionLog.open({ logDir: dir.path, topicPartition: TP, config, onIoError: (e) => failures.push(e) });
    await expect(log.appendAsLeader(makeBatch(1), 0)).rejects.toThrow(KafkaStorageError);
    expect(failures).toHaveLength(1);
    expect(log.isFailed).toBe(true);
    const second = await log.appendAsLeader(makeBatch(1), 0).then(
      () => undefined,
      (e: unknown) => e as KafkaStorageError,
    );
    expect(second?.code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(failures).toHaveLength(1);
    // What was acknowledged before stays readable.
    expect(batchesIn(log.read(0, 1 << 20).records).length).toBeGreaterThan(0);
    await log.close();
    unlinkSync(activePath);
    writeFileSync(activePath, '');
    expect(existsSync(activePath)).toBe(true);
    dir.remove();
  });
});
