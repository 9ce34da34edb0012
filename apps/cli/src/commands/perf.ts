/**
 * `tributary perf produce` and `perf consume`: kafka-producer-perf-test and
 * kafka-consumer-perf-test for Tributary.
 *
 * perf produce sends `--num-records` records of `--record-size` random bytes (one payload
 * buffer and one record object reused for every send, so the per-record cost is the SDK's
 * own), at most `--throughput` records/s (-1: as fast as the cluster acknowledges), keeping
 * at most about buffer.memory worth of records unacknowledged. It uses the SDK's
 * `sendSequenced` (no promise or object per record; one callback per run of records in a
 * batch). Latency of a record = the time its run is reported acknowledged (per --acks) − the
 * time it was handed to the producer.
 *
 * perf consume reads `--messages` records from the start of the partitions with the SDK's
 * batch-level path (`pollBatches`: whole RecordBatch bytes, counts from the batch headers,
 * no per-record objects). Its MB/s counts the fetched batch bytes (record framing and batch
 * headers included, so slightly more than the payload).
 */
import { Admin, Consumer, Producer, PRODUCER_DEFAULTS } from '@tributary/client';
import type { Acks, CompressionType, ProducerRecord, TopicPartition } from '@tributary/client';
import { ErrorCode } from '@tributary/records';
import type { GlobalOptions, Io } from '../context';
import { clientOptions, hasCode, topicPartitions, writeOut } from '../context';
import { OperationError, messageOf } from '../errors';
import { PendingLimit } from '../pending';
import { StopSignal } from '../signals';
import { LatencyRecorder, Progress, rates, round } from '../stats';

export interface PerfProduceOptions {
  topic: string;
  numRecords: number;
  recordSize: number;
  throughput: number;
  acks?: Acks;
  batchSize?: number;
  lingerMs?: number;
  compression?: CompressionType;
  createTopic?: boolean;
  partitions?: number;
  replicationFactor?: number;
  reportingIntervalMs: number;
  json?: boolean;
}

/** Records sent synchronously between two yields to the event loop (acks, timers, I/O). */
const CHUNK_RECORDS = 512;

