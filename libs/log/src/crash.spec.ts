/**
 * Crash tests: write batches, stop without a clean close (as kill -9 would), damage the files
 * the way a crash or a bad disk can (torn tail, garbage appended, flipped bytes in the
 * unflushed segments, flipped bytes in any index), reopen, and check that the log is a
 * valid prefix of what was written: every batch byte-identical to the original, offsets
 * contiguous, everything below the recovery point kept, every read decodable.
 */
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readSync, writeSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';
import { CorruptRecordError, decodeBatch, validateBatchAt } from '@tributary/records';
import type { LogConfig } from './config';
import { DEFAULT_LOG_CONFIG } from './config';
import { PartitionLog } from './partition-log';
import { makeBatch, prng, tempDir } from './test-helpers';

const TP = { topic: 'crash', partition: 3 };
const SEEDS = 300;

type Mutation = 'truncate-tail' | 'garbage-tail' | 'flip-unflushed' | 'flip-index' | 'none';
const MUTATIONS: Mutation[] = ['truncate-tail', 'garbage-tail', 'flip-unflushed', 'flip-index', 'none'];

function fileSize(path: string): number {
  const fd = openSync(path, 'r');
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}

function flipBytes(path: string, random: () => number, count: number, from = 0): void {
  const size = fileSize(path);
  if (size <= from) return;
  const fd = openSync(path, 'r+');
  const one = Buffer.alloc(1);
  try {
    for (let i = 0; i < count; i++) {
      const at = from + Math.floor(random() * (size - from));
      readSync(fd, one, 0, 1, at);
      one[0] = one[0]! ^ (1 + Math.floor(random() * 255));
      writeSync(fd, one, 0, 1, at);
    }
  } finally {
    closeSync(fd);
  }
}

function readEverything(log: PartitionLog, random: () => number): Buffer[] {
  const out: Buffer[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const { records, nextOffset } = log.read(offset, 1 + Math.floor(random() * 8000));
    expect(records.length).toBeGreaterThan(0);
    for (let pos = 0; pos < records.length; ) {
      const size = validateBatchAt(records, pos);
      decodeBatch(records, pos); // every read decodes
      out.push(Buffer.from(records.subarray(pos, pos + size)));
      pos += size;
    }
    offset = nextOffset;
  }
  return out;
}

