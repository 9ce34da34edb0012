/**
 * LogManager: the entry point of the storage engine on a broker. It owns one or more log
 * directories, loads every partition log in them at start (recovering after an unclean
 * shutdown), creates and deletes logs, and runs the periodic work: retention, flush.ms, and
 * checkpoints. Kafka's file names:
 *
 *   <log dir>/recovery-point-offset-checkpoint   offsets below which each log is fsynced
 *   <log dir>/log-start-offset-checkpoint        each log's start offset
 *   <log dir>/replication-offset-checkpoint      each log's high watermark
 *   <log dir>/cleaner-offset-checkpoint          each compacted log's cleaner checkpoint (its
 *                                                entry also marks the log as compacted: gaps)
 *   <log dir>/.kafka_cleanshutdown               present only after a clean shutdown
 *   <log dir>/.lock                              pid of the process using the directory
 *   <log dir>/<topic>-<partition>/               one PartitionLog
 *
 * A directory that hits an I/O error goes offline (sticky): its logs refuse appends with
 * KAFKA_STORAGE_ERROR, no log is created there any more, and `onDirFailure` is told, so the
 * broker can report the replicas as offline.
 *
 * Log compaction (cleanup.policy=compact) runs in a LogCleaner loop (log-cleaner.ts) started
 * by `startup` when `cleaner.enable` is true.
 *
 * Concurrency: single-threaded; timers call synchronous methods; the cleaner works in slices
 * between them.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OffsetCheckpointFile } from './checkpoint';
import type { LogConfig } from './config';
import { DEFAULT_LOG_CONFIG } from './config';
import { KafkaStorageError } from './errors';
import type { TopicPartition } from './files';
import { fsyncDir, parsePartitionDirName, partitionDirName } from './files';
import { CLEANER_OFFSET_CHECKPOINT_FILE, LogCleaner } from './log-cleaner';
import type { CleanerStats, LogCleanerOptions } from './log-cleaner';
import { PartitionLog } from './partition-log';

export const RECOVERY_POINT_CHECKPOINT_FILE = 'recovery-point-offset-checkpoint';
export const LOG_START_OFFSET_CHECKPOINT_FILE = 'log-start-offset-checkpoint';
export const REPLICATION_OFFSET_CHECKPOINT_FILE = 'replication-offset-checkpoint';
export const CLEAN_SHUTDOWN_FILE = '.kafka_cleanshutdown';
export const LOCK_FILE = '.lock';

/** Minimal structured logger (pino-compatible). */
export interface StorageLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

const silentLogger: StorageLogger = { info() {}, warn() {}, error() {} };

export interface LogManagerOptions {
  /** log.dirs: one or more directories; new logs go to the one with the fewest. */
  logDirs: string[];
  /** Configuration of logs created without their own. */
  defaultConfig?: LogConfig;
  /** log.retention.check.interval.ms (default 5 min). */
  retentionCheckIntervalMs?: number;
  /** log.flush.scheduler.interval.ms: how often flush.ms is checked (default 1 s). */
  flushCheckIntervalMs?: number;
  /** log.flush.offset.checkpoint.interval.ms (default 60 s). */
  checkpointIntervalMs?: number;
  /** producer.id.expiration.ms: idempotent producers silent this long are forgotten (default 1 day). */
  producerIdExpirationMs?: number;
  now?: () => number;
  logger?: StorageLogger;
  /** Called once per directory that goes offline. */
  onDirFailure?: (dir: string, error: Error) => void;
  /** Called after every log flush with its duration in seconds (the log.flush latency metric). */
  onFlush?: (seconds: number) => void;
  /**
   * The log cleaner: log.cleaner.enable (default true), log.cleaner.backoff.ms (15 s),
   * log.cleaner.dedupe.buffer.size (128 MiB), log.cleaner.io.max.bytes.per.second (unlimited).
   */
  cleaner?: LogCleanerOptions & { enable?: boolean };
}

interface DirState {
  path: string;
  offline?: Error;
}

