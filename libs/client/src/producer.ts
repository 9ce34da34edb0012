/**
 * The Producer: what users call to write records. `send()` picks the partition (explicit,
 * custom partitioner, murmur2 of the key, or the sticky partition for keyless records),
 * appends the record to its partition's batch in the RecordAccumulator (accumulator.ts), and
 * resolves once the partition leader acknowledged the batch. The Sender (sender.ts) drains
 * ready batches per broker into Produce requests.
 *
 * Per record, the work is: the partition choice (a murmur2 of the key, or a counter for the
 * sticky partition), the append (the record is encoded once, straight into its batch), and
 * the promise `send` returns. A record given with Buffer/null key and value and no headers is
 * passed to the accumulator as it is (no copy of the object).
 *
 * Sticky partitioning (KIP-480, with KIP-794's "uniform" switch): keyless records of a topic
 * all go to one partition until about batch.size bytes went there, then to another partition
 * picked at random among those with a leader — so keyless records fill whole batches instead
 * of spreading one-record batches over every partition.
 */
import type { RecordInput } from '@tributary/records';
import { ErrorCode, TributaryError } from '@tributary/records';
import { RecordAccumulator } from './accumulator';
import type { ResolvedClientOptions } from './config';
import { resolveClientOptions } from './config';
import { ConnectionPool } from './connections';
import { ClientClosedError } from './errors';
import type { TopicMetadata } from './metadata';
import { Metadata } from './metadata';
import { partitionForKey } from './partitioner';
import type { Partitioner, ProducerOptions, ProducerRecord, RecordMetadata } from './producer-options';
import { COMPRESSION_CODECS, PRODUCER_DEFAULTS, acksValue, toBuffer, toRecordHeaders } from './producer-options';
import { Sender } from './sender';

/** Sticky partition of one topic. */
interface StickyState {
  partition: number;
  /** Bytes still to send to it before switching. */
  remainingBytes: number;
}

/** Options of {@link Producer.close}. */
export interface CloseOptions {
  /**
   * How long close() waits for buffered records to be acknowledged (default: no limit beyond
   * delivery.timeout.ms). When it passes, records still pending fail with ClientClosedError.
   */
  timeoutMs?: number;
}

