import type { EpochEntry } from '@tributary/log';
import { truncationStep } from './truncation';
import type { FollowerLogView } from './truncation';

/** A follower log described by its epoch entries (Kafka's leader-epoch-checkpoint), LEO and HW. */
function follower(entries: EpochEntry[], logEndOffset: number, highWatermark = 0): FollowerLogView {
  return {
    logEndOffset,
    highWatermark,
    endOffsetForEpoch(epoch) {
      const at = entries.filter((e) => e.epoch <= epoch);
      const floor = at.at(-1);
      if (!floor) return { leaderEpoch: -1, endOffset: -1 };
      const next = entries.find((e) => e.epoch > floor.epoch);
      return { leaderEpoch: floor.epoch, endOffset: next ? next.startOffset : logEndOffset };
    },
  };
}

describe('truncationStep (KIP-101 / KIP-279)', () => {
  it('keeps records the leader also has: a follower whose HW lagged loses nothing (the KIP-101 loss case)', () => {
    // Both wrote epoch 1 up to offset 10; the follower's HW was still 8.
    expect(truncationStep({ leaderEpoch: 1, endOffset: 10 }, follower([{ epoch: 1, startOffset: 0 }], 10, 8))).toEqual({ offset: 10, done: true });
  });

  it('drops the tail an old leader wrote in its epoch after the new leader took over', () => {
    // Old leader: epoch 1 up to 12; the new leader only got up to 9 of epoch 1 and then wrote epoch 2.
    expect(truncationStep({ leaderEpoch: 1, endOffset: 9 }, follower([{ epoch: 1, startOffset: 0 }], 12, 5))).toEqual({ offset: 9, done: true });
  });

  it('asks again about an earlier epoch when the leader never had the one it answered for (KIP-279)', () => {
    // Follower: epoch 1 at 0, epoch 3 at 5 (LEO 8). Leader has epochs 1 (0-4) and 2 (from 4): answers epoch 2 for 3.
    const f = follower([{ epoch: 1, startOffset: 0 }, { epoch: 3, startOffset: 5 }], 8);
    expect(truncationStep({ leaderEpoch: 2, endOffset: 6 }, f)).toEqual({ offset: 5, done: false, nextEpoch: 1 });
    // Next round: the follower's epoch 1 ended at 5 here, at 4 on the leader.
    expect(truncationStep({ leaderEpoch: 1, endOffset: 4 }, follower([{ epoch: 1, startOffset: 0 }], 5))).toEqual({ offset: 4, done: true });
  });

  it('falls back to the high watermark when the leader has no epoch that old', () => {
    expect(truncationStep({ leaderEpoch: -1, endOffset: -1 }, follower([{ epoch: 1, startOffset: 0 }], 7, 3))).toEqual({ offset: 3, done: true });
  });

  it('keeps what is below the leader end offset when the follower has no epoch at or below the answer', () => {
    expect(truncationStep({ leaderEpoch: 2, endOffset: 6 }, follower([{ epoch: 3, startOffset: 4 }], 9))).toEqual({ offset: 6, done: true });
  });

  it('never asks to truncate beyond the follower log end', () => {
    expect(truncationStep({ leaderEpoch: 5, endOffset: 100 }, follower([{ epoch: 5, startOffset: 0 }], 40))).toEqual({ offset: 40, done: true });
  });
});
