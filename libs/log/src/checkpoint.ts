/**
 * Checkpoint files, in Kafka's text format so existing habits and tools apply:
 *
 *   <version>          0
 *   <entry count>      N
 *   <entry>            N lines of space-separated fields
 *
 * `recovery-point-offset-checkpoint`, `log-start-offset-checkpoint` and
 * `replication-offset-checkpoint` hold `topic partition offset` lines per log dir;
 * `leader-epoch-checkpoint` holds `epoch startOffset` lines per partition.
 * Written atomically (temp file, fsync, rename); a file that does not parse is reported as
 * corrupt so the caller can fall back to recovering from the segments.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from './files';
import type { TopicPartition } from './files';

const VERSION = 0;

export class CheckpointFormatError extends Error {
  constructor(path: string, detail: string) {
    super(`checkpoint file ${path} is malformed: ${detail}`);
    this.name = 'CheckpointFormatError';
  }
}

function readLines(path: string): string[][] | undefined {
  if (!existsSync(path)) return undefined;
  const lines = readFileSync(path, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length < 2) throw new CheckpointFormatError(path, 'missing version or count');
  if (Number(lines[0]) !== VERSION) throw new CheckpointFormatError(path, `unknown version '${lines[0]}'`);
  const count = Number(lines[1]);
  if (!Number.isSafeInteger(count) || count < 0 || count !== lines.length - 2) {
    throw new CheckpointFormatError(path, `count '${lines[1]}' does not match ${lines.length - 2} entries`);
  }
  return lines.slice(2).map((l) => l.split(' '));
}

function writeLines(path: string, entries: string[]): void {
  writeFileAtomic(path, `${VERSION}\n${entries.length}\n${entries.map((e) => `${e}\n`).join('')}`);
}

function parseOffset(path: string, text: string | undefined): number {
  const value = Number(text);
  if (text === undefined || !/^-?\d+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new CheckpointFormatError(path, `'${text}' is not an offset`);
  }
  return value;
}

/** `topic partition offset` per line; keyed by the partition directory name `topic-partition`. */
export class OffsetCheckpointFile {
  constructor(readonly path: string) {}

  read(): Map<string, number> {
    const out = new Map<string, number>();
    const rows = readLines(this.path);
    if (!rows) return out;
    for (const row of rows) {
      if (row.length !== 3) throw new CheckpointFormatError(this.path, `entry '${row.join(' ')}' needs 3 fields`);
      const [topic, partition, offset] = row as [string, string, string];
      out.set(`${topic}-${parseOffset(this.path, partition)}`, parseOffset(this.path, offset));
    }
    return out;
  }

  write(entries: Iterable<[TopicPartition, number]>): void {
    const lines: string[] = [];
    for (const [tp, offset] of entries) lines.push(`${tp.topic} ${tp.partition} ${offset}`);
    writeLines(this.path, lines);
  }
}

export interface EpochEntry {
  epoch: number;
  startOffset: number;
}

/** `epoch startOffset` per line. */
export class LeaderEpochCheckpointFile {
  constructor(readonly path: string) {}

  read(): EpochEntry[] {
    const rows = readLines(this.path);
    if (!rows) return [];
    return rows.map((row) => {
      if (row.length !== 2) throw new CheckpointFormatError(this.path, `entry '${row.join(' ')}' needs 2 fields`);
      return { epoch: parseOffset(this.path, row[0]), startOffset: parseOffset(this.path, row[1]) };
    });
  }

  write(entries: readonly EpochEntry[]): void {
    writeLines(this.path, entries.map((e) => `${e.epoch} ${e.startOffset}`));
  }
}
