/**
 * log-append: how fast PartitionLog.appendAsLeader stores 100-byte records, in 16 KiB and
 * 1 MiB batches, beside the raw ceiling measured in the same run: fs.writeSync of the same
 * bytes (1 MiB writes) into a new file in the same directory. Each round writes the same
 * volume three ways, interleaved, and the median of the rounds is reported.
 *
 * What an append includes here: full validation (header, CRC32C, every record's framing),
 * offset and leader-epoch assignment in place, index maintenance, the write. Batches are
 * encoded once beforehand (encoding is the producer's work, measured by records-codec) and
 * re-appended; appendAsLeader re-stamps their offsets each time. Appends are pipelined as a
 * broker's concurrent produce requests are: validation of the next batches on the event
 * loop overlaps the previous write on libuv's thread pool (2 cores here).
 */
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_LOG_CONFIG, PartitionLog } from '@tributary/log';
import type { LogAppendInfo } from '@tributary/log';
import { encodeBatch } from '@tributary/records';
import type { Benchmark, BenchContext } from './harness';
import { MiB, medianOf, nowSeconds, round } from './harness';

const RECORD_VALUE_BYTES = 100;

/** Batches of about `targetBytes`, of 100-byte records with null keys. */
function makeBatches(targetBytes: number, count: number): { batches: Buffer[]; recordsPerBatch: number } {
  const probe = encodeBatch([{ key: null, value: Buffer.alloc(RECORD_VALUE_BYTES, 1) }]);
  const perRecord = encodeBatch([
    { key: null, value: Buffer.alloc(RECORD_VALUE_BYTES, 1) },
    { key: null, value: Buffer.alloc(RECORD_VALUE_BYTES, 1) },
  ]).length - probe.length;
  let recordsPerBatch = Math.max(1, Math.floor((targetBytes - (probe.length - perRecord)) / perRecord));
  const build = (b: number): Buffer =>
    encodeBatch(
      Array.from({ length: recordsPerBatch }, (_, i) => ({
        key: null,
        value: Buffer.alloc(RECORD_VALUE_BYTES, (b * 31 + i) & 0xff),
        timestamp: 1_700_000_000_000 + i,
      })),
    );
  // Varint deltas grow with the record index: trim until the batch fits the target.
  while (recordsPerBatch > 1 && build(0).length > targetBytes) recordsPerBatch -= Math.max(1, Math.floor(recordsPerBatch / 200));
  const batches = Array.from({ length: count }, (_, b) => build(b));
  return { batches, recordsPerBatch };
}

/**
 * Appends `totalBytes` as a broker would under load: several appends in flight (the log
 * validates the next batches while the previous write runs on the thread pool), at most
 * `batches.length / 2` of them, and a buffer is reused only after its append completed.
 */
async function appendRound(dir: string, batches: Buffer[], totalBytes: number): Promise<{ seconds: number; bytes: number; records: number }> {
  rmSync(dir, { recursive: true, force: true });
  const log = PartitionLog.open({ logDir: dir, topicPartition: { topic: 'bench', partition: 0 }, config: DEFAULT_LOG_CONFIG });
  const maxInFlight = Math.max(1, Math.floor(batches.length / 2));
  const inFlight: Promise<LogAppendInfo>[] = [];
  let bytes = 0;
  let records = 0;
  const start = nowSeconds();
  for (let i = 0; bytes < totalBytes; i++) {
    if (inFlight.length >= maxInFlight) records += (await inFlight.shift()!).recordCount;
    const batch = batches[i % batches.length]!;
    inFlight.push(log.appendAsLeader(batch, 1));
    bytes += batch.length;
  }
  for (const p of inFlight) records += (await p).recordCount;
  const seconds = nowSeconds() - start;
  await log.close();
  rmSync(dir, { recursive: true, force: true });
  return { seconds, bytes, records };
}

/** fs.writeSync of the same 1 MiB batches, back to back, into a new file. */
function ceilingRound(dir: string, chunks: Buffer[], totalBytes: number): number {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'ceiling.bin');
  const fd = openSync(path, 'w');
  let bytes = 0;
  const start = nowSeconds();
  for (let i = 0; bytes < totalBytes; i++) bytes += writeSync(fd, chunks[i % chunks.length]!);
  const seconds = nowSeconds() - start;
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
  return bytes / seconds / 1e6;
}

const bench: Benchmark = {
  description: 'PartitionLog.appendAsLeader of 100-byte records in 16 KiB and 1 MiB batches vs fs.writeSync ceiling',
  async run(ctx: BenchContext) {
    const totalBytes = (ctx.quick ? 192 : 1024) * MiB;
    const rounds = 3;
    const small = makeBatches(16 * 1024, 128);
    const large = makeBatches(MiB, Number(process.env.BENCH_LARGE_BUFFERS ?? 8));
    ctx.report(`records per batch: ${small.recordsPerBatch} (16 KiB), ${large.recordsPerBatch} (1 MiB); ${totalBytes / MiB} MiB per round, ${rounds} rounds`);
    const dir = join(ctx.scratchDir, 'log');
    // Warm-up (JIT, allocator) on a small volume.
    await appendRound(dir, small.batches, 16 * MiB);
    await appendRound(dir, large.batches, 16 * MiB);
    ceilingRound(dir, large.batches, 16 * MiB);

    const ceiling: number[] = [];
    const large1: number[] = [];
    const smallRecs: number[] = [];
    const smallMb: number[] = [];
    for (let r = 0; r < rounds; r++) {
      ceiling.push(ceilingRound(dir, large.batches, totalBytes));
      const a = await appendRound(dir, large.batches, totalBytes);
      large1.push(a.bytes / a.seconds / 1e6);
      const s = await appendRound(dir, small.batches, totalBytes);
      smallRecs.push(s.records / s.seconds);
      smallMb.push(s.bytes / s.seconds / 1e6);
      ctx.report(
        `round ${r + 1}: ceiling ${ceiling[r]!.toFixed(0)} MB/s | 1 MiB batches ${large1[r]!.toFixed(0)} MB/s | ` +
          `16 KiB batches ${smallMb[r]!.toFixed(0)} MB/s = ${(smallRecs[r]! / 1e6).toFixed(2)} M records/s`,
      );
    }
    const med = (xs: number[]) => medianOf(xs.length, (i) => xs[i]!);
    const ceilingMb = await med(ceiling);
    const append1MiB = await med(large1);
    const records16 = await med(smallRecs);
    const mb16 = await med(smallMb);
    ctx.report(`median: ceiling ${ceilingMb.toFixed(0)} MB/s, 1 MiB ${append1MiB.toFixed(0)} MB/s (ratio ${(append1MiB / ceilingMb).toFixed(2)}), 16 KiB ${(records16 / 1e6).toFixed(2)} M records/s (${mb16.toFixed(0)} MB/s)`);
    ctx.report(`heap used after the run: ${(process.memoryUsage().heapUsed / MiB).toFixed(1)} MiB`);
    return {
      ceiling_mb_s: round(ceilingMb),
      append_1mib_mb_s: round(append1MiB),
      ratio_1mib: round(append1MiB / ceilingMb, 3),
      records_per_s_16kib: Math.round(records16),
      append_16kib_mb_s: round(mb16),
      total_mb_per_round: round(totalBytes / 1e6),
    };
  },
};

export default bench;
