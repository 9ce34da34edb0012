/**
 * The Producer: what users call to write records. `send()` picks the partition (explicit,
 * custom partitioner, murmur2 of the key, or the sticky partition for keyless records),
 * appends the record to its partition's batch in the RecordAccumulator, and resolves once the
 * partition leader acknowledged the batch. The Sender (sender.ts) drains ready batches per
 * broker into Produce requests.
 */
import type { ClientOptions } from './config';
import type { ProducerOptions, ProducerRecord, RecordMetadata } from './producer-options';

export type { ClientOptions };

/**
 * Sends records to Tributary topics.
 *
 * ```ts
 * const producer = new Producer({ bootstrap: ['127.0.0.1:7200'] });
 * const { partition, offset } = await producer.send({ topic: 'orders', key: 'o-1', value: '{"total":3}' });
 * await producer.close();
 * ```
 */
export class Producer {
  /** Creates a producer; nothing connects until the first send. Throws RangeError on a bad option. */
  constructor(options: ProducerOptions = {}) {
    void options;
  }

  /**
   * Sends one record. Resolves with its partition and offset once acknowledged (per `acks`),
   * rejects when it cannot be delivered within `deliveryTimeoutMs` or fails for good.
   * Waits (at most `maxBlockMs`) while `bufferMemory` is full — so awaiting many sends at
   * once is the way to go fast: `await Promise.all(records.map((r) => producer.send(r)))`.
   */
  send(record: ProducerRecord): Promise<RecordMetadata> {
    void record;
    return Promise.reject(new Error('Producer.send: not implemented yet'));
  }

  /**
   * Sends many records of one topic; resolves with their metadata, in order, once all are
   * acknowledged (rejects with the first failure). Cheaper per record than `send()`.
   */
  sendBatch(topic: string, records: ReadonlyArray<Omit<ProducerRecord, 'topic'>>): Promise<RecordMetadata[]> {
    void topic;
    void records;
    return Promise.reject(new Error('Producer.sendBatch: not implemented yet'));
  }

  /** Sends every buffered record now (linger ignored) and resolves when all sent so far are acknowledged or failed. */
  flush(): Promise<void> {
    return Promise.reject(new Error('Producer.flush: not implemented yet'));
  }

  /** Flushes, then closes the connections. Further sends reject. Idempotent. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
