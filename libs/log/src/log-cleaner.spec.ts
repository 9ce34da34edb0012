/**
 * Log compaction: the cleaner keeps the last record per key, keeps offsets (gaps), handles
 * tombstones with delete.retention.ms, honours the dirty ratio, the compaction lag, the
 * active segment and the offset map's size, and every crash during a swap leaves a log that
 * loads with every retained record.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompressionCodec, ErrorCode, decodeBatch, encodeBatch, supportedCompressionCodecs } from '@tributary/records';
import type { RecordInput } from '@tributary/records';
import type { LogConfig } from './config';
import { DEFAULT_LOG_CONFIG, logConfigFromProperties } from './config';
import { CLEANER_OFFSET_CHECKPOINT_FILE, LogCleaner, OffsetMap, murmur3 } from './log-cleaner';
import type { LogCleanerOptions } from './log-cleaner';
import { LogManager } from './log-manager';
import { InjectedCrash, PartitionLog } from './partition-log';
import type { PartitionLogOptions, SwapStep } from './partition-log';
import { batchesIn, tempDir } from './test-helpers';

const TP = { topic: 'compacted', partition: 0 };
const DAY_MS = 24 * 60 * 60 * 1000;
const CONFIG: LogConfig = logConfigFromProperties(
  { 'cleanup.policy': 'compact', 'segment.bytes': '1024', 'index.interval.bytes': '256', 'min.cleanable.dirty.ratio': '0.5' },
  DEFAULT_LOG_CONFIG,
);

interface Rec {
  offset: number;
  key: string;
  value: string | null;
  timestamp: number;
}

/** Every record of the log as a consumer reading from the start sees it. */
function readRecords(log: PartitionLog, maxBytes = 700): Rec[] {
  const out: Rec[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const { records, nextOffset } = log.read(offset, maxBytes);
    if (records.length === 0) break;
    for (let pos = 0; pos < records.length; ) {
      const batch = decodeBatch(records, pos);
      for (const r of batch.records) {
        if (r.offset >= offset) out.push({ offset: r.offset, key: r.key!.toString(), value: r.value?.toString() ?? null, timestamp: r.timestamp });
      }
      pos += batch.sizeInBytes;
    }
    offset = nextOffset;
  }
  return out;
}