export async function perfProduce(io: Io, global: GlobalOptions, o: PerfProduceOptions): Promise<void> {
  await ensureTopic(global, o);
  const producer = new Producer({
    ...clientOptions(global),
    ...(o.acks === undefined ? {} : { acks: o.acks }),
    ...(o.compression === undefined ? {} : { compression: o.compression }),
    ...(o.lingerMs === undefined ? {} : { lingerMs: o.lingerMs }),
    ...(o.batchSize === undefined ? {} : { batchSize: o.batchSize }),
  });
  // kafka-producer-perf-test's payload: random upper-case letters, one buffer for every record.
  const payload = Buffer.allocUnsafe(o.recordSize);
  for (let i = 0; i < payload.length; i++) payload[i] = 65 + Math.floor(Math.random() * 26);
  const record: ProducerRecord = { topic: o.topic, key: null, value: payload };
  // Unacknowledged records: about what buffer.memory holds (record framing ≈ 16 bytes).
  const limit = new PendingLimit(Math.max(1000, Math.floor((PRODUCER_DEFAULTS.bufferMemory * 0.9) / (o.recordSize + 16))));
  const latency = new LatencyRecorder();
  // Send times by sequence number, in a ring larger than the records that can be pending.
  let ringSize = 1;
  while (ringSize < limit.max + 2 * CHUNK_RECORDS) ringSize <<= 1;
  const sentAt = new Float64Array(ringSize);
  const mask = ringSize - 1;
  let acked = 0;
  let failed = 0;
  let firstError: unknown;
  // One call per run of consecutive records in a batch: nothing is allocated per record.
  const onRun = (error: Error | null, _topic: string, _partition: number, _baseOffset: bigint, first: number, count: number): void => {
    if (error) {
      failed += count;
      firstError ??= error;
    } else {
      const now = performance.now();
      for (let k = first; k < first + count; k++) latency.record((now - sentAt[k & mask]!) * 1000);
      acked += count;
    }
    limit.release(count);
  };
  const signal = new StopSignal();
  const progress = new Progress(io.stderr, io.stderrIsTTY, o.reportingIntervalMs, o.numRecords, 'sent', () => ({ records: acked, bytes: acked * o.recordSize }), latency);
  let startMs = performance.now();
  progress.start();
  let sent = 0;
  try {
    // Wait for the topic's metadata once, so that the first chunk does not queue behind it.
    await producer.partitionsFor(o.topic);
    startMs = performance.now();
    while (sent < o.numRecords && !signal.requested && firstError === undefined) {
      let n = Math.min(CHUNK_RECORDS, o.numRecords - sent);
      if (o.throughput > 0) {
        // ThroughputThrottler: never ahead of throughput × elapsed.
        const due = Math.floor(((performance.now() - startMs) / 1000) * o.throughput) + 1;
        n = Math.min(n, due - sent);
        if (n <= 0) {
          await sleep(Math.max(1, ((sent + 1) / o.throughput) * 1000 - (performance.now() - startMs)));
          continue;
        }
      }
      let accepted = true;
      limit.addMany(n);
      for (let i = 0; i < n; i++) {
        sentAt[sent & mask] = performance.now();
        accepted = producer.sendSequenced(record, sent, onRun);
        sent++;
        if (!accepted) {
          // The producer is out of buffer memory (or waits for metadata): the rest of the chunk waits.
          limit.release(n - i - 1);
          break;
        }
      }
      if (!accepted) {
        await producer.waitForCapacity();
        continue;
      }
      const room = limit.room();
      if (room !== undefined) await room;
      else await yieldToLoop();
    }
    await producer.flush();
    await limit.idle();
  } finally {
    progress.stop();
    signal.dispose();
    await producer.close({ timeoutMs: 5_000 }).catch(() => undefined);
  }
  const elapsedMs = performance.now() - startMs;
  const { recordsPerS, mbPerS } = rates(acked, acked * o.recordSize, elapsedMs);
  const l = latency.summary();
  if (o.json === true) {
    const figures = {
      records: acked,
      records_per_s: round(recordsPerS, 1),
      mb_per_s: round(mbPerS),
      latency_avg_ms: round(l.avgMs, 3),
      latency_p50_ms: round(l.p50Ms, 3),
      latency_p95_ms: round(l.p95Ms, 3),
      latency_p99_ms: round(l.p99Ms, 3),
      latency_p999_ms: round(l.p999Ms, 3),
      latency_max_ms: round(l.maxMs, 3),
    };
    await writeOut(io.stdout, `${JSON.stringify(figures)}\n`);
  } else {
    await writeOut(
      io.stdout,
      `${acked} records sent, ${recordsPerS.toFixed(1)} records/sec (${mbPerS.toFixed(2)} MB/sec), ${l.avgMs.toFixed(2)} ms avg latency, ` +
        `${l.maxMs.toFixed(2)} ms max latency, ${l.p50Ms.toFixed(2)} ms 50th, ${l.p95Ms.toFixed(2)} ms 95th, ${l.p99Ms.toFixed(2)} ms 99th, ${l.p999Ms.toFixed(2)} ms 99.9th.\n`,
    );
  }
  if (failed > 0) throw new OperationError(`${failed} of ${sent} records failed; the first: ${messageOf(firstError)}`, { cause: firstError });
}

