/**
 * ProducerIdManager: InitProducerId for idempotent producers (Kafka's RPCProducerIdManager,
 * KIP-730). Ids come out of blocks the active controller allocates (AllocateProducerIds);
 * each call takes the next id of the current block, at epoch 0. Once 90% of a block is used
 * the next block is requested in the background, so callers rarely wait; when the block is
 * used up before the next one arrives, a call waits for it (up to `requestTimeoutMs`) and
 * then fails with COORDINATOR_NOT_AVAILABLE, which clients retry.
 *
 * Concurrency: one instance per broker; everything runs on the event loop, at most one
 * AllocateProducerIds in flight.
 */
import type { InitProducerIdRequest, InitProducerIdResponse } from '@tributary/proto';
import { BrokerToControllerServiceClient } from '@tributary/proto';
import { ErrorCode } from '@tributary/records';
import type { Logger, ServiceClientOptions } from '@tributary/runtime';
import { createClient, unary } from '@tributary/runtime';

export interface ProducerIdManagerOptions {
  brokerId: number;
  /** TLS and this broker's identity on its calls (ServiceSecurity.clientOptions). */
  clientOptions?: ServiceClientOptions;
  /** `host:port` of the active controller, undefined while unknown. */
  controllerAddress(): string | undefined;
  logger: Logger;
  /** How long a call may wait for a block (default 10 s). */
  requestTimeoutMs?: number;
  /** Called with every id handed out (metrics). */
  onProducerId?(): void;
}

/** Fraction of a block after which the next one is fetched (Kafka's 90%). */
const PREFETCH_AT = 0.9;
const RETRY_BACKOFF_MS = 100;

export class ProducerIdManager {
  private block: { next: number; end: number; len: number } | undefined;
  private nextBlock: { next: number; end: number; len: number } | undefined;
  private fetching: Promise<void> | undefined;
  private client: { address: string; client: BrokerToControllerServiceClient } | undefined;
  private closed = false;

  constructor(private readonly options: ProducerIdManagerOptions) {}

  /** The InitProducerId handler. */
  async initProducerId(request: InitProducerIdRequest): Promise<InitProducerIdResponse> {
    const refused = (errorCode: ErrorCode, errorMessage: string): InitProducerIdResponse => ({ errorCode, errorMessage, producerId: -1n, producerEpoch: -1 });
    if (request.transactionalId !== '') {
      return refused(ErrorCode.INVALID_REQUEST, `transactional producers are not supported yet (transactional id '${request.transactionalId}'); leave transactional.id unset for an idempotent producer`);
    }
    const id = await this.generateProducerId();
    if (id === undefined) {
      return refused(ErrorCode.COORDINATOR_NOT_AVAILABLE, `broker ${this.options.brokerId} could not get producer ids from the controller yet; retry`);
    }
    this.options.onProducerId?.();
    return { errorCode: ErrorCode.NONE, errorMessage: '', producerId: BigInt(id), producerEpoch: 0 };
  }

  /** The next producer id, or undefined when no block could be had in time. */
  async generateProducerId(): Promise<number | undefined> {
    const deadline = Date.now() + (this.options.requestTimeoutMs ?? 10_000);
    for (;;) {
      if ((!this.block || this.block.next > this.block.end) && this.nextBlock) {
        this.block = this.nextBlock;
        this.nextBlock = undefined;
      }
      const block = this.block;
      if (block && block.next <= block.end) {
        const id = block.next++;
        if (!this.nextBlock && block.next - (block.end - block.len + 1) >= block.len * PREFETCH_AT) void this.maybeFetch();
        return id;
      }
      if (this.closed || Date.now() >= deadline) return undefined;
      await this.maybeFetch();
      if (!this.nextBlock) await new Promise((r) => setTimeout(r, RETRY_BACKOFF_MS));
    }
  }

  /** Requests the next block unless a request is already in flight. */
  private maybeFetch(): Promise<void> {
    this.fetching ??= this.fetchBlock().finally(() => (this.fetching = undefined));
    return this.fetching;
  }

  private async fetchBlock(): Promise<void> {
    const address = this.options.controllerAddress();
    if (!address) return;
    if (this.client?.address !== address) {
      this.client?.client.close();
      this.client = { address, client: createClient(BrokerToControllerServiceClient, address, this.options.clientOptions) };
    }
    try {
      const res = await unary(this.client.client, 'allocateProducerIds', { brokerId: this.options.brokerId, brokerEpoch: -1n }, { deadlineMs: 5_000 });
      if (res.errorCode !== ErrorCode.NONE) {
        this.options.logger.warn({ code: ErrorCode[res.errorCode], message: res.errorMessage }, 'the controller refused a producer id block');
        return;
      }
      const start = Number(res.producerIdStart);
      this.nextBlock = { next: start, end: start + res.producerIdLen - 1, len: res.producerIdLen };
      this.options.logger.info({ blockStart: start, blockSize: res.producerIdLen }, 'producer id block received');
    } catch (e) {
      this.options.logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'AllocateProducerIds failed; retrying on the next InitProducerId');
    }
  }

  stop(): void {
    this.closed = true;
    this.client?.client.close();
  }
}
