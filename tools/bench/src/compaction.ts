/**
 * compaction: records/s and MB/s the log cleaner gets through when compacting a log of keyed
 * records (100-byte values, 50 records per batch, 10,000 distinct keys so nearly every record
 * is superseded), with the default offset map (log.cleaner.dedupe.buffer.size 128 MiB) and
 * no throttle; also the longest the event loop was kept from running a 1 ms timer during the
 * clean (the cleaner works in slices), and what was left. Peak RSS is in the JSON line.
 */
import { join } from 'node:path';
import { DEFAULT_LOG_CONFIG, LogCleaner, PartitionLog } from '@tributary/log';
import type { LogAppendInfo, LogConfig } from '@tributary/log';
import { encodeBatch } from '@tributary/records';
import type { Benchmark, BenchContext } from './harness';
import { MiB, nowSeconds, prng, round } from './harness';

const KEYS = 10_000;
const RECORDS_PER_BATCH = 50;

const bench: Benchmark = {
  description: 'LogCleaner.clean of a log of keyed records (10,000 keys), default offset map, unthrottled',
  async run(ctx: BenchContext) {
    const totalRecords = ctx.quick ? 500_000 : 2_000_000;
    const config: LogConfig = { ...DEFAULT_LOG_CONFIG, cleanupCompact: true, cleanupDelete: false, segmentBytes: 16 * MiB };
    const log = PartitionLog.open({ logDir: join(ctx.scratchDir, 'log'), topicPartition: { topic: 'bench', partition: 0 }, config });
    const random = prng(42);
    const inFlight: Promise<LogAppendInfo>[] = [];
    for (let n = 0; n < totalRecords; n += RECORDS_PER_BATCH) {
      if (inFlight.length >= 32) await inFlight.shift();
      const records = Array.from({ length: RECORDS_PER_BATCH }, () => ({
        key: Buffer.from(`key-${Math.floor(random() * KEYS)}`),
        value: Buffer.alloc(100, 97 + Math.floor(random() * 26)),
        timestamp: 1_700_000_000_000 + n,
      }));
      inFlight.push(log.appendAsLeader(encodeBatch(records), 0));
    }
    await Promise.all(inFlight);
    log.roll();
    log.updateHighWatermark(log.logEndOffset);
    const sizeBefore = log.size;
    ctx.report(`log of ${totalRecords} records, ${(sizeBefore / 1e6).toFixed(0)} MB in ${log.segmentCount} segment(s)`);

    // The event loop's longest stall: a 1 ms timer's worst lateness while the cleaner runs.
    let maxStallMs = 0;
    let last = nowSeconds();
    const timer = setInterval(() => {
      const t = nowSeconds();
      maxStallMs = Math.max(maxStallMs, (t - last) * 1000 - 1);
      last = t;
    }, 1);
    const cleaner = new LogCleaner({}, () => [log]);
    const start = nowSeconds();
    const result = await cleaner.clean(log);
    const seconds = nowSeconds() - start;
    clearInterval(timer);
    if (!result.completed) throw new Error('the clean was abandoned');
    const recordsPerS = totalRecords / seconds;
    ctx.report(
      `cleaned in ${seconds.toFixed(2)} s: ${recordsPerS.toFixed(0)} records/s, ${(result.bytesRead / seconds / 1e6).toFixed(1)} MB/s read; ` +
        `${result.recordsRemoved} records removed, ${(sizeBefore / 1e6).toFixed(1)} → ${(log.size / 1e6).toFixed(1)} MB; longest event-loop stall ${maxStallMs.toFixed(1)} ms`,
    );
    await log.close();
    return {
      records_per_s: round(recordsPerS, 0),
      read_mb_s: round(result.bytesRead / seconds / 1e6),
      records_removed: result.recordsRemoved,
      size_before_mb: round(sizeBefore / 1e6),
      size_after_mb: round(log.size / 1e6),
      max_event_loop_stall_ms: round(maxStallMs),
    };
  },
};

export default bench;
