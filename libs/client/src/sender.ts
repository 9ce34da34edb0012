/**
 * The producer's Sender (Kafka's `Sender` I/O loop, on the event loop): takes the batches the
 * RecordAccumulator made ready, groups them PER BROKER (the partition's current leader) into
 * one Produce request covering many partitions, and completes or fails each batch from the
 * per-partition answer.
 *
 * Requests travel over one ProduceStream per broker (produce-stream.ts: correlation ids,
 * client-side request.timeout.ms, unary Produce for brokers without it).
 *
 * Draining: at most once per event-loop turn (setImmediate), so every batch made ready in one
 * turn travels together. For each broker with fewer than max.in.flight.requests.per.connection
 * requests awaiting an answer, one request takes, partition by partition (oldest waiting
 * first), every queued batch of the partition — several batches of one partition travel
 * concatenated in its `records` field, as one view without copying when they are adjacent in
 * the accumulator's pooled memory (the usual case; a long enough run stops at the gap where
 * the accumulator moved to another arena, the rest goes in the next request) — up to max.request.size bytes (a single batch larger
 * than that still goes, alone). Per record there is no work here at all.
 *
 * Ordering: a partition is "muted" while a request carrying it is in flight, so it never has
 * two requests outstanding; a retried batch goes back to the FRONT of its partition's queue.
 * Per-partition order therefore holds across retries whatever max.in.flight is (Kafka gets
 * this only with max.in.flight = 1 or idempotence). Pipelining comes from having many
 * partitions per broker, each request taking everything queued for its partitions.
 *
 * Errors, per partition: NONE completes the batches (the first at the answer's base offset,
 * each next one after the previous one's records). A retriable code (NOT_LEADER_OR_FOLLOWER,
 * LEADER_NOT_AVAILABLE, NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT, ...) requeues the batches
 * after retry.backoff.ms (doubling up to retry.backoff.max.ms), refreshing metadata first when
 * the code says leadership moved, while `retries` and delivery.timeout.ms allow; anything
 * else fails them with a message that says what to do. MESSAGE_TOO_LARGE /
 * RECORD_LIST_TOO_LARGE on concatenated batches resends them one per request before giving
 * up. A whole-call failure (broker down, deadline) is a retriable error for every partition
 * of the request. Without idempotence a retried batch whose first attempt did land is written
 * twice: delivery is at-least-once.
 *
 * Idempotence (the producer's default): batches carry a producer id, epoch and per-partition
 * sequence (stamped by the accumulator when sealed). A retry resends the same bytes, and a
 * batch that was sent before travels ALONE (no new batch joins it), so the leader recognises
 * a duplicate as a whole and answers it with the original offset. Sequence trouble follows
 * Kafka 3.x's client (KIP-360; see onSequenceError): OUT_OF_ORDER_SEQUENCE_NUMBER fails the
 * batches, UNKNOWN_PRODUCER_ID resends them, and either — like any batch with a sequence that
 * fails for good, which would leave a gap — bumps the epoch: `bumpEpoch` restamps every batch
 * not sent yet with the new epoch and sequences from 0.
 *
 * acks=0: the records resolve with offset -1 once the call returns, whatever the broker said
 * (the client does not look at the outcome); a call that fails as a whole is still retried.
 *
 * Delivery timeout: a queued batch older than delivery.timeout.ms (from its first record)
 * fails with ClientTimeoutError instead of being sent; a batch in flight is bounded by
 * request.timeout.ms.
 *
 * Concurrency: single-threaded; `enqueue` may be called from inside `complete`/`fail` (the
 * accumulator serves waiting appends then), which is why draining is always deferred.
 */
import type { ProduceRequest, ProduceResponse } from '@tributary/proto';
import { ErrorCode, TributaryError, isRetriable } from '@tributary/records';
import { GrpcStatusError, Status } from '@tributary/runtime';
import type { ReadyBatch } from './accumulator';
import type { ClientLogger } from './config';
import { retryDelayMs } from './config';
import type { ConnectionPool } from './connections';
import { ClientTimeoutError, explain } from './errors';
import type { Metadata } from './metadata';
import { invalidatesMetadata } from './metadata';
import { ProduceStreams } from './produce-stream';
import { WakeupTimer } from './wakeup-timer';