describe('LogCleaner', () => {
  let dir: ReturnType<typeof tempDir>;
  let clock: number;
  const now = (): number => clock;
  let log: PartitionLog;
  const open = (extra: Partial<PartitionLogOptions> = {}): PartitionLog =>
    PartitionLog.open({ logDir: dir.path, topicPartition: TP, config: CONFIG, now, ...extra });
  const cleaner = (options: LogCleanerOptions = {}): LogCleaner => new LogCleaner({ now, ...options }, () => [log]);

  /** What was written, in order, so the expected compacted view can be computed. */
  let written: Rec[];

  /** Appends one batch of `keys` with values `<key>@<round>` (null for tombstones). */
  async function append(keys: string[], round: number, options: { tombstone?: boolean; compression?: CompressionCodec } = {}): Promise<void> {
    const records: RecordInput[] = keys.map((k) => ({ key: Buffer.from(k), value: options.tombstone ? null : Buffer.from(`${k}@${round}`.padEnd(40, '.')), timestamp: clock }));
    const info = await log.appendAsLeader(encodeBatch(records, { compression: options.compression ?? CompressionCodec.None }), 1);
    keys.forEach((k, i) => written.push({ offset: info.firstOffset + i, key: k, value: options.tombstone ? null : `${k}@${round}`.padEnd(40, '.'), timestamp: clock }));
    log.updateHighWatermark(log.logEndOffset);
  }

  /** The records a fully compacted prefix [0, end) keeps: the last per key (and everything from `end` on). */
  function expectedAfterClean(end: number, dropTombstonesBelow = -1): Rec[] {
    const last = new Map<string, number>();
    for (const r of written) if (r.offset < end) last.set(r.key, r.offset);
    return written.filter((r) => {
      if (r.offset >= end) return true;
      if (last.get(r.key) !== r.offset) {
        // superseded within the cleaned part; a later record in the dirty part supersedes too
        return false;
      }
      return !(r.value === null && r.offset < dropTombstonesBelow);
    });
  }

  beforeEach(() => {
    dir = tempDir('tributary-cleaner-');
    clock = 1_700_000_000_000;
    written = [];
    log = open();
  });
  afterEach(async () => {
    await log.close();
    dir.remove();
  });

  const keys = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => `key-${from + i}`);

  it('keeps the last value per key across many segments, with offsets unchanged, and never touches the active segment', async () => {
    for (let round = 0; round < 12; round++) await append(keys(8), round);
    expect(log.segmentCount).toBeGreaterThan(5);
    const activeBefore = readFileSync(log.activeSegment.logPath);
    const activeBase = log.activeSegment.baseOffset;
    const leo = log.logEndOffset;
    const result = await cleaner().clean(log);
    expect(result).toMatchObject({ completed: true, endOffset: activeBase });
    expect(log.cleanerCheckpoint).toBe(activeBase);
    expect(readFileSync(log.activeSegment.logPath).equals(activeBefore)).toBe(true);
    expect(log.logEndOffset).toBe(leo);
    const after = readRecords(log);
    expect(after).toEqual(expectedAfterClean(activeBase));
    // Below the active segment, at most one record per key.
    const below = after.filter((r) => r.offset < activeBase).map((r) => r.key);
    expect(new Set(below).size).toBe(below.length);
    expect(log.size).toBeLessThan(activeBefore.length * 12);
    expect(readdirSync(log.dir).filter((f) => /\.(cleaned|swap)$/.test(f))).toEqual([]);
  });

  it('keeps retained batches byte for byte and re-encodes the others with their original offsets, compressed the same way', async () => {
    const codec = supportedCompressionCodecs().includes(CompressionCodec.Zstd) ? CompressionCodec.Zstd : CompressionCodec.Gzip;
    await append(keys(4), 0, { compression: codec }); // key-0..3, all superseded later except key-3
    await append(['key-9'], 0); // never superseded: copied as is
    await append(keys(3), 1, { compression: codec });
    log.roll();
    await append(['key-0'], 2);
    const before = log.read(0, 100_000).records;
    const [b0, b1] = batchesIn(before);
    const keptCopy = Buffer.from(before.subarray(b0!.size, b0!.size + b1!.size));
    await cleaner().clean(log);
    const records = log.read(0, 100_000).records;
    const first = decodeBatch(records, 0);
    expect(first).toMatchObject({ baseOffset: 0, lastOffsetDelta: 3, recordsCount: 1, compression: codec });
    expect(first.records.map((r) => r.offset)).toEqual([3]);
    expect(records.subarray(first.sizeInBytes, first.sizeInBytes + keptCopy.length).equals(keptCopy)).toBe(true);
    expect(readRecords(log).map((r) => r.offset)).toEqual([3, 4, 5, 6, 7, 8]);
  });

  it('serves every read path across the gaps: fetch at any offset, the offset index, ListOffsets by time, a follower, and recovery', async () => {
    for (let round = 0; round < 10; round++) {
      await append(keys(5), round);
      clock += 1000;
    }
    const activeBase = log.activeSegment.baseOffset;
    await cleaner().clean(log);
    const after = readRecords(log);
    const offsets = after.map((r) => r.offset);
    expect(offsets.length).toBeLessThan(written.length);
    // Fetch from every offset, gaps included: the first record at or after it comes back.
    for (let offset = 0; offset < log.logEndOffset; offset++) {
      const { records } = log.read(offset, 1);
      const firstAtOrAfter = decodeBatch(records, 0).records.find((r) => r.offset >= offset)!;
      expect(firstAtOrAfter.offset).toBe(offsets.find((o) => o >= offset));
    }
    // ListOffsets by timestamp: the first retained record with a timestamp ≥ t.
    for (const r of written) {
      const expected = after.find((a) => a.timestamp >= r.timestamp)!;
      expect(log.fetchOffsetByTimestamp(r.timestamp)).toMatchObject({ offset: expected.offset, timestamp: expected.timestamp });
    }
    // A follower copies the leader's compacted batches, gaps and all.
    const followerDir = tempDir('tributary-follower-');
    try {
      const follower = PartitionLog.open({ logDir: followerDir.path, topicPartition: TP, config: CONFIG, now });
      for (let offset = 0; offset < log.logEndOffset; ) {
        const { records, nextOffset } = log.read(offset, 600);
        await follower.appendAsFollower(Buffer.from(records));
        offset = nextOffset;
      }
      expect(follower.logEndOffset).toBe(log.logEndOffset);
      follower.updateHighWatermark(follower.logEndOffset);
      expect(readRecords(follower)).toEqual(after);
      await follower.close();
    } finally {
      followerDir.remove();
    }
    // Recovery of every segment (an unclean shutdown with recovery point 0) keeps the gaps.
    log.abandon();
    log = open({ hadCleanShutdown: false, recoveryPoint: 0, compacted: true, highWatermark: activeBase });
    log.updateHighWatermark(log.logEndOffset);
    expect(readRecords(log)).toEqual(after);
  });

  it('keeps tombstones until delete.retention.ms after the clean that first saw them, then drops them', async () => {
    await append(keys(6), 0);
    await append(['key-1', 'key-4'], 1, { tombstone: true });
    log.roll();
    await append(['key-0'], 2);
    await cleaner().clean(log);
    const cleanedAt = clock;
    let after = readRecords(log);
    expect(after.filter((r) => r.value === null).map((r) => r.key)).toEqual(['key-1', 'key-4']);
    expect(after.filter((r) => r.key === 'key-1')).toHaveLength(1); // the value before the tombstone is gone

    // Just before the horizon: a new clean (new dirty data) keeps them.
    clock = cleanedAt + DAY_MS - 1;
    log.roll();
    await append(['key-2'], 3);
    await cleaner().clean(log);
    expect(readRecords(log).filter((r) => r.value === null).map((r) => r.key)).toEqual(['key-1', 'key-4']);

    // At the horizon: dropped.
    clock = cleanedAt + DAY_MS;
    log.roll();
    await append(['key-3'], 4);
    await cleaner().clean(log);
    after = readRecords(log);
    expect(after.filter((r) => r.value === null)).toEqual([]);
    expect(after.map((r) => [r.offset, r.key])).toEqual([
      [3, 'key-3'],
      [5, 'key-5'],
      [8, 'key-0'],
      [9, 'key-2'],
      [10, 'key-3'],
    ]);
  });

  it("keeps an idempotent producer's last batch, emptied, so its sequence survives", async () => {
    const kv = (k: string): RecordInput => ({ key: Buffer.from(k), value: Buffer.from(`${k}-v`), timestamp: clock });
    await log.appendAsLeader(encodeBatch([kv('a'), kv('b')], { producerId: 7n, producerEpoch: 0, baseSequence: 0 }), 1);
    await log.appendAsLeader(encodeBatch([kv('c')], { producerId: 7n, producerEpoch: 0, baseSequence: 2 }), 1);
    await log.appendAsLeader(encodeBatch([kv('a'), kv('b'), kv('c')]), 1);
    log.roll();
    log.updateHighWatermark(log.logEndOffset);
    await cleaner().clean(log);
    const batches = batchesIn(log.read(0, 100_000).records);
    expect(batches.map((b) => [b.baseOffset, b.lastOffset])).toEqual([
      [2, 2],
      [3, 5],
    ]);
    const kept = decodeBatch(log.read(0, 100_000).records, 0);
    expect(kept).toMatchObject({ producerId: 7n, baseSequence: 2, recordsCount: 0, records: [] });
    expect(readRecords(log).map((r) => r.offset)).toEqual([3, 4, 5]);
    // The producer's next batch is still in sequence after a restart.
    await log.close();
    log = open();
    await expect(log.appendAsLeader(encodeBatch([kv('d')], { producerId: 7n, producerEpoch: 0, baseSequence: 3 }), 1)).resolves.toMatchObject({ firstOffset: 6 });
  });

  it('honours min.cleanable.dirty.ratio, dirtiest first', async () => {
    for (let round = 0; round < 6; round++) await append(keys(8), round);
    log.roll();
    const c = cleaner();
    expect(c.cleanableInfo(log).dirtyRatio).toBe(1);
    expect(await c.cleanDirtiest()).toBe(true);
    expect(c.stats.runs).toBe(1);
    // A little new dirty data next to a big clean part: below 0.5, nothing to do.
    log.roll();
    await append(['key-0'], 7);
    log.roll();
    const info = c.cleanableInfo(log);
    expect(info.dirtyBytes).toBeGreaterThan(0);
    expect(info.dirtyRatio).toBeLessThan(0.5);
    expect(await c.cleanDirtiest()).toBe(false);
    expect(c.stats.maxDirtyRatio).toBeCloseTo(info.dirtyRatio);
    log.updateConfig({ ...CONFIG, minCleanableDirtyRatio: 0.01 });
    expect(await c.cleanDirtiest()).toBe(true);
    expect(log.cleanerCheckpoint).toBe(log.activeSegment.baseOffset);
  });

  it('leaves records younger than min.compaction.lag.ms alone, and max.compaction.lag.ms forces a clean', async () => {
    log.updateConfig({ ...CONFIG, minCompactionLagMs: 60_000 });
    for (let round = 0; round < 4; round++) await append(keys(8), round);
    const c = cleaner();
    expect(c.cleanableInfo(log).dirtyBytes).toBe(0);
    expect(await c.cleanDirtiest()).toBe(false);
    clock += 60_000;
    expect(c.cleanableInfo(log).dirtyBytes).toBeGreaterThan(0);
    expect(await c.cleanDirtiest()).toBe(true);
    log.roll();
    await c.clean(log); // everything is clean now
    expect(c.cleanableInfo(log).dirtyBytes).toBe(0);

    log.updateConfig({ ...CONFIG, minCleanableDirtyRatio: 1, maxCompactionLagMs: 10_000 });
    log.roll();
    await append(['key-0'], 9);
    log.roll();
    expect(await c.cleanDirtiest()).toBe(false); // ratio below 1 and not overdue yet
    clock += 10_001;
    expect(c.cleanableInfo(log).overdue).toBe(true);
    expect(await c.cleanDirtiest()).toBe(true);
  });

  it('rolls the active segment of a compacted log at max.compaction.lag.ms (KIP-354)', async () => {
    log.updateConfig({ ...CONFIG, maxCompactionLagMs: 5_000 });
    await append(['key-0'], 0);
    clock += 5_000;
    await append(['key-0'], 1);
    expect(log.segmentCount).toBe(1);
    clock += 1;
    await append(['key-0'], 2);
    expect(log.segmentBaseOffsets).toEqual([0, 2]);
  });

  it('cleans only as far as a full offset map reaches, and finishes on the next run', async () => {
    for (let round = 0; round < 2; round++) await append(keys(40), round); // 40 distinct keys
    for (let round = 2; round < 4; round++) await append(keys(40), round);
    const activeBase = log.activeSegment.baseOffset;
    const small = cleaner({ dedupeBufferSize: 24 * 50 }); // 45 entries
    const first = await small.clean(log);
    expect(first.completed).toBe(true);
    expect(first.endOffset).toBeLessThan(activeBase);
    expect(first.endOffset).toBeGreaterThan(0);
    expect(readRecords(log)).toEqual(expectedAfterClean(first.endOffset));
    const second = await small.clean(log);
    expect(second.endOffset).toBeGreaterThan(first.endOffset);
    while (log.cleanerCheckpoint < activeBase) await small.clean(log);
    expect(readRecords(log)).toEqual(expectedAfterClean(activeBase));
  });

  it('refuses records without a key in a compacted topic (INVALID_RECORD) and applies no time retention to compact alone', async () => {
    await expect(log.appendAsLeader(encodeBatch([{ key: Buffer.from('a'), value: Buffer.from('1') }, { key: null, value: Buffer.from('2') }]), 1)).rejects.toMatchObject({
      code: ErrorCode.INVALID_RECORD,
    });
    expect(log.logEndOffset).toBe(0);
    for (let round = 0; round < 4; round++) await append(keys(8), round);
    clock += 30 * DAY_MS; // far past retention.ms
    expect(log.deleteOldSegments()).toBe(0);
    log.updateConfig(logConfigFromProperties({ 'cleanup.policy': 'compact,delete' }, CONFIG));
    expect(log.deleteOldSegments()).toBeGreaterThan(0);
  });

  it('marks a log it cannot read uncleanable instead of failing on it every run', async () => {
    for (let round = 0; round < 4; round++) await append(keys(8), round);
    const first = log.segmentsSnapshot()[0]!;
    const bytes = readFileSync(first.logPath);
    bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0xff; // inside the last batch's records: its CRC no longer matches
    writeFileSync(first.logPath, bytes);
    const c = cleaner();
    await expect(c.cleanDirtiest()).rejects.toThrow(/corrupt|CRC/i);
    expect(c.stats.uncleanableLogs).toBe(1);
    expect(await c.cleanDirtiest()).toBe(false);
    expect(readdirSync(log.dir).filter((f) => /\.(cleaned|swap)$/.test(f))).toEqual([]);
  });

  it('paces its IO to log.cleaner.io.max.bytes.per.second', async () => {
    for (let round = 0; round < 8; round++) await append(keys(8), round);
    let sleptMs = 0;
    const rate = 20_000;
    const c = cleaner({
      ioMaxBytesPerSecond: rate,
      sliceBytes: 512,
      sleep: async (ms) => {
        sleptMs += ms;
        clock += ms; // the only time that passes on the injected clock
      },
    });
    const result = await c.clean(log);
    const ioBytes = result.bytesRead + result.bytesWritten;
    expect(ioBytes).toBeGreaterThan(2 * rate * 0.1);
    // Every byte read or written was paid for at the allowed rate.
    expect(sleptMs).toBeCloseTo((ioBytes / rate) * 1000, 0);
    expect(c.stats.throttledMs).toBeCloseTo(sleptMs, 6);
  });

  it('cleans the dirtiest log first', async () => {
    const otherTp = { topic: 'compacted', partition: 1 };
    const other = PartitionLog.open({ logDir: dir.path, topicPartition: otherTp, config: CONFIG, now });
    try {
      for (let round = 0; round < 6; round++) await append(keys(8), round);
      log.roll();
      const c = new LogCleaner({ now }, () => [other, log]);
      await c.clean(log); // log: all clean now
      for (let round = 0; round < 2; round++) {
        const info = await other.appendAsLeader(encodeBatch(keys(8).map((k) => ({ key: Buffer.from(k), value: Buffer.alloc(40, 1) }))), 1);
        other.updateHighWatermark(info.lastOffset + 1);
        await append(['key-0'], 10 + round);
        log.roll();
        other.roll();
      }
      const [first, second] = c.cleanableLogs();
      expect(first!.log).toBe(other);
      expect(second!.log).toBe(log);
      expect(first!.dirtyRatio).toBeGreaterThan(second!.dirtyRatio);
      expect(await c.cleanDirtiest()).toBe(true);
      expect(other.cleanerCheckpoint).toBe(other.activeSegment.baseOffset);
      expect(log.cleanerCheckpoint).toBeLessThan(log.activeSegment.baseOffset);
    } finally {
      await other.close();
    }
  });

  it('abandons a clean when the log is truncated under it', async () => {
    for (let round = 0; round < 6; round++) await append(keys(8), round);
    const c = cleaner({ sliceBytes: 256 });
    const cleaning = c.clean(log);
    await log.truncateTo(20);
    const result = await cleaning;
    expect(result.completed).toBe(false);
    expect(c.stats.aborted).toBe(1);
    expect(readdirSync(log.dir).filter((f) => /\.(cleaned|swap)$/.test(f))).toEqual([]);
    expect(readRecords(log)).toEqual(written.filter((r) => r.offset < log.logEndOffset));
  });

  describe.each<SwapStep>(['cleaned', 'swap', 'old-deleted', 'renamed'])('a crash after swap step %s', (step) => {
    it('leaves a log that loads with every retained record', async () => {
      for (let round = 0; round < 10; round++) await append(keys(6), round);
      const before = readRecords(log);
      const activeBase = log.activeSegment.baseOffset;
      const c = cleaner({
        onSwapStep: (s) => {
          if (s === step) throw new InjectedCrash(s);
        },
      });
      await expect(c.clean(log)).rejects.toBeInstanceOf(InjectedCrash);
      log.abandon(); // as kill -9 leaves it
      log = open({ hadCleanShutdown: false, recoveryPoint: 0, compacted: true });
      log.updateHighWatermark(log.logEndOffset);
      expect(readdirSync(log.dir).filter((f) => /\.(cleaned|swap|deleted)$/.test(f))).toEqual([]);
      const after = readRecords(log);
      const compacted = expectedAfterClean(activeBase);
      // From the .swap rename on, the load completes the swap of the first group.
      if (step !== 'cleaned') expect(after.length).toBeLessThan(before.length);
      // Every record a full clean keeps is there, in order, with its offset; anything else
      // is a record of the original log (the crash may have left some segments uncleaned).
      const offsets = new Set(after.map((r) => r.offset));
      for (const r of compacted) expect(offsets.has(r.offset)).toBe(true);
      const original = new Map(before.map((r) => [r.offset, r]));
      for (const r of after) expect(r).toEqual(original.get(r.offset));
      expect(after.map((r) => r.offset)).toEqual([...offsets].sort((a, b) => a - b));
      // And the next clean finishes the job.
      await cleaner().clean(log);
      expect(readRecords(log)).toEqual(compacted);
    });
  });

  // The same with a real kill -9: a child process (the built library) runs the cleaner over
  // this log and SIGKILLs itself at a swap step, or in the middle of writing a .cleaned file
  // (checked between slices, through the throttle's sleep).
  const CHILD = `
    const { readdirSync, statSync } = require('node:fs');
    const { join } = require('node:path');
    const { PartitionLog, LogCleaner, logConfigFromProperties } = require('@tributary/log');
    const [dir, step, props] = process.argv.slice(1);
    const log = PartitionLog.open({ logDir: dir, topicPartition: { topic: 'compacted', partition: 0 }, config: logConfigFromProperties(JSON.parse(props)), compacted: true, recoveryPoint: 0 });
    log.updateHighWatermark(log.logEndOffset);
    const writing = () => readdirSync(log.dir).some((f) => f.endsWith('.cleaned') && statSync(join(log.dir, f)).size > 0);
    const cleaner = new LogCleaner({
      sliceBytes: 300,
      ioMaxBytesPerSecond: 1e9,
      sleep: async () => { if (step === 'mid-write' && writing()) process.kill(process.pid, 'SIGKILL'); },
      onSwapStep: (s) => { if (s === step) process.kill(process.pid, 'SIGKILL'); },
    }, () => [log]);
    cleaner.clean(log).then(() => process.exit(3), () => process.exit(4));
  `;
  it.each<SwapStep | 'mid-write'>(['mid-write', 'cleaned', 'swap', 'old-deleted', 'renamed'])('recovers after the cleaner process is killed -9 after step %s', async (step) => {
    for (let round = 0; round < 10; round++) await append(keys(6), round);
    const before = readRecords(log);
    const activeBase = log.activeSegment.baseOffset;
    log.abandon();
    const props = { 'cleanup.policy': 'compact', 'segment.bytes': '1024', 'index.interval.bytes': '256' };
    const child = spawn(process.execPath, ['-e', CHILD, dir.path, step, JSON.stringify(props)], { cwd: join(__dirname, '../../..'), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
    expect([signal, stderr]).toEqual(['SIGKILL', '']);
    log = open({ hadCleanShutdown: false, recoveryPoint: 0, compacted: true });
    log.updateHighWatermark(log.logEndOffset);
    expect(readdirSync(log.dir).filter((f) => /\.(cleaned|swap|deleted)$/.test(f))).toEqual([]);
    const after = readRecords(log);
    if (step !== 'cleaned' && step !== 'mid-write') expect(after.length).toBeLessThan(before.length);
    const original = new Map(before.map((r) => [r.offset, r]));
    for (const r of after) expect(r).toEqual(original.get(r.offset));
    const offsets = new Set(after.map((r) => r.offset));
    for (const r of expectedAfterClean(activeBase)) expect(offsets.has(r.offset)).toBe(true);
    await cleaner().clean(log);
    expect(readRecords(log)).toEqual(expectedAfterClean(activeBase));
  });

  it('deletes a partly written .cleaned file on load', async () => {
    for (let round = 0; round < 4; round++) await append(keys(6), round);
    const before = readRecords(log);
    const stray = join(log.dir, `${'0'.padStart(20, '0')}.log.cleaned`);
    writeFileSync(stray, Buffer.alloc(100, 7));
    log.abandon();
    log = open({ hadCleanShutdown: false, recoveryPoint: 0, compacted: true });
    log.updateHighWatermark(log.logEndOffset);
    expect(existsSync(stray)).toBe(false);
    expect(readRecords(log)).toEqual(before);
  });
});

describe('LogManager with the cleaner', () => {
  it('cleans compacted logs in the background, checkpoints them, and reloads them with their gaps after a crash', async () => {
    const root = tempDir('tributary-lm-cleaner-');
    try {
      const logDirs = [join(root.path, 'd')];
      let manager = LogManager.open({ logDirs, cleaner: { backoffMs: 20 } });
      const log = manager.getOrCreateLog(TP, CONFIG);
      const plain = manager.getOrCreateLog({ topic: 'plain', partition: 0 }, { ...DEFAULT_LOG_CONFIG, segmentBytes: 2048 });
      // Marked as compacted on disk at once, before any clean: a crash now still loads it with gaps allowed.
      expect(readFileSync(join(logDirs[0]!, CLEANER_OFFSET_CHECKPOINT_FILE), 'utf8')).toBe('0\n1\ncompacted 0 0\n');
      for (let round = 0; round < 8; round++) {
        const batch = encodeBatch(Array.from({ length: 6 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`v${round}`.padEnd(50, '-')) })));
        await log.appendAsLeader(Buffer.from(batch), 0);
        await plain.appendAsLeader(batch, 0);
      }
      log.updateHighWatermark(log.logEndOffset);
      plain.updateHighWatermark(plain.logEndOffset);
      const plainBefore = readRecords(plain);
      manager.startup();
      const deadline = Date.now() + 20_000;
      while (log.cleanerCheckpoint < log.activeSegment.baseOffset && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(log.cleanerCheckpoint).toBe(log.activeSegment.baseOffset);
      expect(manager.cleanerStats.runs).toBeGreaterThanOrEqual(1);
      expect(manager.cleanerStats.bytesRead).toBeGreaterThan(0);
      expect(readRecords(plain)).toEqual(plainBefore); // delete-only logs are not compacted
      const checkpoint = readFileSync(join(logDirs[0]!, CLEANER_OFFSET_CHECKPOINT_FILE), 'utf8');
      expect(checkpoint).toContain(`compacted 0 ${log.cleanerCheckpoint}`);
      expect(checkpoint).not.toContain('plain');
      const compacted = readRecords(log);
      expect(compacted.length).toBeLessThan(48);
      // Crash: no clean shutdown; on load the log is known to be compacted (gaps are fine)
      // although its topic config has not arrived yet.
      await manager.logCleaner.stop();
      for (const l of manager.allLogs()) l.abandon();
      manager = LogManager.open({ logDirs, cleaner: { enable: false } });
      const reloaded = manager.getLog(TP)!;
      expect(reloaded.mayHaveOffsetGaps).toBe(true);
      reloaded.updateHighWatermark(reloaded.logEndOffset);
      expect(readRecords(reloaded)).toEqual(compacted);
      await manager.shutdown();
    } finally {
      root.remove();
    }
  });
});

