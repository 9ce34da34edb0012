/**
 * Produce requests over one long-lived ProduceStream per broker (Kafka pipelines its requests
 * on one connection per node the same way): each request carries a correlation id and its
 * answer comes back with it, in whatever order the broker finishes them (acks=all answers
 * wait for replication, per partition). A stream spares gRPC's per-call work (headers,
 * deadline, trailers) on both sides, which is most of a small request's cost.
 *
 * Timeouts are the client's: a request not answered within request.timeout.ms fails with
 * DEADLINE_EXCEEDED, and — as Kafka's client disconnects from a node that does not answer —
 * the stream is cancelled: the other requests on it fail as a retriable network error and
 * the Sender retries them (an idempotent producer's retries are recognised as duplicates).
 * The next request opens a new stream.
 *
 * A broker that does not know ProduceStream (it answers UNIMPLEMENTED) gets unary Produce
 * calls from then on, the requests on the failed stream included, transparently.
 *
 * Concurrency: single-threaded; the Sender bounds the requests in flight per broker.
 */
import type { BrokerServiceClient, ProduceRequest, ProduceResponse, ProduceStreamRequest, ProduceStreamResponse } from '@tributary/proto';
import type { BidiCall } from '@tributary/runtime';
import { bidi, GrpcStatusError, Status } from '@tributary/runtime';
import type { ConnectionPool } from './connections';

interface Pending {
  request: ProduceRequest;
  resolve(response: ProduceResponse): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout;
}

/** One ProduceStream to one broker, with the requests awaiting an answer on it. */
class ProduceStream {
  readonly call: BidiCall<ProduceStreamRequest, ProduceStreamResponse>;
  readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private ended = false;

  constructor(
    client: BrokerServiceClient,
    private readonly onEnd: (stream: ProduceStream, error: unknown, pending: Pending[]) => void,
  ) {
    this.call = bidi(client, 'produceStream');
    void this.read();
  }

  send(request: ProduceRequest, timeoutMs: number): Promise<ProduceResponse> {
    const correlationId = this.nextId;
    this.nextId = this.nextId >= 0x7fffffff ? 1 : this.nextId + 1;
    return new Promise<ProduceResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        const p = this.pending.get(correlationId);
        if (p === undefined) return;
        this.pending.delete(correlationId);
        p.reject(new GrpcStatusError(Status.DEADLINE_EXCEEDED, `no answer to a produce request within request.timeout.ms (${timeoutMs} ms)`));
        this.end(new GrpcStatusError(Status.UNAVAILABLE, 'produce stream closed after a request timed out'));
      }, timeoutMs);
      this.pending.set(correlationId, { request, resolve, reject, timer });
      this.call.write({ correlationId, request }).catch((e: unknown) => this.end(e));
    });
  }

  /** Cancels the stream; what is pending goes to onEnd. */
  end(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.call.cancel();
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) clearTimeout(p.timer);
    this.onEnd(this, error, pending);
  }

  private async read(): Promise<void> {
    try {
      for await (const answer of this.call) {
        const p = this.pending.get(answer.correlationId);
        if (p === undefined) continue; // timed out meanwhile
        this.pending.delete(answer.correlationId);
        clearTimeout(p.timer);
        if (answer.response === undefined) p.reject(new GrpcStatusError(Status.INTERNAL, 'the broker sent an empty produce answer'));
        else p.resolve(answer.response);
      }
      this.end(new GrpcStatusError(Status.UNAVAILABLE, 'the broker ended the produce stream'));
    } catch (e) {
      this.end(e);
    }
  }
}

/** The ProduceStreams of one producer, one per broker address. */
export class ProduceStreams {
  private readonly streams = new Map<string, ProduceStream>();
  /** Brokers that answered UNIMPLEMENTED: unary Produce for them. */
  private readonly unaryOnly = new Set<string>();
  private closed: Error | undefined;

  constructor(
    private readonly pool: ConnectionPool,
    private readonly requestTimeoutMs: number,
  ) {}

  /** Sends `request` to the broker at `address`; resolves with its answer. */
  send(address: string, request: ProduceRequest, signal: AbortSignal): Promise<ProduceResponse> {
    if (this.closed !== undefined) return Promise.reject(this.closed);
    const client = this.pool.broker(address);
    if (this.unaryOnly.has(address)) return this.pool.call(client, 'produce', request, undefined, signal);
    let stream = this.streams.get(address);
    if (stream === undefined) {
      stream = new ProduceStream(client, (ended, error, pending) => {
        if (this.streams.get(address) === ended) this.streams.delete(address);
        if (error instanceof GrpcStatusError && error.code === Status.UNIMPLEMENTED) {
          // An older broker: the same requests as unary calls, now and from now on.
          this.unaryOnly.add(address);
          for (const p of pending) this.pool.call(client, 'produce', p.request, undefined, signal).then(p.resolve, p.reject);
          return;
        }
        for (const p of pending) p.reject(error);
      });
      this.streams.set(address, stream);
    }
    return stream.send(request, this.requestTimeoutMs);
  }

  /** Cancels every stream; requests in flight fail with `error`. */
  close(error: Error): void {
    this.closed = error;
    for (const stream of [...this.streams.values()]) stream.end(error);
    this.streams.clear();
  }
}