/** What the Sender needs to know. */
export interface SenderOptions {
  acks: 0 | 1 | -1;
  requestTimeoutMs: number;
  maxInFlightRequestsPerConnection: number;
  maxRequestSize: number;
  retries: number;
  deliveryTimeoutMs: number;
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  logger: ClientLogger;
  /**
   * Idempotent producer (batches carry a producer id and sequences): a batch that was sent
   * before travels alone when retried (so a duplicate is recognised as a whole), and sequence
   * trouble bumps the epoch through `bumpEpoch` (see the file comment).
   */
  idempotent?: boolean;
  /**
   * Idempotence: called when the partition sequences must start again under a new epoch —
   * a batch with a sequence failed for good (leaving a gap), or the broker answered
   * OUT_OF_ORDER_SEQUENCE_NUMBER / UNKNOWN_PRODUCER_ID. It is handed the batches never sent
   * yet, per partition in send order, to restamp.
   */
  bumpEpoch?(unsent: ReadyBatch[]): void;
}

/** A batch while the sender owns it. */
interface QueuedBatch {
  readonly batch: ReadyBatch;
  /** Enqueue order. */
  readonly seq: number;
  /** Attempts that failed so far. */
  attempts: number;
}

/** The batches of one partition waiting to be sent, and whether a request carries it. */
class PartitionQueue {
  readonly batches: QueuedBatch[] = [];
  inFlight = false;
  /** Epoch ms before which it is not retried. */
  retryAtMs = 0;
  /** Send one batch per request (after a too-large answer on concatenated batches). */
  singleBatch = false;

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}
}

/** The partitions of one request. */
interface Draft {
  readonly nodeId: number;
  readonly address: string;
  sizeBytes: number;
  readonly entries: Array<{ queue: PartitionQueue; taken: QueuedBatch[] }>;
}

/** Sends ready batches; see the file comment. */
export class Sender {
  private readonly queues = new Map<string, Map<number, PartitionQueue>>();
  /** Partitions with queued batches, in the order they started waiting. */
  private readonly waiting = new Set<PartitionQueue>();
  /** Requests in flight per broker id. */
  private readonly inFlightByNode = new Map<number, number>();
  /** Batches not yet completed or failed, oldest first (a Set keeps insertion order). */
  private readonly incomplete = new Set<QueuedBatch>();
  private drainScheduled = false;
  private bumpScheduled = false;
  private readonly retryTimer = new WakeupTimer(() => this.drain());
  /** whenSent() waiters: resolved once every batch with seq <= `upTo` is done. */
  private idleWaiters: Array<{ upTo: number; resolve: () => void }> = [];
  private nextSeq = 0;
  /** Set by abort(): new and returning batches fail with it. */
  private aborted: Error | undefined;
  /** Cancels the requests in flight when abort() is called. */
  private readonly abortController = new AbortController();

  /** Produce requests go over one ProduceStream per broker (produce-stream.ts). */
  private readonly produceStreams: ProduceStreams;

  constructor(
    private readonly options: SenderOptions,
    private readonly metadata: Metadata,
    pool: ConnectionPool,
  ) {
    this.produceStreams = new ProduceStreams(pool, options.requestTimeoutMs);
  }

  /** Gauge: batches queued or in flight. */
  get pendingBatches(): number {
    return this.incomplete.size;
  }

  /** Gauge: Produce requests awaiting an answer. */
  get inFlightRequests(): number {
    let n = 0;
    for (const v of this.inFlightByNode.values()) n += v;
    return n;
  }

  /** Takes a ready batch (the accumulator's onReady). */
  enqueue(batch: ReadyBatch): void {
    if (this.aborted !== undefined) {
      batch.fail(this.aborted);
      return;
    }
    const queued: QueuedBatch = { batch, seq: this.nextSeq++, attempts: 0 };
    const queue = this.queueOf(batch.topic, batch.partition);
    queue.batches.push(queued);
    this.incomplete.add(queued);
    this.waiting.add(queue);
    this.scheduleDrain();
  }

