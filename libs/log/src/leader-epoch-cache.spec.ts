import { join } from 'node:path';
import { LeaderEpochCheckpointFile } from './checkpoint';
import { LeaderEpochCache } from './leader-epoch-cache';
import { tempDir } from './test-helpers';

describe('LeaderEpochCache', () => {
  let dir: ReturnType<typeof tempDir>;
  let file: LeaderEpochCheckpointFile;
  beforeEach(() => {
    dir = tempDir();
    file = new LeaderEpochCheckpointFile(join(dir.path, 'leader-epoch-checkpoint'));
  });
  afterEach(() => dir.remove());

  it('records epoch starts, persists them, and answers end offsets (KIP-101)', () => {
    const cache = new LeaderEpochCache(file);
    cache.assign(1, 0);
    cache.assign(1, 5); // same epoch: no change
    cache.assign(3, 10);
    cache.assign(2, 12); // older epoch: ignored
    cache.assign(4, 20);
    expect(cache.all).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 3, startOffset: 10 },
      { epoch: 4, startOffset: 20 },
    ]);
    expect(new LeaderEpochCache(file).all).toEqual(cache.all);
    expect(cache.endOffsetFor(0, 30)).toEqual({ leaderEpoch: -1, endOffset: -1 });
    expect(cache.endOffsetFor(1, 30)).toEqual({ leaderEpoch: 1, endOffset: 10 });
    expect(cache.endOffsetFor(2, 30)).toEqual({ leaderEpoch: 1, endOffset: 10 }); // unknown epoch: the one before
    expect(cache.endOffsetFor(3, 30)).toEqual({ leaderEpoch: 3, endOffset: 20 });
    expect(cache.endOffsetFor(4, 30)).toEqual({ leaderEpoch: 4, endOffset: 30 });
    expect(cache.endOffsetFor(9, 30)).toEqual({ leaderEpoch: 4, endOffset: 30 });
  });

  it('truncates from the end and from the start', () => {
    const cache = new LeaderEpochCache(file);
    cache.assign(1, 0);
    cache.assign(2, 10);
    cache.assign(3, 20);
    cache.truncateFromEnd(15);
    expect(cache.all).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 10 },
    ]);
    cache.truncateFromStart(12);
    expect(cache.all).toEqual([{ epoch: 2, startOffset: 12 }]);
    expect(new LeaderEpochCache(file).all).toEqual([{ epoch: 2, startOffset: 12 }]);
    // A newer epoch starting below existing entries replaces them (after truncation).
    cache.assign(5, 11);
    expect(cache.all).toEqual([{ epoch: 5, startOffset: 11 }]);
  });
});
