/**
 * `tributary consume TOPIC`: prints records as they arrive, like kafka-console-consumer and
 * `kcat -C`. Starts at the end (new records only) unless told `--from-beginning`,
 * `--offset`, or `--timestamp`; reads every partition or the `--partition` ones; stops after
 * `--max-messages`, after `--timeout-ms` without a record, or on SIGINT/SIGTERM (exit 0).
 * Records are printed in order within each partition. With `--group G` it is a member of
 * consumer group G instead (kafka-console-consumer's --group): see consumeInGroup.
 */
import { Admin, Consumer, CooperativeStickyAssignor, OffsetOutOfRangeError, RangeAssignor, RoundRobinAssignor } from '@tributary/client';
import type { CommitOffset, ConsumerOptions, ConsumerRecord, PartitionAssignor, TopicPartition } from '@tributary/client';
import type { GlobalOptions, Io } from '../context';
import { clientOptions, topicPartitions, writeOut } from '../context';
import { OperationError, UsageError } from '../errors';
import { DEFAULT_FORMAT, RecordFormat } from '../format';
import type { StartOffset } from '../parse';
import { unescape } from '../parse';
import { StopSignal } from '../signals';
import { ByteSink } from '../sink';

export interface ConsumeOptions {
  fromBeginning?: boolean;
  offset?: StartOffset;
  timestamp?: number;
  partition?: number[];
  maxMessages?: number;
  format?: string;
  timeoutMs?: number;
  quiet?: boolean;
  group?: string;
  consumerProperty?: Array<[string, string]>;
}

export async function consume(io: Io, global: GlobalOptions, topic: string, o: ConsumeOptions): Promise<void> {
  const starts = [o.fromBeginning === true ? '--from-beginning' : undefined, o.offset !== undefined ? '--offset' : undefined, o.timestamp !== undefined ? '--timestamp' : undefined].filter(
    (s) => s !== undefined,
  );
  if (starts.length > 1) throw new UsageError(`${starts.join(' and ')} both say where to start: give one of them`);
  if (o.group === undefined && o.consumerProperty !== undefined) throw new UsageError('--consumer-property configures a group member: give --group too');
  if (o.group !== undefined) {
    const manual = [o.offset !== undefined ? '--offset' : undefined, o.timestamp !== undefined ? '--timestamp' : undefined, o.partition !== undefined ? '--partition' : undefined].filter((s) => s !== undefined);
    if (manual.length > 0) {
      throw new UsageError(`${manual.join(' and ')} cannot be used with --group: the group decides partitions and starts at its committed offsets (move them with \`tributary groups reset-offsets\`)`);
    }
  }
  const format = new RecordFormat(o.format === undefined ? unescape(DEFAULT_FORMAT) : o.format);
  // Ctrl-C from the very start is a clean stop (exit 0), not a kill.
  const signal = new StopSignal();
  try {
    await consumeUntilStopped(io, global, topic, o, format, signal);
  } finally {
    signal.dispose();
  }
}

