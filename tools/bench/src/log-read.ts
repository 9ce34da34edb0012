/**
 * log-read: MB/s reading a whole partition log from the page cache with PartitionLog.read,
 * in 1 MiB reads from offset 0 to the end, the way a consumer catching up (or a follower)
 * fetches. Every batch returned is CRC-checked by the read path. Two variants: reading into
 * a reused buffer (what a pooled fetch path does) and into a fresh buffer per read.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_LOG_CONFIG, PartitionLog } from '@tributary/log';
import type { LogAppendInfo } from '@tributary/log';
import { encodeBatch } from '@tributary/records';
import type { Benchmark, BenchContext } from './harness';
import { MiB, medianOf, nowSeconds, round } from './harness';

function readWhole(log: PartitionLog, into: Buffer | undefined): { bytes: number; seconds: number } {
  let offset = log.logStartOffset;
  let bytes = 0;
  const start = nowSeconds();
  while (offset < log.logEndOffset) {
    const { records, nextOffset } = log.read(offset, MiB, { into });
    bytes += records.length;
    offset = nextOffset;
  }
  return { bytes, seconds: nowSeconds() - start };
}

const bench: Benchmark = {
  description: 'PartitionLog.read of a whole log from the page cache, 1 MiB at a time',
  async run(ctx: BenchContext) {
    const totalBytes = (ctx.quick ? 256 : 1024) * MiB;
    const dir = join(ctx.scratchDir, 'log');
    const log = PartitionLog.open({ logDir: dir, topicPartition: { topic: 'bench', partition: 0 }, config: DEFAULT_LOG_CONFIG });
    // 16 KiB batches of 100-byte records: reads cross many batch boundaries.
    const batches = Array.from({ length: 64 }, (_, b) =>
      encodeBatch(Array.from({ length: 148 }, (_, i) => ({ key: null, value: Buffer.alloc(100, (b + i) & 0xff), timestamp: 1_700_000_000_000 + i }))),
    );
    let written = 0;
    const inFlight: Promise<LogAppendInfo>[] = [];
    for (let i = 0; written < totalBytes; i++) {
      if (inFlight.length >= 32) await inFlight.shift();
      const batch = batches[i % batches.length]!;
      inFlight.push(log.appendAsLeader(batch, 0));
      written += batch.length;
    }
    await Promise.all(inFlight);
    ctx.report(`log of ${(written / 1e6).toFixed(0)} MB in ${log.segmentCount} segment(s), ${log.logEndOffset} records`);
    readWhole(log, Buffer.allocUnsafe(MiB)); // warm the page cache and the JIT
    const pooled = Buffer.allocUnsafe(MiB);
    const pooledRates: number[] = [];
    const freshRates: number[] = [];
    for (let r = 0; r < 3; r++) {
      const a = readWhole(log, pooled);
      pooledRates.push(a.bytes / a.seconds / 1e6);
      const b = readWhole(log, undefined);
      freshRates.push(b.bytes / b.seconds / 1e6);
      ctx.report(`round ${r + 1}: reused buffer ${pooledRates[r]!.toFixed(0)} MB/s | fresh buffer per read ${freshRates[r]!.toFixed(0)} MB/s`);
    }
    const pooledMb = await medianOf(3, (i) => pooledRates[i]!);
    const freshMb = await medianOf(3, (i) => freshRates[i]!);
    ctx.report(`median: ${pooledMb.toFixed(0)} MB/s into a reused buffer, ${freshMb.toFixed(0)} MB/s into fresh buffers`);
    ctx.report(`heap used: ${(process.memoryUsage().heapUsed / MiB).toFixed(1)} MiB for a ${(written / MiB).toFixed(0)} MiB log`);
    await log.close();
    rmSync(dir, { recursive: true, force: true });
    return {
      read_mb_s: round(pooledMb),
      read_fresh_buffer_mb_s: round(freshMb),
      log_mb: round(written / 1e6),
    };
  },
};

export default bench;