function checkInt(name: string, key: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${key} (${name}) must be an integer >= ${min}, got ${value}`);
  return value;
}

/**
 * Sends records to Tributary topics.
 *
 * ```ts
 * const producer = new Producer({ bootstrap: ['127.0.0.1:7200'], lingerMs: 5 });
 * const { partition, offset } = await producer.send({ topic: 'orders', key: 'o-1', value: '{"total":3}' });
 * await producer.close(); // flushes first
 * ```
 *
 * Going fast: do not await each send; keep many in flight (the accumulator batches them and
 * `bufferMemory` bounds them), e.g. `await Promise.all(records.map((r) => producer.send(r)))`,
 * or use {@link Producer.sendBatch}.
 *
 * Delivery: at-least-once. A batch is retried on retriable errors until delivery.timeout.ms;
 * without idempotence (not built yet) a retry of a batch that did land writes it twice.
 * Per-partition order is kept across retries (see sender.ts).
 */
export class Producer {
  private readonly client: ResolvedClientOptions;
  private readonly pool: ConnectionPool;
  private readonly metadata: Metadata;
  private readonly accumulator: RecordAccumulator;
  private readonly sender: Sender;
  private readonly partitioner: Partitioner | undefined;
  private readonly ignoreKeys: boolean;
  private readonly batchSize: number;
  private readonly maxBlockMs: number;
  private readonly maxRequestSize: number;
  private readonly sticky = new Map<string, StickyState>();
  /** Topics whose metadata some send is waiting for. */
  private readonly topicWaits = new Map<string, Promise<TopicMetadata>>();
  private closing: Promise<void> | undefined;

  /** Creates a producer; nothing connects until the first send. Throws RangeError on a bad option. */
  constructor(options: ProducerOptions = {}) {
    const d = PRODUCER_DEFAULTS;
    this.client = resolveClientOptions(options);
    const acks = acksValue(options.acks ?? d.acks);
    const compression = options.compression ?? d.compression;
    const codec = COMPRESSION_CODECS[compression];
    if (codec === undefined) throw new RangeError(`compression.type (compression) must be one of ${Object.keys(COMPRESSION_CODECS).join(', ')}, got ${String(compression)}`);
    this.batchSize = checkInt('batchSize', 'batch.size', options.batchSize ?? d.batchSize, 1);
    this.maxBlockMs = checkInt('maxBlockMs', 'max.block.ms', options.maxBlockMs ?? d.maxBlockMs, 0);
    this.maxRequestSize = checkInt('maxRequestSize', 'max.request.size', options.maxRequestSize ?? d.maxRequestSize, 1);
    const lingerMs = checkInt('lingerMs', 'linger.ms', options.lingerMs ?? d.lingerMs, 0);
    const deliveryTimeoutMs = checkInt('deliveryTimeoutMs', 'delivery.timeout.ms', options.deliveryTimeoutMs ?? d.deliveryTimeoutMs, 1);
    if (deliveryTimeoutMs < lingerMs + this.client.requestTimeoutMs) {
      throw new RangeError(
        `delivery.timeout.ms (deliveryTimeoutMs) ${deliveryTimeoutMs} must be >= linger.ms + request.timeout.ms = ${lingerMs + this.client.requestTimeoutMs}`,
      );
    }
    this.partitioner = options.partitioner;
    this.ignoreKeys = options.partitionerIgnoreKeys ?? false;
    this.pool = new ConnectionPool(this.client);
    this.metadata = new Metadata(this.client, this.pool);
    this.sender = new Sender(
      {
        acks,
        requestTimeoutMs: this.client.requestTimeoutMs,
        maxInFlightRequestsPerConnection: checkInt(
          'maxInFlightRequestsPerConnection',
          'max.in.flight.requests.per.connection',
          options.maxInFlightRequestsPerConnection ?? d.maxInFlightRequestsPerConnection,
          1,
        ),
        maxRequestSize: this.maxRequestSize,
        retries: checkInt('retries', 'retries', options.retries ?? d.retries, 0),
        deliveryTimeoutMs,
        retryBackoffMs: this.client.retryBackoffMs,
        retryBackoffMaxMs: this.client.retryBackoffMaxMs,
        logger: this.client.logger,
      },
      this.metadata,
      this.pool,
    );
    this.accumulator = new RecordAccumulator({
      batchSizeBytes: this.batchSize,
      lingerMs,
      bufferMemoryBytes: checkInt('bufferMemory', 'buffer.memory', options.bufferMemory ?? d.bufferMemory, 1),
      maxBlockMs: this.maxBlockMs,
      compression: codec,
      ...(options.compressionLevel === undefined ? {} : { compressionLevel: options.compressionLevel }),
      onReady: (batch) => this.sender.enqueue(batch),
    });
  }

  /** Gauge: bytes of records accepted and not yet acknowledged (bounded by bufferMemory). */
  get bufferedBytes(): number {
    return this.accumulator.bufferedBytes;
  }

  /** Gauge: Produce requests awaiting an answer. */
  get inFlightRequests(): number {
    return this.sender.inFlightRequests;
  }

  /**
   * Sends one record. Resolves with its partition and offset once acknowledged (per `acks`),
   * rejects when it cannot be delivered within `deliveryTimeoutMs` or fails for good (the
   * error says why and what to do). Waits (at most `maxBlockMs`) for the topic's metadata
   * and while `bufferMemory` is full.
   */
  send(record: ProducerRecord): Promise<RecordMetadata> {
    if (this.closing !== undefined) return Promise.reject(new ClientClosedError('producer'));
    const topic = record.topic;
    const meta = this.metadata.topic(topic);
    if (meta !== undefined && meta.errorCode === ErrorCode.NONE && meta.partitions.length > 0) return this.appendTo(meta, record);
    if (typeof topic !== 'string' || topic === '') return Promise.reject(new RangeError(`record topic must be a non-empty string, got ${String(topic)}`));
    return this.topicMetadata(topic).then((m) => this.appendTo(m, record));
  }

  /**
   * Sends many records of one topic; resolves with their metadata, in order, once all are
   * acknowledged (rejects with the first failure; the others are still sent). Cheaper per
   * record than `send()` when the topic's metadata is not cached yet (one wait for all).
   */
  async sendBatch(topic: string, records: ReadonlyArray<Omit<ProducerRecord, 'topic'>>): Promise<RecordMetadata[]> {
    if (this.closing !== undefined) throw new ClientClosedError('producer');
    const meta = await this.topicMetadata(topic);
    const sends = new Array<Promise<RecordMetadata>>(records.length);
    for (let i = 0; i < records.length; i++) sends[i] = this.appendTo(meta, { ...records[i]!, topic });
    return Promise.all(sends);
  }

  /** The partitions of `topic` (waiting up to maxBlockMs for its metadata). */
  async partitionsFor(topic: string): Promise<number> {
    return (await this.topicMetadata(topic)).partitions.length;
  }

  /**
   * Sends every buffered record now (linger ignored) and resolves when every record sent
   * before the call is acknowledged or failed (failures are reported by their own send()).
   */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.topicWaits.values()]);
    // Records waiting for buffer memory were sent before flush() too: serve them as memory frees.
    do {
      this.accumulator.flush();
      await this.sender.whenSent();
    } while (this.accumulator.waitingAppends > 0 || this.accumulator.openBatches > 0);
  }

  /**
   * Flushes, then closes the connections. Further sends reject with ClientClosedError.
   * Idempotent: later calls return the same promise.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.closeNow(options.timeoutMs);
    return this.closing;
  }

  // ---- internals -------------------------------------------------------------------------

  private async closeNow(timeoutMs: number | undefined): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const drained = (async () => {
        await Promise.allSettled([...this.topicWaits.values()]);
        await this.accumulator.close();
      })();
      if (timeoutMs === undefined || !Number.isFinite(timeoutMs)) {
        await drained;
      } else {
        const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, timeoutMs))));
        if ((await Promise.race([drained, timedOut])) === 'timeout') {
          this.sender.abort(new ClientClosedError('producer'));
          await drained;
        }
      }
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      this.sender.close();
      this.metadata.close();
      this.pool.close();
    }
  }

  private topicMetadata(topic: string): Promise<TopicMetadata> {
    let wait = this.topicWaits.get(topic);
    if (wait === undefined) {
      wait = this.metadata.waitForTopic(topic, this.maxBlockMs).finally(() => this.topicWaits.delete(topic));
      this.topicWaits.set(topic, wait);
    }
    return wait;
  }

  private appendTo(meta: TopicMetadata, record: ProducerRecord): Promise<RecordMetadata> {
    const rawKey = record.key;
    const rawValue = record.value;
    let input: RecordInput;
    let key: Buffer | null;
    if ((rawKey === null || Buffer.isBuffer(rawKey)) && (rawValue === null || Buffer.isBuffer(rawValue)) && record.headers === undefined) {
      key = rawKey;
      input = record as RecordInput; // already in the accumulator's shape; extra fields are ignored
    } else {
      key = toBuffer(rawKey);
      if (rawValue === undefined) return Promise.reject(new RangeError(`record value must be a Buffer, a string or null (topic ${meta.name})`));
      const headers = toRecordHeaders(record.headers);
      input = { key, value: toBuffer(rawValue), ...(headers === undefined ? {} : { headers }), ...(record.timestamp === undefined ? {} : { timestamp: record.timestamp }) };
    }
    let partition: number;
    try {
      partition = this.choosePartition(meta, record, key, input);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.accumulator.append(meta.name, partition, input);
  }

  private choosePartition(meta: TopicMetadata, record: ProducerRecord, key: Buffer | null, input: RecordInput): number {
    const count = meta.partitions.length;
    let partition = record.partition;
    if (partition === undefined && this.partitioner !== undefined) {
      partition = this.partitioner({ topic: meta.name, key, value: input.value, partitionCount: count, availablePartitions: meta.availablePartitions });
    }
    if (partition !== undefined) {
      if (!Number.isInteger(partition) || partition < 0 || partition >= count) {
        throw new TributaryError(
          ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          `partition ${partition} of topic '${meta.name}' does not exist: it has ${count} partition(s), 0..${count - 1}`,
          { retriable: false },
        );
      }
      return partition;
    }
    if (key !== null && !this.ignoreKeys) return partitionForKey(key, count);
    return this.stickyPartition(meta, input);
  }

  private stickyPartition(meta: TopicMetadata, input: RecordInput): number {
    let state = this.sticky.get(meta.name);
    const available = meta.availablePartitions.length > 0 ? meta.availablePartitions : undefined;
    const count = meta.partitions.length;
    if (state === undefined || state.remainingBytes <= 0 || state.partition >= count || (available !== undefined && meta.partitions[state.partition]!.leader < 0)) {
      const previous = state?.partition;
      let next: number;
      const choices = available ?? meta.partitions.map((p) => p.partition);
      do {
        next = choices[Math.floor(Math.random() * choices.length)]!;
      } while (choices.length > 1 && next === previous);
      if (state === undefined) {
        state = { partition: next, remainingBytes: this.batchSize };
        this.sticky.set(meta.name, state);
      } else {
        state.partition = next;
        state.remainingBytes = this.batchSize;
      }
    }
    state.remainingBytes -= (input.value?.length ?? 0) + (input.key?.length ?? 0) + 8;
    return state.partition;
  }
}
