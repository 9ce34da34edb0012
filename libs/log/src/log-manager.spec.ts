import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode } from '@tributary/records';
import { DEFAULT_LOG_CONFIG } from './config';
import { KafkaStorageError } from './errors';
import { CLEAN_SHUTDOWN_FILE, LOCK_FILE, LogManager, RECOVERY_POINT_CHECKPOINT_FILE, REPLICATION_OFFSET_CHECKPOINT_FILE } from './log-manager';
import { batchesIn, makeBatch, tempDir } from './test-helpers';

describe('LogManager', () => {
  let root: ReturnType<typeof tempDir>;
  let dirs: string[];
  beforeEach(() => {
    root = tempDir('tributary-lm-');
    dirs = [join(root.path, 'd1'), join(root.path, 'd2')];
  });
  afterEach(() => root.remove());

  it('spreads new logs over the directories and reloads them after a clean shutdown', async () => {
    let manager = LogManager.open({ logDirs: dirs });
    for (let p = 0; p < 4; p++) {
      const log = manager.getOrCreateLog({ topic: 'orders', partition: p });
      await log.appendAsLeader(makeBatch(3), 0);
      log.updateHighWatermark(3);
    }
    expect(readdirSync(dirs[0]!).filter((f) => f.startsWith('orders-'))).toHaveLength(2);
    expect(readdirSync(dirs[1]!).filter((f) => f.startsWith('orders-'))).toHaveLength(2);
    await manager.shutdown();
    for (const d of dirs) {
      expect(existsSync(join(d, CLEAN_SHUTDOWN_FILE))).toBe(true);
      expect(existsSync(join(d, LOCK_FILE))).toBe(false);
      expect(readFileSync(join(d, RECOVERY_POINT_CHECKPOINT_FILE), 'utf8')).toMatch(/^0\n2\n(orders \d 3\n){2}$/);
      expect(readFileSync(join(d, REPLICATION_OFFSET_CHECKPOINT_FILE), 'utf8')).toMatch(/orders \d 3/);
    }
    manager = LogManager.open({ logDirs: dirs });
    for (const d of dirs) expect(existsSync(join(d, CLEAN_SHUTDOWN_FILE))).toBe(false); // a crash from now on is unclean
    expect(manager.allLogs()).toHaveLength(4);
    const log = manager.getLog({ topic: 'orders', partition: 2 })!;
    expect([log.logEndOffset, log.highWatermark]).toEqual([3, 3]);
    expect(batchesIn(log.read(0, 1000).records)).toHaveLength(1);
    await manager.shutdown();
  });

  it('recovers logs after an unclean stop', async () => {
    const manager = LogManager.open({ logDirs: dirs, defaultConfig: { ...DEFAULT_LOG_CONFIG, segmentBytes: 2000 } });
    const log = manager.getOrCreateLog({ topic: 't', partition: 0 });
    for (let i = 0; i < 20; i++) await log.appendAsLeader(makeBatch(4, { valueBytes: 50 }), 2);
    manager.checkpointAll();
    for (let i = 0; i < 5; i++) await log.appendAsLeader(makeBatch(4, { valueBytes: 50 }), 2);
    log.abandon(); // the process dies: no shutdown, no clean marker
    const again = LogManager.open({ logDirs: dirs });
    const recovered = again.getLog({ topic: 't', partition: 0 })!;
    expect(recovered.logEndOffset).toBe(100);
    expect(recovered.latestEpoch).toBe(2);
    await again.shutdown();
  });

  it('deletes logs and runs retention', async () => {
    const manager = LogManager.open({ logDirs: dirs, defaultConfig: { ...DEFAULT_LOG_CONFIG, segmentBytes: 1000, retentionBytes: 0, fileDeleteDelayMs: 0 } });
    const log = manager.getOrCreateLog({ topic: 'r', partition: 1 });
    for (let i = 0; i < 10; i++) await log.appendAsLeader(makeBatch(4, { valueBytes: 100 }), 0);
    log.updateHighWatermark(log.logEndOffset);
    expect(manager.cleanupLogs()).toBeGreaterThan(0);
    expect(log.logStartOffset).toBeGreaterThan(0);
    expect(await manager.deleteLog({ topic: 'r', partition: 1 })).toBe(true);
    expect(existsSync(log.dir)).toBe(false);
    expect(manager.getLog({ topic: 'r', partition: 1 })).toBeUndefined();
    await manager.shutdown();
  });

  it('refuses a directory held by another live process', async () => {
    const holder = spawn('sleep', ['30']);
    try {
      const dir = join(root.path, 'held');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, LOCK_FILE), `${holder.pid}\n`);
      expect(() => LogManager.open({ logDirs: [dir] })).toThrow(/in use by process/);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('takes a directory offline after an I/O error and keeps the others working', async () => {
    let manager = LogManager.open({ logDirs: dirs });
    const a = manager.getOrCreateLog({ topic: 'x', partition: 0 }); // d1
    const b = manager.getOrCreateLog({ topic: 'x', partition: 1 }); // d2
    await a.appendAsLeader(makeBatch(2), 0);
    a.roll();
    await b.appendAsLeader(makeBatch(2), 0);
    const broken = join(a.dir, `${String(a.activeSegment.baseOffset).padStart(20, '0')}.log`);
    await manager.shutdown();
    unlinkSync(broken);
    symlinkSync('/dev/full', broken); // every write there fails with ENOSPC
    const failed: string[] = [];
    manager = LogManager.open({ logDirs: dirs, onDirFailure: (dir) => failed.push(dir) });
    const a2 = manager.getLog({ topic: 'x', partition: 0 })!;
    const err = await a2.appendAsLeader(makeBatch(1), 0).then(() => undefined, (e: unknown) => e as KafkaStorageError);
    expect(err?.code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(failed).toEqual([dirs[0]]);
    expect(manager.offlineDirs).toEqual([dirs[0]]);
    const b2 = manager.getLog({ topic: 'x', partition: 1 })!;
    expect((await b2.appendAsLeader(makeBatch(1), 0)).firstOffset).toBe(2);
    // New logs go to the directory that still works.
    const c = manager.getOrCreateLog({ topic: 'y', partition: 0 });
    expect(c.dir.startsWith(dirs[1]!)).toBe(true);
    await manager.shutdown();
    unlinkSync(broken);
  });
});