describe('compaction configs', () => {
  it('parses every value the controller accepts for the compaction keys', () => {
    const config = logConfigFromProperties({
      'cleanup.policy': 'compact, delete',
      'delete.retention.ms': '9223372036854775807',
      'max.compaction.lag.ms': '9223372036854775000',
      'min.compaction.lag.ms': '5',
      'min.cleanable.dirty.ratio': '0.25',
    });
    expect(config).toMatchObject({ cleanupCompact: true, cleanupDelete: true, deleteRetentionMs: Infinity, maxCompactionLagMs: Infinity, minCompactionLagMs: 5, minCleanableDirtyRatio: 0.25 });
    expect(logConfigFromProperties({ 'cleanup.policy': 'compact' })).toMatchObject({ cleanupCompact: true, cleanupDelete: false });
    expect(DEFAULT_LOG_CONFIG).toMatchObject({ cleanupCompact: false, cleanupDelete: true, deleteRetentionMs: DAY_MS, minCleanableDirtyRatio: 0.5, minCompactionLagMs: 0 });
    expect(() => logConfigFromProperties({ 'cleanup.policy': 'shred' })).toThrow(/cleanup.policy: 'shred' is not a list of delete, compact/);
    expect(() => logConfigFromProperties({ 'min.cleanable.dirty.ratio': '2' })).toThrow(/between 0 and 1/);
  });
});

