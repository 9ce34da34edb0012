/**
 * File naming and small durable-file helpers shared by the storage engine.
 *
 * Names follow Kafka so operators recognise them: a segment is `<20-digit base offset>.log`
 * with `.index` and `.timeindex` beside it; a partition directory is `<topic>-<partition>`.
 * Files being deleted are renamed with a `.deleted` suffix first; `.cleaned`/`.swap` are
 * reserved for compaction.
 */
import { closeSync, fsyncSync, openSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export const LOG_FILE_SUFFIX = '.log';
export const INDEX_FILE_SUFFIX = '.index';
export const TIME_INDEX_FILE_SUFFIX = '.timeindex';
export const DELETED_FILE_SUFFIX = '.deleted';
/** A segment being written by the cleaner (incomplete until renamed `.swap`). */
export const CLEANED_FILE_SUFFIX = '.cleaned';
/** A complete, fsynced cleaned segment about to replace the segments it was made from. */
export const SWAP_FILE_SUFFIX = '.swap';

/** `00000000000000000042` for 42: the zero-padded base offset that names segment files. */
export function offsetFileName(offset: number): string {
  return String(offset).padStart(20, '0');
}

export function segmentFilePath(dir: string, baseOffset: number, suffix: string): string {
  return join(dir, offsetFileName(baseOffset) + suffix);
}

/** Parses the base offset from a segment file name, or undefined if it is not one. */
export function baseOffsetFromFileName(name: string, suffix: string): number | undefined {
  if (!name.endsWith(suffix)) return undefined;
  const stem = name.slice(0, -suffix.length);
  if (!/^\d{20}$/.test(stem)) return undefined;
  const value = Number(stem);
  return Number.isSafeInteger(value) ? value : undefined;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export function partitionDirName(tp: TopicPartition): string {
  return `${tp.topic}-${tp.partition}`;
}

/** Parses `<topic>-<partition>` (the topic may itself contain dashes). */
export function parsePartitionDirName(name: string): TopicPartition | undefined {
  const dash = name.lastIndexOf('-');
  if (dash <= 0) return undefined;
  const partText = name.slice(dash + 1);
  if (!/^\d+$/.test(partText)) return undefined;
  const partition = Number(partText);
  if (!Number.isSafeInteger(partition) || partition > 0x7fffffff) return undefined;
  return { topic: name.slice(0, dash), partition };
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `content` to `path` atomically and durably: temp file, fsync, rename, fsync dir. */
export function writeFileAtomic(path: string, content: string | Buffer): void {
  const tmp = join(dirname(path), `${basename(path)}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeFileSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}
