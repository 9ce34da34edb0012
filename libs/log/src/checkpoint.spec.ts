import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointFormatError, LeaderEpochCheckpointFile, OffsetCheckpointFile } from './checkpoint';
import { logConfigFromProperties, DEFAULT_LOG_CONFIG, InvalidConfigError } from './config';
import { offsetFileName, parsePartitionDirName } from './files';
import { tempDir } from './test-helpers';

describe('checkpoint files', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.remove());

  it("write and read Kafka's text format", () => {
    const file = new OffsetCheckpointFile(join(dir.path, 'recovery-point-offset-checkpoint'));
    file.write([
      [{ topic: 'orders', partition: 0 }, 42],
      [{ topic: 'my-topic', partition: 11 }, 9_007_199_254_740_991],
    ]);
    expect(readFileSync(file.path, 'utf8')).toBe('0\n2\norders 0 42\nmy-topic 11 9007199254740991\n');
    expect([...file.read()]).toEqual([
      ['orders-0', 42],
      ['my-topic-11', 9_007_199_254_740_991],
    ]);
    const epochs = new LeaderEpochCheckpointFile(join(dir.path, 'leader-epoch-checkpoint'));
    epochs.write([{ epoch: 3, startOffset: 100 }]);
    expect(readFileSync(epochs.path, 'utf8')).toBe('0\n1\n3 100\n');
    expect(new OffsetCheckpointFile(join(dir.path, 'absent')).read().size).toBe(0);
  });

  it('reports malformed files', () => {
    const path = join(dir.path, 'cp');
    for (const content of ['', '1\n0\n', '0\n2\norders 0 1\n', '0\n1\norders x 1\n', '0\n1\norders 0\n']) {
      writeFileSync(path, content);
      expect(() => new OffsetCheckpointFile(path).read()).toThrow(CheckpointFormatError);
    }
  });
});

describe('names and config', () => {
  it('names segments by 20-digit base offset and parses partition directories', () => {
    expect(offsetFileName(42)).toBe('00000000000000000042');
    expect(parsePartitionDirName('my-topic-7')).toEqual({ topic: 'my-topic', partition: 7 });
    expect(parsePartitionDirName('nopartition')).toBeUndefined();
    expect(parsePartitionDirName('t-x')).toBeUndefined();
  });

  it("parses Kafka's topic config keys and rejects bad values naming the key", () => {
    const config = logConfigFromProperties({ 'segment.bytes': '1048576', 'retention.ms': '-1', 'flush.messages': '9223372036854775807', 'cleanup.policy': 'delete' });
    expect(config.segmentBytes).toBe(1048576);
    expect(config.retentionMs).toBe(-1);
    expect(config.flushMessages).toBe(Infinity);
    expect(config.indexIntervalBytes).toBe(DEFAULT_LOG_CONFIG.indexIntervalBytes);
    expect(() => logConfigFromProperties({ 'segment.bytes': 'big' })).toThrow(/segment.bytes/);
    expect(() => logConfigFromProperties({ 'retention.bytes': '-5' })).toThrow(InvalidConfigError);
    expect(() => logConfigFromProperties({ 'message.timestamp.type': 'Now' })).toThrow(/CreateTime, LogAppendTime/);
  });
});
