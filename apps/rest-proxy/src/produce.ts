/**
 * Producing through the proxy's ONE shared Producer: records of every request go into the same
 * accumulator, so concurrent requests to a partition share batches (and Produce requests).
 *
 * Hot path: a request's records are validated and converted first (a bad one fails the whole
 * request before anything is sent), then sent with `sendSequenced` — numbered 0..n-1 with one
 * run callback per request, so acknowledgements arrive per batch run, not per record, and
 * results land in typed arrays (`Int32Array` partitions, `Float64Array` offsets).
 */
import type { Producer, ProducerRecord } from '@tributary/client';
import { TributaryError } from '@tributary/client';

/** Where each record of one request landed, or why not. */
export interface SendResults {
  readonly count: number;
  /** Partition per record (-1 on failure before a partition was known). */
  readonly partitions: Int32Array;
  /** Offset per record (-1 on failure). */
  readonly offsets: Float64Array;
  /** Error per failed record (sparse; undefined for successes). */
  readonly errors: Array<Error | undefined>;
  /** Number of failed records. */
  failed: number;
}

/**
 * Topics the producer is ready for (metadata known, producer id obtained): sends to them are
 * accepted at once. `partitionsFor` waits for both the first time.
 */
const readyTopics = new WeakMap<Producer, Set<string>>();

async function ensureReady(producer: Producer, topic: string): Promise<void> {
  let ready = readyTopics.get(producer);
  if (ready === undefined) {
    ready = new Set();
    readyTopics.set(producer, ready);
  }
  if (ready.has(topic)) return;
  await producer.partitionsFor(topic);
  ready.add(topic);
}

/**
 * Sends `records` (all of one topic) and resolves when every one is acknowledged or failed.
 * Per-record failures are in the results; the promise rejects only if the producer is closed.
 * `onEach`, when given, is called as each record completes, IN ORDER (streaming mode).
 */
export async function sendAll(
  producer: Producer,
  topic: string,
  records: readonly ProducerRecord[],
  onEach?: (index: number, results: SendResults) => void,
): Promise<SendResults> {
  const n = records.length;
  const results: SendResults = { count: n, partitions: new Int32Array(n).fill(-1), offsets: new Float64Array(n).fill(-1), errors: [], failed: 0 };
  if (n === 0) return results;
  await ensureReady(producer, topic);
  let done = 0;
  let reported = 0;
  const completed = onEach === undefined ? undefined : new Uint8Array(n);
  let resolve!: () => void;
  const finished = new Promise<void>((r) => (resolve = r));
  const onRun = (err: Error | null, _topic: string, partition: number, baseOffset: bigint, first: number, count: number): void => {
    const base = err === null ? Number(baseOffset) : -1;
    for (let i = first; i < first + count; i++) {
      results.partitions[i] = partition;
      if (err === null) results.offsets[i] = base < 0 ? -1 : base + (i - first);
      else {
        results.errors[i] = err;
        results.failed++;
      }
      if (completed !== undefined) completed[i] = 1;
    }
    done += count;
    if (completed !== undefined && onEach !== undefined) {
      while (reported < n && completed[reported] === 1) onEach(reported++, results);
    }
    if (done >= n) resolve();
  };
  for (let i = 0; i < n; i++) {
    if (!producer.sendSequenced(records[i]!, i, onRun)) await producer.waitForCapacity();
  }
  await finished;
  return results;
}

/** The message of a per-record error, for `error` fields. */
export function errorMessage(e: Error): string {
  return e instanceof TributaryError ? `${e.codeName}: ${e.message}` : e.message;
}
