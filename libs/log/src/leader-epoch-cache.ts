/**
 * The leader epoch cache of one partition (Kafka KIP-101/279): the offset at which each
 * leader epoch began, persisted in `leader-epoch-checkpoint`. It answers "what is the end
 * offset of epoch E on this replica" (OffsetsForLeaderEpoch), which a follower uses to find
 * where its log diverges from a new leader's and truncate there.
 *
 * Entries are strictly increasing in both epoch and start offset. Every change is written
 * atomically to the checkpoint (changes happen once per leader change, so this is cheap).
 * Single-threaded owner: the PartitionLog.
 */
import type { EpochEntry } from './checkpoint';
import { LeaderEpochCheckpointFile } from './checkpoint';

export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1;

export interface EpochEndOffset {
  /** The largest epoch ≤ the requested one that this replica knows, or -1. */
  leaderEpoch: number;
  /** Offset after the last record of that epoch here (the next epoch's start, or LEO). */
  endOffset: number;
}

export class LeaderEpochCache {
  private entries: EpochEntry[];

  constructor(private readonly checkpoint: LeaderEpochCheckpointFile) {
    let loaded: EpochEntry[] = [];
    try {
      loaded = checkpoint.read();
    } catch {
      loaded = []; // unreadable: rebuilt from the batches during recovery
    }
    this.entries = loaded.filter(
      (e, i) => i === 0 || (e.epoch > loaded[i - 1]!.epoch && e.startOffset >= loaded[i - 1]!.startOffset),
    );
  }

  get all(): readonly EpochEntry[] {
    return this.entries;
  }

  get latestEpoch(): number {
    return this.entries.at(-1)?.epoch ?? UNDEFINED_EPOCH;
  }

  /**
   * Records that `epoch` starts at `startOffset`. Ignored unless the epoch is newer than the
   * latest; entries starting at or after `startOffset` are replaced (they were truncated).
   */
  assign(epoch: number, startOffset: number): void {
    if (epoch < 0) return;
    const latest = this.entries.at(-1);
    if (latest && epoch <= latest.epoch && startOffset >= latest.startOffset) return;
    const kept = this.entries.filter((e) => e.epoch < epoch && e.startOffset < startOffset);
    kept.push({ epoch, startOffset });
    this.entries = kept;
    this.persist();
  }

  /** End offset of `requestedEpoch` on this replica whose log ends at `logEndOffset`. */
  endOffsetFor(requestedEpoch: number, logEndOffset: number): EpochEndOffset {
    const first = this.entries[0];
    if (!first || requestedEpoch < first.epoch) {
      return { leaderEpoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    }
    if (requestedEpoch === this.latestEpoch) return { leaderEpoch: requestedEpoch, endOffset: logEndOffset };
    // First entry with a larger epoch: its start is where the requested epoch ended.
    const nextIndex = this.entries.findIndex((e) => e.epoch > requestedEpoch);
    if (nextIndex < 0) return { leaderEpoch: this.latestEpoch, endOffset: logEndOffset };
    const floor = this.entries[nextIndex - 1]!;
    return { leaderEpoch: floor.epoch, endOffset: this.entries[nextIndex]!.startOffset };
  }

  /** Drops entries that start at or after `endOffset` (the log was truncated there). */
  truncateFromEnd(endOffset: number): void {
    const kept = this.entries.filter((e) => e.startOffset < endOffset);
    if (kept.length !== this.entries.length) {
      this.entries = kept;
      this.persist();
    }
  }

  /** The log now starts at `startOffset`: earlier entries collapse into one starting there. */
  truncateFromStart(startOffset: number): void {
    const firstKept = this.entries.findIndex((e) => e.startOffset >= startOffset);
    const before = firstKept < 0 ? this.entries : this.entries.slice(0, firstKept);
    const last = before.at(-1);
    if (!last || (before.length === 1 && last.startOffset === startOffset)) return;
    const after = firstKept < 0 ? [] : this.entries.slice(firstKept);
    const head = after[0]?.startOffset === startOffset ? [] : [{ epoch: last.epoch, startOffset }];
    this.entries = [...head, ...after];
    this.persist();
  }

  clear(): void {
    this.entries = [];
    this.persist();
  }

  private persist(): void {
    this.checkpoint.write(this.entries);
  }
}
