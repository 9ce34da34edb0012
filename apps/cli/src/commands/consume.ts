/**
 * `tributary consume TOPIC`: prints records as they arrive, like kafka-console-consumer and
 * `kcat -C`. Starts at the end (new records only) unless told `--from-beginning`,
 * `--offset`, or `--timestamp`; reads every partition or the `--partition` ones; stops after
 * `--max-messages`, after `--timeout-ms` without a record, or on SIGINT/SIGTERM (exit 0).
 * Records are printed in order within each partition.
 */
import { Admin, Consumer, OffsetOutOfRangeError } from '@tributary/client';
import type { ConsumerRecord, TopicPartition } from '@tributary/client';
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
}

export async function consume(io: Io, global: GlobalOptions, topic: string, o: ConsumeOptions): Promise<void> {
  const starts = [o.fromBeginning === true ? '--from-beginning' : undefined, o.offset !== undefined ? '--offset' : undefined, o.timestamp !== undefined ? '--timestamp' : undefined].filter(
    (s) => s !== undefined,
  );
  if (starts.length > 1) throw new UsageError(`${starts.join(' and ')} both say where to start: give one of them`);
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
