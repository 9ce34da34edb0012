import { DEFAULT_LOG_CONFIG, logConfigFromProperties } from '@tributary/log';
import { ErrorCode } from '@tributary/records';
import { TOPIC_CONFIGS, describeTopicConfigs, validateTopicConfigs } from './topic-configs';

describe('topic configs', () => {
  it("accepts Kafka's names and values", () => {
    const props = {
      'cleanup.policy': 'compact,delete',
      'retention.ms': '-1',
      'min.insync.replicas': '2',
      'min.cleanable.dirty.ratio': '0.1',
      'unclean.leader.election.enable': 'true',
      'compression.type': 'zstd',
      'segment.bytes': '1048576',
    };
    expect(validateTopicConfigs(props)).toEqual(props);
  });

  it.each([
    [{ 'no.such.config': '1' }, /unknown topic config 'no.such.config'/],
    [{ 'cleanup.policy': 'forever' }, /cleanup.policy: 'forever' is not a list of delete, compact/],
    [{ 'min.insync.replicas': '0' }, /min.insync.replicas: '0' is not an integer ≥ 1/],
    [{ 'segment.bytes': 'big' }, /segment.bytes/],
    [{ 'min.cleanable.dirty.ratio': '1.5' }, /between 0 and 1/],
    [{ 'unclean.leader.election.enable': 'yes' }, /one of true, false/],
  ])('refuses %j with INVALID_CONFIG naming the key', (props, message) => {
    expect(() => validateTopicConfigs(props as Record<string, string>)).toThrow(message);
    expect(() => validateTopicConfigs(props as Record<string, string>)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG }));
  });

  it("describes every config with Kafka's defaults, which the log agrees with", () => {
    const described = describeTopicConfigs({ 'retention.ms': '1000' });
    expect(described.find((c) => c.name === 'retention.ms')).toMatchObject({ value: '1000', isDefault: false });
    expect(described.find((c) => c.name === 'segment.bytes')).toMatchObject({ value: '1073741824', isDefault: true });
    // The defaults shown are the ones the storage engine applies.
    const logDefaults = Object.fromEntries(
      Object.entries(TOPIC_CONFIGS)
        .filter(([k]) => ['segment.bytes', 'retention.ms', 'retention.bytes', 'index.interval.bytes', 'max.message.bytes', 'segment.ms'].includes(k))
        .map(([k, d]) => [k, d.defaultValue]),
    );
    expect(logConfigFromProperties(logDefaults)).toEqual(DEFAULT_LOG_CONFIG);
  });
});
