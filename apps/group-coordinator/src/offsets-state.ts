/**
 * The pure parts of a `__consumer_offsets` partition's state: applying its records in log
 * order when loading (last write wins, a null value deletes), and the retention decision
 * (offsets.retention.minutes, KIP-211). No I/O: coordinator.ts drives them.
 */
import { decodeGroupMetadataValue, decodeOffsetCommitValue, decodeOffsetsRecordKey } from '@tributary/groups';
import type { GroupMetadataValue, GroupState } from '@tributary/groups';

/** A committed offset as the coordinator keeps it. */
export interface StoredOffset {
  offset: bigint;
  leaderEpoch: number;
  metadata: string;
  commitTimestampMs: number;
}

/** A group's committed offsets: topic → partition → offset. */
export type GroupOffsets = Map<string, Map<number, StoredOffset>>;

export function setOffset(offsets: GroupOffsets, topic: string, partition: number, value: StoredOffset): void {
  let byPartition = offsets.get(topic);
  if (!byPartition) {
    byPartition = new Map();
    offsets.set(topic, byPartition);
  }
  byPartition.set(partition, value);
}

export function deleteOffset(offsets: GroupOffsets, topic: string, partition: number): void {
  const byPartition = offsets.get(topic);
  if (!byPartition) return;
  byPartition.delete(partition);
  if (byPartition.size === 0) offsets.delete(topic);
}

export function offsetCount(offsets: GroupOffsets): number {
  let n = 0;
  for (const byPartition of offsets.values()) n += byPartition.size;
  return n;
}

/** A group as read from its partition: its last metadata (none after a tombstone) and offsets. */
export interface LoadedGroup {
  metadata: GroupMetadataValue | undefined;
  offsets: GroupOffsets;
}

/**
 * Accumulates a partition's records in log order (Kafka's `GroupMetadataManager.doLoadGroupsAndOffsets`):
 * an OffsetCommit replaces the group's offset of that partition, a null one deletes it; a
 * GroupMetadata record replaces the group's metadata, a null one removes it (its offsets, if
 * any are left, still load: an Empty group). Unknown record types (newer coordinators') and
 * undecodable records are skipped and counted.
 */
export class PartitionLoad {
  readonly groups = new Map<string, LoadedGroup>();
  skipped = 0;
  applied = 0;

  private entry(groupId: string): LoadedGroup {
    let g = this.groups.get(groupId);
    if (!g) {
      g = { metadata: undefined, offsets: new Map() };
      this.groups.set(groupId, g);
    }
    return g;
  }

  applyRecord(key: Buffer | null, value: Buffer | null): void {
    if (key === null) {
      this.skipped++;
      return;
    }
    try {
      const k = decodeOffsetsRecordKey(key);
      if (k.kind === 'offsetCommit') {
        const v = decodeOffsetCommitValue(value);
        if (v === null) deleteOffset(this.entry(k.group).offsets, k.topic, k.partition);
        else setOffset(this.entry(k.group).offsets, k.topic, k.partition, { offset: v.offset, leaderEpoch: v.leaderEpoch, metadata: v.metadata, commitTimestampMs: v.commitTimestampMs });
      } else if (k.kind === 'groupMetadata') {
        const v = decodeGroupMetadataValue(value);
        // Copy the bytes: decoded values are views of the fetched buffer.
        this.entry(k.group).metadata =
          v === null ? undefined : { ...v, members: v.members.map((m) => ({ ...m, subscription: Buffer.from(m.subscription), assignment: Buffer.from(m.assignment) })) };
      } else {
        this.skipped++;
        return;
      }
      this.applied++;
    } catch {
      this.skipped++;
    }
  }

  /** The groups that still exist at the end: those with metadata or offsets. */
  result(): Map<string, LoadedGroup> {
    for (const [id, g] of this.groups) if (g.metadata === undefined && g.offsets.size === 0) this.groups.delete(id);
    return this.groups;
  }
}

/**
 * The offsets of a group that expire now (offsets.retention.minutes, Kafka 2.1+ / KIP-211):
 * only while the group is Empty, an offset expires once both the group has been Empty and the
 * offset was committed longer than the retention ago. A group with members keeps its offsets.
 */
export function expiredOffsets(
  group: { state: GroupState; stateSinceMs: number },
  offsets: GroupOffsets,
  nowMs: number,
  retentionMs: number,
): { topic: string; partition: number }[] {
  if (group.state !== 'Empty') return [];
  const expired: { topic: string; partition: number }[] = [];
  for (const [topic, byPartition] of offsets) {
    for (const [partition, o] of byPartition) {
      if (nowMs - Math.max(group.stateSinceMs, o.commitTimestampMs) >= retentionMs) expired.push({ topic, partition });
    }
  }
  return expired;
}

/** An Empty group without offsets left is deleted (its metadata tombstoned), as Kafka's cleanup does. */
export function shouldDeleteGroup(state: GroupState, offsets: GroupOffsets): boolean {
  return state === 'Empty' && offsetCount(offsets) === 0;
}
