import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CorruptIndexError, OffsetIndex, TimeIndex } from './sparse-index';
import { tempDir } from './test-helpers';

describe('OffsetIndex', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.remove());

  it('finds the last entry at or below an offset, in memory and sealed on disk', () => {
    const path = join(dir.path, '00000000000000000100.index');
    const index = new OffsetIndex(path, 100, 1024, true);
    for (let i = 0; i < 50; i++) index.append(100 + i * 10, i * 4096);
    const check = (ix: OffsetIndex): void => {
      expect(ix.lookup(99)).toEqual({ offset: 100, position: 0 });
      expect(ix.lookup(100)).toEqual({ offset: 100, position: 0 });
      expect(ix.lookup(255)).toEqual({ offset: 250, position: 15 * 4096 });
      expect(ix.lookup(10_000)).toEqual({ offset: 590, position: 49 * 4096 });
      expect(ix.lastOffset).toBe(590);
    };
    check(index);
    index.seal();
    expect(index.isSealed).toBe(true);
    expect(statSync(path).size).toBe(50 * 8);
    check(index);
    // Kafka's layout: relative offset then position, 4 bytes each, big-endian.
    const bytes = readFileSync(path);
    expect([bytes.readUInt32BE(8), bytes.readUInt32BE(12)]).toEqual([10, 4096]);
    const reopened = new OffsetIndex(path, 100, 1024, false);
    check(reopened);
  });

  it('truncates by offset and by position, and becomes full at segment.index.bytes', () => {
    const index = new OffsetIndex(join(dir.path, 'a.index'), 0, 80, true);
    for (let i = 0; i < 10; i++) index.append(i * 5, i * 100);
    expect(index.isFull).toBe(true);
    expect(() => index.append(100, 5000)).toThrow();
    index.flush(false);
    index.truncateTo(20);
    expect(index.entries).toBe(4);
    expect(index.lookup(1000).offset).toBe(15);
    index.truncateToPosition(200);
    expect(index.entries).toBe(2);
    expect(statSync(join(dir.path, 'a.index')).size).toBe(16);
  });

  it('rejects impossible files on load', () => {
    const path = join(dir.path, 'b.index');
    writeFileSync(path, Buffer.alloc(13));
    expect(() => new OffsetIndex(path, 0, 1024, true)).toThrow(CorruptIndexError);
    const bad = Buffer.alloc(16);
    bad.writeUInt32BE(5, 0);
    bad.writeUInt32BE(100, 4);
    bad.writeUInt32BE(3, 8); // offsets going backwards
    bad.writeUInt32BE(200, 12);
    writeFileSync(path, bad);
    const index = new OffsetIndex(path, 0, 1024, true);
    expect(() => index.sanityCheck(1000)).toThrow(CorruptIndexError);
    bad.writeUInt32BE(9, 8);
    writeFileSync(path, bad);
    expect(() => new OffsetIndex(path, 0, 1024, true).sanityCheck(150)).toThrow(CorruptIndexError); // beyond the segment
    expect(() => new OffsetIndex(path, 0, 1024, true).sanityCheck(1000)).not.toThrow();
  });
});

describe('TimeIndex', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.remove());

  it('keeps increasing timestamps only and finds the last entry strictly before a time', () => {
    const path = join(dir.path, '00000000000000000000.timeindex');
    const index = new TimeIndex(path, 0, 1200, true);
    index.maybeAppend(1000, 4);
    index.maybeAppend(1000, 9); // not larger: ignored
    index.maybeAppend(900, 12); // older: ignored
    index.maybeAppend(2000, 20);
    index.maybeAppend(3000, 31);
    expect(index.entries).toBe(3);
    const check = (ix: TimeIndex): void => {
      expect(ix.lookupBefore(1000)).toBeUndefined();
      expect(ix.lookupBefore(1001)).toEqual({ timestamp: 1000, offset: 4 });
      expect(ix.lookupBefore(3000)).toEqual({ timestamp: 2000, offset: 20 });
      expect(ix.lastEntry()).toEqual({ timestamp: 3000, offset: 31 });
    };
    check(index);
    index.seal();
    check(new TimeIndex(path, 0, 1200, false));
    expect(statSync(path).size).toBe(36); // 12-byte entries: int64 timestamp, uint32 relative offset
    const t = new TimeIndex(path, 0, 1200, true);
    t.truncateTo(20);
    expect(t.entries).toBe(1);
  });
});