async function consumeUntilStopped(io: Io, global: GlobalOptions, topic: string, o: ConsumeOptions, format: RecordFormat, signal: StopSignal): Promise<void> {
  if (o.group !== undefined) return consumeInGroup(io, global, topic, o.group, o, format, signal);
  const admin = new Admin(clientOptions(global));
  let all: number[];
  try {
    all = await topicPartitions(admin, topic);
  } finally {
    await admin.close();
  }
  const wanted = o.partition ?? all;
  const missing = wanted.filter((p) => !all.includes(p));
  if (missing.length > 0) {
    throw new OperationError(`topic '${topic}' has no partition ${missing.join(', ')}: it has ${all.length} partition(s), 0..${all.length - 1}`);
  }
  const tps: TopicPartition[] = wanted.map((partition) => ({ topic, partition }));

  const start: StartOffset | { timestamp: number } = o.timestamp !== undefined ? { timestamp: o.timestamp } : o.fromBeginning === true ? 'earliest' : (o.offset ?? 'latest');
  const consumer = new Consumer({
    ...clientOptions(global),
    // An explicit offset that is out of range is an error, not a silent jump.
    autoOffsetReset: typeof start === 'bigint' ? 'none' : start === 'earliest' ? 'earliest' : 'latest',
  });
  signal.onStop(() => void consumer.close());
  const out = new ByteSink();
  const max = o.maxMessages ?? Number.POSITIVE_INFINITY;
  let count = 0;
  let timedOut = false;
  try {
    consumer.assign(tps);
    if (start === 'earliest') consumer.seekToBeginning(tps);
    else if (start === 'latest') consumer.seekToEnd(tps);
    else if (typeof start === 'bigint') for (const tp of tps) consumer.seek(tp, start);
    else await consumer.seekToTimestamp(start.timestamp, tps);

    let idleSinceMs = Date.now();
    while (!signal.requested && count < max) {
      const waitMs = o.timeoutMs === undefined ? 1000 : Math.max(1, Math.min(1000, idleSinceMs + o.timeoutMs - Date.now()));
      let records: ConsumerRecord[];
      try {
        records = await consumer.poll(waitMs);
      } catch (e) {
        if (signal.requested) break;
        if (e instanceof OffsetOutOfRangeError) {
          throw new OperationError(`offset ${String(e.offset ?? start)} is out of range for ${e.topic}-${e.partition}: use --offset earliest or latest, or an offset between them`, { cause: e });
        }
        throw e;
      }
      if (records.length === 0) {
        if (o.timeoutMs !== undefined && Date.now() - idleSinceMs >= o.timeoutMs) {
          timedOut = true;
          break;
        }
        continue;
      }
      idleSinceMs = Date.now();
      const n = Math.min(records.length, max - count);
      for (let i = 0; i < n; i++) format.render(records[i]!, out);
      count += n;
      await out.flushTo(io.stdout);
    }
  } finally {
    await consumer.close();
  }
  await out.flushTo(io.stdout);
  if (o.quiet !== true) await writeOut(io.stderr, `Processed a total of ${count} message${count === 1 ? '' : 's'}\n`);
  if (timedOut && o.maxMessages !== undefined && count < o.maxMessages) {
    throw new OperationError(`no record for ${o.timeoutMs} ms after ${count} of ${o.maxMessages} messages (--timeout-ms)`);
  }
}

/** Kafka consumer configs `--consumer-property` understands, as SDK options. */
function groupOptions(properties: ReadonlyArray<[string, string]>): Partial<ConsumerOptions> {
  const out: Partial<ConsumerOptions> = {};
  const int = (key: string, v: string): number => {
    if (!/^\d+$/.test(v)) throw new UsageError(`--consumer-property ${key} must be a whole number of milliseconds, got '${v}'`);
    return Number(v);
  };
  const bool = (key: string, v: string): boolean => {
    if (v !== 'true' && v !== 'false') throw new UsageError(`--consumer-property ${key} must be true or false, got '${v}'`);
    return v === 'true';
  };
  for (const [key, v] of properties) {
    switch (key) {
      case 'group.instance.id':
        out.groupInstanceId = v;
        break;
      case 'session.timeout.ms':
        out.sessionTimeoutMs = int(key, v);
        break;
      case 'heartbeat.interval.ms':
        out.heartbeatIntervalMs = int(key, v);
        break;
      case 'max.poll.interval.ms':
        out.maxPollIntervalMs = int(key, v);
        break;
      case 'auto.commit.interval.ms':
        out.autoCommitIntervalMs = int(key, v);
        break;
      case 'enable.auto.commit':
        out.enableAutoCommit = bool(key, v);
        break;
      case 'partition.assignment.strategy':
        out.partitionAssignors = v.split(',').map((name) => assignorByName(name.trim()));
        break;
      default:
        throw new UsageError(
          `--consumer-property ${key} is not supported: use group.instance.id, session.timeout.ms, heartbeat.interval.ms, max.poll.interval.ms, partition.assignment.strategy, enable.auto.commit or auto.commit.interval.ms`,
        );
    }
  }
  return out;
}

function assignorByName(name: string): PartitionAssignor {
  // Kafka's names and its Java class names both work.
  const short = name.slice(name.lastIndexOf('.') + 1);
  if (short === 'range' || short === 'RangeAssignor') return new RangeAssignor();
  if (short === 'roundrobin' || short === 'RoundRobinAssignor') return new RoundRobinAssignor();
  if (short === 'cooperative-sticky' || short === 'CooperativeStickyAssignor') return new CooperativeStickyAssignor();
  throw new UsageError(`partition.assignment.strategy '${name}' is unknown: use range, roundrobin or cooperative-sticky (comma-separated, preferred first)`);
}