export class LogManager {
  private readonly dirs: DirState[];
  private readonly logs = new Map<string, { log: PartitionLog; dir: DirState }>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly logger: StorageLogger;
  private readonly defaultConfig: LogConfig;
  private shutDown = false;
  private readonly cleaner: LogCleaner;

  private constructor(private readonly options: LogManagerOptions) {
    if (options.logDirs.length === 0) throw new Error('log.dirs must name at least one directory');
    this.dirs = [...new Set(options.logDirs.map((d) => resolve(d)))].map((path) => ({ path }));
    this.logger = options.logger ?? silentLogger;
    this.defaultConfig = options.defaultConfig ?? DEFAULT_LOG_CONFIG;
    this.cleaner = new LogCleaner(
      { now: options.now, ...options.cleaner },
      () => [...this.logs.values()].filter((e) => !e.dir.offline).map((e) => e.log),
      (log) => this.writeCleanerCheckpoint(this.dirOf(log)),
      (log, e) => this.logger.error({ topic: log.topicPartition.topic, partition: log.topicPartition.partition, err: e }, 'log cleaner failed on a log'),
    );
  }

  /** Locks the directories and loads (recovering if needed) every log in them. */
  static open(options: LogManagerOptions): LogManager {
    const manager = new LogManager(options);
    for (const dir of manager.dirs) manager.loadDir(dir);
    return manager;
  }

  private loadDir(dir: DirState): void {
    mkdirSync(dir.path, { recursive: true });
    acquireLock(dir.path);
    const cleanMarker = join(dir.path, CLEAN_SHUTDOWN_FILE);
    const clean = existsSync(cleanMarker);
    const recoveryPoints = readCheckpoint(join(dir.path, RECOVERY_POINT_CHECKPOINT_FILE), this.logger);
    const logStarts = readCheckpoint(join(dir.path, LOG_START_OFFSET_CHECKPOINT_FILE), this.logger);
    const highWatermarks = readCheckpoint(join(dir.path, REPLICATION_OFFSET_CHECKPOINT_FILE), this.logger);
    const cleanerCheckpoints = readCheckpoint(join(dir.path, CLEANER_OFFSET_CHECKPOINT_FILE), this.logger);
    const started = Date.now();
    let loaded = 0;
    for (const name of readdirSync(dir.path)) {
      const tp = parsePartitionDirName(name);
      if (!tp || !statSync(join(dir.path, name)).isDirectory()) continue;
      const key = partitionDirName(tp);
      if (this.logs.has(key)) {
        throw new Error(`partition ${key} exists in two log directories (${dir.path} and ${this.logs.get(key)!.dir.path})`);
      }
      const log = PartitionLog.open({
        logDir: dir.path,
        topicPartition: tp,
        config: this.defaultConfig,
        hadCleanShutdown: clean,
        recoveryPoint: recoveryPoints.get(key) ?? 0,
        logStartOffset: logStarts.get(key),
        highWatermark: highWatermarks.get(key),
        compacted: cleanerCheckpoints.has(key),
        cleanerCheckpoint: cleanerCheckpoints.get(key),
        now: this.options.now,
        ...(this.options.onFlush ? { onFlush: this.options.onFlush } : {}),
        ...(this.options.producerIdExpirationMs === undefined ? {} : { producerIdExpirationMs: this.options.producerIdExpirationMs }),
        onIoError: (e) => this.markDirOffline(dir, e),
      });
      this.logs.set(key, { log, dir });
      loaded++;
    }
    // From here on a crash is an unclean shutdown.
    if (clean) {
      unlinkSync(cleanMarker);
      fsyncDir(dir.path);
    }
    this.logger.info({ dir: dir.path, logs: loaded, clean, ms: Date.now() - started }, 'log directory loaded');
  }

