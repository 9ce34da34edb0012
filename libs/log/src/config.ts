/**
 * Per-log configuration, with Kafka's topic config names, defaults and meaning. The
 * controller stores topic configs as these string properties; `logConfigFromProperties`
 * parses and validates them (a bad value throws InvalidConfigError naming the key).
 */
import { ErrorCode, TributaryError } from '@tributary/records';

export interface LogConfig {
  /** segment.bytes: roll a new segment when the active one would exceed this size. */
  segmentBytes: number;
  /** segment.ms: roll a new segment when the active one is older than this. */
  segmentMs: number;
  /** segment.index.bytes: size limit of a segment's offset index; a full index rolls the segment. */
  segmentIndexBytes: number;
  /** index.interval.bytes: bytes of log between two offset/time index entries. */
  indexIntervalBytes: number;
  /** retention.ms: delete segments whose newest record is older than this (-1: never). */
  retentionMs: number;
  /** retention.bytes: delete oldest segments while the log is larger than this (-1: no limit). */
  retentionBytes: number;
  /** flush.messages: fsync after this many messages (Infinity: leave it to the OS, as Kafka does). */
  flushMessages: number;
  /** flush.ms: fsync when the last flush is older than this (Infinity: leave it to the OS). */
  flushMs: number;
  /** max.message.bytes: largest record batch accepted, in bytes. */
  maxMessageBytes: number;
  /** file.delete.delay.ms: how long deleted segment files linger (renamed *.deleted) before unlink. */
  fileDeleteDelayMs: number;
  /** message.timestamp.type: CreateTime (the producer's) or LogAppendTime (the broker's). */
  messageTimestampType: 'CreateTime' | 'LogAppendTime';
  /** cleanup.policy contains `delete`: retention.ms / retention.bytes delete old segments. */
  cleanupDelete: boolean;
  /** cleanup.policy contains `compact`: the cleaner keeps the last record per key (keys required). */
  cleanupCompact: boolean;
  /** delete.retention.ms: how long a tombstone survives once the cleaner has seen it (Kafka's delete horizon). */
  deleteRetentionMs: number;
  /** min.cleanable.dirty.ratio: dirty bytes / (clean + dirty) a log needs before it is cleaned. */
  minCleanableDirtyRatio: number;
  /** min.compaction.lag.ms: a record stays uncompacted at least this long. */
  minCompactionLagMs: number;
  /** max.compaction.lag.ms: a record older than this is compacted whatever the dirty ratio (Infinity: no bound). */
  maxCompactionLagMs: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = Object.freeze({
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * DAY_MS,
  segmentIndexBytes: 10 * 1024 * 1024,
  indexIntervalBytes: 4096,
  retentionMs: 7 * DAY_MS,
  retentionBytes: -1,
  flushMessages: Infinity,
  flushMs: Infinity,
  maxMessageBytes: 1024 * 1024 + 12,
  fileDeleteDelayMs: 60_000,
  messageTimestampType: 'CreateTime',
  cleanupDelete: true,
  cleanupCompact: false,
  deleteRetentionMs: DAY_MS,
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  maxCompactionLagMs: Infinity,
});

/** A configuration key or value was rejected (Kafka INVALID_CONFIG). */
export class InvalidConfigError extends TributaryError {
  constructor(message: string) {
    super(ErrorCode.INVALID_CONFIG, message);
    this.name = 'InvalidConfigError';
  }
}

type Parser = (key: string, raw: string) => Partial<LogConfig>;

function intParser(
  field: keyof LogConfig,
  min: number,
  options: { allowMinusOne?: boolean; longMaxIsInfinity?: boolean; unsafeIsInfinity?: boolean } = {},
): Parser {
  return (key, raw) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new InvalidConfigError(`${key}: '${raw}' is not an integer`);
    const big = BigInt(raw.trim());
    if (options.longMaxIsInfinity && big >= 9223372036854775807n) return { [field]: Infinity };
    // A duration past 2^53 ms (285,000 years) is forever; the controller accepts up to Long.MAX_VALUE.
    if (options.unsafeIsInfinity && big > BigInt(Number.MAX_SAFE_INTEGER) && big <= 9223372036854775807n) return { [field]: Infinity };
    if (options.allowMinusOne && big === -1n) return { [field]: -1 };
    if (big < BigInt(min) || big > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new InvalidConfigError(`${key}: ${raw} is out of range (at least ${min}${options.allowMinusOne ? ', or -1' : ''})`);
    }
    return { [field]: Number(big) };
  };
}

/** Topic-level config keys handled by the log, each with its parser. */
export const LOG_CONFIG_KEYS: Readonly<Record<string, Parser>> = {
  'segment.bytes': intParser('segmentBytes', 14),
  'segment.ms': intParser('segmentMs', 1),
  'segment.index.bytes': intParser('segmentIndexBytes', 8),
  'index.interval.bytes': intParser('indexIntervalBytes', 0),
  'retention.ms': intParser('retentionMs', 0, { allowMinusOne: true }),
  'retention.bytes': intParser('retentionBytes', 0, { allowMinusOne: true }),
  'flush.messages': intParser('flushMessages', 1, { longMaxIsInfinity: true }),
  'flush.ms': intParser('flushMs', 0, { longMaxIsInfinity: true }),
  'max.message.bytes': intParser('maxMessageBytes', 0),
  'file.delete.delay.ms': intParser('fileDeleteDelayMs', 0),
  'message.timestamp.type': (key, raw) => {
    if (raw !== 'CreateTime' && raw !== 'LogAppendTime') {
      throw new InvalidConfigError(`${key}: '${raw}' is not one of CreateTime, LogAppendTime`);
    }
    return { messageTimestampType: raw };
  },
  'cleanup.policy': (key, raw) => {
    const values = raw.split(',').map((v) => v.trim());
    if (values.length === 0 || values.some((v) => v !== 'delete' && v !== 'compact')) {
      throw new InvalidConfigError(`${key}: '${raw}' is not a list of delete, compact`);
    }
    return { cleanupDelete: values.includes('delete'), cleanupCompact: values.includes('compact') };
  },
  'delete.retention.ms': intParser('deleteRetentionMs', 0, { unsafeIsInfinity: true }),
  'min.compaction.lag.ms': intParser('minCompactionLagMs', 0, { unsafeIsInfinity: true }),
  'max.compaction.lag.ms': intParser('maxCompactionLagMs', 1, { unsafeIsInfinity: true }),
  'min.cleanable.dirty.ratio': (key, raw) => {
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(v) || v < 0 || v > 1) throw new InvalidConfigError(`${key}: '${raw}' is not a number between 0 and 1`);
    return { minCleanableDirtyRatio: v };
  },
};

/**
 * Builds a LogConfig from Kafka-style string properties over `base`. Unknown keys are
 * ignored here (other layers own them, e.g. min.insync.replicas).
 */
export function logConfigFromProperties(props: Record<string, string>, base: LogConfig = DEFAULT_LOG_CONFIG): LogConfig {
  let config: LogConfig = { ...base };
  for (const [key, raw] of Object.entries(props)) {
    const parse = LOG_CONFIG_KEYS[key];
    if (parse) config = { ...config, ...parse(key, raw) };
  }
  return config;
}