/**
 * `consume --group`: a member of the group. Offsets are committed for what was PRINTED
 * (not what was fetched): every auto.commit.interval.ms (asynchronously), when partitions
 * are revoked in a rebalance, and on exit — so a crash re-prints at most the records since
 * the last commit (at-least-once), and nothing fetched but not printed is skipped.
 */
async function consumeInGroup(io: Io, global: GlobalOptions, topic: string, groupId: string, o: ConsumeOptions, format: RecordFormat, signal: StopSignal): Promise<void> {
  const props = groupOptions(o.consumerProperty ?? []);
  const autoCommit = props.enableAutoCommit ?? true;
  const commitIntervalMs = props.autoCommitIntervalMs ?? 5000;
  const consumer = new Consumer({
    ...clientOptions(global),
    ...props,
    groupId,
    // This command commits exactly what it printed itself (below), never positions ahead of it.
    enableAutoCommit: false,
    autoOffsetReset: o.fromBeginning === true ? 'earliest' : 'latest',
  });
  // A stop request ends the loop within one poll (≤ 1 s); then the printed offsets are
  // committed and the member leaves the group.
  /** Next offset to commit per partition: one past the last record printed. */
  const printed = new Map<string, CommitOffset>();
  const keyOf = (t: string, p: number): string => `${t}\u0000${p}`;
  const pending = (tps?: readonly TopicPartition[]): CommitOffset[] => {
    if (!tps) return [...printed.values()];
    return tps.map((tp) => printed.get(keyOf(tp.topic, tp.partition))).filter((c): c is CommitOffset => c !== undefined);
  };
  const forget = (tps: readonly TopicPartition[]): void => {
    for (const tp of tps) printed.delete(keyOf(tp.topic, tp.partition));
  };
  const out = new ByteSink();
  const listener = {
    onPartitionsRevoked: async (tps: TopicPartition[]): Promise<void> => {
      // Printed records must reach the terminal before their offsets are committed.
      await out.flushTo(io.stdout);
      const offsets = pending(tps);
      if (autoCommit && offsets.length > 0) await consumer.commit(offsets).catch(() => undefined);
      forget(tps);
    },
    onPartitionsLost: (tps: TopicPartition[]): void => forget(tps),
  };
  const max = o.maxMessages ?? Number.POSITIVE_INFINITY;
  let count = 0;
  let timedOut = false;
  let lastCommitMs = Date.now();
  try {
    consumer.subscribe([topic], listener);
    let idleSinceMs = Date.now();
    while (!signal.requested && count < max) {
      const waitMs = o.timeoutMs === undefined ? 1000 : Math.max(1, Math.min(1000, idleSinceMs + o.timeoutMs - Date.now()));
      const records = await consumer.poll(waitMs);
      if (records.length > 0) {
        idleSinceMs = Date.now();
        const n = Math.min(records.length, max - count);
        for (let i = 0; i < n; i++) {
          const r = records[i]!;
          format.render(r, out);
          printed.set(keyOf(r.topic, r.partition), { topic: r.topic, partition: r.partition, offset: r.offset + 1n });
        }
        count += n;
        await out.flushTo(io.stdout);
      } else if (o.timeoutMs !== undefined && Date.now() - idleSinceMs >= o.timeoutMs) {
        timedOut = true;
        break;
      }
      if (autoCommit && printed.size > 0 && Date.now() - lastCommitMs >= commitIntervalMs) {
        lastCommitMs = Date.now();
        consumer.commitAsync(pending(), (err) => {
          if (err && o.quiet !== true) void writeOut(io.stderr, `warning: committing offsets failed (retried at the next interval): ${err.message}\n`);
        });
      }
    }
    await out.flushTo(io.stdout);
    if (autoCommit && printed.size > 0) {
      try {
        await consumer.commit(pending());
      } catch (e) {
        if (o.quiet !== true) await writeOut(io.stderr, `warning: the final commit failed; the next member re-reads from the previous commit: ${e instanceof Error ? e.message : String(e)}\n`);
      }
    }
  } finally {
    await consumer.close();
  }
  if (o.quiet !== true) await writeOut(io.stderr, `Processed a total of ${count} message${count === 1 ? '' : 's'}\n`);
  if (timedOut && o.maxMessages !== undefined && count < o.maxMessages) {
    throw new OperationError(`no record for ${o.timeoutMs} ms after ${count} of ${o.maxMessages} messages (--timeout-ms)`);
  }
}