describe('PartitionLog crash recovery', () => {
  it.each(MUTATIONS)('keeps a valid prefix after a crash with %s (hundreds of seeds)', async (mutation) => {
    for (let seed = 1; seed <= SEEDS / MUTATIONS.length; seed++) {
      const random = prng(seed * 7919 + MUTATIONS.indexOf(mutation));
      const dir = tempDir('tributary-crash-');
      const config: LogConfig = {
        ...DEFAULT_LOG_CONFIG,
        segmentBytes: 2000 + Math.floor(random() * 20_000),
        indexIntervalBytes: Math.floor(random() * 1024),
      };
      const open = (recoveryPoint: number): PartitionLog =>
        PartitionLog.open({ logDir: dir.path, topicPartition: TP, config, recoveryPoint, hadCleanShutdown: false });
      try {
        let log = open(0);
        const written: Buffer[] = [];
        const offsets: number[] = [];
        const batches = 5 + Math.floor(random() * 40);
        const flushAt = Math.floor(random() * batches);
        let recoveryPoint = 0;
        for (let i = 0; i < batches; i++) {
          const batch = makeBatch(1 + Math.floor(random() * 10), { valueBytes: Math.floor(random() * 300), timestamp: 1000 + i });
          offsets.push((await log.appendAsLeader(batch, 1 + Math.floor(i / 10))).firstOffset);
          written.push(Buffer.from(batch));
          if (i === flushAt) {
            log.flush();
            recoveryPoint = log.recoveryPoint;
          }
        }
        const segmentsDir = log.dir;
        const bases = log.segmentBaseOffsets;
        log.abandon(); // kill -9

        const logFiles = readdirSync(segmentsDir).filter((f) => f.endsWith('.log')).sort();
        const lastLog = join(segmentsDir, logFiles.at(-1)!);
        // A crash can only damage what is above the recovery point: the bytes of segment i
        // from `flushedBytes(i)` on.
        const flushedBytes = (i: number): number => {
          const base = bases[i]!;
          let bytes = 0;
          written.forEach((b, k) => {
            if (offsets[k]! >= base && offsets[k]! < recoveryPoint) bytes += b.length;
          });
          return bytes;
        };
        const unflushed = logFiles.map((_, i) => i).filter((i) => (bases[i + 1] ?? Infinity) > recoveryPoint);
        switch (mutation) {
          case 'truncate-tail': {
            const fd = openSync(lastLog, 'r+');
            const from = flushedBytes(logFiles.length - 1);
            ftruncateSync(fd, from + Math.floor(random() * (fstatSync(fd).size - from)));
            closeSync(fd);
            break;
          }
          case 'garbage-tail': {
            const fd = openSync(lastLog, 'r+');
            const garbage = Buffer.alloc(1 + Math.floor(random() * 200));
            for (let i = 0; i < garbage.length; i++) garbage[i] = Math.floor(random() * 256);
            if (garbage.length >= 12 && random() < 0.5) garbage.writeInt32BE(garbage.length - 12 + Math.floor(random() * 100), 8);
            writeSync(fd, garbage, 0, garbage.length, fstatSync(fd).size);
            closeSync(fd);
            break;
          }
          case 'flip-unflushed': {
            const victim = unflushed[Math.floor(random() * unflushed.length)];
            if (victim !== undefined) flipBytes(join(segmentsDir, logFiles[victim]!), random, 1 + Math.floor(random() * 4), flushedBytes(victim));
            break;
          }
          case 'flip-index': {
            const indexes = readdirSync(segmentsDir).filter((f) => f.endsWith('.index') || f.endsWith('.timeindex'));
            for (const f of indexes) if (random() < 0.7) flipBytes(join(segmentsDir, f), random, 1 + Math.floor(random() * 4));
            break;
          }
          case 'none':
            break;
        }

        log = open(recoveryPoint);
        const recovered = readEverything(log, random);
        expect(log.logEndOffset).toBeGreaterThanOrEqual(recoveryPoint);
        expect(recovered.length).toBeLessThanOrEqual(written.length);
        for (let i = 0; i < recovered.length; i++) {
          if (!recovered[i]!.equals(written[i]!)) throw new Error(`seed ${seed}: batch ${i} differs after recovery (${mutation})`);
        }
        if (mutation === 'none' || mutation === 'flip-index') expect(recovered.length).toBe(written.length);
        // Random lookups land in the right batch even where indexes were damaged.
        for (let k = 0; k < 10 && log.logEndOffset > 0; k++) {
          const offset = Math.floor(random() * log.logEndOffset);
          const { records } = log.read(offset, 1);
          const batch = decodeBatch(records, 0);
          expect(batch.records[0]!.offset).toBeLessThanOrEqual(offset);
          expect(batch.records.at(-1)!.offset).toBeGreaterThanOrEqual(offset);
        }
        // The log keeps working where it stopped.
        const leo = log.logEndOffset;
        expect((await log.appendAsLeader(makeBatch(2), 9)).firstOffset).toBe(leo);
        await log.close();
      } finally {
        dir.remove();
      }
    }
  });

  it('reports bit rot in a flushed segment instead of serving it', async () => {
    const dir = tempDir('tributary-rot-');
    try {
      const config = { ...DEFAULT_LOG_CONFIG, segmentBytes: 3000 };
      let log = PartitionLog.open({ logDir: dir.path, topicPartition: TP, config });
      for (let i = 0; i < 20; i++) await log.appendAsLeader(makeBatch(5, { valueBytes: 80 }), 0);
      const leo = log.logEndOffset;
      await log.close();
      const first = join(log.dir, '00000000000000000000.log');
      expect(existsSync(first)).toBe(true);
      // Damage a value byte inside the first batch of the first (flushed, trusted) segment.
      const fd = openSync(first, 'r+');
      const b = Buffer.alloc(1);
      readSync(fd, b, 0, 1, 100);
      b[0] = b[0]! ^ 0xff;
      writeSync(fd, b, 0, 1, 100);
      closeSync(fd);
      log = PartitionLog.open({ logDir: dir.path, topicPartition: TP, config, hadCleanShutdown: true, recoveryPoint: leo });
      expect(() => log.read(0, 1 << 20)).toThrow(CorruptRecordError);
      // Later batches are still served.
      expect(log.read(5, 1 << 20).records.length).toBeGreaterThan(0);
      await log.close();
    } finally {
      dir.remove();
    }
  });
});

describe('PartitionLog recovery of fields the CRC does not cover', () => {
  it('drops a batch whose baseOffset was damaged (offsets must continue)', async () => {
    const dir = tempDir('tributary-base-');
    try {
      const config = { ...DEFAULT_LOG_CONFIG };
      let log = PartitionLog.open({ logDir: dir.path, topicPartition: TP, config });
      const sizes: number[] = [];
      for (let i = 0; i < 5; i++) {
        const b = makeBatch(3);
        await log.appendAsLeader(b, 0);
        sizes.push(b.length);
      }
      log.abandon();
      // Raise the baseOffset of the 4th batch by 1000: CRC still valid, offsets now wrong.
      const at = sizes[0]! + sizes[1]! + sizes[2]!;
      const path = join(dir.path, 'crash-3', '00000000000000000000.log');
      const fd = openSync(path, 'r+');
      const b = Buffer.alloc(8);
      b.writeBigInt64BE(1009n);
      writeSync(fd, b, 0, 8, at);
      closeSync(fd);
      log = PartitionLog.open({ logDir: dir.path, topicPartition: TP, config, recoveryPoint: 0 });
      expect(log.logEndOffset).toBe(9);
      await log.close();
    } finally {
      dir.remove();
    }
  });
});
