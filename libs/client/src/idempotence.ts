/**
 * The idempotent producer's identity (the non-transactional part of Kafka's
 * TransactionManager): the producer id and epoch every batch carries, got lazily from any
 * broker with InitProducerId before the first record is appended, and the epoch bump of
 * KIP-360 (done locally, as Kafka's client does for idempotent producers: the broker accepts
 * a newer epoch starting at sequence 0).
 *
 * Which options enable it (Kafka 3.x, `resolveIdempotence`): on by default; left off,
 * silently, when the user set acks other than 'all' (or max.in.flight above 5, or retries 0)
 * without asking for idempotence; asking for it together with such a setting is a
 * configuration error.
 *
 * Concurrency: single-threaded; one InitProducerId in flight at most.
 */
import { ErrorCode, TributaryError, isRetriable } from '@tributary/records';
import type { ResolvedClientOptions } from './config';
import { retryDelayMs } from './config';
import type { ConnectionPool } from './connections';
import type { Metadata } from './metadata';

/** Kafka's limit: an idempotent producer keeps at most 5 requests in flight per connection (the broker remembers 5 batches). */
export const MAX_IN_FLIGHT_FOR_IDEMPOTENCE = 5;
const MAX_EPOCH = 0x7fff;

/** Whether the producer is idempotent, given the user's options (Kafka 3.x rules; throws RangeError on a conflict). */
export function resolveIdempotence(options: { idempotent?: boolean; acks?: unknown; maxInFlightRequestsPerConnection?: number; retries?: number }): boolean {
  const acksAll = options.acks === undefined || options.acks === -1 || options.acks === 'all';
  const inFlightOk = (options.maxInFlightRequestsPerConnection ?? MAX_IN_FLIGHT_FOR_IDEMPOTENCE) <= MAX_IN_FLIGHT_FOR_IDEMPOTENCE;
  const retriesOk = options.retries !== 0;
  if (options.idempotent === true) {
    if (!acksAll) throw new RangeError(`idempotent: true (enable.idempotence) requires acks 'all' (-1), got acks ${String(options.acks)}: drop acks or set idempotent: false`);
    if (!inFlightOk) {
      throw new RangeError(
        `idempotent: true (enable.idempotence) requires maxInFlightRequestsPerConnection <= ${MAX_IN_FLIGHT_FOR_IDEMPOTENCE}, got ${options.maxInFlightRequestsPerConnection}: lower it or set idempotent: false`,
      );
    }
    if (!retriesOk) throw new RangeError('idempotent: true (enable.idempotence) requires retries > 0: drop retries or set idempotent: false');
    return true;
  }
  return options.idempotent === undefined && acksAll && inFlightOk && retriesOk;
}

/** The producer id and epoch of an idempotent producer. */
export class ProducerIdentity {
  producerId = -1n;
  producerEpoch = -1;
  private initializing: Promise<void> | undefined;

  constructor(
    private readonly options: Pick<ResolvedClientOptions, 'requestTimeoutMs' | 'retryBackoffMs' | 'retryBackoffMaxMs' | 'logger'> & { maxBlockMs: number },
    private readonly metadata: Metadata,
    private readonly pool: ConnectionPool,
    /** Called once the id is known (the accumulator stamps it from then on). */
    private readonly onInitialized: (producerId: bigint, producerEpoch: number) => void,
  ) {}

  /** True once the producer has its id. */
  get ready(): boolean {
    return this.producerId >= 0n;
  }

  /**
   * Gets a producer id from a broker (InitProducerId) unless there is one; retries
   * retriable errors until max.block.ms. A failed attempt is forgotten, so the next send
   * tries again.
   */
  ensure(): Promise<void> {
    if (this.ready) return Promise.resolve();
    this.initializing ??= this.initProducerId().finally(() => (this.initializing = undefined));
    return this.initializing;
  }

  /** The next epoch (KIP-360's local bump); throws once the epoch space is used up. */
  bumpEpoch(): number {
    if (this.producerEpoch >= MAX_EPOCH) {
      throw new TributaryError(ErrorCode.INVALID_PRODUCER_EPOCH, `producer ${this.producerId} has used up its epochs (${MAX_EPOCH}): create a new producer`, { retriable: false });
    }
    this.producerEpoch++;
    return this.producerEpoch;
  }

  private async initProducerId(): Promise<void> {
    const deadline = Date.now() + this.options.maxBlockMs;
    let lastError: unknown;
    for (let attempt = 0; ; attempt++) {
      for (const address of this.metadata.brokerCandidates()) {
        try {
          const res = await this.pool.call(this.pool.broker(address), 'initProducerId', { transactionalId: '', transactionTimeoutMs: 0 }, Math.min(this.options.requestTimeoutMs, 10_000));
          if (res.errorCode === ErrorCode.NONE) {
            this.producerId = res.producerId;
            this.producerEpoch = res.producerEpoch;
            this.options.logger.debug({ producerId: res.producerId.toString(), producerEpoch: res.producerEpoch }, 'producer id received');
            this.onInitialized(this.producerId, this.producerEpoch);
            return;
          }
          lastError = new TributaryError(res.errorCode, res.errorMessage);
          if (!isRetriable(res.errorCode) && res.errorCode !== ErrorCode.COORDINATOR_NOT_AVAILABLE) throw lastError;
        } catch (e) {
          if (e instanceof TributaryError && !e.retriable && e.code !== ErrorCode.COORDINATOR_NOT_AVAILABLE) throw e;
          lastError = e;
        }
      }
      if (this.metadata.closed) throw new TributaryError(ErrorCode.UNKNOWN_SERVER_ERROR, 'the producer closed before it got a producer id');
      if (Date.now() >= deadline) {
        const why = lastError instanceof Error ? lastError.message : String(lastError);
        throw new TributaryError(
          ErrorCode.REQUEST_TIMED_OUT,
          `could not get a producer id for the idempotent producer within max.block.ms ${this.options.maxBlockMs} ms: ${why} ` +
            '(is a controller running? check with `tributary cluster describe`; or set idempotent: false)',
          { cause: lastError, retriable: true },
        );
      }
      await new Promise((r) => setTimeout(r, Math.min(retryDelayMs(this.options, attempt), Math.max(0, deadline - Date.now()))));
    }
  }
}