  /** Starts the periodic retention, flush and checkpoint work (timers do not keep the process alive). */
  startup(): void {
    const every = (ms: number, task: () => void, name: string): void => {
      const timer = setInterval(() => {
        try {
          task();
        } catch (e) {
          this.logger.error({ task: name, err: e }, 'storage background task failed');
        }
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.options.retentionCheckIntervalMs ?? 300_000, () => this.cleanupLogs(), 'retention');
    every(this.options.flushCheckIntervalMs ?? 1_000, () => this.flushDirtyLogs(), 'flush');
    every(this.options.checkpointIntervalMs ?? 60_000, () => this.checkpointAll(), 'checkpoint');
    if (this.options.cleaner?.enable ?? true) this.cleaner.start();
  }

  /** The log cleaner (its stats, or a clean on demand). */
  get logCleaner(): LogCleaner {
    return this.cleaner;
  }

  get cleanerStats(): Readonly<CleanerStats> {
    return this.cleaner.stats;
  }

  private dirOf(log: PartitionLog): DirState {
    return this.logs.get(partitionDirName(log.topicPartition))!.dir;
  }

  /**
   * Writes `cleaner-offset-checkpoint` of `dir`: an entry for every log that is or was
   * compacted (the entry also tells the next load that the log may have offset gaps).
   */
  private writeCleanerCheckpoint(dir: DirState): void {
    if (dir.offline) return;
    const entries = [...this.logs.values()].filter((e) => e.dir === dir && e.log.mayHaveOffsetGaps).map((e) => e.log);
    try {
      new OffsetCheckpointFile(join(dir.path, CLEANER_OFFSET_CHECKPOINT_FILE)).write(entries.map((l) => [l.topicPartition, l.cleanerCheckpoint]));
    } catch (e) {
      this.markDirOffline(dir, e instanceof Error ? e : new Error(String(e)));
    }
  }

  get logDirs(): string[] {
    return this.dirs.map((d) => d.path);
  }

  get offlineDirs(): string[] {
    return this.dirs.filter((d) => d.offline).map((d) => d.path);
  }

  getLog(tp: TopicPartition): PartitionLog | undefined {
    return this.logs.get(partitionDirName(tp))?.log;
  }

  allLogs(): PartitionLog[] {
    return [...this.logs.values()].map((e) => e.log);
  }

  /** Returns the partition's log, creating it in the least-loaded online directory. */
  getOrCreateLog(tp: TopicPartition, config?: LogConfig): PartitionLog {
    const key = partitionDirName(tp);
    const existing = this.logs.get(key);
    if (existing) {
      if (config) {
        const hadGaps = existing.log.mayHaveOffsetGaps;
        existing.log.updateConfig(config);
        if (!hadGaps && existing.log.mayHaveOffsetGaps) this.writeCleanerCheckpoint(existing.dir);
      }
      return existing.log;
    }
    if (this.shutDown) throw new KafkaStorageError('the log manager is shut down');
    const online = this.dirs.filter((d) => !d.offline);
    if (online.length === 0) throw new KafkaStorageError('every log directory is offline');
    const counts = new Map(online.map((d) => [d, 0]));
    for (const { dir } of this.logs.values()) if (counts.has(dir)) counts.set(dir, counts.get(dir)! + 1);
    const dir = online.reduce((best, d) => (counts.get(d)! < counts.get(best)! ? d : best));
    try {
      const log = PartitionLog.open({
        logDir: dir.path,
        topicPartition: tp,
        config: config ?? this.defaultConfig,
        hadCleanShutdown: false,
        now: this.options.now,
        ...(this.options.onFlush ? { onFlush: this.options.onFlush } : {}),
        ...(this.options.producerIdExpirationMs === undefined ? {} : { producerIdExpirationMs: this.options.producerIdExpirationMs }),
        onIoError: (e) => this.markDirOffline(dir, e),
      });
      fsyncDir(dir.path);
      this.logs.set(key, { log, dir });
      if (log.mayHaveOffsetGaps) this.writeCleanerCheckpoint(dir);
      this.logger.info({ topic: tp.topic, partition: tp.partition, dir: dir.path }, 'log created');
      return log;
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      this.markDirOffline(dir, error);
      throw new KafkaStorageError(`cannot create the log of ${key} in ${dir.path}: ${error.message}`, { cause: e });
    }
  }

  /** Closes and removes a partition's log and its files. Returns whether it existed. */
  async deleteLog(tp: TopicPartition): Promise<boolean> {
    const key = partitionDirName(tp);
    const entry = this.logs.get(key);
    if (!entry) return false;
    this.logs.delete(key);
    await entry.log.delete();
    this.logger.info({ topic: tp.topic, partition: tp.partition }, 'log deleted');
    return true;
  }

  /** Runs retention on every log; returns the number of segments deleted. */
  cleanupLogs(): number {
    let deleted = 0;
    for (const { log, dir } of this.logs.values()) {
      if (dir.offline) continue;
      deleted += log.deleteOldSegments();
    }
    if (deleted > 0) this.logger.info({ segments: deleted }, 'retention deleted segments');
    return deleted;
  }

  /** Applies flush.ms to every log. */
  flushDirtyLogs(): void {
    for (const { log, dir } of this.logs.values()) {
      if (!dir.offline) log.flushIfDue();
    }
  }

  /** Writes the recovery point, log start and high watermark checkpoints of every online dir. */
  checkpointAll(): void {
    for (const dir of this.dirs) {
      if (dir.offline) continue;
      const entries = [...this.logs.values()].filter((e) => e.dir === dir).map((e) => e.log);
      try {
        new OffsetCheckpointFile(join(dir.path, RECOVERY_POINT_CHECKPOINT_FILE)).write(entries.map((l) => [l.topicPartition, l.recoveryPoint]));
        new OffsetCheckpointFile(join(dir.path, LOG_START_OFFSET_CHECKPOINT_FILE)).write(entries.map((l) => [l.topicPartition, l.logStartOffset]));
        new OffsetCheckpointFile(join(dir.path, REPLICATION_OFFSET_CHECKPOINT_FILE)).write(entries.map((l) => [l.topicPartition, l.highWatermark]));
      } catch (e) {
        this.markDirOffline(dir, e instanceof Error ? e : new Error(String(e)));
      }
      this.writeCleanerCheckpoint(dir);
    }
  }

  private markDirOffline(dir: DirState, error: Error): void {
    if (dir.offline) return;
    dir.offline = error;
    for (const entry of this.logs.values()) if (entry.dir === dir) entry.log.markOffline(error);
    this.logger.error({ dir: dir.path, err: error.message }, 'log directory is offline after an I/O error');
    this.options.onDirFailure?.(dir.path, error);
  }

  /**
   * Clean shutdown: stops the timers, flushes and closes every log, writes the checkpoints
   * and the clean-shutdown marker (so the next start skips recovery), releases the locks.
   */
  async shutdown(): Promise<void> {
    if (this.shutDown) return;
    this.shutDown = true;
    for (const t of this.timers) clearInterval(t);
    await this.cleaner.stop();
    await Promise.all([...this.logs.values()].map(({ log }) => log.close()));
    this.checkpointAll();
    for (const dir of this.dirs) {
      if (!dir.offline) {
        writeFileSync(join(dir.path, CLEAN_SHUTDOWN_FILE), '');
        fsyncDir(dir.path);
      }
      releaseLock(dir.path);
    }
    this.logger.info({ dirs: this.dirs.length }, 'log manager shut down');
  }
}

function readCheckpoint(path: string, logger: StorageLogger): Map<string, number> {
  try {
    return new OffsetCheckpointFile(path).read();
  } catch (e) {
    // Unreadable: act as if it were absent (recover everything, start offsets from segments).
    logger.warn({ path, err: e instanceof Error ? e.message : String(e) }, 'ignoring a malformed checkpoint file');
    return new Map();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A pid file: refuses a directory that another live process holds. */
function acquireLock(dir: string): void {
  const path = join(dir, LOCK_FILE);
  if (existsSync(path)) {
    const pid = Number(readFileSync(path, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
      throw new KafkaStorageError(`log directory ${dir} is in use by process ${pid} (stop it, or use another directory)`);
    }
  }
  writeFileSync(path, `${process.pid}\n`);
}

function releaseLock(dir: string): void {
  const path = join(dir, LOCK_FILE);
  try {
    if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
  } catch {
    // already gone
  }
}