async function ensureTopic(global: GlobalOptions, o: PerfProduceOptions): Promise<void> {
  const admin = new Admin(clientOptions(global));
  try {
    try {
      await topicPartitions(admin, o.topic);
      return;
    } catch (e) {
      if (!(e instanceof OperationError) || o.createTopic !== true) {
        if (e instanceof OperationError) {
          throw new OperationError(
            `topic '${o.topic}' does not exist: create it with \`tributary topics create ${o.topic} --partitions 6\`, or add --create-topic --partitions N`,
          );
        }
        throw e;
      }
    }
    try {
      await admin.createTopics([
        { name: o.topic, numPartitions: o.partitions ?? 1, ...(o.replicationFactor === undefined ? {} : { replicationFactor: o.replicationFactor }) },
      ]);
    } catch (e) {
      if (!hasCode(e, ErrorCode.TOPIC_ALREADY_EXISTS)) throw e;
    }
  } finally {
    await admin.close();
  }
}

export interface PerfConsumeOptions {
  topic: string;
  messages?: number;
  partition?: number[];
  timeoutMs: number;
  reportingIntervalMs: number;
  json?: boolean;
}

export async function perfConsume(io: Io, global: GlobalOptions, o: PerfConsumeOptions): Promise<void> {
  const admin = new Admin(clientOptions(global));
  let tps: TopicPartition[];
  let target: number;
  try {
    const all = await topicPartitions(admin, o.topic);
    const wanted = o.partition ?? all;
    const missing = wanted.filter((p) => !all.includes(p));
    if (missing.length > 0) throw new OperationError(`topic '${o.topic}' has no partition ${missing.join(', ')}: it has ${all.length} partition(s)`);
    tps = wanted.map((partition) => ({ topic: o.topic, partition }));
    if (o.messages !== undefined) target = o.messages;
    else {
      // Everything there is now: the high watermarks minus the log starts.
      const [earliest, latest] = await Promise.all([admin.listOffsets(o.topic, 'earliest', wanted), admin.listOffsets(o.topic, 'latest', wanted)]);
      target = 0;
      for (const l of latest) target += Number(l.offset - (earliest.find((e) => e.partition === l.partition)?.offset ?? 0n));
    }
  } finally {
    await admin.close();
  }
  const consumer = new Consumer({ ...clientOptions(global), autoOffsetReset: 'earliest' });
  const signal = new StopSignal();
  signal.onStop(() => void consumer.close());
  let records = 0;
  let bytes = 0;
  let timedOut = false;
  const progress = new Progress(io.stderr, io.stderrIsTTY, o.reportingIntervalMs, target, 'consumed', () => ({ records, bytes }));
  let startMs = performance.now();
  let endMs = startMs;
  try {
    consumer.assign(tps);
    consumer.seekToBeginning(tps);
    startMs = performance.now();
    progress.start();
    let idleSinceMs = startMs;
    while (records < target && !signal.requested) {
      const batches = await consumer.pollBatches(Math.max(1, Math.min(1000, idleSinceMs + o.timeoutMs - performance.now())));
      if (batches.length === 0) {
        if (performance.now() - idleSinceMs >= o.timeoutMs) {
          timedOut = true;
          break;
        }
        continue;
      }
      for (const b of batches) {
        records += b.recordCount;
        bytes += b.records.length;
      }
      endMs = idleSinceMs = performance.now();
    }
  } finally {
    progress.stop();
    signal.dispose();
    await consumer.close();
  }
  const elapsedMs = endMs - startMs;
  const { recordsPerS, mbPerS } = rates(records, bytes, elapsedMs);
  if (o.json === true) {
    await writeOut(io.stdout, `${JSON.stringify({ records, records_per_s: round(recordsPerS, 1), mb_per_s: round(mbPerS), elapsed_s: round(elapsedMs / 1000, 3) })}\n`);
  } else {
    await writeOut(io.stdout, `${records} records consumed in ${(elapsedMs / 1000).toFixed(3)} s, ${recordsPerS.toFixed(1)} records/sec (${mbPerS.toFixed(2)} MB/sec).\n`);
  }
  if (timedOut) throw new OperationError(`no record for ${o.timeoutMs} ms after ${records} of ${target} records (--timeout-ms): is the topic shorter than --messages?`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