  /** Resolves once every batch enqueued so far is completed or failed. */
  whenSent(): Promise<void> {
    const upTo = this.nextSeq - 1;
    if (this.oldestIncompleteSeq() > upTo) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push({ upTo, resolve }));
  }

  /**
   * Gives up: fails every queued batch with `error` now, and every batch in flight with it
   * when its answer comes (no more retries). Used by close() after its timeout.
   */
  abort(error: Error): void {
    this.aborted = error;
    this.abortController.abort(error);
    this.produceStreams.close(error);
    for (const queue of this.waiting) {
      for (const q of queue.batches.splice(0)) this.finish(q, () => q.batch.fail(error));
    }
    this.waiting.clear();
  }

  /** Stops the retry timer and closes the produce streams. */
  close(): void {
    this.retryTimer.cancel();
    this.produceStreams.close(new Error('the producer is closed'));
  }

  // ---- draining ----------------------------------------------------------------------------

  private queueOf(topic: string, partition: number): PartitionQueue {
    let byPartition = this.queues.get(topic);
    if (byPartition === undefined) {
      byPartition = new Map();
      this.queues.set(topic, byPartition);
    }
    let queue = byPartition.get(partition);
    if (queue === undefined) {
      queue = new PartitionQueue(topic, partition);
      byPartition.set(partition, queue);
    }
    return queue;
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }


  /** Builds and sends one request per broker that has room. */
  private drain(): void {
    const now = Date.now();
    const drafts = new Map<number, Draft>();
    let leftover = false;
    let missingLeader = false;
    for (const queue of this.waiting) {
      if (queue.inFlight) continue;
      this.expireLocked(queue, now);
      if (queue.batches.length === 0) {
        this.waiting.delete(queue);
        continue;
      }
      if (queue.retryAtMs > now) {
        this.retryTimer.arm(queue.retryAtMs);
        continue;
      }
      const leader = this.metadata.leaderOf(queue.topic, queue.partition);
      if (leader === undefined) {
        missingLeader = true;
        continue;
      }
      const inFlight = this.inFlightByNode.get(leader.id) ?? 0;
      if (inFlight >= this.options.maxInFlightRequestsPerConnection) continue;
      let draft = drafts.get(leader.id);
      if (draft === undefined) {
        draft = { nodeId: leader.id, address: leader.address, sizeBytes: 0, entries: [] };
        drafts.set(leader.id, draft);
      }
      const taken: QueuedBatch[] = [];
      const max = this.options.maxRequestSize;
      let runBytes = 0;
      const idempotent = this.options.idempotent === true;
      while (queue.batches.length > 0) {
        const next = queue.batches[0]!;
        if (draft.sizeBytes > 0 && draft.sizeBytes + next.batch.sizeBytes > max) break;
        // Idempotence: a batch sent before goes alone, and new batches never join it, so the
        // broker can answer a duplicate with the original's offsets.
        if (idempotent && taken.length > 0 && (next.attempts > 0 || taken[0]!.attempts > 0)) break;
        // Batches adjacent in memory travel as one view; at a gap (the accumulator moved to
        // another arena) a good-sized run stops here rather than have all of it copied.
        if (runBytes > 0 && !adjacent(taken[taken.length - 1]!.batch.records, next.batch.records)) {
          if (runBytes >= max / MIN_RUN_FRACTION) break;
          runBytes = 0;
        }
        taken.push(queue.batches.shift()!);
        draft.sizeBytes += next.batch.sizeBytes;
        runBytes += next.batch.sizeBytes;
        if (queue.singleBatch) break;
      }
      if (taken.length === 0) {
        leftover = true;
        continue;
      }
      queue.inFlight = true;
      draft.entries.push({ queue, taken });
      // Still has batches: goes to the back, behind partitions that waited longer.
      this.waiting.delete(queue);
      if (queue.batches.length > 0) {
        this.waiting.add(queue);
        leftover = true;
      }
    }
    if (missingLeader) {
      this.metadata.requestUpdate();
      this.retryTimer.arm(now + this.options.retryBackoffMs);
    }
    for (const draft of drafts.values()) if (draft.entries.length > 0) this.send(draft);
    if (leftover) this.scheduleDrain();
  }

  /** Fails the queued batches of `queue` older than delivery.timeout.ms. */
  private expireLocked(queue: PartitionQueue, now: number): void {
    const timeoutMs = this.options.deliveryTimeoutMs;
    while (queue.batches.length > 0 && queue.batches[0]!.batch.createdMs + timeoutMs <= now) {
      const q = queue.batches.shift()!;
      const error = new ClientTimeoutError(
        `${q.batch.recordCount} record(s) for ${queue.topic}-${queue.partition} expired: not acknowledged within delivery.timeout.ms ` +
          `${timeoutMs} ms (${q.attempts} attempt(s)); ${this.metadata.leaderOf(queue.topic, queue.partition) === undefined ? 'the partition has no reachable leader' : 'the leader did not answer in time'}: ` +
          'is the cluster healthy? (`tributary cluster describe`)',
      );
      this.finish(q, () => q.batch.fail(error));
      this.sequenceGap(q);
    }
  }

  /** A batch with a sequence failed for good: later sequences of its partition would not follow it. */
  private sequenceGap(q: QueuedBatch): void {
    if (this.options.idempotent === true && q.batch.baseSequence >= 0) this.bumpEpochLocked();
  }

  /** Hands every batch never sent (per partition, in order) to bumpEpoch; at most once per event-loop turn. */
  private bumpEpochLocked(): void {
    if (this.bumpScheduled) return;
    this.bumpScheduled = true;
    // After the current answer is fully processed (its failed batches are out of the queues).
    queueMicrotask(() => {
      this.bumpScheduled = false;
      const unsent: ReadyBatch[] = [];
      for (const byPartition of this.queues.values()) {
        for (const queue of byPartition.values()) for (const q of queue.batches) if (q.attempts === 0) unsent.push(q.batch);
      }
      this.options.bumpEpoch?.(unsent);
    });
  }

  private send(draft: Draft): void {
    this.inFlightByNode.set(draft.nodeId, (this.inFlightByNode.get(draft.nodeId) ?? 0) + 1);
    const byTopic = new Map<string, ProduceRequest['topics'][number]>();
    for (const { queue, taken } of draft.entries) {
      let topic = byTopic.get(queue.topic);
      if (topic === undefined) {
        topic = { name: queue.topic, partitions: [] };
        byTopic.set(queue.topic, topic);
      }
      const records = taken.length === 1 ? taken[0]!.batch.records : joinRecords(taken);
      topic.partitions.push({ index: queue.partition, records });
    }
    const request: ProduceRequest = { acks: this.options.acks, timeoutMs: this.options.requestTimeoutMs, topics: [...byTopic.values()] };
    let answer: Promise<ProduceResponse>;
    try {
      answer = this.produceStreams.send(draft.address, request, this.abortController.signal);
    } catch (e) {
      this.onCallFailed(draft, e);
      return;
    }
    answer.then(
      (response) => this.onResponse(draft, response),
      (error: unknown) => this.onCallFailed(draft, error),
    );
  }

  // ---- answers -----------------------------------------------------------------------------

  private onResponse(draft: Draft, response: ProduceResponse): void {
    this.requestDone(draft);
    const answers = new Map<string, ProduceResponse['topics'][number]['partitions'][number]>();
    for (const t of response.topics) for (const p of t.partitions) answers.set(`${t.name}\u0000${p.index}`, p);
    for (const { queue, taken } of draft.entries) {
      queue.inFlight = false;
      const answer = answers.get(`${queue.topic}\u0000${queue.partition}`);
      if (this.options.acks === 0) {
        for (const q of taken) this.finish(q, () => q.batch.complete(-1n));
      } else if (answer === undefined) {
        this.onPartitionError(queue, taken, new TributaryError(ErrorCode.UNKNOWN_SERVER_ERROR, `the broker did not answer for ${queue.topic}-${queue.partition}`, { retriable: true }));
      } else if (answer.errorCode === ErrorCode.NONE) {
        let base = answer.baseOffset;
        const logAppendTime = answer.logAppendTimeMs >= 0n ? answer.logAppendTimeMs : undefined;
        for (const q of taken) {
          const offset = base;
          this.finish(q, () => q.batch.complete(offset, logAppendTime));
          base += BigInt(q.batch.recordCount);
        }
      } else {
        this.onPartitionError(queue, taken, explain(answer.errorCode, answer.errorMessage, queue.topic), answer.errorCode);
      }
    }
    this.scheduleDrain();
  }

  private onCallFailed(draft: Draft, e: unknown): void {
    this.requestDone(draft);
    const error = callError(e, draft.address);
    this.metadata.requestUpdate();
    for (const { queue, taken } of draft.entries) {
      queue.inFlight = false;
      this.onPartitionError(queue, taken, error, error.code);
    }
    this.scheduleDrain();
  }

  private onPartitionError(queue: PartitionQueue, taken: QueuedBatch[], error: TributaryError, code: ErrorCode = error.code): void {
    if (invalidatesMetadata(code)) this.metadata.requestUpdate();
    const now = Date.now();
    if (this.aborted !== undefined) {
      for (const q of taken) this.finish(q, () => q.batch.fail(this.aborted!));
      return;
    }
    if ((code === ErrorCode.MESSAGE_TOO_LARGE || code === ErrorCode.RECORD_LIST_TOO_LARGE) && taken.length > 1) {
      // Maybe only the concatenation was too large: one batch per request from now on.
      queue.singleBatch = true;
      queue.batches.unshift(...taken);
      this.waiting.add(queue);
      return;
    }
    if (this.options.idempotent === true && this.onSequenceError(queue, taken, error, code)) return;
    const retry: QueuedBatch[] = [];
    for (const q of taken) {
      q.attempts++;
      const retriable = error.retriable || isRetriable(code);
      if (retriable && q.attempts <= this.options.retries && now < q.batch.createdMs + this.options.deliveryTimeoutMs) {
        retry.push(q);
      } else {
        const failure = retriable
          ? new TributaryError(code, `${error.message} (gave up after ${q.attempts} attempt(s))`, { cause: error, retriable: true })
          : error;
        this.finish(q, () => q.batch.fail(failure));
        this.sequenceGap(q);
      }
    }
    if (retry.length > 0) {
      this.options.logger.debug({ topic: queue.topic, partition: queue.partition, code: ErrorCode[code], attempts: retry[0]!.attempts }, 'retrying produce');
      queue.batches.unshift(...retry);
      queue.retryAtMs = now + retryDelayMs(this.options, retry[0]!.attempts - 1);
      this.waiting.add(queue);
      this.retryTimer.arm(queue.retryAtMs);
    }
  }

  /**
   * Idempotence, Kafka 3.x's client (KIP-360): OUT_OF_ORDER_SEQUENCE_NUMBER fails the batches
   * (the broker is missing an earlier sequence; their records may or may not be duplicates of
   * something long gone, so they are not resent) together with the partition's other batches
   * sent before under the old sequence, then bumps the epoch so that everything not yet sent
   * starts again at sequence 0. UNKNOWN_PRODUCER_ID (the partition lost this producer's state,
   * e.g. after producer.id.expiration.ms) bumps the epoch too and resends the batches under it
   * — the broker wrote none of them. Returns whether it handled `code`.
   */
  private onSequenceError(queue: PartitionQueue, taken: QueuedBatch[], error: TributaryError, code: ErrorCode): boolean {
    if (code === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER) {
      // Sent before under the old sequence: they are at the front of the queue.
      let n = 0;
      while (n < queue.batches.length && queue.batches[n]!.attempts > 0) n++;
      const stale = queue.batches.splice(0, n);
      for (const q of [...taken, ...stale]) this.finish(q, () => q.batch.fail(error));
      this.options.logger.warn({ topic: queue.topic, partition: queue.partition, batches: taken.length + stale.length }, 'out of order sequence: batches failed, bumping the producer epoch');
      this.bumpEpochLocked();
      return true;
    }
    if (code === ErrorCode.UNKNOWN_PRODUCER_ID) {
      for (const q of taken) q.attempts = 0; // never written: restamped and sent as new
      queue.batches.unshift(...taken);
      this.waiting.add(queue);
      this.options.logger.info({ topic: queue.topic, partition: queue.partition }, 'the partition has no state for this producer: bumping the epoch and resending');
      this.bumpEpochLocked();
      return true;
    }
    return false;
  }

  private requestDone(draft: Draft): void {
    this.inFlightByNode.set(draft.nodeId, (this.inFlightByNode.get(draft.nodeId) ?? 1) - 1);
  }

  /** Completes or fails a batch (through `settle`) and wakes flush() waiters it satisfies. */
  private finish(q: QueuedBatch, settle: () => void): void {
    this.incomplete.delete(q);
    try {
      settle();
    } catch (e) {
      this.options.logger.error({ err: e }, 'settling a batch failed');
    }
    if (this.idleWaiters.length > 0) {
      const oldest = this.oldestIncompleteSeq();
      this.idleWaiters = this.idleWaiters.filter((w) => {
        if (oldest > w.upTo) w.resolve();
        return oldest <= w.upTo;
      });
    }
  }

  /** Seq of the oldest batch not done (a Set iterates in insertion order), Infinity when none. */
  private oldestIncompleteSeq(): number {
    const oldest = this.incomplete.values().next().value;
    return oldest === undefined ? Infinity : oldest.seq;
  }
}

