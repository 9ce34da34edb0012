/**
 * Where a follower's log diverges from its leader's (Kafka KIP-101 with KIP-279's extra
 * rounds), decided from the leader's OffsetsForLeaderEpoch answer and the follower's own
 * leader-epoch cache. Pure: the replica fetcher asks, truncates, and asks again while a round
 * is not final.
 *
 * The follower asks for the end offset of its latest epoch E. The leader answers with the
 * largest epoch L ≤ E it has and where L ends in its log.
 * - The leader has no epoch that old (end offset -1): nothing to compare; fall back to the
 *   follower's high watermark (everything below it is committed, so on the leader too).
 * - The follower also has L: both logs agree up to the smaller of the two end offsets of L;
 *   truncate there — final.
 * - The follower lacks L (it has epochs below L and above it, none equal): its records of the
 *   largest epoch F below L cannot go past where F ends on the follower; truncate there and
 *   ask again about F (KIP-279: the old rule, "truncate to the leader's end offset", could keep
 *   records of an epoch the leader never saw at offsets the leader filled with others).
 * - The follower has no epoch ≤ L at all: keep what is below the leader's end offset — final.
 */
import type { EpochEndOffset } from '@tributary/log';

export interface FollowerLogView {
  logEndOffset: number;
  highWatermark: number;
  /** The follower's own end offset of the largest epoch ≤ `epoch` (leaderEpoch -1 when none). */
  endOffsetForEpoch(epoch: number): EpochEndOffset;
}

export interface TruncationStep {
  /** Truncate the follower's log to this offset (no-op when ≥ its log end). */
  offset: number;
  /** Whether the divergence point is found; else ask again about `nextEpoch`. */
  done: boolean;
  /** The epoch for the next round (only when not done). */
  nextEpoch?: number;
}

export function truncationStep(leader: EpochEndOffset, follower: FollowerLogView): TruncationStep {
  const leo = follower.logEndOffset;
  if (leader.endOffset < 0) return { offset: Math.min(follower.highWatermark, leo), done: true };
  if (leader.leaderEpoch < 0) return { offset: Math.min(leader.endOffset, leo), done: true };
  const own = follower.endOffsetForEpoch(leader.leaderEpoch);
  if (own.leaderEpoch < 0) return { offset: Math.min(leader.endOffset, leo), done: true };
  if (own.leaderEpoch !== leader.leaderEpoch) {
    return { offset: Math.min(own.endOffset, leo), done: false, nextEpoch: own.leaderEpoch };
  }
  return { offset: Math.min(own.endOffset, leader.endOffset, leo), done: true };
}