describe('OffsetMap', () => {
  it('hashes with MurmurHash3 x86 32-bit (reference vectors)', () => {
    expect(murmur3(Buffer.alloc(0), 0, 0, 0)).toBe(0);
    expect(murmur3(Buffer.from('hello'), 0, 5, 0)).toBe(0x248bfa47);
    const fox = Buffer.from('xxThe quick brown fox jumps over the lazy dog');
    expect(murmur3(fox, 2, fox.length - 2, 0x9747b28c)).toBe(0x2fa826cd);
  });

  it('keeps the latest offset per key within its capacity', () => {
    const map = new OffsetMap(24 * 300_000);
    const key = (i: number): Buffer => Buffer.from(`key-${i}`);
    for (let round = 0; round < 2; round++) for (let i = 0; i < 200_000; i++) map.put(key(i), 0, key(i).length, round * 200_000 + i);
    expect(map.size).toBe(200_000); // no two keys merged
    expect(map.latestOffset).toBe(399_999);
    for (const i of [0, 1, 77_777, 199_999]) expect(map.get(key(i), 0, key(i).length)).toBe(200_000 + i);
    expect(map.get(Buffer.from('absent'), 0, 6)).toBe(-1);
    const full = new OffsetMap(24 * 10);
    for (let i = 0; i < full.capacity; i++) full.put(key(i), 0, key(i).length, i);
    expect(full.isFull).toBe(true);
    expect(() => full.put(key(99), 0, key(99).length, 99)).toThrow(/full/);
  });
});