/**
 * A partition's run of adjacent batches at least max.request.size / this long ends a
 * request's share of the partition at the next gap (see drain); shorter runs are joined by
 * copying, so that batches that were never adjacent (no pooled memory left) still travel many
 * per request.
 */
const MIN_RUN_FRACTION = 8;

/** Whether `b` starts where `a` ends, in the same memory. */
function adjacent(a: Buffer, b: Buffer): boolean {
  return a.buffer === b.buffer && a.byteOffset + a.length === b.byteOffset;
}

/**
 * The records field of a partition carrying several batches: one view spanning them when they
 * are adjacent in one buffer (the accumulator carves a partition's batches back to back from
 * pooled memory), else a copy joining them. Either way, valid until the batches are done.
 */
export function joinRecords(taken: ReadonlyArray<{ readonly batch: { readonly records: Buffer } }>): Buffer {
  const first = taken[0]!.batch.records;
  let end = first.byteOffset + first.length;
  for (let i = 1; i < taken.length; i++) {
    const records = taken[i]!.batch.records;
    if (records.buffer !== first.buffer || records.byteOffset !== end) return Buffer.concat(taken.map((q) => q.batch.records));
    end += records.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset);
}

/** A whole-call failure as a TributaryError (retriable when the call may succeed elsewhere or later). */
function callError(e: unknown, address: string): TributaryError {
  if (e instanceof TributaryError) return e;
  if (e instanceof GrpcStatusError) {
    const retriable = e.code === Status.UNAVAILABLE || e.code === Status.DEADLINE_EXCEEDED || e.code === Status.CANCELLED || e.code === Status.INTERNAL;
    const code = e.code === Status.DEADLINE_EXCEEDED ? ErrorCode.REQUEST_TIMED_OUT : retriable ? ErrorCode.NETWORK_EXCEPTION : ErrorCode.UNKNOWN_SERVER_ERROR;
    return new TributaryError(code, `broker ${address}: ${e.codeName}: ${e.message}`, { cause: e, retriable });
  }
  return new TributaryError(ErrorCode.NETWORK_EXCEPTION, `broker ${address}: ${e instanceof Error ? e.message : String(e)}`, { cause: e, retriable: true });
}
