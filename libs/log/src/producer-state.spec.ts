import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode } from '@tributary/records';
import type { LogConfig } from './config';
import { DEFAULT_LOG_CONFIG } from './config';
import { PartitionLog } from './partition-log';
import type { PartitionLogOptions } from './partition-log';
import { PRODUCER_SNAPSHOT_FILE_SUFFIX, ProducerStateManager, incrementSequence } from './producer-state';
import { makeBatch, tempDir } from './test-helpers';

const TP = { topic: 'payments', partition: 0 };

/** An idempotent producer's batch of `count` records starting at `seq`. */
function idempotent(producerId: number, epoch: number, seq: number, count = 3, tag = 'k'): Buffer {
  return makeBatch(count, { producerId: BigInt(producerId), producerEpoch: epoch, baseSequence: seq, valueBytes: 10, tag });
}

async function codeOf(p: Promise<unknown>): Promise<ErrorCode | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return (e as { code?: ErrorCode }).code;
  }
}

describe.each<[string, Partial<LogConfig>]>([
  ['one segment', {}],
  ['small segments (rolls and snapshots)', { segmentBytes: 400 }],
])('producer state (%s)', (_name, overrides) => {
  let dir: ReturnType<typeof tempDir>;
  let log: PartitionLog;
  const config: LogConfig = { ...DEFAULT_LOG_CONFIG, ...overrides };
  const open = (extra: Partial<PartitionLogOptions> = {}): PartitionLog => PartitionLog.open({ logDir: dir.path, topicPartition: TP, config, ...extra });

  beforeEach(() => {
    dir = tempDir();
    log = open();
  });
  afterEach(async () => {
    await log.close();
    dir.remove();
  });

  it('answers a retried batch with the original offsets and writes it once', async () => {
    const first = await log.appendAsLeader(idempotent(7, 0, 0), 0);
    const second = await log.appendAsLeader(idempotent(7, 0, 3), 0);
    const endBefore = log.logEndOffset;
    const retry = await log.appendAsLeader(idempotent(7, 0, 0), 0);
    expect(retry.duplicate).toBe(true);
    expect(retry.firstOffset).toBe(first.firstOffset);
    expect(retry.lastOffset).toBe(first.lastOffset);
    expect(log.logEndOffset).toBe(endBefore);
    const retry2 = await log.appendAsLeader(idempotent(7, 0, 3), 0);
    expect([retry2.duplicate, retry2.firstOffset]).toEqual([true, second.firstOffset]);
  });

  it('remembers the last 5 batches; an older retry is out of order', async () => {
    const offsets: number[] = [];
    for (let i = 0; i < 7; i++) offsets.push((await log.appendAsLeader(idempotent(7, 0, i * 2, 2), 0)).firstOffset);
    expect((await log.appendAsLeader(idempotent(7, 0, 4, 2), 0)).firstOffset).toBe(offsets[2]);
    expect(await codeOf(log.appendAsLeader(idempotent(7, 0, 2, 2), 0))).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  });

  it('refuses a sequence gap and leaves the log unchanged', async () => {
    await log.appendAsLeader(idempotent(7, 0, 0), 0);
    const end = log.logEndOffset;
    expect(await codeOf(log.appendAsLeader(idempotent(7, 0, 4), 0))).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect(log.logEndOffset).toBe(end);
    // The next batch in sequence still goes in.
    expect((await log.appendAsLeader(idempotent(7, 0, 3), 0)).duplicate).toBeUndefined();
  });

  it('fences an older epoch; a newer epoch must start at sequence 0', async () => {
    await log.appendAsLeader(idempotent(7, 2, 0), 0);
    expect(await codeOf(log.appendAsLeader(idempotent(7, 1, 3), 0))).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    expect(await codeOf(log.appendAsLeader(idempotent(7, 3, 5), 0))).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    await log.appendAsLeader(idempotent(7, 3, 0), 0);
    expect(log.producerStateManager.lastEntry(7)?.producerEpoch).toBe(3);
    // Epoch 2's batches are no longer duplicates: its retries are fenced.
    expect(await codeOf(log.appendAsLeader(idempotent(7, 2, 0), 0))).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
  });

  it('an unknown producer starts at 0, else UNKNOWN_PRODUCER_ID; producers are independent', async () => {
    expect(await codeOf(log.appendAsLeader(idempotent(9, 0, 12), 0))).toBe(ErrorCode.UNKNOWN_PRODUCER_ID);
    await log.appendAsLeader(idempotent(9, 0, 0), 0);
    await log.appendAsLeader(idempotent(10, 0, 0), 0);
    await log.appendAsLeader(idempotent(9, 0, 3), 0);
    expect(log.producerStateManager.lastEntry(9)?.batches.at(-1)?.lastSeq).toBe(5);
    expect(log.producerStateManager.lastEntry(10)?.batches.at(-1)?.lastSeq).toBe(2);
  });

  it('checks several batches of one request in order, all or nothing', async () => {
    const request = Buffer.concat([idempotent(7, 0, 0), idempotent(7, 0, 3)]);
    await log.appendAsLeader(request, 0);
    expect(log.producerStateManager.lastEntry(7)?.batches.map((b) => b.firstSeq)).toEqual([0, 3]);
    const end = log.logEndOffset;
    expect(await codeOf(log.appendAsLeader(Buffer.concat([idempotent(7, 0, 6), idempotent(7, 0, 10)]), 0))).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect(log.logEndOffset).toBe(end);
  });

  it('a retried request of several batches is answered whole; mixing retried and new batches is refused', async () => {
    const first = await log.appendAsLeader(Buffer.concat([idempotent(7, 0, 0), idempotent(7, 0, 3, 2)]), 0);
    const retry = await log.appendAsLeader(Buffer.concat([idempotent(7, 0, 0), idempotent(7, 0, 3, 2)]), 0);
    expect([retry.duplicate, retry.firstOffset, retry.lastOffset]).toEqual([true, first.firstOffset, first.lastOffset]);
    const end = log.logEndOffset;
    expect(await codeOf(log.appendAsLeader(Buffer.concat([idempotent(7, 0, 3, 2), idempotent(7, 0, 5)]), 0))).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect(await codeOf(log.appendAsLeader(Buffer.concat([idempotent(8, 0, 0), idempotent(7, 0, 3, 2)]), 0))).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect(log.logEndOffset).toBe(end);
  });

  it('leaves batches without a producer id alone', async () => {
    await log.appendAsLeader(makeBatch(2), 0);
    await log.appendAsLeader(makeBatch(2), 0);
    expect(log.logEndOffset).toBe(4);
    expect(log.producerStateManager.producerCount).toBe(0);
  });

  it('wraps sequences past 2^31 - 1 to 0', async () => {
    expect(incrementSequence(0x7fff_fffe, 2)).toBe(0);
    await log.appendAsLeader(idempotent(7, 0, 0), 0);
    expect(log.producerStateManager.lastEntry(7)?.batches[0]?.lastSeq).toBe(2);
  });

  it('follower appends build the same state, so a later leader detects duplicates', async () => {
    const leaderDir = tempDir();
    const leader = PartitionLog.open({ logDir: leaderDir.path, topicPartition: TP, config });
    try {
      const batches = [idempotent(7, 0, 0), idempotent(7, 0, 3), makeBatch(1), idempotent(8, 0, 0)];
      const originals = [];
      for (const b of batches) {
        originals.push(await leader.appendAsLeader(b, 4));
        await log.appendAsFollower(b); // the leader stamped offsets in place
      }
      const retry = await log.appendAsLeader(idempotent(7, 0, 3), 5);
      expect([retry.duplicate, retry.firstOffset]).toEqual([true, originals[1]!.firstOffset]);
      expect(await codeOf(log.appendAsLeader(idempotent(8, 0, 5), 5))).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    } finally {
      await leader.close();
      leaderDir.remove();
    }
  });

  it('is rebuilt when the log is opened again: after a crash, after a clean close, and from the segments alone', async () => {
    const offsets: number[] = [];
    for (let i = 0; i < 12; i++) offsets.push((await log.appendAsLeader(idempotent(7, 1, i * 3), 0)).firstOffset);
    await log.appendAsLeader(idempotent(8, 0, 0), 0);
    const check = async (): Promise<void> => {
      const retry = await log.appendAsLeader(idempotent(7, 1, 33), 0);
      expect([retry.duplicate, retry.firstOffset]).toEqual([true, offsets[11]]);
      expect(await codeOf(log.appendAsLeader(idempotent(7, 1, 40), 0))).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
      expect(await codeOf(log.appendAsLeader(idempotent(7, 0, 0), 0))).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
      expect(log.producerStateManager.lastEntry(7)?.batches.map((b) => b.firstSeq)).toEqual([21, 24, 27, 30, 33]);
      expect(log.producerStateManager.lastEntry(8)?.batches).toHaveLength(1);
    };
    // kill -9: no snapshot at the end (the small-segment case has those of its rolls), the rest is scanned.
    log.abandon();
    log = open({ hadCleanShutdown: false });
    await check();
    // A clean close leaves a snapshot at the log end: nothing is scanned.
    await log.close();
    expect(existsSync(join(log.dir, ProducerStateManager.snapshotFileName(log.logEndOffset)))).toBe(true);
    log = open({ hadCleanShutdown: true });
    await check();
    // Without any snapshot, from the segments alone.
    await log.close();
    for (const name of readdirSync(log.dir)) if (name.endsWith(PRODUCER_SNAPSHOT_FILE_SUFFIX)) rmSync(join(log.dir, name));
    log = open({ hadCleanShutdown: true });
    await check();
  });

  it('ignores a corrupt or stale snapshot and rebuilds from the segments', async () => {
    for (let i = 0; i < 8; i++) await log.appendAsLeader(idempotent(7, 0, i * 3), 0);
    log.abandon(); // a crash: no snapshot at the log end
    // A snapshot claiming a state far beyond the log end (left by a crash) must not be used.
    const bogus = new ProducerStateManager(log.dir, 'test');
    bogus.takeSnapshot(1_000);
    log = open();
    expect(existsSync(join(log.dir, ProducerStateManager.snapshotFileName(1_000)))).toBe(false);
    expect(log.producerStateManager.lastEntry(7)?.batches.at(-1)?.lastSeq).toBe(23);
    // A damaged snapshot (bit flip) fails its CRC: deleted, and the state comes from the segments.
    await log.close();
    const path = join(log.dir, ProducerStateManager.snapshotFileName(log.logEndOffset));
    const bytes = readFileSync(path);
    bytes[bytes.length - 1]! ^= 0xff;
    writeFileSync(path, bytes);
    log = open({ hadCleanShutdown: true });
    expect(existsSync(path)).toBe(false);
    expect(log.producerStateManager.lastEntry(7)?.batches.at(-1)?.lastSeq).toBe(23);
  });

  it('truncation forgets the removed batches and restores the earlier state', async () => {
    const a = await log.appendAsLeader(idempotent(7, 0, 0), 0);
    await log.appendAsLeader(idempotent(7, 0, 3), 0);
    await log.appendAsLeader(idempotent(8, 0, 0), 0);
    await log.appendAsLeader(idempotent(7, 1, 0), 0); // a new epoch
    await log.truncateTo(a.lastOffset + 1);
    // Back to epoch 0 after seq 2; producer 8 is gone.
    expect(log.producerStateManager.lastEntry(7)?.producerEpoch).toBe(0);
    expect(log.producerStateManager.lastEntry(7)?.batches.map((b) => b.lastSeq)).toEqual([2]);
    expect(log.producerStateManager.lastEntry(8)).toBeUndefined();
    // The removed batch is not a duplicate any more: it is appended again.
    const again = await log.appendAsLeader(idempotent(7, 0, 3), 0);
    expect([again.duplicate, again.firstOffset]).toEqual([undefined, a.lastOffset + 1]);

    await log.truncateFullyAndStartAt(100);
    expect(log.producerStateManager.producerCount).toBe(0);
    expect(readdirSync(log.dir).some((n) => n.endsWith(PRODUCER_SNAPSHOT_FILE_SUFFIX))).toBe(false);
  });

  it('forgets producers after producer.id.expiration.ms (on the retention run)', async () => {
    let now = 1_000_000;
    await log.close();
    dir.remove();
    dir = tempDir();
    log = open({ now: () => now, producerIdExpirationMs: 60_000 });
    await log.appendAsLeader(makeBatch(1, { producerId: 7n, producerEpoch: 0, baseSequence: 0, timestamp: now }), 0);
    now += 30_000;
    log.deleteOldSegments();
    expect(log.producerStateManager.producerCount).toBe(1);
    now += 60_000;
    log.deleteOldSegments();
    expect(log.producerStateManager.producerCount).toBe(0);
    expect(await codeOf(log.appendAsLeader(makeBatch(1, { producerId: 7n, producerEpoch: 0, baseSequence: 1, timestamp: now }), 0))).toBe(ErrorCode.UNKNOWN_PRODUCER_ID);
  });
});
