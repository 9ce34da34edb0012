/**
 * Producer id blocks for idempotent producers (Kafka's ZkProducerIdManager and KIP-730's
 * AllocateProducerIds): brokers hand producer ids out of blocks of PRODUCER_ID_BLOCK_SIZE the
 * active controller allocates. The last block handed out lives in the coordination node
 *
 *   /latest_producer_id_block   {"version":1,"broker":<id>,"block_start":"<first>","block_end":"<last>"}
 *
 * (Kafka's path and JSON; the ids are decimal strings as Kafka writes them). The next block
 * starts after block_end; it is written with a compare-and-set on the node version inside the
 * controller's fenced Multi (checked against /controller_epoch), so two controllers — or two
 * concurrent requests — never hand out the same block, and a deposed controller cannot write.
 */
import type { CoordinationClient } from '@tributary/coordination-client';
import type { AllocateProducerIdsResponse, Op } from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import type { Logger } from '@tributary/runtime';
import { json, ops, parseJson } from './store';

export const PRODUCER_ID_BLOCK_PATH = '/latest_producer_id_block';
/** Ids per block (Kafka's ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE). */
export const PRODUCER_ID_BLOCK_SIZE = 1000;
const BLOCK_NODE_VERSION = 1;

/** The content of /latest_producer_id_block. */
export interface ProducerIdBlockNode {
  version: number;
  broker: number;
  block_start: string;
  block_end: string;
}

export interface ProducerIdAllocatorOptions {
  client: CoordinationClient;
  logger: Logger;
  /** The controller's write fenced by its epoch (throws NOT_CONTROLLER once deposed, a conflict on CAS failure). */
  fencedMulti(writes: Op[]): Promise<void>;
  /** Runs a read-then-write step again while its CAS conflicts. */
  retrying<T>(step: () => Promise<T>): Promise<T>;
  /** Whether the broker is registered. */
  isRegistered(brokerId: number): Promise<boolean>;
}

export class ProducerIdAllocator {
  constructor(private readonly options: ProducerIdAllocatorOptions) {}

  /** Allocates the next block to `brokerId`. NOT_CONTROLLER (thrown) fails the whole call. */
  async allocate(brokerId: number): Promise<AllocateProducerIdsResponse> {
    const refused = (errorCode: ErrorCode, errorMessage: string): AllocateProducerIdsResponse => ({ errorCode, errorMessage, producerIdStart: -1n, producerIdLen: 0 });
    if (!(await this.options.isRegistered(brokerId))) {
      return refused(ErrorCode.BROKER_NOT_AVAILABLE, `broker ${brokerId} is not registered; it gets producer ids once it has registered`);
    }
    try {
      const start = await this.options.retrying(async () => {
        const node = await this.options.client.tryGet(PRODUCER_ID_BLOCK_PATH);
        const next = node ? nextBlockStart(parseJson<ProducerIdBlockNode>(node.data)) : 0n;
        const end = next + BigInt(PRODUCER_ID_BLOCK_SIZE) - 1n;
        if (end > BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new TributaryError(ErrorCode.UNKNOWN_SERVER_ERROR, `producer ids are exhausted (the last block ends at ${next - 1n})`, { retriable: false });
        }
        const content: ProducerIdBlockNode = { version: BLOCK_NODE_VERSION, broker: brokerId, block_start: next.toString(), block_end: end.toString() };
        await this.options.fencedMulti([node ? ops.set(PRODUCER_ID_BLOCK_PATH, json(content), node.stat.version) : ops.create(PRODUCER_ID_BLOCK_PATH, json(content))]);
        return next;
      });
      this.options.logger.info({ broker: brokerId, blockStart: start.toString(), blockSize: PRODUCER_ID_BLOCK_SIZE }, 'producer id block allocated');
      return { errorCode: ErrorCode.NONE, errorMessage: '', producerIdStart: start, producerIdLen: PRODUCER_ID_BLOCK_SIZE };
    } catch (e) {
      if (e instanceof TributaryError && e.code === ErrorCode.NOT_CONTROLLER) throw e;
      const message = e instanceof Error ? e.message : String(e);
      return refused(ErrorCode.UNKNOWN_SERVER_ERROR, `could not allocate producer ids: ${message} (the broker retries)`);
    }
  }
}

function nextBlockStart(node: ProducerIdBlockNode): bigint {
  if (node.version !== BLOCK_NODE_VERSION || !/^\d+$/.test(String(node.block_end))) {
    throw new TributaryError(ErrorCode.UNKNOWN_SERVER_ERROR, `${PRODUCER_ID_BLOCK_PATH} holds an unreadable block (${JSON.stringify(node)}); fix or remove it by hand`);
  }
  return BigInt(node.block_end) + 1n;
}
