/**
 * `tributary produce TOPIC`: one record per input line (stdin or --file), like
 * kafka-console-producer: `--key-separator` splits the key off at the first separator,
 * `--header k=v` adds headers to every record, `--partition` pins the partition. Records are
 * sent without waiting for each other (the producer batches them); every failure is reported
 * with its line number, and the command exits 1 when any record failed.
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { Admin, Producer } from '@tributary/client';
import type { Acks, CompressionType, ProducerRecord } from '@tributary/client';
import type { GlobalOptions, Io } from '../context';
import { clientOptions, topicPartitions, writeOut } from '../context';
import { OperationError, messageOf } from '../errors';
import { readLines, splitKey } from '../lines';
import { PendingLimit } from '../pending';

export interface ProduceOptions {
  file?: string;
  keySeparator?: string;
  header?: Array<[string, string]>;
  partition?: number;
  acks?: Acks;
  compression?: CompressionType;
  lingerMs?: number;
  batchSize?: number;
  quiet?: boolean;
}

/** Failures printed one by one; beyond, only counted. */
const MAX_REPORTED_FAILURES = 20;
/** Records handed to the producer and not yet acknowledged, at most. */
const MAX_PENDING_RECORDS = 50_000;

export async function produce(io: Io, global: GlobalOptions, topic: string, o: ProduceOptions): Promise<void> {
  const admin = new Admin(clientOptions(global));
  let partitions: number[];
  try {
    partitions = await topicPartitions(admin, topic);
  } finally {
    await admin.close();
  }
  if (o.partition !== undefined && !partitions.includes(o.partition)) {
    throw new OperationError(`partition ${o.partition} of topic '${topic}' does not exist: it has ${partitions.length} partition(s), 0..${partitions.length - 1}`);
  }
  const input = o.file === undefined ? io.stdin : await openFile(o.file);
  const producer = new Producer({
    ...clientOptions(global),
    ...(o.acks === undefined ? {} : { acks: o.acks }),
    ...(o.compression === undefined ? {} : { compression: o.compression }),
    ...(o.lingerMs === undefined ? {} : { lingerMs: o.lingerMs }),
    ...(o.batchSize === undefined ? {} : { batchSize: o.batchSize }),
  });
  const separator = o.keySeparator === undefined ? undefined : Buffer.from(o.keySeparator, 'utf8');
  const headers = o.header === undefined || o.header.length === 0 ? undefined : o.header.map(([key, value]) => ({ key, value }));
  const limit = new PendingLimit(MAX_PENDING_RECORDS);
  let lines = 0;
  let sent = 0;
  let failed = 0;
  const fail = (line: number, message: string): void => {
    failed++;
    if (failed <= MAX_REPORTED_FAILURES) io.stderr.write(`tributary: line ${line}: ${message}\n`);
    else if (failed === MAX_REPORTED_FAILURES + 1) io.stderr.write('tributary: more records failed (only the first 20 are shown)\n');
  };
  let stopped = false;
  const stop = (): void => {
    stopped = true;
    input.destroy();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    try {
      for await (const line of readLines(input)) {
        const lineNo = ++lines;
        let key: Buffer | null = null;
        let value: Buffer = line;
        if (separator !== undefined) {
          const kv = splitKey(line, separator);
          if (kv === undefined) {
            fail(lineNo, `no key separator '${o.keySeparator}' in the line: record not sent`);
            continue;
          }
          [key, value] = kv;
        }
        const record: ProducerRecord = { topic, key, value };
        if (headers !== undefined) record.headers = headers;
        if (o.partition !== undefined) record.partition = o.partition;
        limit.add();
        producer.send(record).then(
          () => {
            sent++;
            limit.release();
          },
          (e: unknown) => {
            fail(lineNo, `record not sent: ${messageOf(e)}`);
            limit.release();
          },
        );
        const room = limit.room();
        if (room !== undefined) await room;
      }
    } catch (e) {
      if (!stopped) throw new OperationError(`cannot read ${o.file ?? 'stdin'}: ${messageOf(e)}`, { cause: e });
    }
    await producer.flush();
    await limit.idle();
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await producer.close({ timeoutMs: 5_000 }).catch(() => undefined);
  }
  if (o.quiet !== true) {
    await writeOut(io.stderr, `${sent} record${sent === 1 ? '' : 's'} sent to ${topic}${failed > 0 ? `, ${failed} failed` : ''}\n`);
  }
  if (failed > 0) throw new OperationError(`${failed} of ${lines} record${lines === 1 ? '' : 's'} not sent (see the lines above)`);
}

function openFile(path: string): Promise<Readable> {
  return new Promise((resolve, reject) => {
    const stream = createReadStream(path);
    stream.once('open', () => resolve(stream));
    stream.once('error', (e) => reject(new OperationError(`cannot read ${path}: ${e.message}`, { cause: e })));
  });
}
