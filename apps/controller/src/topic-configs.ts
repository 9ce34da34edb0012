/**
 * The topic configurations Tributary knows — Kafka's names, defaults and meanings — and
 * their validation for CreateTopics / AlterConfigs / DescribeConfigs. Configs are stored as
 * string properties (as Kafka stores them in ZooKeeper); the log-level ones are parsed by
 * libs/log (logConfigFromProperties) on the broker, the others by the replication and
 * compaction code that owns them.
 */
import { InvalidConfigError, LOG_CONFIG_KEYS } from '@tributary/log';

export interface TopicConfigDef {
  /** Kafka's default, as the string DescribeConfigs shows. */
  defaultValue: string;
  doc: string;
  /** Throws InvalidConfigError (naming the key and the allowed values) for a bad value. */
  validate(key: string, raw: string): void;
}

const LONG_MAX = '9223372036854775807';

const fromLog = (defaultValue: string, doc: string): TopicConfigDef => ({
  defaultValue,
  doc,
  validate: (key, raw) => {
    LOG_CONFIG_KEYS[key]!(key, raw);
  },
});

const oneOf = (defaultValue: string, doc: string, allowed: readonly string[], list = false): TopicConfigDef => ({
  defaultValue,
  doc,
  validate: (key, raw) => {
    const values = list ? raw.split(',').map((v) => v.trim()) : [raw];
    if (values.length === 0 || values.some((v) => !allowed.includes(v))) {
      throw new InvalidConfigError(`${key}: '${raw}' is not ${list ? 'a list of' : 'one of'} ${allowed.join(', ')}`);
    }
  },
});

const integer = (defaultValue: string, doc: string, min: bigint): TopicConfigDef => ({
  defaultValue,
  doc,
  validate: (key, raw) => {
    if (!/^-?\d+$/.test(raw.trim()) || BigInt(raw.trim()) < min || BigInt(raw.trim()) > BigInt(LONG_MAX)) {
      throw new InvalidConfigError(`${key}: '${raw}' is not an integer ≥ ${min}`);
    }
  },
});

export const TOPIC_CONFIGS: Readonly<Record<string, TopicConfigDef>> = {
  'cleanup.policy': oneOf('delete', 'delete old segments (retention), compact to the last record per key, or both', ['delete', 'compact'], true),
  'compression.type': oneOf('producer', "codec of the stored batches; 'producer' keeps the producer's", ['producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd']),
  'delete.retention.ms': integer('86400000', 'how long tombstones stay in a compacted log', 0n),
  'file.delete.delay.ms': fromLog('60000', 'how long deleted segment files linger before removal'),
  'flush.messages': fromLog(LONG_MAX, 'fsync after this many messages (default: leave it to the OS)'),
  'flush.ms': fromLog(LONG_MAX, 'fsync when the last flush is older than this (default: leave it to the OS)'),
  'index.interval.bytes': fromLog('4096', 'bytes of log between two index entries'),
  'max.compaction.lag.ms': integer(LONG_MAX, 'longest a record may stay uncompacted', 1n),
  'max.message.bytes': fromLog('1048588', 'largest record batch accepted'),
  'message.timestamp.type': fromLog('CreateTime', "CreateTime (the producer's) or LogAppendTime (the broker's)"),
  'min.cleanable.dirty.ratio': {
    defaultValue: '0.5',
    doc: 'the share of a log that must be uncompacted before the cleaner works on it',
    validate: (key, raw) => {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(v) || v < 0 || v > 1) throw new InvalidConfigError(`${key}: '${raw}' is not a number between 0 and 1`);
    },
  },
  'min.compaction.lag.ms': integer('0', 'shortest a record stays uncompacted', 0n),
  'min.insync.replicas': integer('1', 'in-sync replicas an acks=all write needs', 1n),
  'retention.bytes': fromLog('-1', 'delete oldest segments while the partition is larger than this (-1: no limit)'),
  'retention.ms': fromLog('604800000', 'delete segments whose newest record is older than this (-1: never)'),
  'segment.bytes': fromLog('1073741824', 'roll a new segment at this size'),
  'segment.index.bytes': fromLog('10485760', 'size limit of a segment index'),
  'segment.ms': fromLog('604800000', 'roll a new segment when the active one is this old'),
  'unclean.leader.election.enable': oneOf('false', 'let a replica outside the ISR become leader (may lose acknowledged records)', ['true', 'false']),
};

/**
 * Checks every property: known key, valid value. Returns them unchanged (what is stored).
 * Throws InvalidConfigError naming the first bad one.
 */
export function validateTopicConfigs(props: Readonly<Record<string, string>>): Record<string, string> {
  for (const [key, raw] of Object.entries(props)) {
    const def = TOPIC_CONFIGS[key];
    if (!def) {
      throw new InvalidConfigError(`unknown topic config '${key}' (known: ${Object.keys(TOPIC_CONFIGS).join(', ')})`);
    }
    if (typeof raw !== 'string') throw new InvalidConfigError(`${key}: the value must be a string`);
    def.validate(key, raw);
  }
  return { ...props };
}

export interface DescribedConfig {
  name: string;
  value: string;
  isDefault: boolean;
  doc: string;
}

/** Every topic config with its effective value (DescribeConfigs). */
export function describeTopicConfigs(props: Readonly<Record<string, string>>): DescribedConfig[] {
  return Object.entries(TOPIC_CONFIGS).map(([name, def]) => ({
    name,
    value: props[name] ?? def.defaultValue,
    isDefault: props[name] === undefined,
    doc: def.doc,
  }));
}
